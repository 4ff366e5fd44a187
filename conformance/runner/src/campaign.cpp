#include "mls/conformance/campaign.hpp"

#include <rapidcheck.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "mls/error.hpp"
#include "mls/philox.hpp"
#include "mls/conformance/vectors_bridge.hpp"
#include "mls/vectors/io.hpp"

namespace mls::conformance {

// ---- cases ----------------------------------------------------------------------

CaseResult run_case_raw(Backend& backend, const Case& c, Tier conv_tier);

nlohmann::json Case::to_json() const {
  if (op == "quantize") {
    nlohmann::json j = q.to_json();
    j["op"] = "quantize";
    return j;
  }
  if (op == "dequantize") return {{"op", "dequantize"}, {"tensor", t.to_json()}};
  return conv.to_json();
}

namespace {
// Strict integers of a saved case (spec 7.1): nlohmann's get<> would wrap -1,
// truncate 1.5 and overflow 1e30 (undefined behaviour; found by fuzz/fuzz_case_json).
uint64_t case_uint(const nlohmann::json& v, const std::string& field, uint64_t max) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() > max)
    throw Error("case: " + field + " is not an integer in 0.." + std::to_string(max));
  return v.get<uint64_t>();
}
int64_t case_int(const nlohmann::json& v, const std::string& field) {
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX)))
    throw Error("case: " + field + " is not a 64-bit integer");
  return v.get<int64_t>();
}
std::vector<uint32_t> case_u32s(const nlohmann::json& j, const std::string& key) {
  const auto& a = j.at(key);
  if (!a.is_array()) throw Error("case: " + key + " is not an array");
  std::vector<uint32_t> out;
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) out.push_back(static_cast<uint32_t>(case_uint(a[i], key + "[" + std::to_string(i) + "]", 0xffffffffu)));
  return out;
}
std::vector<int64_t> case_ints(const nlohmann::json& j, const std::string& key) {
  const auto& a = j.at(key);
  if (!a.is_array()) throw Error("case: " + key + " is not an array");
  std::vector<int64_t> out;
  for (size_t i = 0; i < a.size(); ++i) out.push_back(case_int(a[i], key + "[" + std::to_string(i) + "]"));
  return out;
}
}  // namespace

Case Case::from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("op") || !j.at("op").is_string()) throw Error("case: field \"op\" is missing");
  Case c;
  c.op = j.at("op").get<std::string>();
  try {
    if (c.op == "quantize") {
      const auto& f = j.at("format");
      c.q.format = f.is_string() ? parse_format(f.get<std::string>()) : format_from_json(f);
      c.q.rounding = j.contains("rounding") ? rounding_from_json(j.at("rounding")) : Rounding{};
      c.q.shape = case_ints(j, "shape");
      c.q.x = case_u32s(j, "x");
      if (j.contains("rand")) c.q.rand = case_u32s(j, "rand");
      if (j.contains("tensor_scale")) c.q.static_tensor_scale = static_cast<uint32_t>(case_uint(j.at("tensor_scale"), "tensor_scale", 0xffffffffu));
      if (element_count(c.q.shape) != static_cast<int64_t>(c.q.x.size())) throw Error("case: x does not match shape");
    } else if (c.op == "dequantize") {
      c.t = MlsTensor::from_json(j.at("tensor"));
    } else if (c.op == "conv2d" || c.op == "gemm") {
      c.conv.op = c.op;
      c.conv.a = MlsTensor::from_json(j.at("a"));
      c.conv.b = MlsTensor::from_json(j.at("b"));
      if (j.contains("arith")) c.conv.arith = j.at("arith");
      if (c.op == "conv2d") {
        c.conv.pass = j.at("pass").get<std::string>();
        c.conv.stride = case_ints(j, "stride");
        c.conv.padding = case_ints(j, "padding");
        c.conv.dilation = case_ints(j, "dilation");
        c.conv.groups = case_int(j.at("groups"), "groups");
        if (j.contains("out_shape")) c.conv.out_shape = case_ints(j, "out_shape");
      }
      if (c.op == "gemm") c.conv.out_shape = gemm_out_shape(c.conv.a.shape, c.conv.b.shape);
      else if (c.conv.out_shape.empty()) {
        Conv2dParams p;
        p.pass = conv_pass_from_string(c.conv.pass);
        if (c.conv.stride.size() != 2 || c.conv.padding.size() != 2 || c.conv.dilation.size() != 2)
          throw Error("case: stride, padding and dilation need 2 entries each");
        for (int k = 0; k < 2; ++k) {
          p.stride[k] = c.conv.stride[k];
          p.padding[k] = c.conv.padding[k];
          p.dilation[k] = c.conv.dilation[k];
        }
        p.groups = c.conv.groups;
        c.conv.out_shape = ConvGeometry::resolve(p, c.conv.a.shape, c.conv.b.shape).out_shape;
      }
    } else {
      throw Error("case: op \"" + c.op + "\" is not quantize, dequantize, conv2d or gemm");
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("case: a field is missing or has the wrong type: ") + e.what());
  }
  return c;
}

