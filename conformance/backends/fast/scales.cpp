// mls-fast: group maxima, tensor and group scales (spec/04 4.1-4.4) and the
// fp32 pipelines of the quantizer arithmetic profiles (4.12). The exact rules
// are integer divisions with the remainder kept; the pipelines' fp32 steps
// are the hardware's binary32 operations (round to nearest even, no
// fast-math, gradual underflow), one C++ operation per step of 4.12.
// Compiled once.
#include "scales.hpp"

#include <array>
#include <cmath>

#include "rounding.hpp"

namespace mlsfast {

namespace {

constexpr uint32_t kOne = 0x3f800000u;
constexpr uint32_t kFltMax = 0x7f7fffffu;
constexpr uint32_t kMinNormal = 0x00800000u;  // 2^-126

uint32_t f32(float v) { return float_bits(v); }
float fl(uint32_t b) { return bits_float(b); }
// min/max of positive fp32 values (finite or Inf), as 4.12 writes them.
uint32_t fmin_bits(uint32_t a, uint32_t b) { return fl(a) <= fl(b) ? a : b; }
uint32_t fmax_bits(uint32_t a, uint32_t b) { return fl(a) >= fl(b) ? a : b; }

// RN_fp32 of the value of a finite scale code.
uint32_t scale_value_bits(const Grid& g, uint32_t code) {
  uint64_t m;
  int64_t e;
  g.decode(code & g.mag_mask, m, e);
  return fp32_nearest(m, e);
}

// The scale-grid code of a positive fp32 value v under `mode`: saturating at
// the largest value, clamped at the smallest (a grid without zero).
uint32_t scale_code(const Grid& g, uint32_t v, int mode) {
  if ((v & 0x7fffffffu) == 0) return 0;
  if (v >= 0x7f800000u) return g.max_mag;
  const Unpacked u = unpack_fp32(v);
  bool over;
  const uint32_t mag = round_mag<Mutant::none>(g, exact_of(u.m, u.e), false, mode, 8, 0, &over);
  return over ? g.max_mag : mag;
}

// The binary grid of the ocp_even rule (4.4): binary32's exponent range with M
// mantissa bits (subnormals, Inf above the largest value).
Grid binary_grid(int M) {
  Grid p;
  p.E = 8;
  p.M = M;
  p.bias = 127;
  p.zero = MLS_ZERO_SUBNORMAL;
  p.specials = MLS_SPECIALS_IEEE;
  p.is_signed = false;
  p.emaxf = 255;
  p.u0 = 1 - 127 - M;
  p.mag_mask = static_cast<uint32_t>((uint64_t(1) << (8 + M)) - 1);
  p.inf_mag = 255u << M;
  p.max_mag = p.inf_mag - 1;
  p.over_mag = p.inf_mag;
  p.code_count = uint64_t(p.mag_mask) + 1;
  p.decode(p.max_mag, p.max_m, p.max_e);
  return p;
}

// E8M0 reciprocals as the libraries tabulate them: 2^(127 - code), with the
// two ends each library special-cases (254 -> 2^-127; code 0 -> `zero_rcp`).
uint32_t e8m0_reciprocal(uint32_t code, uint32_t zero_rcp) {
  if (code == 0) return zero_rcp;
  if (code == 254) return 0x00400000u;  // 2^-127
  return fp32_nearest(1, 127 - static_cast<int64_t>(code));
}

}  // namespace

GroupScan scan_groups(const Layout& L, const uint32_t* x) {
  GroupScan s;
  s.amax.assign(static_cast<size_t>(L.groups), 0);
  s.nan.assign(static_cast<size_t>(L.groups), 0);
  const double per_group = static_cast<double>(L.count) / static_cast<double>(L.groups);
  parallel_for(L.groups, 0.3 * per_group + 20, [&](int64_t b, int64_t e) {
    for (int64_t g = b; g < e; ++g) {
      uint32_t m = 0, nan = 0;
      L.for_each_run(g, [&](int64_t start, int64_t len) {
        const uint32_t* p = x + start;
        for (int64_t i = 0; i < len; ++i) {
          const uint32_t a = p[i] & 0x7fffffffu;
          nan |= a > 0x7f800000u ? 1u : 0u;
          m = std::max(m, a > 0x7f800000u ? 0u : a);
        }
      });
      s.amax[static_cast<size_t>(g)] = m;
      s.nan[static_cast<size_t>(g)] = static_cast<uint8_t>(nan);
    }
  });
  for (size_t g = 0; g < s.amax.size(); ++g) {
    s.tensor_amax = std::max(s.tensor_amax, s.amax[g]);
    if (s.nan[g]) s.any_nonfinite = true;
  }
  if (s.tensor_amax >= 0x7f800000u) s.any_nonfinite = true;
  return s;
}

uint32_t dynamic_tensor_scale(const Fmt& f, uint32_t amax, int dir) {
  if (f.tensor_scale == MLS_TSCALE_ONE || amax == 0) return kOne;  // 4.2, 4.3
  uint64_t dm = f.el.max_m * f.gs.max_m;  // q_max * g_max: below 2^48
  int64_t de = f.el.max_e + f.gs.max_e;
  normalise64(dm, de);
  const Unpacked a = unpack_fp32(amax);
  bool ovf;
  uint32_t st = round_fp32(divide(a.m, a.e, dm, de), dir, &ovf);
  if (ovf) bad("tensor_scale: max|x| = " + hex32(amax) + " over q_max * g_max overflows fp32 (4.3)");
  if (st == 0) st = 1;  // only a rounding to nearest (a seeded bug) gets here
  return st;
}

uint32_t static_tensor_scale(uint32_t bits) {
  if ((bits >> 31) || bits == 0 || fp32_nonfinite(bits))
    bad("tensor_scale " + hex32(bits) + " is not a positive finite fp32 (4.6)");
  return bits;
}

uint32_t exact_group_scale(const Fmt& f, int32_t policy, uint32_t a, uint32_t st_bits) {
  const Grid& gs = f.gs;
  if (a == 0) return 0;                    // the zero, or the smallest value of a grid without zero
  if (a >= 0x7f800000u) return gs.max_mag;  // 4.1.2: an infinite group maximum saturates the scale
  Unpacked am = unpack_fp32(a);
  if (policy == MLS_SCALE_OCP_EVEN) {
    // a_G rounded to M_elem + 1 significant bits, ties away (binary32's exponent range).
    static thread_local Grid p;
    if (p.M != f.el.M || p.E != 8) p = binary_grid(f.el.M);
    bool over;
    const uint32_t mag = round_mag<Mutant::none>(p, exact_of(am.m, am.e), false, MLS_RNA, 8, 0, &over);
    if (over) {
      am = {1, 128};
    } else {
      p.decode(mag, am.m, am.e);
      if (am.m == 0) return 0;
    }
  }
  // r = a_G / (S_t D), D = q_max or 2^emax_elem (the ocp rules).
  uint64_t dm = f.el.max_m;
  int64_t de = f.el.max_e;
  if (f.ocp_divisor()) {
    de = bitlen64(dm) - 1 + de;
    dm = 1;
  }
  const Unpacked st = unpack_fp32(st_bits);
  dm *= st.m;  // below 2^48
  de += st.e;
  normalise64(dm, de);
  // A power-of-two divisor (the MX case): the quotient is exact without a division.
  const Exact y = dm == (uint64_t(1) << 63) ? exact_of(am.m, am.e - de - 63) : divide(am.m, am.e, dm, de);
  const int mode = (policy == MLS_SCALE_CEIL || policy == MLS_SCALE_OCP_CEIL) ? MLS_RUP
                   : policy == MLS_SCALE_NEAREST                               ? MLS_RNE
                                                                               : MLS_RDN;
  bool over;
  const uint32_t mag = round_mag<Mutant::none>(gs, y, false, mode, 8, 0, &over);
  return over ? gs.max_mag : mag;
}

int64_t ceil_log2_rn_fp32(uint32_t d) {
  // d = (1 + j 2^-23) 2^k; log2 d = k + log2(1 + j 2^-23), irrational unless j = 0
  // (no ties). RN_fp32 of it is k exactly when log2(1 + j 2^-23) < h, half the
  // fp32 spacing just above k (toward +inf); otherwise it lies in (k, k + 1],
  // whose ceiling is k + 1.
  const Unpacked u = unpack_fp32(d);
  const int L = bitlen64(u.m);
  const int64_t k = L - 1 + u.e;
  const uint64_t j = (u.m << (24 - L)) - (uint64_t(1) << 23);
  if (j == 0) return k;
  // h = 2^-s: the spacing above k is the ulp of the binade of |k| (k > 0), of
  // the binade below |k| (k < 0: toward zero; the smaller one when |k| is a
  // power of two), 2^-149 at k = 0.
  int s;
  if (k == 0) {
    s = 150;
  } else {
    const uint64_t K = static_cast<uint64_t>(k < 0 ? -k : k);
    const int a = bitlen64(K) - 1;  // 2^a <= |k|
    s = 24 - a + ((k < 0 && (K & (K - 1)) == 0) ? 1 : 0);
  }
  // The largest j below: j < 2^23 (2^(2^-s) - 1), in (0.693 2^(23-s), 0.694 2^(23-s)):
  // a threshold of 44, 22, 11, 5, 2, 1 for s = 17..22 and below 1 from s = 23 on.
  // Computed in long double (64-bit significand); the thresholds are at least
  // 0.13 away from an integer, far beyond its error.
  if (s >= 23) return k + 1;
  static const auto jmax = [] {
    std::array<uint64_t, 23> t{};
    for (int v = 0; v < 23; ++v)
      t[static_cast<size_t>(v)] = static_cast<uint64_t>(std::floor(std::ldexp(std::expm1(std::ldexp(std::log(2.0L), -v)), 23)));
    return t;
  }();
  return j <= jmax[static_cast<size_t>(s)] ? k : k + 1;
}

void run_pipeline(int32_t qarith, const Fmt& f, const GroupScan& scan, bool static_scale, uint32_t* ts, uint32_t* gs,
                  Factors& out) {
  const Grid& g = f.gs;
  const int64_t G = static_cast<int64_t>(scan.amax.size());
  out.value.assign(static_cast<size_t>(G), kOne);
  const uint32_t qmax = fp32_nearest(f.el.max_m, f.el.max_e);
  auto each_group = [&](auto&& fn) {
    parallel_for(G, 60, [&](int64_t b, int64_t e) {
      for (int64_t grp = b; grp < e; ++grp)
        if (!scan.nan[static_cast<size_t>(grp)]) fn(static_cast<size_t>(grp), scan.amax[static_cast<size_t>(grp)]);
    });
  };
  switch (qarith) {
    case MLS_QARITH_FP32_DIV:
    case MLS_QARITH_FP32_RECIPROCAL: {
      // 4.12.1-2: the format's scales; their product rounded once to fp32.
      out.multiply = qarith == MLS_QARITH_FP32_RECIPROCAL;
      const Unpacked st = unpack_fp32(*ts);
      each_group([&](size_t grp, uint32_t) {
        uint64_t m;
        int64_t e;
        g.decode(gs[grp] & g.mag_mask, m, e);
        const uint32_t s = fp32_nearest(st.m * m, st.e + e);
        out.value[grp] = out.multiply ? f32(1.0f / fl(s)) : s;
      });
      return;
    }
    case MLS_QARITH_TORCHAO_MX:
      // 4.12.3: the exact scale; the data divided by max(X, 2^-126) in fp32.
      out.multiply = false;
      each_group([&](size_t grp, uint32_t) { out.value[grp] = fmax_bits(scale_value_bits(g, gs[grp]), kMinNormal); });
      return;
    case MLS_QARITH_TORCHAO_MX_RCEIL:
      // 4.12.4: descale = RN(a_G / q_max); X = 2^clamp(ceil(RN_fp32(log2 descale)), -127, 127); Inf -> 254.
      out.multiply = true;
      each_group([&](size_t grp, uint32_t a) {
        uint32_t code = 254;
        if (a < 0x7f800000u) {
          const uint32_t descale = f32(fl(a) / fl(qmax));
          int64_t e = -127;
          if (descale >= 0x7f800000u) e = 127;
          else if (descale != 0) e = ceil_log2_rn_fp32(descale);
          code = static_cast<uint32_t>(std::clamp<int64_t>(e, -127, 127) + 127);
        }
        gs[grp] = code;
        out.value[grp] = e8m0_reciprocal(code, kOne);
      });
      return;
    case MLS_QARITH_TE_MXFP8: {
      // 4.12.6: X = RU_e8m0(RN(a_G * RN(1 / q_max))), Inf -> 254; the data times 2^(127 - code).
      out.multiply = true;
      const float rcp = 1.0f / fl(qmax);
      each_group([&](size_t grp, uint32_t a) {
        uint32_t code = 254;
        if (a < 0x7f800000u) code = scale_code(g, f32(fl(a) * rcp), MLS_RUP);
        gs[grp] = code;
        out.value[grp] = e8m0_reciprocal(code, 0x7f000000u /* 2^127 */);
      });
      return;
    }
    case MLS_QARITH_TORCHAO_NVFP4: {
      // 4.12.5: S_t = RN(amax / RN(q_max g_max)) (1.0 for an all-zero tensor), or 1.0 single-level.
      out.multiply = true;
      const uint32_t gmax = fp32_nearest(g.max_m, g.max_e);
      const float qg = fl(qmax) * fl(gmax);
      uint32_t pts = kOne;
      if (f.tensor_scale == MLS_TSCALE_AMAX && !static_scale && scan.tensor_amax != 0)
        pts = f32(fl(scan.tensor_amax) / qg);
      if (static_scale) pts = *ts;
      *ts = pts;
      const uint32_t min_normal = scale_value_bits(g, 1u << g.M);
      const float inv_pts = 1.0f / fl(pts);
      each_group([&](size_t grp, uint32_t a) {
        const uint32_t scaled = f32((fl(a) / fl(qmax)) / fl(pts));
        const uint32_t clamped = fmin_bits(fmax_bits(scaled, min_normal), gmax);
        const uint32_t code = scale_code(g, clamped, MLS_RNE);
        gs[grp] = code;
        out.value[grp] = f32(inv_pts / fl(scale_value_bits(g, code)));
      });
      return;
    }
    case MLS_QARITH_TE_NVFP4: {
      // 4.12.7: S_enc = min(RN(q_max g_max / amax), FLT_MAX) (1.0 for amax 0 or S_enc 0);
      // S_dec = RN_fp32(RN_fp64(1 / S_enc)).
      out.multiply = true;
      const uint32_t gmax = fp32_nearest(g.max_m, g.max_e);
      const float qg = fl(qmax) * fl(gmax);
      uint32_t s_enc = kOne;
      if (scan.tensor_amax != 0) {
        s_enc = fmin_bits(f32(qg / fl(scan.tensor_amax)), kFltMax);
        if ((s_enc & 0x7fffffffu) == 0) s_enc = kOne;
      }
      const uint32_t s_dec = f32(static_cast<float>(1.0 / static_cast<double>(fl(s_enc))));
      if (!static_scale) *ts = s_dec;
      const float mult = fl(s_enc) * (1.0f / 6.0f);
      const float tsv = fl(*ts);
      each_group([&](size_t grp, uint32_t a) {
        const uint32_t v = fmin_bits(f32(fl(a) * mult), kFltMax);
        const uint32_t code = scale_code(g, v, MLS_RNE);
        gs[grp] = code;
        out.value[grp] = fmin_bits(f32(1.0f / (fl(scale_value_bits(g, code)) * tsv)), kFltMax);
      });
      return;
    }
    default: return;
  }
}

}  // namespace mlsfast
