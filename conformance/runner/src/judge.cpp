#include "mls/conformance/judge.hpp"

#include <cmath>
#include <algorithm>
#include <functional>
#include <optional>
#include <sstream>

#include "mls/error.hpp"

namespace mls::conformance {

QuantizeResult golden_quantize(const QuantizeCase& c) {
  std::vector<float> x(c.x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = bits_float(c.x[i]);
  const MlsTensor t = quantize(c.format, c.shape, x, c.rounding, c.rand, c.static_tensor_scale);
  return {t.tensor_scale, t.group_scales, t.elements};
}

ReductionResult golden_conv(const ConvCase& c) {
  const ArithProfile ar = ArithProfile::from_json(c.arith);
  if (c.op == "gemm") return gemm(c.a, c.b, ar);
  Conv2dParams p;
  p.pass = conv_pass_from_string(c.pass);
  for (int i = 0; i < 2; ++i) {
    p.stride[i] = c.stride.at(i);
    p.padding[i] = c.padding.at(i);
    p.dilation[i] = c.dilation.at(i);
  }
  p.groups = c.groups;
  p.out_shape = c.out_shape;
  return conv2d(c.a, c.b, p, ar);
}

nlohmann::json Verdict::to_json() const {
  nlohmann::json d = nlohmann::json::array();
  for (const auto& f : diffs) d.push_back({{"field", f.field}, {"expected", f.expected}, {"got", f.got}});
  nlohmann::json j{{"pass", pass}, {"diff_count", diff_count}, {"diffs", d}};
  if (!pass) {
    j["cause_id"] = cause_id;
    j["cause"] = cause;
  }
  if (!detail.is_null()) j["detail"] = detail;
  j["tier"] = to_string(tier);
  j["worst_ulps"] = std::isfinite(worst_ulps) ? nlohmann::json(worst_ulps) : nlohmann::json("inf");
  return j;
}

namespace {

constexpr size_t kMaxDiffs = 8;

std::vector<FieldDiff> diff_quantize(const QuantizeResult& e, const QuantizeResult& g, size_t* count) {
  std::vector<FieldDiff> d;
  size_t n = 0;
  auto add = [&](const std::string& f, uint64_t a, uint64_t b) {
    if (a == b) return;
    ++n;
    if (d.size() < kMaxDiffs) d.push_back({f, a, b});
  };
  add("tensor_scale", e.tensor_scale, g.tensor_scale);
  if (e.group_scales.size() != g.group_scales.size()) add("group_scales.size", e.group_scales.size(), g.group_scales.size());
  else for (size_t i = 0; i < e.group_scales.size(); ++i) add("group_scales[" + std::to_string(i) + "]", e.group_scales[i], g.group_scales[i]);
  if (e.elements.size() != g.elements.size()) add("elements.size", e.elements.size(), g.elements.size());
  else for (size_t i = 0; i < e.elements.size(); ++i) add("elements[" + std::to_string(i) + "]", e.elements[i], g.elements[i]);
  if (count) *count = n;
  return d;
}

bool same(const QuantizeResult& a, const QuantizeResult& b) {
  return a.tensor_scale == b.tensor_scale && a.group_scales == b.group_scales && a.elements == b.elements;
}

// A hypothesis: the golden model with one deliberate deviation. If it
// reproduces the backend's answer, that deviation is the likely cause. Tried
// most specific first (scales, then mode-specific rules, then generic ones),
// so that a small case two hypotheses both explain gets the narrower cause.
struct Hypothesis {
  const char* id;
  const char* text;
  std::function<bool(const QuantizeCase&)> applies;
  std::function<QuantizeResult(const QuantizeCase&)> run;
};

std::vector<float> floats(const QuantizeCase& c) {
  std::vector<float> x(c.x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = bits_float(c.x[i]);
  return x;
}

// Golden structure with a per-element override: f(i, x, S_t*S_g, golden RoundResult) -> code.
QuantizeResult with_elements(const QuantizeCase& c,
                             const std::function<uint32_t(size_t, float, const Dyadic&, const RoundResult&)>& f) {
  const auto x = floats(c);
  QuantizeResult r = golden_quantize(c);
  const GroupLayout layout(c.format, c.shape);
  const Dyadic st = Dyadic::from_float(bits_float(r.tensor_scale));
  for (size_t i = 0; i < x.size(); ++i) {
    const Dyadic s = st * c.format.group_scale.decode(r.group_scales[layout.group_of(static_cast<int64_t>(i))]);
    const uint32_t w = c.rounding.mode == RoundingMode::sr ? c.rand[i] : 0;
    r.elements[i] = f(i, x[i], s, quantize_element(c.format, x[i], s, c.rounding, w));
  }
  return r;
}

QuantizeResult with_mode(const QuantizeCase& c, RoundingMode m) {
  QuantizeCase v = c;
  v.rounding.mode = m;
  if (m == RoundingMode::sr && v.rand.size() != v.x.size()) v.rand.assign(v.x.size(), 0);
  return golden_quantize(v);
}

bool is_nearest(const QuantizeCase& c) { return c.rounding.mode == RoundingMode::rne || c.rounding.mode == RoundingMode::rna; }
bool is_sr(const QuantizeCase& c) { return c.rounding.mode == RoundingMode::sr; }
bool always(const QuantizeCase&) { return true; }

const std::vector<Hypothesis>& hypotheses() {
  static const std::vector<Hypothesis> h = {
      {"tensor_scale_nearest", "tensor scale rounded to nearest instead of up (4.3: RU_fp32)", always,
       [](const QuantizeCase& c) {
         QuantizeCase v = c;
         if (c.static_tensor_scale) return golden_quantize(c);
         float amax = 0;
         for (float x : floats(c)) amax = std::max(amax, std::fabs(x));
         if (amax == 0) return golden_quantize(c);
         v.static_tensor_scale = static_cast<uint32_t>(
             round_to_grid(Minifloat::binary32(), RoundInput{false, Dyadic::from_float(amax), c.format.q_max() * c.format.g_max()},
                           Rounding{RoundingMode::rne, 8}, 0, OverflowPolicy::saturate).code);
         return golden_quantize(v);
       }},
      {"amax_signed", "tensor maximum taken over x instead of |x| (4.2: a = max |x|)", always,
       [](const QuantizeCase& c) {
         if (c.static_tensor_scale) return golden_quantize(c);
         float mx = 0;
         for (float x : floats(c)) mx = std::max(mx, x);
         QuantizeCase v = c;
         v.static_tensor_scale = mx > 0 ? static_cast<uint32_t>(
             round_to_grid(Minifloat::binary32(), RoundInput{false, Dyadic::from_float(mx), c.format.q_max() * c.format.g_max()},
                           Rounding{RoundingMode::rup, 8}, 0, OverflowPolicy::saturate).code) : 0x3f800000u;
         return golden_quantize(v);
       }},
      {"scale_nearest", "group scale chosen nearest instead of ceil (4.4)",
       [](const QuantizeCase& c) { return c.format.scale_policy == ScalePolicy::ceil; },
       [](const QuantizeCase& c) { QuantizeCase v = c; v.format.scale_policy = ScalePolicy::nearest; return golden_quantize(v); }},
      {"scale_floor", "group scale chosen with floor instead of ceil (4.4)",
       [](const QuantizeCase& c) { return c.format.scale_policy == ScalePolicy::ceil; },
       [](const QuantizeCase& c) { QuantizeCase v = c; v.format.scale_policy = ScalePolicy::floor; return golden_quantize(v); }},
      {"sr_bits", "stochastic rounding uses the wrong random bits (the low R bits of the word, not the top R)", is_sr,
       [](const QuantizeCase& c) {
         QuantizeCase v = c;
         const int R = c.rounding.sr_bits;
         if (R < 32)
           for (auto& w : v.rand) w = (w & ((uint32_t(1) << R) - 1)) << (32 - R);
         return golden_quantize(v);
       }},
      {"sr_threshold", "stochastic rounding threshold off by one: rounds away only when t + r/2^R > 1 (3.4 says >=)", is_sr,
       [](const QuantizeCase& c) {
         return with_elements(c, [&](size_t, float, const Dyadic&, const RoundResult& g) -> uint32_t {
           const int R = c.rounding.sr_bits;
           const bool tie = g.away && !g.exact && g.rule == Rule::sr_away &&
                            compare(ldexp(g.t_num, R) + g.t_den * Dyadic::from_int(g.r), ldexp(g.t_den, R)) == 0;
           if (!tie) return static_cast<uint32_t>(g.code);
           const uint64_t sign = (g.lo == 0 && c.format.signed_zero == SignedZero::positive) ? 0 : (g.code & c.format.element.sign_bit());
           return static_cast<uint32_t>(sign | g.lo);
         });
       }},
      {"sr_threshold", "stochastic rounding threshold off by one: uses r + 1 (t + (r+1)/2^R >= 1)", is_sr,
       [](const QuantizeCase& c) {
         QuantizeCase v = c;
         const int R = c.rounding.sr_bits;
         for (auto& w : v.rand) {
           const uint64_t r = R == 32 ? w : w >> (32 - R);
           if (r + 1 < (uint64_t(1) << R)) w = static_cast<uint32_t>(R == 32 ? r + 1 : (r + 1) << (32 - R));
         }
         return golden_quantize(v);
       }},
      {"tie_rule", "wrong tie rule: ties away from zero instead of to the even code (3.3)",
       [](const QuantizeCase& c) { return c.rounding.mode == RoundingMode::rne; },
       [](const QuantizeCase& c) { return with_mode(c, RoundingMode::rna); }},
      {"tie_rule", "wrong tie rule: ties to the even code instead of away from zero (3.3)",
       [](const QuantizeCase& c) { return c.rounding.mode == RoundingMode::rna; },
       [](const QuantizeCase& c) { return with_mode(c, RoundingMode::rne); }},
      {"signed_zero", "sign of zero lost: a zero result of a negative input is +0 (4.5 preserve)",
       [](const QuantizeCase& c) { return c.format.signed_zero == SignedZero::preserve; },
       [](const QuantizeCase& c) { QuantizeCase v = c; v.format.signed_zero = SignedZero::positive; return golden_quantize(v); }},
      {"signed_zero", "a -0 is produced where the spec wants +0 (4.5 positive)",
       [](const QuantizeCase& c) { return c.format.signed_zero == SignedZero::positive; },
       [](const QuantizeCase& c) { QuantizeCase v = c; v.format.signed_zero = SignedZero::preserve; return golden_quantize(v); }},
      {"flush_subnormals", "subnormal element results flushed to zero", always,
       [](const QuantizeCase& c) {
         return with_elements(c, [&](size_t, float, const Dyadic&, const RoundResult& g) -> uint32_t {
           const auto& e = c.format.element;
           const uint64_t mag = g.code & (e.magnitude_code_count() - 1);
           const bool sub = (mag >> e.man_bits) == 0 && mag != 0;  // the e = 0 row (all of it when E = 0)
           return static_cast<uint32_t>(sub ? (g.code & e.sign_bit()) : g.code);
         });
       }},
      {"fp32_reciprocal", "double rounding: the quotient computed as x * (1/(S_t S_g)) in fp32, then rounded again", always,
       [](const QuantizeCase& c) {
         return with_elements(c, [&](size_t i, float x, const Dyadic& s, const RoundResult& g) -> uint32_t {
           const Dyadic recip = Dyadic::from_float(bits_float(static_cast<uint32_t>(
               round_to_grid(Minifloat::binary32(), RoundInput{false, Dyadic::from_int(1), s}, Rounding{}, 0, OverflowPolicy::saturate).code)));
           const float q = round_to_fp32(Dyadic::from_float(std::fabs(x)) * recip);
           if (!std::isfinite(q)) return static_cast<uint32_t>(g.code);
           const uint32_t w = c.rounding.mode == RoundingMode::sr ? c.rand[i] : 0;
           return static_cast<uint32_t>(round_to_grid(c.format.element, RoundInput{std::signbit(x), Dyadic::from_float(q), Dyadic::from_int(1)},
                                                      c.rounding, w, c.format.overflow, c.format.signed_zero).code);
         });
       }},
      {"truncation", "truncation (toward zero) instead of rounding to nearest",
       [](const QuantizeCase& c) { return is_nearest(c); },
       [](const QuantizeCase& c) { return with_mode(c, RoundingMode::rtz); }},
  };
  return h;
}

nlohmann::json element_detail(const QuantizeCase& c, const QuantizeResult& e, size_t i, uint32_t got) {
  const auto x = floats(c);
  const GroupLayout layout(c.format, c.shape);
  const int64_t g = layout.group_of(static_cast<int64_t>(i));
  const Dyadic st = Dyadic::from_float(bits_float(e.tensor_scale));
  const Dyadic sg = c.format.group_scale.decode(e.group_scales[g]);
  const uint32_t w = c.rounding.mode == RoundingMode::sr ? c.rand[i] : 0;
  const RoundResult r = quantize_element(c.format, x[i], st * sg, c.rounding, w);
  nlohmann::json j{{"index", i},
                   {"x", hex32(c.x[i])},
                   {"x_value", Dyadic::from_float(x[i]).to_decimal()},
                   {"tensor_scale", hex32(e.tensor_scale)},
                   {"group", g},
                   {"group_scale_code", e.group_scales[g]},
                   {"quotient", std::string(std::signbit(x[i]) ? "-" : "") + "(" + Dyadic::from_float(std::fabs(x[i])).to_string() + ") / (" + (st * sg).to_string() + ")"},
                   {"lower", {{"code", r.lo}, {"value", c.format.element.magnitude_value(r.lo).to_decimal()}}},
                   {"upper", {{"code", r.hi}, {"value", c.format.element.magnitude_value(r.hi).to_decimal()}}},
                   {"rule", to_string(r.rule)},
                   {"expected_code", e.elements[i]},
                   {"got_code", got}};
  if (!r.exact && r.t_den.sign() > 0) j["t"] = "(" + r.t_num.to_string() + ") / (" + r.t_den.to_string() + ")";
  if (c.rounding.mode == RoundingMode::sr) {
    j["random_word"] = hex32(w);
    j["r"] = r.r;
    j["R"] = c.rounding.sr_bits;
  }
  return j;
}

}  // namespace

std::vector<int> matching_hypotheses(const QuantizeCase& c, const QuantizeResult& got, const std::vector<int>* among) {
  // A hypothesis that does not apply to a case predicts the golden answer
  // for it (the deviation it models cannot show there).
  std::vector<int> out;
  const auto& hs = hypotheses();
  std::optional<bool> golden_same;
  for (int i = 0; i < static_cast<int>(hs.size()); ++i) {
    if (among && std::find(among->begin(), among->end(), i) == among->end()) continue;
    try {
      if (hs[i].applies(c)) {
        if (same(hs[i].run(c), got)) out.push_back(i);
      } else {
        if (!golden_same) golden_same = same(golden_quantize(c), got);
        if (*golden_same && among) out.push_back(i);
      }
    } catch (const Error&) {
    }
  }
  return out;
}

void set_cause(Verdict& v, int hypothesis) {
  v.cause_id = hypotheses().at(hypothesis).id;
  v.cause = hypotheses().at(hypothesis).text;
}

Verdict judge_quantize(const QuantizeCase& c, const QuantizeResult& expected, const QuantizeResult& got) {
  Verdict v;
  v.diffs = diff_quantize(expected, got, &v.diff_count);
  v.pass = v.diff_count == 0;
  if (v.pass) return v;
  // The first differing element, step by step.
  if (expected.elements.size() == got.elements.size() && expected.group_scales.size() == got.group_scales.size())
    for (size_t i = 0; i < expected.elements.size(); ++i)
      if (expected.elements[i] != got.elements[i]) {
        try {
          v.detail = element_detail(c, expected, i, got.elements[i]);
        } catch (const Error&) {
        }
        break;
      }
  if (expected.group_scales.size() != got.group_scales.size() || expected.elements.size() != got.elements.size()) {
    v.cause_id = "wrong_shape";
    v.cause = "the answer has the wrong number of group scales or elements (group layout, 2.4)";
    return v;
  }
  // Hypotheses: every one that reproduces the whole answer is a candidate;
  // the first (most specific) is the likely cause until more cases decide.
  v.candidates = matching_hypotheses(c, got);
  if (!v.candidates.empty()) {
    set_cause(v, v.candidates.front());
    return v;
  }
  v.cause_id = "unknown";
  v.cause = "no single known deviation reproduces the answer; see the first differing field";
  return v;
}

Verdict judge_dequantize(const MlsTensor& t, const TensorResult& got) {
  Verdict v;
  std::vector<uint32_t> e;
  for (float f : dequantize_fp32(t)) e.push_back(float_bits(f));
  if (e.size() != got.y.size()) {
    v.pass = false;
    v.diff_count = 1;
    v.diffs.push_back({"y.size", e.size(), got.y.size()});
    v.cause_id = "wrong_shape";
    v.cause = "the answer has the wrong number of values";
    return v;
  }
  bool zero_sign_only = true;
  for (size_t i = 0; i < e.size(); ++i) {
    if (e[i] == got.y[i]) continue;
    ++v.diff_count;
    if (v.diffs.size() < kMaxDiffs) v.diffs.push_back({"y[" + std::to_string(i) + "]", e[i], got.y[i]});
    if ((e[i] & 0x7fffffffu) != 0 || (got.y[i] & 0x7fffffffu) != 0) zero_sign_only = false;
  }
  v.pass = v.diff_count == 0;
  if (!v.pass && !zero_sign_only) {
    // Hypothesis: the product rounded toward zero instead of to nearest even.
    const GroupLayout layout(t.format, t.shape);
    bool rtz = true;
    for (size_t i = 0; i < e.size() && rtz; ++i) {
      const Dyadic val = t.value(static_cast<int64_t>(i));
      uint32_t b = val.is_zero() ? e[i] : round_to_fp32_bits(val, RoundingMode::rtz, OverflowPolicy::saturate);
      rtz = b == got.y[i];
    }
    if (rtz) {
      v.cause_id = "truncation";
      v.cause = "dequantize truncates (rounds toward zero) instead of rounding to nearest even (4.7)";
      return v;
    }
  }
  if (!v.pass) {
    v.cause_id = zero_sign_only ? "signed_zero" : "unknown";
    v.cause = zero_sign_only ? "sign of zero lost: -0 elements must dequantize to -0.0 (4.7)"
                             : "dequantized values differ from S_t S_g elem rounded to nearest even (4.7)";
  }
  return v;
}

Verdict judge_conv(const ConvCase& c, const ReductionResult& expected, const TensorResult& got, Tier required) {
  Verdict v;
  if (got.y.size() != expected.y.size()) {
    v.pass = false;
    v.diff_count = 1;
    v.diffs.push_back({"y.size", expected.y.size(), got.y.size()});
    v.cause_id = "wrong_shape";
    v.cause = "the answer has the wrong number of outputs";
    v.tier = Tier::none;
    return v;
  }
  // The declared model's bound for one output, from its exact segment terms (6.13).
  Conv2dParams p;
  if (c.op == "conv2d") {
    p.pass = conv_pass_from_string(c.pass);
    for (int k = 0; k < 2; ++k) {
      p.stride[k] = c.stride.at(k);
      p.padding[k] = c.padding.at(k);
      p.dilation[k] = c.dilation.at(k);
    }
    p.groups = c.groups;
    p.out_shape = c.out_shape;
  }
  std::vector<Dyadic> terms;
  auto bound_for = [&](size_t i) {
    const auto segs = c.op == "gemm" ? gemm_segments(c.a, c.b, static_cast<int64_t>(i))
                                     : conv2d_segments(c.a, c.b, p, static_cast<int64_t>(i));
    terms.clear();
    for (const auto& s : segs) terms.push_back(s.term);
    return fp32_sum_bound(terms);
  };
  Tier worst = Tier::exact;
  size_t first_bad = SIZE_MAX;
  for (size_t i = 0; i < got.y.size(); ++i) {
    if (got.y[i] == expected.y[i]) continue;
    const auto b = bound_for(i);
    const Classification cl = classify_fp32(expected.exact[i], got.y[i], &b);
    if (static_cast<int>(cl.tier) > static_cast<int>(worst)) worst = cl.tier;
    if (!std::isfinite(cl.err_ulps) || cl.err_ulps > v.worst_ulps) v.worst_ulps = cl.err_ulps;
    ++v.diff_count;
    if (v.diffs.size() < kMaxDiffs) v.diffs.push_back({"y[" + std::to_string(i) + "]", expected.y[i], got.y[i]});
    if (first_bad == SIZE_MAX) {
      first_bad = i;
      v.detail = cl.to_json();
      v.detail["index"] = i;
      v.detail["exact"] = expected.exact[i].to_string();
      v.detail["segments"] = terms.size();
    }
  }
  v.tier = worst;
  v.pass = static_cast<int>(worst) <= static_cast<int>(required);
  if (v.diff_count > 0 && !v.pass) {
    if (worst == Tier::faithful || worst == Tier::bounded) {
      v.cause_id = "summation_order";
      v.cause = "outputs differ from the exact sum rounded once but stay within the fp32-accumulation bound: "
                "summation order / fp32 inter-group accumulation (6.11-6.13)";
    } else {
      v.cause_id = "accumulator_overflow";
      v.cause = "outputs exceed the error bound of any fp32 accumulation order: accumulator overflow policy "
                "(wrap/saturate of a narrow intra-group accumulator) or wrong products (6.9)";
    }
  }
  return v;
}

}  // namespace mls::conformance