std::string Case::summary() const {
  if (op == "quantize")
    return "quantize " + q.format.short_name() + " " + rounding_name(q.rounding) + " " + shape_string(q.shape);
  if (op == "dequantize") return "dequantize " + t.format.short_name() + " " + shape_string(t.shape);
  if (op == "gemm") return "gemm " + shape_string(conv.a.shape) + "x" + shape_string(conv.b.shape);
  return "conv2d " + conv.pass + " a" + shape_string(conv.a.shape) + " b" + shape_string(conv.b.shape) + " -> " +
         shape_string(conv.out_shape);
}

int64_t Case::size() const {
  if (op == "quantize") return static_cast<int64_t>(q.x.size());
  if (op == "dequantize") return static_cast<int64_t>(t.elements.size());
  return static_cast<int64_t>(conv.a.elements.size() + conv.b.elements.size());
}

bool CaseResult::passed() const {
  if (status == Status::rejected) return golden_rejects;
  return status == Status::ok && !golden_rejects && verdict.pass;
}

nlohmann::json CaseResult::to_json() const {
  nlohmann::json j{{"status", to_string(status)}, {"passed", passed()}};
  if (!message.empty()) j["message"] = message;
  if (golden_rejects) j["golden_rejects"] = true;
  if (status == Status::ok && !golden_rejects) j["verdict"] = verdict.to_json();
  return j;
}

CaseResult run_case(Backend& backend, const Case& c, Tier conv_tier) {
  CaseResult r = run_case_raw(backend, c, conv_tier);
  if (r.status == Status::ok && r.verdict.cause_id == "wrong_shape") {
    // Arrays of the wrong length are a malformed answer (spec 7.5), not a mismatch.
    r.status = Status::failure;
    r.message = "malformed reply: " + r.verdict.cause;
  }
  return r;
}

CaseResult run_case_raw(Backend& backend, const Case& c, Tier conv_tier) {
  CaseResult r;
  if (c.op == "quantize" && !backend.capabilities().supports_mode(to_string(c.q.rounding.mode))) {
    r.status = Status::unsupported;
    r.message = "rounding mode " + to_string(c.q.rounding.mode) + " is not in the backend's supports.modes";
    return r;
  }
  auto judge_rejection = [&](const std::string& golden_error) {
    r.golden_rejects = true;
    if (r.status == Status::ok) {
      r.verdict.pass = false;
      r.verdict.cause_id = "accepted_invalid";
      r.verdict.cause = "the backend answered a case the spec makes an error: " + golden_error;
    }
  };
  if (c.op == "quantize") {
    auto o = backend.quantize(c.q);
    r.status = o.status;
    r.message = o.message;
    if (o.status == Status::unsupported || o.status == Status::failure) return r;
    try {
      const QuantizeResult e = golden_quantize(c.q);
      if (o.status == Status::ok) r.verdict = judge_quantize(c.q, e, o.value);
      else {
        r.verdict.pass = false;
        r.verdict.cause_id = "rejected_valid";
        r.verdict.cause = "the backend rejected a valid case: " + o.message;
      }
    } catch (const Error& e) {
      judge_rejection(e.what());
    }
    return r;
  }
  if (c.op == "dequantize") {
    auto o = backend.dequantize(c.t);
    r.status = o.status;
    r.message = o.message;
    if (o.status == Status::ok) r.verdict = judge_dequantize(c.t, o.value);
    else if (o.status == Status::rejected) {
      r.verdict.pass = false;
      r.verdict.cause_id = "rejected_valid";
      r.verdict.cause = "the backend rejected a valid case: " + o.message;
    }
    return r;
  }
  auto o = backend.conv(c.conv);
  r.status = o.status;
  r.message = o.message;
  if (o.status == Status::unsupported || o.status == Status::failure) return r;
  try {
    const ReductionResult e = golden_conv(c.conv);
    if (o.status == Status::ok) r.verdict = judge_conv(c.conv, e, o.value, conv_tier);
    else {
      r.verdict.pass = false;
      r.verdict.cause_id = "rejected_valid";
      r.verdict.cause = "the backend rejected a valid case: " + o.message;
    }
  } catch (const Error& e) {
    judge_rejection(e.what());
  }
  return r;
}

// ---- generators (biased to the edge cases of spec/08-vectors.md) ---------------

