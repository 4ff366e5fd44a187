#include "mls/conformance/judge.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "mls/error.hpp"
#include "mls/fp32_ops.hpp"

namespace mls::conformance {

CodesResult golden_round(const RoundCase& c) {
  c.rounding.validate();
  CodesResult r;
  r.codes.resize(c.x.size());
  for (size_t i = 0; i < c.x.size(); ++i) {
    const uint32_t w = c.rounding.mode == RoundingMode::sr ? c.rand.at(i) : 0;
    try {
      r.codes[i] = static_cast<uint32_t>(
          round_fp32_input(c.element, c.x[i], c.scale, c.rounding, w, c.overflow, c.signed_zero).code);
    } catch (const Error& e) {
      throw Error("x[" + std::to_string(i) + "]: " + e.what());
    }
  }
  return r;
}

QuantizeResult golden_quantize(const QuantizeCase& c) {
  const MlsTensor t = quantize(c);
  return {t.tensor_scale, t.group_scales, t.elements};
}

Conv2dParams conv_params(const ConvCase& c) {
  Conv2dParams p = c.params;
  p.out_shape = c.out_shape;
  return p;
}

ReductionResult golden_conv(const ConvCase& c) {
  if (c.gemm) return gemm(c.a, c.b, c.arith);
  return conv2d(c.a, c.b, conv_params(c), c.arith);
}

void Verdict::add_diff(const std::string& field, uint64_t expected, uint64_t got) {
  ++diff_count;
  if (diffs.size() < kMaxListedDiffs) diffs.push_back({field, expected, got});
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

void diff_quantize(const QuantizeResult& e, const QuantizeResult& g, Verdict& v) {
  if (e.tensor_scale != g.tensor_scale) v.add_diff("tensor_scale", e.tensor_scale, g.tensor_scale);
  if (e.group_scales.size() != g.group_scales.size()) v.add_diff("group_scales.size", e.group_scales.size(), g.group_scales.size());
  else
    for (size_t i = 0; i < e.group_scales.size(); ++i)
      if (e.group_scales[i] != g.group_scales[i])
        v.add_diff("group_scales[" + std::to_string(i) + "]", e.group_scales[i], g.group_scales[i]);
  if (e.elements.size() != g.elements.size()) v.add_diff("elements.size", e.elements.size(), g.elements.size());
  else
    for (size_t i = 0; i < e.elements.size(); ++i)
      if (e.elements[i] != g.elements[i]) v.add_diff("elements[" + std::to_string(i) + "]", e.elements[i], g.elements[i]);
}

// ---- hypotheses (10.7) ------------------------------------------------------------
// A hypothesis is the golden model with one deliberate deviation. If it
// reproduces the backend's whole answer, that deviation is the likely cause.
// Tried most specific first (scales, then mode-specific rules, then generic
// ones), so that a small case two hypotheses both explain gets the narrower
// cause. Each applies to quantize cases, round cases or both.

using QRun = std::function<QuantizeResult(const QuantizeCase&)>;
using RRun = std::function<CodesResult(const RoundCase&)>;
using QApplies = std::function<bool(const QuantizeCase&)>;
using RApplies = std::function<bool(const RoundCase&)>;

struct Hypothesis {
  const char* id;
  const char* text;
  QApplies q_applies;
  QRun q_run;
  RApplies r_applies;
  RRun r_run;
};

// The golden structure with a per-element override f(word, golden RoundResult) -> code.
using ElementOverride = std::function<uint32_t(const Minifloat& el, const RoundResult& g, uint32_t word)>;

QuantizeResult q_with_elements(const QuantizeCase& c, const ElementOverride& f) {
  const QuantizeSteps p = quantize_steps(c);
  QuantizeResult r = golden_quantize(c);
  const std::vector<int64_t> gi = p.layout.group_index();
  for (size_t i = 0; i < c.x.size(); ++i) {
    if (p.group_nan[gi[i]]) continue;
    const uint32_t w = c.rounding.mode == RoundingMode::sr ? c.rand[i] : 0;
    r.elements[i] = f(c.format.element, quantize_element(c, p, gi[i], i), w);
  }
  return r;
}

CodesResult r_with_elements(const RoundCase& c, const ElementOverride& f) {
  CodesResult r;
  for (size_t i = 0; i < c.x.size(); ++i) {
    const uint32_t w = c.rounding.mode == RoundingMode::sr ? c.rand[i] : 0;
    r.codes.push_back(f(c.element, round_fp32_input(c.element, c.x[i], c.scale, c.rounding, w, c.overflow, c.signed_zero), w));
  }
  return r;
}

// The same case with another rounding mode (sr gets words of 0 when it had none).
template <class C>
C with_mode(C c, RoundingMode m) {
  c.rounding.mode = m;
  if (m == RoundingMode::sr && c.rand.size() != c.x.size()) c.rand.assign(c.x.size(), 0);
  return c;
}
template <class C>
C with_words(C c, const std::function<uint32_t(uint32_t)>& f) {
  for (auto& w : c.rand) w = f(w);
  return c;
}

// sr with `>` instead of `>=`: exactly at the threshold the result stays low.
uint32_t sr_strict(const Minifloat& el, const RoundResult& g, uint32_t, int R, SignedZero sz) {
  if (!g.away || g.exact || g.rule != Rule::sr_away) return static_cast<uint32_t>(g.code);
  if (compare(ldexp(g.t_num, R) + g.t_den * Dyadic::from_int(g.r), ldexp(g.t_den, R)) != 0)
    return static_cast<uint32_t>(g.code);
  const bool neg = el.split(g.code).first && !(g.lo == 0 && sz == SignedZero::positive);
  return static_cast<uint32_t>(el.encode(neg, g.lo));
}

uint32_t flushed(const Minifloat& el, const RoundResult& g, uint32_t) {
  if (!el.is_valid_code(g.code)) return static_cast<uint32_t>(g.code);
  const auto [neg, mag] = el.split(g.code);
  const bool sub = (mag >> el.man_bits) == 0 && mag != 0 && el.zero == ZeroMode::subnormal;  // the e = 0 row
  return static_cast<uint32_t>(sub ? el.encode(neg, 0) : g.code);
}

uint32_t sr_word_plus_one(uint32_t w, int R) {
  const uint64_t r = sr_r(w, R);
  return r + 1 < (uint64_t(1) << R) ? sr_word(r + 1, R, 0) : w;
}

float amax_of(const QuantizeCase& c, bool signed_max) {
  float m = 0;
  for (uint32_t b : c.x)
    if (fp32_is_finite(b)) m = std::max(m, signed_max ? bits_float(b) : std::fabs(bits_float(b)));
  return m;
}

QuantizeResult with_tensor_scale(const QuantizeCase& c, float amax, RoundingMode m) {
  if (c.static_tensor_scale || c.format.tensor_scale != TensorScaleRule::amax) return golden_quantize(c);
  QuantizeCase v = c;
  v.static_tensor_scale = amax > 0 ? static_cast<uint32_t>(round_to_grid(Minifloat::binary32(),
                                                                          RoundInput{false, Dyadic::from_float(amax), c.format.q_max() * c.format.g_max()},
                                                                          Rounding{m, 8}, 0, OverflowPolicy::saturate)
                                                                 .code)
                                   : 0x3f800000u;
  return golden_quantize(v);
}

// OCP scale computed another way: `exp_of(a_G)` gives the shared exponent
// before clamping; `wrap` stores it modulo 256 instead of clamping it.
QuantizeResult with_ocp_exponent(const QuantizeCase& c, const std::function<int64_t(float)>& exp_of, bool wrap) {
  const QuantizeSteps p = quantize_steps(c);
  QuantizeResult r = golden_quantize(c);
  const Minifloat& gs = c.format.group_scale;
  const std::vector<int64_t> gi = p.layout.group_index();
  std::vector<Dyadic> scale(p.layout.group_count);
  for (int64_t g = 0; g < p.layout.group_count; ++g) {
    if (p.group_nan[g] || p.group_amax[g] == 0 || std::isinf(p.group_amax[g])) {
      scale[g] = p.group_nan[g] ? Dyadic() : gs.decode(r.group_scales[g]);
      continue;
    }
    const int64_t e = exp_of(p.group_amax[g]) - c.format.element.emax();
    const int64_t biased = e + gs.bias;
    const int64_t lo = 0, hi = static_cast<int64_t>(gs.max_magnitude_code());
    if (wrap) {
      r.group_scales[g] = static_cast<uint32_t>(((biased % 256) + 256) % 256);
      scale[g] = Dyadic::pow2(e);
    } else {
      r.group_scales[g] = static_cast<uint32_t>(std::clamp(biased, lo, hi));
      scale[g] = gs.decode(r.group_scales[g]);
    }
  }
  for (size_t i = 0; i < c.x.size(); ++i) {
    if (p.group_nan[gi[i]]) continue;
    const uint32_t w = c.rounding.mode == RoundingMode::sr ? c.rand[i] : 0;
    r.elements[i] = static_cast<uint32_t>(quantize_element(c.format, c.x[i], scale[gi[i]], c.rounding, w, c.arith).code);
  }
  return r;
}

bool ocp_e8m0(const QuantizeCase& c) {
  return c.format.scale_policy == ScalePolicy::ocp && c.format.group_scale.man_bits == 0 &&
         !c.format.group_scale.has_zero() && c.arith == QuantArith::exact;
}

// A NaN treated as a finite value: scales from the finite values of each
// group, a NaN element becomes the element's NaN (or 0 without one).
QuantizeResult nan_as_finite(const QuantizeCase& c) {
  QuantizeCase v = c;
  v.format.nonfinite = NonFiniteInput::error;
  v.format.tensor_scale = TensorScaleRule::one;
  std::vector<size_t> nans;
  for (size_t i = 0; i < v.x.size(); ++i)
    if (fp32_is_nan(v.x[i])) {
      nans.push_back(i);
      v.x[i] = 0;
    }
  QuantizeResult r = golden_quantize(v);
  for (size_t i : nans) r.elements[i] = c.format.element.has_nan() ? static_cast<uint32_t>(c.format.element.nan_code(false)) : 0;
  return r;
}

bool q_always(const QuantizeCase&) { return true; }
bool r_always(const RoundCase&) { return true; }
bool q_sr(const QuantizeCase& c) { return c.rounding.mode == RoundingMode::sr; }
bool r_sr(const RoundCase& c) { return c.rounding.mode == RoundingMode::sr; }
template <RoundingMode M>
bool q_mode(const QuantizeCase& c) { return c.rounding.mode == M; }
template <RoundingMode M>
bool r_mode(const RoundCase& c) { return c.rounding.mode == M; }
bool q_nearest(const QuantizeCase& c) { return c.rounding.mode == RoundingMode::rne || c.rounding.mode == RoundingMode::rna; }
bool r_nearest(const RoundCase& c) { return c.rounding.mode == RoundingMode::rne || c.rounding.mode == RoundingMode::rna; }

const std::vector<Hypothesis>& hypotheses() {
  using RM = RoundingMode;
  static const std::vector<Hypothesis> h = {
      {"tensor_scale_nearest", "tensor scale rounded to nearest instead of up (4.3: RU_fp32)",
       [](const QuantizeCase& c) { return c.format.tensor_scale == TensorScaleRule::amax; },
       [](const QuantizeCase& c) { return with_tensor_scale(c, amax_of(c, false), RM::rne); }, {}, {}},
      {"amax_signed", "tensor maximum taken over x instead of |x| (4.2: a = max |x|)",
       [](const QuantizeCase& c) { return c.format.tensor_scale == TensorScaleRule::amax; },
       [](const QuantizeCase& c) { return with_tensor_scale(c, amax_of(c, true), RM::rup); }, {}, {}},
      {"scale_nearest", "group scale chosen nearest instead of ceil (4.4)",
       [](const QuantizeCase& c) { return c.format.scale_policy == ScalePolicy::ceil; },
       [](const QuantizeCase& c) { QuantizeCase v = c; v.format.scale_policy = ScalePolicy::nearest; return golden_quantize(v); },
       {}, {}},
      {"scale_floor", "group scale chosen with floor instead of ceil (4.4)",
       [](const QuantizeCase& c) { return c.format.scale_policy == ScalePolicy::ceil; },
       [](const QuantizeCase& c) { QuantizeCase v = c; v.format.scale_policy = ScalePolicy::floor; return golden_quantize(v); },
       {}, {}},
      {"scale_ceil", "group scale rounded up (the smallest scale >= a_G / q_max) instead of OCP's 2^(floor(log2 a_G) - emax) (4.4)",
       [](const QuantizeCase& c) { return c.format.scale_policy == ScalePolicy::ocp && c.arith == QuantArith::exact; },
       [](const QuantizeCase& c) { QuantizeCase v = c; v.format.scale_policy = ScalePolicy::ceil; return golden_quantize(v); },
       {}, {}},
      {"scale_log2_fp32", "shared exponent from floor(log2(a_G)) computed in fp32: log2 rounds up to the next integer just below a power of two (4.4 ocp)",
       ocp_e8m0,
       [](const QuantizeCase& c) {
         // A diagnosis only, never a verdict: the float log2 a fast kernel would compute.
         return with_ocp_exponent(c, [](float a) { return static_cast<int64_t>(std::floor(static_cast<float>(std::log2(static_cast<double>(a))))); }, false);
       },
       {}, {}},
      {"scale_unclamped", "shared exponent not clamped to the E8M0 range: the scale code wraps (4.4, OCP 6.3)",
       ocp_e8m0,
       [](const QuantizeCase& c) {
         return with_ocp_exponent(c, [](float a) { return Dyadic::from_float(a).ilog2(); }, true);
       },
       {}, {}},
      {"nan_block", "a NaN input handled as a finite value: the block's scale is not NaN (4.1.2)",
       [](const QuantizeCase& c) { return c.format.nonfinite == NonFiniteInput::propagate; }, nan_as_finite, {}, {}},
      {"overflow_nan", "an element beyond the largest finite value becomes NaN instead of saturating (3.5)",
       [](const QuantizeCase& c) { return c.format.overflow == OverflowPolicy::saturate && c.format.element.has_nan(); },
       [](const QuantizeCase& c) { QuantizeCase v = c; v.format.overflow = OverflowPolicy::nan; return golden_quantize(v); },
       [](const RoundCase& c) { return c.overflow == OverflowPolicy::saturate && c.element.has_nan(); },
       [](const RoundCase& c) { RoundCase v = c; v.overflow = OverflowPolicy::nan; return golden_round(v); }},
      {"overflow_saturate", "an element beyond the largest finite value saturates instead of becoming NaN/Inf (3.5)",
       [](const QuantizeCase& c) { return c.format.overflow == OverflowPolicy::nan || c.format.overflow == OverflowPolicy::infinity; },
       [](const QuantizeCase& c) { QuantizeCase v = c; v.format.overflow = OverflowPolicy::saturate; return golden_quantize(v); },
       [](const RoundCase& c) { return c.overflow == OverflowPolicy::nan || c.overflow == OverflowPolicy::infinity; },
       [](const RoundCase& c) { RoundCase v = c; v.overflow = OverflowPolicy::saturate; return golden_round(v); }},
      {"sr_bits", "stochastic rounding uses the wrong random bits (the low R bits of the word, not the top R)", q_sr,
       [](const QuantizeCase& c) {
         const int R = c.rounding.sr_bits;
         return golden_quantize(with_words(c, [R](uint32_t w) { return R < 32 ? sr_word(w & ((uint32_t(1) << R) - 1), R, 0) : w; }));
       },
       r_sr,
       [](const RoundCase& c) {
         const int R = c.rounding.sr_bits;
         return golden_round(with_words(c, [R](uint32_t w) { return R < 32 ? sr_word(w & ((uint32_t(1) << R) - 1), R, 0) : w; }));
       }},
      {"sr_threshold", "stochastic rounding threshold off by one: rounds away only when t + r/2^R > 1 (3.4 says >=)", q_sr,
       [](const QuantizeCase& c) {
         return q_with_elements(c, [&](const Minifloat& el, const RoundResult& g, uint32_t w) {
           return sr_strict(el, g, w, c.rounding.sr_bits, c.format.signed_zero);
         });
       },
       r_sr,
       [](const RoundCase& c) {
         return r_with_elements(c, [&](const Minifloat& el, const RoundResult& g, uint32_t w) {
           return sr_strict(el, g, w, c.rounding.sr_bits, c.signed_zero);
         });
       }},
      {"sr_threshold", "stochastic rounding threshold off by one: uses r + 1 (t + (r+1)/2^R >= 1)", q_sr,
       [](const QuantizeCase& c) {
         const int R = c.rounding.sr_bits;
         return golden_quantize(with_words(c, [R](uint32_t w) { return sr_word_plus_one(w, R); }));
       },
       r_sr,
       [](const RoundCase& c) {
         const int R = c.rounding.sr_bits;
         return golden_round(with_words(c, [R](uint32_t w) { return sr_word_plus_one(w, R); }));
       }},
      {"tie_rule", "wrong tie rule: ties away from zero instead of to the even code (3.3)", q_mode<RM::rne>,
       [](const QuantizeCase& c) { return golden_quantize(with_mode(c, RM::rna)); }, r_mode<RM::rne>,
       [](const RoundCase& c) { return golden_round(with_mode(c, RM::rna)); }},
      {"tie_rule", "wrong tie rule: ties to the even code instead of away from zero (3.3)", q_mode<RM::rna>,
       [](const QuantizeCase& c) { return golden_quantize(with_mode(c, RM::rne)); }, r_mode<RM::rna>,
       [](const RoundCase& c) { return golden_round(with_mode(c, RM::rne)); }},
      {"signed_zero", "sign of zero lost: a zero result of a negative input is +0 (4.5 preserve)",
       [](const QuantizeCase& c) { return c.format.signed_zero == SignedZero::preserve; },
       [](const QuantizeCase& c) { QuantizeCase v = c; v.format.signed_zero = SignedZero::positive; return golden_quantize(v); },
       [](const RoundCase& c) { return c.signed_zero == SignedZero::preserve; },
       [](const RoundCase& c) { RoundCase v = c; v.signed_zero = SignedZero::positive; return golden_round(v); }},
      {"signed_zero", "a -0 is produced where the spec wants +0 (4.5 positive)",
       [](const QuantizeCase& c) { return c.format.signed_zero == SignedZero::positive; },
       [](const QuantizeCase& c) { QuantizeCase v = c; v.format.signed_zero = SignedZero::preserve; return golden_quantize(v); },
       [](const RoundCase& c) { return c.signed_zero == SignedZero::positive; },
       [](const RoundCase& c) { RoundCase v = c; v.signed_zero = SignedZero::preserve; return golden_round(v); }},
      {"flush_subnormals", "subnormal element results flushed to zero", q_always,
       [](const QuantizeCase& c) { return q_with_elements(c, flushed); }, r_always,
       [](const RoundCase& c) { return r_with_elements(c, flushed); }},
      {"fp32_reciprocal", "double rounding: the quotient computed as x * (1/(S_t S_g)) in fp32, then rounded again",
       [](const QuantizeCase& c) { return c.arith == QuantArith::exact; },
       [](const QuantizeCase& c) { QuantizeCase v = c; v.arith = QuantArith::fp32_reciprocal; return golden_quantize(v); },
       [](const RoundCase& c) { return c.scale != Dyadic::from_int(1); },
       [](const RoundCase& c) {
         RoundCase v = c;
         const uint32_t sb = round_to_fp32_bits(c.scale, RoundingMode::rne, OverflowPolicy::infinity);
         const uint32_t rcp = fp32::div(0x3f800000u, sb);
         for (auto& x : v.x) x = fp32_is_finite(x) ? (fp32::mul(x & 0x7fffffffu, rcp) | (x & 0x80000000u)) : x;
         v.scale = Dyadic::from_int(1);
         return golden_round(v);
       }},
      {"fp32_division", "double rounding: the quotient computed by an fp32 division x / fl(S_t S_g), then rounded again",
       [](const QuantizeCase& c) { return c.arith == QuantArith::exact; },
       [](const QuantizeCase& c) { QuantizeCase v = c; v.arith = QuantArith::fp32_div; return golden_quantize(v); },
       [](const RoundCase& c) { return c.scale != Dyadic::from_int(1); },
       [](const RoundCase& c) {
         RoundCase v = c;
         const uint32_t sb = round_to_fp32_bits(c.scale, RoundingMode::rne, OverflowPolicy::infinity);
         for (auto& x : v.x) x = fp32_is_finite(x) ? (fp32::div(x & 0x7fffffffu, sb) | (x & 0x80000000u)) : x;
         v.scale = Dyadic::from_int(1);
         return golden_round(v);
       }},
      {"truncation", "truncation (toward zero) instead of rounding to nearest", q_nearest,
       [](const QuantizeCase& c) { return golden_quantize(with_mode(c, RM::rtz)); }, r_nearest,
       [](const RoundCase& c) { return golden_round(with_mode(c, RM::rtz)); }},
  };
  return h;
}

nlohmann::json element_detail(const QuantizeCase& c, const QuantizeResult& e, size_t i, uint32_t got) {
  const GroupLayout layout(c.format, c.shape);
  const int64_t g = layout.group_of(static_cast<int64_t>(i));
  const Dyadic st = Dyadic::from_float(bits_float(e.tensor_scale));
  nlohmann::json j{{"index", i}, {"x", hex32(c.x[i])}, {"tensor_scale", hex32(e.tensor_scale)}, {"group", g},
                   {"group_scale_code", e.group_scales[g]}, {"expected_code", e.elements[i]}, {"got_code", got}};
  if (c.format.group_scale.is_nan_code(e.group_scales[g])) {
    j["rule"] = to_string(Rule::nan_input);
    return j;
  }
  const Dyadic sg = c.format.group_scale.decode(e.group_scales[g]);
  const uint32_t w = c.rounding.mode == RoundingMode::sr ? c.rand[i] : 0;
  const RoundResult r = quantize_element(c, quantize_steps(c), g, i);
  if (fp32_is_finite(c.x[i])) {
    j["x_value"] = Dyadic::from_float(bits_float(c.x[i])).to_decimal();
    j["quotient"] = std::string((c.x[i] >> 31) ? "-" : "") + "(" +
                    Dyadic::from_float(std::fabs(bits_float(c.x[i]))).to_string() + ") / (" + (st * sg).to_string() + ")";
  }
  j["lower"] = {{"code", r.lo}, {"value", c.format.element.magnitude_value(r.lo).to_decimal()}};
  j["upper"] = {{"code", r.hi}, {"value", c.format.element.magnitude_value(r.hi).to_decimal()}};
  j["rule"] = to_string(r.rule);
  if (!r.exact && r.t_den.sign() > 0) j["t"] = "(" + r.t_num.to_string() + ") / (" + r.t_den.to_string() + ")";
  if (c.rounding.mode == RoundingMode::sr) {
    j["random_word"] = hex32(w);
    j["r"] = r.r;
    j["R"] = c.rounding.sr_bits;
  }
  return j;
}

nlohmann::json round_detail(const RoundCase& c, size_t i, uint32_t expected, uint32_t got) {
  const uint32_t w = c.rounding.mode == RoundingMode::sr ? c.rand[i] : 0;
  const RoundResult r = round_fp32_input(c.element, c.x[i], c.scale, c.rounding, w, c.overflow, c.signed_zero);
  nlohmann::json j{{"index", i}, {"x", hex32(c.x[i])}, {"scale", c.scale.to_string()}, {"expected_code", expected},
                   {"got_code", got}, {"rule", to_string(r.rule)},
                   {"lower", {{"code", r.lo}, {"value", c.element.magnitude_value(r.lo).to_decimal()}}},
                   {"upper", {{"code", r.hi}, {"value", c.element.magnitude_value(r.hi).to_decimal()}}}};
  if (!r.exact && r.t_den.sign() > 0) j["t"] = "(" + r.t_num.to_string() + ") / (" + r.t_den.to_string() + ")";
  if (c.rounding.mode == RoundingMode::sr) {
    j["random_word"] = hex32(w);
    j["r"] = r.r;
    j["R"] = c.rounding.sr_bits;
  }
  return j;
}

template <class C, class R, class Applies, class Run, class Golden>
std::vector<int> matching(const C& c, const R& got, const std::vector<int>* among, Applies applies, Run run, Golden golden) {
  // A hypothesis that does not apply to a case predicts the golden answer
  // for it (the deviation it models cannot show there).
  std::vector<int> out;
  const auto& hs = hypotheses();
  std::optional<bool> golden_same;
  for (int i = 0; i < static_cast<int>(hs.size()); ++i) {
    if (among && std::find(among->begin(), among->end(), i) == among->end()) continue;
    try {
      if (applies(hs[i]) && applies(hs[i])(c)) {
        if (run(hs[i])(c) == got) out.push_back(i);
      } else if (among) {
        if (!golden_same) golden_same = golden(c) == got;
        if (*golden_same) out.push_back(i);
      }
    } catch (const Error&) {
    }
  }
  return out;
}

}  // namespace

std::vector<int> matching_hypotheses(const QuantizeCase& c, const QuantizeResult& got, const std::vector<int>* among) {
  return matching(c, got, among, [](const Hypothesis& h) -> const QApplies& { return h.q_applies; },
                  [](const Hypothesis& h) -> const QRun& { return h.q_run; }, golden_quantize);
}

std::vector<int> matching_round_hypotheses(const RoundCase& c, const CodesResult& got, const std::vector<int>* among) {
  return matching(c, got, among, [](const Hypothesis& h) -> const RApplies& { return h.r_applies; },
                  [](const Hypothesis& h) -> const RRun& { return h.r_run; }, golden_round);
}

void set_cause(Verdict& v, int hypothesis) {
  v.cause_id = hypotheses().at(hypothesis).id;
  v.cause = hypotheses().at(hypothesis).text;
}

std::vector<std::string> cause_ids() {
  std::vector<std::string> ids;
  for (const auto& h : hypotheses())
    if (std::find(ids.begin(), ids.end(), h.id) == ids.end()) ids.push_back(h.id);
  for (const char* extra : {"truncation", "signed_zero", "summation_order", "accumulator_overflow", "wrong_shape",
                            "accepted_invalid", "rejected_valid", "fp64_rounding", "philox", "unknown"})
    if (std::find(ids.begin(), ids.end(), extra) == ids.end()) ids.push_back(extra);
  return ids;
}

Verdict judge_round(const RoundCase& c, const CodesResult& expected, const CodesResult& got) {
  Verdict v;
  if (expected.codes.size() != got.codes.size()) {
    v.pass = false;
    v.add_diff("codes.size", expected.codes.size(), got.codes.size());
    v.cause_id = "wrong_shape";
    v.cause = "the answer has the wrong number of codes";
    return v;
  }
  for (size_t i = 0; i < got.codes.size(); ++i)
    if (expected.codes[i] != got.codes[i]) {
      if (v.diff_count == 0) v.detail = round_detail(c, i, expected.codes[i], got.codes[i]);
      v.add_diff("codes[" + std::to_string(i) + "]", expected.codes[i], got.codes[i]);
    }
  v.pass = v.diff_count == 0;
  if (v.pass) return v;
  v.candidates = matching_round_hypotheses(c, got);
  if (!v.candidates.empty()) {
    set_cause(v, v.candidates.front());
    return v;
  }
  v.cause_id = "unknown";
  v.cause = "no single known deviation reproduces the answer; see the first differing code";
  return v;
}

Verdict judge_quantize(const QuantizeCase& c, const QuantizeResult& expected, const QuantizeResult& got) {
  Verdict v;
  diff_quantize(expected, got, v);
  v.pass = v.diff_count == 0;
  if (v.pass) return v;
  if (expected.group_scales.size() != got.group_scales.size() || expected.elements.size() != got.elements.size()) {
    v.cause_id = "wrong_shape";
    v.cause = "the answer has the wrong number of group scales or elements (group layout, 2.4)";
    return v;
  }
  for (size_t i = 0; i < expected.elements.size(); ++i)
    if (expected.elements[i] != got.elements[i]) {
      try {
        v.detail = element_detail(c, expected, i, got.elements[i]);
      } catch (const Error&) {
      }
      break;
    }
  // Every hypothesis that reproduces the whole answer is a candidate; the
  // first (most specific) is the likely cause until more cases decide.
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
    v.add_diff("y.size", e.size(), got.y.size());
    v.cause_id = "wrong_shape";
    v.cause = "the answer has the wrong number of values";
    return v;
  }
  bool zero_sign_only = true;
  for (size_t i = 0; i < e.size(); ++i) {
    if (e[i] == got.y[i]) continue;
    v.add_diff("y[" + std::to_string(i) + "]", e[i], got.y[i]);
    if ((e[i] & 0x7fffffffu) != 0 || (got.y[i] & 0x7fffffffu) != 0) zero_sign_only = false;
  }
  v.pass = v.diff_count == 0;
  if (v.pass) return v;
  if (!zero_sign_only) {
    // Hypothesis: the product rounded toward zero instead of to nearest even.
    const GroupLayout layout(t.format, t.shape);
    const std::vector<int64_t> gi = layout.group_index();
    bool rtz = true;
    for (size_t i = 0; i < e.size() && rtz; ++i) {
      if (!t.format.element.is_valid_code(t.elements[i]) || t.format.group_scale.is_nan_code(t.group_scales[gi[i]])) {
        rtz = e[i] == got.y[i];
        continue;
      }
      const Dyadic val = t.tensor_scale_value() * t.group_scale_value(gi[i]) * t.format.element.decode(t.elements[i]);
      const uint32_t b = val.is_zero() ? e[i] : round_to_fp32_bits(val, RoundingMode::rtz, OverflowPolicy::saturate);
      rtz = b == got.y[i];
    }
    if (rtz) {
      v.cause_id = "truncation";
      v.cause = "dequantize truncates (rounds toward zero) instead of rounding to nearest even (4.7)";
      return v;
    }
  }
  v.cause_id = zero_sign_only ? "signed_zero" : "unknown";
  v.cause = zero_sign_only ? "sign of zero lost: -0 elements must dequantize to -0.0 (4.7)"
                           : "dequantized values differ from S_t S_g elem rounded to nearest even (4.7)";
  return v;
}

