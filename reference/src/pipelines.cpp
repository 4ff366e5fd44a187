// The quantizer arithmetic profiles (spec/04-quantize.md 4.12): the fp32
// pipelines real libraries run, each step one stated rounding, written with
// the exact IEEE binary32 operations of fp32_ops.hpp. A profile fixes, per
// group, the fp32 factor the element quotient is formed with; the library
// pipelines also compute their own tensor and group scales. The sources each
// profile models are cited in its table entry (tensor.hpp) and in 4.12.
#include <mpfr.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "mls/error.hpp"
#include "mls/fp32_ops.hpp"
#include "pipelines.hpp"

namespace mls::detail {

namespace {

constexpr uint32_t kOne = 0x3f800000u;
constexpr uint32_t kFltMax = 0x7f7fffffu;
constexpr uint32_t kMinNormal = 0x00800000u;  // 2^-126

uint32_t bits_of(const Dyadic& v) {  // an exactly representable value
  return round_to_fp32_bits(v, RoundingMode::rne, OverflowPolicy::infinity);
}
uint32_t fmin_bits(uint32_t a, uint32_t b) { return bits_float(a) <= bits_float(b) ? a : b; }  // positive, finite or Inf
uint32_t fmax_bits(uint32_t a, uint32_t b) { return bits_float(a) >= bits_float(b) ? a : b; }

// RN_fp32(log2(x)) for a positive finite fp32 x, correctly rounded (MPFR):
// the fp32 log2 of 4.12.4, defined as the correctly rounded one.
float log2_fp32(uint32_t x) {
  mpfr_t a, r;
  mpfr_init2(a, 32);
  mpfr_init2(r, 24);
  mpfr_set_flt(a, bits_float(x), MPFR_RNDN);  // exact
  mpfr_log2(r, a, MPFR_RNDN);
  const float f = mpfr_get_flt(r, MPFR_RNDN);  // exact: 24 bits
  mpfr_clear(a);
  mpfr_clear(r);
  return f;
}

bool pow2_scale_grid(const Minifloat& g) { return g.man_bits == 0 && !g.has_zero(); }

// The scale-grid code for an fp32 value under `mode`, saturating, clamped at the smallest scale.
uint64_t scale_code(const Minifloat& g, uint32_t v, RoundingMode mode) {
  return round_to_grid(g, RoundInput{false, Dyadic::from_float(bits_float(v)), Dyadic::from_int(1)}, Rounding{mode, 8}, 0,
                       OverflowPolicy::saturate)
      .code;
}

uint32_t scale_value_bits(const Minifloat& g, uint64_t code) { return bits_of(g.decode(code)); }

// E8M0 reciprocals as the libraries tabulate them: 2^(127 - code), with the
// two ends each library special-cases (254 -> 2^-127; code 0 -> `zero_rcp`).
uint32_t e8m0_reciprocal(uint64_t code, uint32_t zero_rcp) {
  if (code == 0) return zero_rcp;
  if (code == 254) return 0x00400000u;  // 2^-127
  return bits_of(Dyadic::pow2(127 - static_cast<int64_t>(code)));
}

}  // namespace

void check_arith(const Format& f, QuantArith a) {
  const std::string name = "arith = " + to_string(a);
  const Minifloat& g = f.group_scale;
  switch (a) {
    case QuantArith::exact:
    case QuantArith::fp32_div:
    case QuantArith::fp32_reciprocal: return;
    case QuantArith::torchao_mx:
      if (!pow2_scale_grid(g) || f.tensor_scale != TensorScaleRule::one || !f.ocp_divisor())
        throw Error(name + " applies to MX formats: a power-of-two scale grid (E8M0), tensor_scale one and a scale "
                           "rule ocp, ocp_ceil or ocp_even (torchao FLOOR, CEIL, EVEN) (4.12.3)");
      return;
    case QuantArith::torchao_mx_rceil:
    case QuantArith::te_mxfp8:
      if (!pow2_scale_grid(g) || f.tensor_scale != TensorScaleRule::one || f.scale_policy != ScalePolicy::ceil)
        throw Error(name + " applies to MX formats with the round-up scale rule: a power-of-two scale grid (E8M0), "
                           "tensor_scale one, scale rule ceil (4.12)");
      return;
    case QuantArith::torchao_nvfp4:
    case QuantArith::te_nvfp4:
      if (g.zero != ZeroMode::subnormal || f.scale_policy != ScalePolicy::nearest ||
          (a == QuantArith::te_nvfp4 && f.tensor_scale != TensorScaleRule::amax))
        throw Error(name + " applies to NVFP4 formats: a scale grid with subnormals (E4M3), scale rule nearest" +
                    std::string(a == QuantArith::te_nvfp4 ? ", tensor_scale amax" : "") + " (4.12)");
      return;
  }
}

void apply_pipeline(const QuantizeInput& in, QuantizeSteps& p) {
  const Format& f = in.format;
  const Minifloat& g = f.group_scale;
  const int64_t G = p.layout.group_count;
  p.factor.assign(static_cast<size_t>(G), ElementFactor{});
  if (in.arith == QuantArith::exact) return;
  const uint32_t qmax = bits_of(f.q_max());
  const auto has_amax = [&](int64_t grp) { return !p.group_nan[grp]; };
  const auto amax_bits = [&](int64_t grp) { return float_bits(p.group_amax[grp]); };
  switch (in.arith) {
    case QuantArith::exact: return;
    case QuantArith::fp32_div:
    case QuantArith::fp32_reciprocal: {
      // 4.12.1-2: the format's scales; the product rounded once to fp32.
      const Dyadic st = Dyadic::from_float(bits_float(p.tensor_scale));
      for (int64_t grp = 0; grp < G; ++grp) {
        if (!has_amax(grp)) continue;
        const uint32_t s = bits_of(st * g.decode(p.group_scale[grp].code));
        p.factor[grp] = in.arith == QuantArith::fp32_div ? ElementFactor{false, s} : ElementFactor{true, fp32::div(kOne, s)};
      }
      return;
    }
    case QuantArith::torchao_mx:
      // 4.12.3: the exact scale; the data divided by max(X, 2^-126) in fp32.
      for (int64_t grp = 0; grp < G; ++grp)
        if (has_amax(grp))
          p.factor[grp] = ElementFactor{false, fmax_bits(scale_value_bits(g, p.group_scale[grp].code), kMinNormal)};
      return;
    case QuantArith::torchao_mx_rceil:
      // 4.12.4: descale = RN(a_G / q_max); X = 2^clamp(ceil(log2_fp32(descale)), -127, 127); Inf -> 254.
      for (int64_t grp = 0; grp < G; ++grp) {
        if (!has_amax(grp)) continue;
        uint64_t code = 254;
        if (!std::isinf(p.group_amax[grp])) {
          const uint32_t descale = fp32::div(amax_bits(grp), qmax);
          int64_t e = -127;
          if ((descale & 0x7fffffffu) != 0) e = static_cast<int64_t>(std::ceil(log2_fp32(descale)));
          code = static_cast<uint64_t>(std::clamp<int64_t>(e, -127, 127) + 127);
        }
        p.group_scale[grp] = RoundResult{};
        p.group_scale[grp].code = code;
        p.factor[grp] = ElementFactor{true, e8m0_reciprocal(code, kOne)};
      }
      return;
    case QuantArith::te_mxfp8:
      // 4.12.6: X = RU_e8m0(RN(a_G * RN(1 / q_max))), Inf -> 254; the data times 2^(127 - code).
      for (int64_t grp = 0; grp < G; ++grp) {
        if (!has_amax(grp)) continue;
        uint64_t code = 254;
        if (!std::isinf(p.group_amax[grp]))
          code = scale_code(g, fp32::mul(amax_bits(grp), fp32::div(kOne, qmax)), RoundingMode::rup);
        p.group_scale[grp] = RoundResult{};
        p.group_scale[grp].code = code;
        p.factor[grp] = ElementFactor{true, e8m0_reciprocal(code, 0x7f000000u /* 2^127 */)};
      }
      return;
    case QuantArith::torchao_nvfp4: {
      // 4.12.5: S_t = RN(amax / 2688) (1.0 for an all-zero tensor, 4.2), or 1.0 single-level.
      const uint32_t gmax = bits_of(f.g_max());
      const uint32_t qg = fp32::mul(qmax, gmax);
      uint32_t pts = kOne;
      if (f.tensor_scale == TensorScaleRule::amax && !in.static_tensor_scale && p.amax != 0)
        pts = fp32::div(float_bits(p.amax), qg);
      if (in.static_tensor_scale) pts = *in.static_tensor_scale;
      p.tensor_scale = pts;
      const uint32_t min_normal = scale_value_bits(g, uint64_t(1) << g.man_bits);
      const uint32_t inv_pts = fp32::div(kOne, pts);
      for (int64_t grp = 0; grp < G; ++grp) {
        if (!has_amax(grp)) continue;
        const uint32_t scaled = fp32::div(fp32::div(amax_bits(grp), qmax), pts);
        const uint32_t clamped = fmin_bits(fmax_bits(scaled, min_normal), gmax);
        const uint64_t code = scale_code(g, clamped, RoundingMode::rne);
        p.group_scale[grp] = RoundResult{};
        p.group_scale[grp].code = code;
        p.factor[grp] = ElementFactor{true, fp32::div(inv_pts, scale_value_bits(g, code))};
      }
      return;
    }
    case QuantArith::te_nvfp4: {
      // 4.12.7: S_enc = min(RN(2688 / amax), FLT_MAX) (1.0 for amax 0 or S_enc 0); S_dec = RN32(RN64(1 / S_enc)).
      const uint32_t gmax = bits_of(f.g_max());
      const uint32_t qg = fp32::mul(qmax, gmax);
      uint32_t s_enc = kOne;
      if (p.amax != 0) {
        s_enc = fmin_bits(fp32::div(qg, float_bits(p.amax)), kFltMax);
        if ((s_enc & 0x7fffffffu) == 0) s_enc = kOne;
      }
      const RoundResult d64 = round_to_grid(Minifloat::binary64(), RoundInput{false, Dyadic::from_int(1), Dyadic::from_float(bits_float(s_enc))},
                                            Rounding{}, 0, OverflowPolicy::infinity);
      uint64_t d64_bits = d64.code;
      double d;
      std::memcpy(&d, &d64_bits, 8);
      const uint32_t s_dec = round_to_fp32_bits(Dyadic::from_double(d), RoundingMode::rne, OverflowPolicy::infinity);
      p.tensor_scale = in.static_tensor_scale ? *in.static_tensor_scale : s_dec;
      const uint32_t mult = fp32::mul(s_enc, fp32::div(kOne, bits_of(Dyadic::from_int(6))));
      for (int64_t grp = 0; grp < G; ++grp) {
        if (!has_amax(grp)) continue;
        const uint32_t v = fmin_bits(fp32::mul(amax_bits(grp), mult), kFltMax);
        const uint64_t code = scale_code(g, v, RoundingMode::rne);
        p.group_scale[grp] = RoundResult{};
        p.group_scale[grp].code = code;
        const uint32_t inv = fp32::div(kOne, fp32::mul(scale_value_bits(g, code), p.tensor_scale));
        p.factor[grp] = ElementFactor{true, fmin_bits(inv, kFltMax)};
      }
      return;
    }
  }
}

}  // namespace mls::detail