namespace {
namespace gen = rc::gen;

uint32_t fbits(float f) { return float_bits(f); }

rc::Gen<uint32_t> gen_value() {
  return gen::weightedOneOf<uint32_t>({
      // small integers times powers of two: grid points, midpoints and ties
      {4, gen::apply([](bool neg, int m, int e) { return fbits((neg ? -1.0f : 1.0f) * std::ldexp(float(m), e)); },
                     gen::arbitrary<bool>(), gen::inRange(0, 32), gen::inRange(-8, 4))},
      // ordinary values of moderate range
      {3, gen::apply([](bool neg, int e, uint32_t m) { return (neg ? 0x80000000u : 0u) | (uint32_t(e) << 23) | (m & 0x7fffffu); },
                     gen::arbitrary<bool>(), gen::inRange(110, 140), gen::arbitrary<uint32_t>())},
      {1, gen::element<uint32_t>(0u, 0x80000000u)},
      // fp32 extremes: subnormals, the smallest normal, the largest finite
      {1, gen::element<uint32_t>(1u, 0x80000001u, 0x007fffffu, 0x00800000u, 0x80800000u, 0x7f7fffffu, 0xff7fffffu, 0x3f800000u)},
      // any finite fp32
      {1, gen::map(gen::arbitrary<uint32_t>(), [](uint32_t b) { return ((b >> 23) & 0xff) == 0xff ? b & 0xbfffffffu : b; })},
  });
}

rc::Gen<Format> gen_format(const CampaignOptions& opt) {
  if (!opt.formats.empty()) {
    std::vector<Format> fs;
    for (const auto& s : opt.formats) fs.push_back(parse_format(s));
    return gen::elementOf(fs);
  }
  auto random = gen::apply(
      [](int e, int m, int zo, int ge, int gm, int pol, int sz) {
        Format f;
        f.element = Minifloat::element(e, (e == 0 && m == 0) ? 1 : m);
        if (zo && e >= 1) f.element.zero = ZeroMode::zero_only;
        f.group_scale = Minifloat::group_scale(ge, gm);
        f.scale_policy = pol == 0 ? ScalePolicy::ceil : pol == 1 ? ScalePolicy::nearest : ScalePolicy::floor;
        f.signed_zero = sz ? SignedZero::positive : SignedZero::preserve;
        return f;
      },
      gen::inRange(1, 5), gen::inRange(0, 5), gen::weightedElement<int>({{9, 0}, {1, 1}}), gen::inRange(1, 7),
      gen::inRange(0, 3), gen::weightedElement<int>({{8, 0}, {1, 1}, {1, 2}}), gen::weightedElement<int>({{9, 0}, {1, 1}}));
  std::vector<Format> named;
  for (const auto& p : named_profiles()) named.push_back(p.format);
  return gen::weightedOneOf<Format>({{1, gen::elementOf(named)}, {2, random}});
}

rc::Gen<Rounding> gen_rounding(const CampaignOptions& opt) {
  std::vector<Rounding> modes;
  const std::vector<std::string> all{"rne", "rna", "rtz", "rup", "rdn", "rto", "sr"};
  for (const auto& m : opt.modes.empty() ? all : opt.modes) modes.push_back(Rounding{rounding_mode_from_string(m, "--modes"), 8});
  return gen::apply(
      [](Rounding r, int bits) {
        if (r.mode == RoundingMode::sr) r.sr_bits = bits;
        return r;
      },
      gen::elementOf(modes), gen::element(8, 1, 2, 3, 4, 5, 6, 7, 10, 12, 16, 23, 32));
}

rc::Gen<Shape> gen_shape(int max_rank, int64_t max_dim) {
  return gen::mapcat(gen::inRange(1, max_rank + 1), [max_dim](int r) {
    return gen::container<Shape>(static_cast<size_t>(r), gen::inRange<int64_t>(1, max_dim + 1));
  });
}

rc::Gen<Shape> gen_group_shape(const Shape& s) {
  std::vector<rc::Gen<int64_t>> axes;
  return gen::weightedOneOf<Shape>(
      {{2, gen::just(Shape{})},
       {1, gen::container<Shape>(s.size(), gen::element<int64_t>(0, 1, 2, 3, 5))}});
}

// ceil(2^R * (1 - t)) for t = tn/td: the smallest r that rounds away (3.4).
int64_t sr_threshold(const Dyadic& tn, const Dyadic& td, int R) {
  const Dyadic num = ldexp(td - tn, R);
  // num/td with both dyadic: align exponents and divide integers.
  const int64_t e = std::min(num.e, td.e);
  const BigInt a = num.m << static_cast<unsigned>(num.e - e), b = td.m << static_cast<unsigned>(td.e - e);
  BigInt q = a / b;
  if (q * b < a) q += 1;
  return q.convert_to<int64_t>();
}

// Words at the stochastic-rounding decision threshold +/- 1 for the elements
// marked in `kind` (1, 2, 3 = threshold - 1, threshold, threshold + 1).
void craft_threshold_words(QuantizeCase& c, const std::vector<int>& kind) {
  if (c.rounding.mode != RoundingMode::sr) return;
  try {
    const QuantizeResult g = golden_quantize(c);
    const GroupLayout layout(c.format, c.shape);
    const Dyadic st = Dyadic::from_float(bits_float(g.tensor_scale));
    const int R = c.rounding.sr_bits;
    for (size_t i = 0; i < c.x.size(); ++i) {
      if (kind[i] == 0) continue;
      const Dyadic s = st * c.format.group_scale.decode(g.group_scales[layout.group_of(static_cast<int64_t>(i))]);
      const RoundResult r = quantize_element(c.format, bits_float(c.x[i]), s, Rounding{RoundingMode::rtz, 8}, 0);
      if (r.exact || r.t_den.sign() <= 0) continue;
      const int64_t rstar = sr_threshold(r.t_num, r.t_den, R) + (kind[i] - 2);
      const int64_t rmax = (int64_t(1) << R) - 1;
      const uint64_t rr = static_cast<uint64_t>(std::clamp<int64_t>(rstar, 0, rmax));
      c.rand[i] = R == 32 ? static_cast<uint32_t>(rr) : static_cast<uint32_t>(rr << (32 - R)) | (c.rand[i] & ((1u << (32 - R)) - 1));
    }
  } catch (const Error&) {
  }
}

// Exact ties: element i (not a group's maximum) becomes the midpoint of the
// gap it falls in (tie = 1) or of the gap between zero and the smallest
// non-zero value (tie = 2, the zero_only special case), times S_t S_g, when
// that is an fp32 value below the group maximum -- so the scales stay as they were.
void craft_ties(QuantizeCase& c, const std::vector<int>& tie) {
  try {
    const QuantizeResult g = golden_quantize(c);
    const GroupLayout layout(c.format, c.shape);
    std::vector<float> gmax(layout.group_count, 0.0f);
    for (size_t i = 0; i < c.x.size(); ++i) {
      float& m = gmax[layout.group_of(static_cast<int64_t>(i))];
      m = std::max(m, std::fabs(bits_float(c.x[i])));
    }
    const Dyadic st = Dyadic::from_float(bits_float(g.tensor_scale));
    const auto& e = c.format.element;
    for (size_t i = 0; i < c.x.size(); ++i) {
      if (tie[i] == 0) continue;
      const int64_t grp = layout.group_of(static_cast<int64_t>(i));
      const float xi = bits_float(c.x[i]);
      if (std::fabs(xi) >= gmax[grp]) continue;
      const Dyadic s = st * c.format.group_scale.decode(g.group_scales[grp]);
      uint64_t lo = 0, hi = e.nth_magnitude(1);
      if (tie[i] == 1) {
        const RoundResult r = quantize_element(c.format, xi, s, Rounding{RoundingMode::rtz, 8}, 0);
        if (r.rule == Rule::saturated) continue;
        lo = r.lo;
        hi = r.exact ? e.nth_magnitude(std::min(e.index_of_magnitude(r.lo) + 1, e.valid_magnitude_count() - 1)) : r.hi;
        if (hi == lo) continue;
      }
      const Dyadic mid = ldexp(e.magnitude_value(lo) + e.magnitude_value(hi), -1) * s;
      const float f = round_to_fp32(mid);
      if (!std::isfinite(f) || Dyadic::from_float(f) != mid || f >= gmax[grp]) continue;
      c.x[i] = float_bits(std::signbit(xi) ? -f : f);
    }
  } catch (const Error&) {
  }
}

rc::Gen<QuantizeCase> gen_quantize(const CampaignOptions& opt) {
  return gen::mapcat(gen_shape(4, 6), [opt](Shape shape) {
    const size_t n = static_cast<size_t>(element_count(shape));
    return gen::apply(
        [shape](Format f, Shape gs, std::vector<uint32_t> x, Rounding r, std::vector<uint32_t> words,
                std::vector<int> kind, int static_scale, std::vector<int> tie) {
          QuantizeCase c;
          c.format = f;
          if (!gs.empty()) c.format.group_shape = gs;
          c.rounding = r;
          c.shape = shape;
          c.x = std::move(x);
          craft_ties(c, tie);
          if (r.mode == RoundingMode::sr) {
            c.rand = std::move(words);
            // A tie (t = 1/2) with the word exactly at the threshold is where
            // ">=" and ">" differ: mark half the tie elements so.
            for (size_t i = 0; i < kind.size(); ++i)
              if (tie[i] != 0 && kind[i] == 0 && i % 2 == 0) kind[i] = 2;
            craft_threshold_words(c, kind);
          }
          if (static_scale > 0) c.static_tensor_scale = fbits(std::ldexp(1.0f, static_scale - 6));
          return c;
        },
        gen_format(opt), gen_group_shape(shape), gen::container<std::vector<uint32_t>>(n, gen_value()), gen_rounding(opt),
        gen::container<std::vector<uint32_t>>(n, gen::weightedOneOf<uint32_t>({{6, gen::arbitrary<uint32_t>()},
                                                                               {1, gen::element<uint32_t>(0u, 0xffffffffu, 0x80000000u)}})),
        gen::container<std::vector<int>>(n, gen::weightedElement<int>({{5, 0}, {1, 1}, {1, 2}, {1, 3}})),
        gen::weightedOneOf<int>({{9, gen::just(0)}, {1, gen::inRange(1, 10)}}),
        gen::container<std::vector<int>>(n, gen::weightedElement<int>({{6, 0}, {2, 1}, {1, 2}})));
  });
}

MlsTensor quantize_operand(const Format& f, const Shape& shape, const std::vector<uint32_t>& bits) {
  std::vector<float> x(bits.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = bits_float(bits[i]);
  return quantize(f, shape, x, Rounding{}, {});
}

struct ConvDims {
  std::string pass;
  int64_t N, G, Cg, Og, H, W, KH, KW, s0, s1, p0, p1, d0, d1;
};

rc::Gen<ConvCase> gen_conv(const CampaignOptions& opt) {
  auto dims = gen::apply(
      [](int pass, std::vector<int64_t> v) {
        ConvDims d{pass == 0 ? "fwd" : pass == 1 ? "bwd_data" : "bwd_weight", v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
                   v[8], v[9], v[10] - 1, v[11] - 1, v[12], v[13]};
        // Keep the dilated kernel inside the padded input (at least one output).
        d.KH = std::min(d.KH, (d.H + 2 * d.p0 - 1) / d.d0 + 1);
        d.KW = std::min(d.KW, (d.W + 2 * d.p1 - 1) / d.d1 + 1);
        return d;
      },
      gen::inRange(0, 3),
      gen::apply([](int64_t n, int64_t g, int64_t cg, int64_t og, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t s0,
                    int64_t s1, int64_t p0, int64_t p1, int64_t d0, int64_t d1) {
                   return std::vector<int64_t>{n, g, cg, og, h, w, kh, kw, s0, s1, p0, p1, d0, d1};
                 },
                 gen::inRange<int64_t>(1, 3), gen::inRange<int64_t>(1, 3), gen::inRange<int64_t>(1, 4),
                 gen::inRange<int64_t>(1, 4), gen::inRange<int64_t>(1, 7), gen::inRange<int64_t>(1, 7),
                 gen::inRange<int64_t>(1, 4), gen::inRange<int64_t>(1, 4), gen::inRange<int64_t>(1, 3),
                 gen::inRange<int64_t>(1, 3), gen::inRange<int64_t>(1, 3), gen::inRange<int64_t>(1, 3),
                 gen::inRange<int64_t>(1, 3), gen::inRange<int64_t>(1, 3)));
  return gen::mapcat(dims, [opt](ConvDims d) {
    const int64_t C = d.G * d.Cg, O = d.G * d.Og;
    const int64_t OH = (d.H + 2 * d.p0 - d.d0 * (d.KH - 1) - 1) / d.s0 + 1;
    const int64_t OW = (d.W + 2 * d.p1 - d.d1 * (d.KW - 1) - 1) / d.s1 + 1;
    const Shape X{d.N, C, d.H, d.W}, Wt{O, d.Cg, d.KH, d.KW}, dY{d.N, O, OH, OW};
    Shape as = X, bs = Wt, out;
    if (d.pass == "bwd_data") { as = dY; bs = Wt; out = X; }
    if (d.pass == "bwd_weight") { as = X; bs = dY; out = Wt; }
    const size_t na = static_cast<size_t>(element_count(as)), nb = static_cast<size_t>(element_count(bs));
    return gen::apply(
        [d, as, bs, out](Format fa, Format fb, std::vector<uint32_t> xa, std::vector<uint32_t> xb) {
          ConvCase c;
          c.op = "conv2d";
          c.pass = d.pass;
          c.stride = {d.s0, d.s1};
          c.padding = {d.p0, d.p1};
          c.dilation = {d.d0, d.d1};
          c.groups = d.G;
          fa.group_shape.clear();
          fb.group_shape.clear();
          c.a = quantize_operand(fa, as, xa);
          c.b = quantize_operand(fb, bs, xb);
          c.out_shape = out;
          c.out_shape = golden_conv(c).shape;
          return c;
        },
        gen_format(opt), gen_format(opt), gen::container<std::vector<uint32_t>>(na, gen_value()),
        gen::container<std::vector<uint32_t>>(nb, gen_value()));
  });
}

rc::Gen<ConvCase> gen_gemm(const CampaignOptions& opt) {
  return gen::mapcat(gen::container<std::vector<int64_t>>(3, gen::inRange<int64_t>(1, 7)), [opt](std::vector<int64_t> mkn) {
    const Shape as{mkn[0], mkn[1]}, bs{mkn[1], mkn[2]};
    return gen::apply(
        [as, bs](Format fa, Format fb, std::vector<uint32_t> xa, std::vector<uint32_t> xb) {
          ConvCase c;
          c.op = "gemm";
          fa.group_shape.clear();
          fb.group_shape.clear();
          c.a = quantize_operand(fa, as, xa);
          c.b = quantize_operand(fb, bs, xb);
          c.out_shape = gemm_out_shape(as, bs);
          return c;
        },
        gen_format(opt), gen_format(opt),
        gen::container<std::vector<uint32_t>>(static_cast<size_t>(element_count(as)), gen_value()),
        gen::container<std::vector<uint32_t>>(static_cast<size_t>(element_count(bs)), gen_value()));
  });
}

rc::Gen<Case> gen_case(const std::string& op, const CampaignOptions& opt) {
  if (op == "quantize")
    return gen::map(gen_quantize(opt), [](QuantizeCase q) { Case c; c.op = "quantize"; c.q = std::move(q); return c; });
  if (op == "dequantize")
    return gen::map(gen_quantize(opt), [](QuantizeCase q) {
      Case c;
      c.op = "dequantize";
      const QuantizeResult r = golden_quantize(q);
      c.t.format = q.format;
      c.t.shape = q.shape;
      c.t.tensor_scale = r.tensor_scale;
      c.t.group_scales = r.group_scales;
      c.t.elements = r.elements;
      return c;
    });
  if (op == "conv2d")
    return gen::map(gen_conv(opt), [](ConvCase v) { Case c; c.op = "conv2d"; c.conv = std::move(v); return c; });
  if (op == "gemm")
    return gen::map(gen_gemm(opt), [](ConvCase v) { Case c; c.op = "gemm"; c.conv = std::move(v); return c; });
  throw Error("--ops: \"" + op + "\" is not one of quantize, dequantize, conv2d, gemm");
}

rc::Random case_random(uint64_t seed, const std::string& op, int64_t index) {
  // Independent, reproducible streams per (seed, op, case index).
  uint64_t h = 1469598103934665603ull;
  for (char ch : op) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  const uint32_t w0 = random_word(seed, static_cast<uint32_t>(h), static_cast<uint64_t>(index) * 2);
  const uint32_t w1 = random_word(seed, static_cast<uint32_t>(h), static_cast<uint64_t>(index) * 2 + 1);
  return rc::Random((uint64_t(w0) << 32) | w1);
}

int case_size(int64_t index) { return static_cast<int>(20 + index % 81); }

}  // namespace

Case generate_case(const std::string& op, uint64_t seed, int64_t index, const CampaignOptions& opt) {
  return gen_case(op, opt)(case_random(seed, op, index), case_size(index)).value();
}

// ---- tallies and reports ------------------------------------------------------------

void Tally::add(const CaseResult& r, const std::string& op) {
  (void)op;
  switch (r.status) {
    case Status::unsupported: ++skipped; return;
    case Status::failure: ++backend_failures; return;
    default: break;
  }
  if (r.passed()) ++passed; else ++mismatched;
  if (r.status == Status::ok && !r.golden_rejects) {
    if (static_cast<int>(r.verdict.tier) > static_cast<int>(worst_tier)) worst_tier = r.verdict.tier;
    if (!std::isfinite(r.verdict.worst_ulps) || r.verdict.worst_ulps > worst_ulps) worst_ulps = r.verdict.worst_ulps;
  }
}

int CampaignReport::exit_code() const {
  bool mismatch = false, failure = aborted;
  for (const auto& [op, t] : per_op) {
    mismatch = mismatch || t.mismatched > 0;
    failure = failure || t.backend_failures > 0;
  }
  return failure ? 2 : mismatch ? 1 : 0;
}

nlohmann::json CampaignReport::to_json() const {
  nlohmann::json ops = nlohmann::json::object();
  for (const auto& [op, t] : per_op) {
    ops[op] = {{"passed", t.passed}, {"mismatched", t.mismatched}, {"skipped", t.skipped},
               {"backend_failures", t.backend_failures}, {"failures", t.failures}};
    if (t.not_run > 0) ops[op]["not_run"] = t.not_run;
    if (op == "conv2d" || op == "gemm") {
      ops[op]["tier"] = to_string(t.worst_tier);
      ops[op]["worst_ulps"] = std::isfinite(t.worst_ulps) ? nlohmann::json(t.worst_ulps) : nlohmann::json("inf");
    }
  }
  const int rc = exit_code();
  return {{"backend", backend}, {"ops", ops}, {"aborted", aborted}, {"abort_reason", abort_reason},
          {"seconds", seconds}, {"result", rc == 0 ? "pass" : rc == 1 ? "mismatch" : "backend_failure"}, {"exit_code", rc}};
}

namespace {
std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') o += ' '; else o += c;
    }
  }
  return o;
}
}  // namespace