Verdict judge_conv(const ConvCase& c, const ReductionResult& expected, const TensorResult& got,
                   const TierRequirement& required) {
  Verdict v;
  if (got.y.size() != expected.y.size()) {
    v.pass = false;
    v.add_diff("y.size", expected.y.size(), got.y.size());
    v.cause_id = "wrong_shape";
    v.cause = "the answer has the wrong number of outputs";
    v.tier = Tier::none;
    return v;
  }
  // The declared model's bounds (6.13), computed once per case and only when
  // an output differs from the exact profile's bits.
  std::vector<ErrorBound> bounds;
  Tier worst = Tier::exact;
  size_t first_bad = SIZE_MAX;
  for (size_t i = 0; i < got.y.size(); ++i) {
    if (got.y[i] == expected.y[i]) continue;
    if (bounds.empty())
      bounds = c.gemm ? gemm_error_bounds(c.a, c.b, required.model)
                      : conv2d_error_bounds(c.a, c.b, conv_params(c), required.model);
    const Classification cl = classify_fp32(expected.exact[i], got.y[i], &bounds[i]);
    if (static_cast<int>(cl.tier) > static_cast<int>(worst)) worst = cl.tier;
    if (!std::isfinite(cl.err_ulps) || cl.err_ulps > v.worst_ulps) v.worst_ulps = cl.err_ulps;
    v.add_diff("y[" + std::to_string(i) + "]", expected.y[i], got.y[i]);
    if (first_bad == SIZE_MAX) {
      first_bad = i;
      v.detail = cl.to_json();
      v.detail["index"] = i;
      v.detail["exact"] = expected.exact[i].to_string();
      v.detail["bound_model"] = to_string(required.model);
      v.detail["terms"] = bounds[i].n;
    }
  }
  v.tier = worst;
  v.pass = static_cast<int>(worst) <= static_cast<int>(required.tier);
  if (v.diff_count > 0 && !v.pass) {
    if (worst == Tier::faithful || worst == Tier::bounded) {
      v.cause_id = "summation_order";
      v.cause = "outputs differ from the exact sum rounded once but stay within the " + to_string(required.model) +
                " bound: summation order / fp32 accumulation (6.11-6.13)";
    } else {
      v.cause_id = "accumulator_overflow";
      v.cause = "outputs exceed the " + to_string(required.model) +
                " bound of any fp32 accumulation order: accumulator overflow policy (wrap/saturate of a narrow "
                "intra-group accumulator) or wrong products (6.9)";
    }
  }
  return v;
}

}  // namespace mls::conformance