std::string CampaignReport::junit_xml() const {
  std::ostringstream o;
  int64_t tests = 0, failures = 0, errors = 0, skipped = 0;
  for (const auto& [op, t] : per_op) {
    tests += t.passed + t.mismatched + t.skipped + t.backend_failures;
    failures += t.mismatched;
    errors += t.backend_failures;
    skipped += t.skipped;
  }
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"mls check\" tests=\"" << tests << "\" failures=\""
    << failures << "\" errors=\"" << errors << "\" skipped=\"" << skipped << "\" time=\"" << seconds << "\">\n";
  for (const auto& [op, t] : per_op) {
    o << "  <testsuite name=\"" << xml_escape(backend + "." + op) << "\" tests=\""
      << t.passed + t.mismatched + t.skipped + t.backend_failures << "\" failures=\"" << t.mismatched << "\" errors=\""
      << t.backend_failures << "\" skipped=\"" << t.skipped << "\">\n";
    o << "    <testcase classname=\"" << xml_escape(op) << "\" name=\"passed cases\" assertions=\"" << t.passed << "\"/>\n";
    for (size_t i = 0; i < t.failures.size(); ++i) {
      const auto& f = t.failures[i];
      o << "    <testcase classname=\"" << xml_escape(op) << "\" name=\"" << xml_escape(f.value("summary", "case")) << "\">\n"
        << "      <failure message=\"" << xml_escape(f.value("cause", "mismatch")) << "\">" << xml_escape(f.dump(2))
        << "</failure>\n    </testcase>\n";
    }
    if (t.backend_failures > 0)
      o << "    <testcase classname=\"" << xml_escape(op) << "\" name=\"backend failures\"><error message=\""
        << t.backend_failures << " backend failures (crash, hang or malformed reply)\"/></testcase>\n";
    if (t.skipped > 0)
      o << "    <testcase classname=\"" << xml_escape(op) << "\" name=\"unsupported cases\"><skipped message=\"" << t.skipped
        << " cases declared unsupported by the backend\"/></testcase>\n";
    o << "  </testsuite>\n";
  }
  o << "</testsuites>\n";
  return o.str();
}

void CampaignReport::print_summary(std::ostream& os) const {
  os << "backend: " << backend << "\n";
  os << std::left << std::setw(12) << "op" << std::right << std::setw(9) << "passed" << std::setw(11) << "mismatch"
     << std::setw(9) << "skipped" << std::setw(10) << "failures" << "  tier (worst ulps)\n";
  for (const auto& [op, t] : per_op) {
    os << std::left << std::setw(12) << op << std::right << std::setw(9) << t.passed << std::setw(11) << t.mismatched
       << std::setw(9) << t.skipped << std::setw(10) << t.backend_failures;
    if (op == "conv2d" || op == "gemm") os << "  " << to_string(t.worst_tier) << " (" << t.worst_ulps << ")";
    os << "\n";
  }
  if (aborted) os << "ABORTED: " << abort_reason << "\n";
  const int rc = exit_code();
  os << "result: " << (rc == 0 ? "PASS" : rc == 1 ? "MISMATCH" : "BACKEND FAILURE") << " (" << std::fixed
     << std::setprecision(2) << seconds << " s)\n";
  os.unsetf(std::ios::floatfield);
}

void print_mismatch(std::ostream& log, const CaseResult& rr) {
  if (rr.status == Status::rejected && !rr.golden_rejects) log << "  backend rejected a valid case: " << rr.message << "\n";
  const Verdict& v = rr.verdict;
  for (const auto& d : v.diffs) log << "  " << d.field << ": expected " << d.expected << ", got " << d.got << "\n";
  if (v.diff_count > v.diffs.size()) log << "  ... " << v.diff_count << " fields differ in all\n";
  if (!v.detail.is_null()) log << "  first difference: " << v.detail.dump() << "\n";
  if (!v.cause.empty()) log << "  likely cause [" << v.cause_id << "]: " << v.cause << "\n";
}

// ---- campaigns ---------------------------------------------------------------------------

namespace {

struct Shrunk {
  Case c;
  CaseResult r;
  int64_t steps = 0, calls = 0;
};

// Greedy shrinking over RapidCheck's shrink tree: take the first shrink that
// still mismatches, repeat until none does or the budget is spent.
Shrunk shrink(Backend& backend, const rc::Shrinkable<Case>& start, const CaseResult& first, Tier tier, int64_t budget) {
  Shrunk s{start.value(), first, 0, 0};
  rc::Shrinkable<Case> cur = start;
  bool progress = true;
  while (progress && s.calls < budget) {
    progress = false;
    auto seq = cur.shrinks();
    while (auto next = seq.next()) {
      if (s.calls >= budget) break;
      Case cand;
      try {
        cand = next->value();
      } catch (const std::exception&) {
        continue;  // a shrink the generator cannot build (e.g. an invalid combination)
      }
      ++s.calls;
      const CaseResult r = run_case(backend, cand, tier);
      if (r.status == Status::ok || r.status == Status::rejected) {
        // Keep the failure's identity: a smaller case that fails for another
        // reason would make the diagnosis of the minimal case misleading.
        const auto& fc = first.verdict.candidates;
        const bool same_cause = first.verdict.cause_id == "unknown" || r.verdict.cause_id == first.verdict.cause_id ||
                                (!fc.empty() && std::find(r.verdict.candidates.begin(), r.verdict.candidates.end(),
                                                          fc.front()) != r.verdict.candidates.end());
        if (!r.passed() && same_cause) {
          cur = *next;
          s.c = cand;
          s.r = r;
          ++s.steps;
          progress = true;
          break;
        }
      }
    }
  }
  return s;
}

// Writes the minimal failing case twice: as a one-case vector file (8.5a;
// what any reader of the schema replays) and as JSON with the verdict. The
// returned path is the replay file: the .h5 when the schema can hold the case.
std::string save_case(const std::string& dir, const std::string& op, int64_t n, const Case& c, const CaseResult& r,
                      const std::string& source) {
  if (dir.empty()) return "";
  std::filesystem::create_directories(dir);
  const std::string stem = dir + "/failure-" + op + "-" + std::to_string(n);
  const std::string path = stem + ".json";
  nlohmann::json j{{"schema", "mls-case"}, {"version", 1}, {"case", c.to_json()}, {"result", r.to_json()}};
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump(1) << "\n";
    if (!out) throw Error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
  if (auto suite = case_to_suite(c, source)) {
    vectors::write_suite(stem + ".h5", std::move(*suite));
    return stem + ".h5";
  }
  return path;
}

void print_failure(std::ostream& log, const std::string& op, const Case& c, const CaseResult& r, const Shrunk* s,
                   const std::string& saved) {
  log << "MISMATCH " << op << ": " << c.summary() << "\n";
  if (s) log << "  shrunk in " << s->steps << " steps (" << s->calls << " backend calls) to " << s->c.summary() << "\n";
  print_mismatch(log, s ? s->r : r);
  if (!saved.empty()) log << "  replay: mls check --replay " << saved << " <backend>\n";
}

}  // namespace

CampaignReport run_random_campaign(Backend& backend, const CampaignOptions& opt, const CaseSink& sink, std::ostream& log) {
  CampaignReport rep;
  const auto t0 = std::chrono::steady_clock::now();
  rep.backend = backend.describe();
  try {
    rep.backend = backend.capabilities().name + " (" + backend.describe() + ")";
  } catch (const Error& e) {
    rep.aborted = true;
    rep.abort_reason = e.what();
    return rep;
  }
  int64_t consecutive_failures = 0;
  for (const auto& op : opt.ops) {
    Tally& tally = rep.per_op[op];
    const auto g = gen_case(op, opt);
    if (!backend.capabilities().supports_op(op)) {
      tally.skipped = opt.cases;
      log << "skip " << op << ": the backend does not declare it\n";
      continue;
    }
    int64_t mismatches = 0;
    for (int64_t i = 0; i < opt.cases; ++i) {
      const rc::Shrinkable<Case> sh = g(case_random(opt.seed, op, i), case_size(i));
      Case c;
      try {
        c = sh.value();
      } catch (const Error& e) {
        throw Error("case generator failed for " + op + " case " + std::to_string(i) + ": " + e.what());
      }
      CaseResult r = run_case(backend, c, opt.conv_tier);
      if (r.status == Status::failure) {
        log << "BACKEND FAILURE on " << op << " case " << i << " (" << c.summary() << "): " << r.message << "\n";
        if (++consecutive_failures >= opt.max_backend_failures) {
          tally.add(r, op);
          if (sink) sink(op, c, r);
          rep.aborted = true;
          rep.abort_reason = std::to_string(consecutive_failures) + " consecutive backend failures; last: " + r.message;
          rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          return rep;
        }
      } else {
        consecutive_failures = 0;
      }
      if (!r.passed() && (r.status == Status::ok || r.status == Status::rejected)) {
        if (op == "quantize" && r.status == Status::ok && r.verdict.candidates.size() > 1) {
          // Several deviations explain this case: run further cases until the
          // backend's answers leave one (a differential diagnosis).
          std::vector<int> cand = r.verdict.candidates;
          int64_t extra = 0;
          for (int64_t j = 1; j <= 300 && cand.size() > 1; ++j) {
            Case d;
            try {
              d = g(case_random(opt.seed ^ 0x9e3779b97f4a7c15ull, op, i * 1000 + j), case_size(j)).value();
            } catch (const Error&) {
              continue;
            }
            auto o = backend.quantize(d.q);
            ++extra;
            if (o.status != Status::ok) continue;
            auto keep = matching_hypotheses(d.q, o.value, &cand);
            if (!keep.empty()) cand = keep;
          }
          set_cause(r.verdict, cand.front());
          r.verdict.candidates = cand;
          log << "  (" << op << " case " << i << ": " << r.verdict.candidates.size()
              << " candidate cause(s) left after " << extra << " disambiguating cases)\n";
        }
        const Shrunk s = shrink(backend, sh, r, opt.conv_tier, opt.max_shrinks);
        const std::string saved = save_case(opt.save_dir, op, tally.mismatched + 1, s.c, s.r,
                                            "mls check failure: campaign seed " + std::to_string(opt.seed) + ", " + op + " case " + std::to_string(i));
        print_failure(log, op, c, r, &s, saved);
        if (s.r.verdict.cause_id != r.verdict.cause_id && !r.verdict.cause_id.empty())
          log << "  diagnosis (from the whole campaign) [" << r.verdict.cause_id << "]: " << r.verdict.cause << "\n";
        Shrunk sd = s;
        if (!r.verdict.candidates.empty() && r.verdict.cause_id != sd.r.verdict.cause_id) {
          // The minimal case may be explained by several deviations; the
          // diagnosis is the one the whole campaign singled out.
          sd.r.verdict.cause_id = r.verdict.cause_id;
          sd.r.verdict.cause = r.verdict.cause;
        }
        nlohmann::json f = sd.r.to_json();
        f["summary"] = s.c.summary();
        f["case_index"] = i;
        f["shrink_steps"] = s.steps;
        f["cause"] = sd.r.verdict.cause;
        f["cause_id"] = sd.r.verdict.cause_id;
        if (!saved.empty()) {
          f["replay_file"] = saved;
          f["case_file"] = saved.substr(0, saved.rfind('.')) + ".json";
        }
        tally.failures.push_back(f);
        tally.add(r, op);
        if (sink) sink(op, c, r);
        if (opt.max_failures > 0 && ++mismatches >= opt.max_failures) {
          log << "stopping " << op << " after " << mismatches << " mismatch(es) (--max-failures)\n";
          break;
        }
        continue;
      }
      tally.add(r, op);
      if (sink) sink(op, c, r);
    }
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

CampaignReport run_replay(Backend& backend, const std::vector<Case>& cases, Tier conv_tier, const CaseSink& sink,
                          std::ostream& log, const std::string& label) {
  CampaignReport rep;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    rep.backend = backend.capabilities().name + " (" + backend.describe() + ")";
  } catch (const Error& e) {
    rep.backend = backend.describe();
    rep.aborted = true;
    rep.abort_reason = e.what();
    return rep;
  }
  int64_t consecutive_failures = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    Tally& tally = rep.per_op[c.op];
    CaseResult r;
    if (!backend.capabilities().supports_op(c.op)) r.status = Status::unsupported;
    else r = run_case(backend, c, conv_tier);
    tally.add(r, c.op);
    if (sink) sink(c.op, c, r);
    if (r.status == Status::failure) {
      log << "BACKEND FAILURE on " << label << " case " << i << " (" << c.summary() << "): " << r.message << "\n";
      if (++consecutive_failures >= 5) {
        rep.aborted = true;
        rep.abort_reason = "5 consecutive backend failures; last: " + r.message;
        break;
      }
      continue;
    }
    consecutive_failures = 0;
    if (!r.passed() && r.status != Status::unsupported) {
      if (tally.failures.size() < 20) {
        print_failure(log, c.op, c, r, nullptr, "");
        nlohmann::json f = r.to_json();
        f["summary"] = c.summary();
        f["case_index"] = i;
        f["cause"] = r.verdict.cause;
        f["cause_id"] = r.verdict.cause_id;
        tally.failures.push_back(f);
      }
    }
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace mls::conformance
