// Independent oracles for mls_tests. Nothing here calls the code under test:
// grids are rebuilt from the descriptor fields with the formulas of
// spec/01-minifloat.md, rounding is a brute-force search over all codes in
// exact integer arithmetic (spec/03-rounding.md), and the quantizer oracle
// redoes spec/04-quantize.md with integers and MPFR. Only plain data (the
// descriptor structs and enums) is shared with the reference.
#pragma once
#include <mpfr.h>

#include <algorithm>
#include <boost/multiprecision/cpp_int.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "mls/format.hpp"
#include "mls/minifloat.hpp"
#include "mls/rounding.hpp"

namespace oracle {

using BigInt = boost::multiprecision::cpp_int;
using mls::RoundingMode;

inline std::string hex(uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}
inline uint32_t fbits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
inline float bitsf(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
inline uint64_t dbits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}
inline std::string hexf(float f) { return hex(fbits(f)); }

inline const char* mode_name(RoundingMode m) {
  switch (m) {
    case RoundingMode::rne: return "rne";
    case RoundingMode::rna: return "rna";
    case RoundingMode::rtz: return "rtz";
    case RoundingMode::rup: return "rup";
    case RoundingMode::rdn: return "rdn";
    case RoundingMode::rto: return "rto";
    case RoundingMode::sr: return "sr";
  }
  return "?";
}
inline const std::vector<RoundingMode>& deterministic_modes() {
  static const std::vector<RoundingMode> m = {RoundingMode::rne, RoundingMode::rna, RoundingMode::rtz,
                                              RoundingMode::rup, RoundingMode::rdn, RoundingMode::rto};
  return m;
}

// Every field spelled out (not Minifloat::name(), which is code under test).
inline std::string describe(const mls::Minifloat& f) {
  const char* z = f.zero == mls::ZeroMode::subnormal ? "subnormal" : f.zero == mls::ZeroMode::zero_only ? "zero_only" : "none";
  return std::string(f.is_signed ? "signed" : "unsigned") + " E=" + std::to_string(f.exp_bits) +
         " M=" + std::to_string(f.man_bits) + " bias=" + std::to_string(f.bias) + " zero=" + z +
         (f.specials == mls::Specials::ieee ? " ieee" : f.specials == mls::Specials::nan_all_ones ? " nan_all_ones" : "") +
         (f.encoding == mls::Encoding::twos_complement ? " twos_complement" : "");
}
// A gtest-safe identifier for a descriptor, e.g. e2m1_b3_sub, g4m1.
inline std::string ident(const mls::Minifloat& f) {
  std::string s = std::string(f.is_signed ? "e" : "g") + std::to_string(f.exp_bits) + "m" + std::to_string(f.man_bits);
  s += "_b" + (f.bias < 0 ? "m" + std::to_string(-f.bias) : std::to_string(f.bias));
  if (f.zero == mls::ZeroMode::zero_only) s += "_zonly";
  if (f.zero == mls::ZeroMode::subnormal) s += "_sub";
  return s;
}

inline mls::Minifloat element(int e, int m, int bias, mls::ZeroMode z = mls::ZeroMode::subnormal) {
  return mls::Minifloat{true, e, m, bias, z, mls::Specials::none, mls::Encoding::sign_magnitude};
}
inline int default_bias(int e) { return e == 0 ? 0 : (1 << e) - 1; }

// Every element format with 1+E+M <= 8, E = 0..4, M >= 1 when E = 0 (E0M0 has
// no non-zero value), with subnormals, zero_only where E >= 1, and a few
// non-default biases (negative, zero, larger than the default).
inline const std::vector<mls::Minifloat>& small_element_formats() {
  static const std::vector<mls::Minifloat> v = [] {
    std::vector<mls::Minifloat> r;
    for (int e = 0; e <= 4; ++e)
      for (int m = e == 0 ? 1 : 0; 1 + e + m <= 8; ++m) {
        r.push_back(element(e, m, default_bias(e)));
        if (e >= 1) r.push_back(element(e, m, default_bias(e), mls::ZeroMode::zero_only));
      }
    r.push_back(element(2, 1, 0));
    r.push_back(element(2, 1, 5));
    r.push_back(element(3, 2, -2));
    r.push_back(element(0, 3, 2));
    r.push_back(element(0, 4, -3));
    r.push_back(element(4, 3, 20));
    r.push_back(element(1, 2, 0, mls::ZeroMode::zero_only));
    r.push_back(element(3, 3, -7, mls::ZeroMode::zero_only));
    return r;
  }();
  return v;
}
// Every group-scale format Eg = 1..6, Mg = 0..2 (unsigned, bias 2^Eg - 1, no zero).
inline const std::vector<mls::Minifloat>& small_group_formats() {
  static const std::vector<mls::Minifloat> v = [] {
    std::vector<mls::Minifloat> r;
    for (int e = 1; e <= 6; ++e)
      for (int m = 0; m <= 2; ++m) r.push_back(mls::Minifloat{false, e, m, (1 << e) - 1, mls::ZeroMode::none, mls::Specials::none, mls::Encoding::sign_magnitude});
    return r;
  }();
  return v;
}

// Section 1 formula, evaluated in long double (exact for every format used
// here: at most 8 significand bits, exponents far inside the range).
// Returns nullopt for a code that has no value.
inline std::optional<long double> decode_ld(const mls::Minifloat& f, uint64_t code) {
  const int E = f.exp_bits, M = f.man_bits;
  const int width = (f.is_signed ? 1 : 0) + E + M;
  if (code >> width) return std::nullopt;
  const bool s = f.is_signed && ((code >> (E + M)) & 1);
  const uint64_t e = (code >> M) & ((uint64_t(1) << E) - 1);
  const uint64_t fr = code & ((uint64_t(1) << M) - 1);
  long double v;
  if (e == 0 && f.zero == mls::ZeroMode::zero_only) {
    if (fr != 0) return std::nullopt;
    v = 0;
  } else if (e == 0 && f.zero == mls::ZeroMode::subnormal) {
    v = std::ldexp(static_cast<long double>(fr) / std::ldexp(1.0L, M), 1 - f.bias);
  } else {
    v = std::ldexp(1.0L + static_cast<long double>(fr) / std::ldexp(1.0L, M), static_cast<int>(e) - f.bias);
  }
  return s ? -v : v;
}

// A grid in integer units: every value of the format is K * 2^ulog.
struct Grid {
  mls::Minifloat f;
  int64_t ulog = 0;
  uint64_t sign_bit = 0;
  std::vector<uint64_t> mcode;  // the valid magnitude codes
  std::vector<BigInt> K;        // their values in units of 2^ulog
  BigInt kmax() const {
    BigInt m = 0;
    for (const auto& k : K) m = k > m ? k : m;
    return m;
  }
  BigInt kmin_positive() const {
    BigInt m = -1;
    for (const auto& k : K)
      if (k > 0 && (m < 0 || k < m)) m = k;
    return m;
  }
  int imax() const {  // index of the largest value, by search
    int b = 0;
    for (size_t i = 1; i < K.size(); ++i)
      if (K[i] > K[b]) b = static_cast<int>(i);
    return b;
  }
  int index_of(uint64_t mc) const {
    for (size_t i = 0; i < mcode.size(); ++i)
      if (mcode[i] == mc) return static_cast<int>(i);
    return -1;
  }
};

inline Grid make_grid(const mls::Minifloat& f) {
  if (f.exp_bits + f.man_bits > 12) throw std::logic_error("oracle grid too large: " + describe(f));
  Grid g;
  g.f = f;
  const int E = f.exp_bits, M = f.man_bits;
  const bool has_zero = f.zero != mls::ZeroMode::none;
  // With a zero row every value is a multiple of 2^(1-b-M); without, of 2^(-b-M).
  g.ulog = has_zero ? 1 - f.bias - M : -f.bias - M;
  g.sign_bit = f.is_signed ? uint64_t(1) << (E + M) : 0;
  for (uint64_t mc = 0; mc < (uint64_t(1) << (E + M)); ++mc) {
    const uint64_t e = mc >> M, fr = mc & ((uint64_t(1) << M) - 1);
    BigInt k;
    if (has_zero && e == 0) {
      if (f.zero == mls::ZeroMode::zero_only && fr != 0) continue;
      k = fr;
    } else if (has_zero) {
      k = (BigInt(1) << M) + fr;
      k <<= static_cast<unsigned>(e - 1);
    } else {
      k = (BigInt(1) << M) + fr;
      k <<= static_cast<unsigned>(e);
    }
    g.mcode.push_back(mc);
    g.K.push_back(k);
  }
  return g;
}

// Brute force over every valid magnitude code for |v| = P/Q (units of 2^ulog).
struct Scan {
  int exact = -1;            // K == |v|
  int lo = -1, hi = -1;      // largest K < |v|, smallest K > |v|
  std::vector<int> nearest;  // every index minimising | |v| - K |
};

inline Scan scan(const Grid& g, const BigInt& P, const BigInt& Q) {
  Scan s;
  BigInt best = -1;
  for (size_t i = 0; i < g.K.size(); ++i) {
    const BigInt kq = g.K[i] * Q;
    const int c = kq < P ? -1 : (kq > P ? 1 : 0);
    const int ii = static_cast<int>(i);
    if (c == 0) s.exact = ii;
    if (c < 0 && (s.lo < 0 || g.K[i] > g.K[s.lo])) s.lo = ii;
    if (c > 0 && (s.hi < 0 || g.K[i] < g.K[s.hi])) s.hi = ii;
    const BigInt d = c < 0 ? P - kq : kq - P;
    if (best < 0 || d < best) {
      best = d;
      s.nearest = {ii};
    } else if (d == best) {
      s.nearest.push_back(ii);
    }
  }
  return s;
}

struct Decision {
  uint64_t code = 0;  // full code with sign
  bool exact = false;
  bool saturated = false;  // |v| above the largest value
  bool clamped = false;    // below the smallest value of a grid without zero
  int lo = -1, hi = -1;    // neighbour indices when inexact and inside the range
  bool away = false;
};

// The spec's decision for every mode, from the scan (spec/03-rounding.md 3.3-3.5).
inline Decision decide(const Grid& g, const Scan& s, bool neg, const BigInt& P, const BigInt& Q, RoundingMode mode,
                       int R, uint32_t word, bool positive_zero = false) {
  Decision d;
  int idx;
  if (s.exact >= 0) {
    idx = s.exact;
    d.exact = true;
  } else if (s.hi < 0) {
    idx = s.lo;
    d.saturated = true;
  } else if (s.lo < 0) {
    idx = s.hi;
    d.clamped = true;
  } else {
    d.lo = s.lo;
    d.hi = s.hi;
    const bool lo_odd = g.mcode[s.lo] & 1, hi_odd = g.mcode[s.hi] & 1;
    bool away = false;
    switch (mode) {
      case RoundingMode::rne:
        if (s.nearest.size() == 1) away = s.nearest[0] == s.hi;
        else away = lo_odd && !hi_odd;  // tie: even code; both even: toward zero
        break;
      case RoundingMode::rna:
        away = s.nearest.size() == 2 || s.nearest[0] == s.hi;
        break;
      case RoundingMode::rtz: away = false; break;
      case RoundingMode::rup: away = !neg; break;
      case RoundingMode::rdn: away = neg; break;
      case RoundingMode::rto: away = !lo_odd; break;
      case RoundingMode::sr: {
        const uint64_t r = R == 32 ? word : (word >> (32 - R));
        const BigInt gap = g.K[s.hi] - g.K[s.lo];
        const BigInt lhs = ((P - g.K[s.lo] * Q) << R) + BigInt(r) * gap * Q;  // (t + r/2^R) * gap * Q * 2^R
        away = lhs >= ((gap * Q) << R);
        break;
      }
    }
    if (s.nearest.size() > 2 || (s.nearest.size() == 2 && !((s.nearest[0] == s.lo && s.nearest[1] == s.hi) ||
                                                            (s.nearest[0] == s.hi && s.nearest[1] == s.lo))))
      throw std::logic_error("oracle: a tie that is not between the two neighbours");
    d.away = away;
    idx = away ? s.hi : s.lo;
  }
  const uint64_t mag = g.mcode[idx];
  bool sign = neg && g.f.is_signed;
  if (g.K[idx] == 0 && positive_zero) sign = false;
  d.code = mag | (sign ? g.sign_bit : 0);
  return d;
}

inline Decision round(const Grid& g, bool neg, const BigInt& P, const BigInt& Q, RoundingMode mode, int R = 8,
                      uint32_t word = 0, bool positive_zero = false) {
  return decide(g, scan(g, P, Q), neg, P, Q, mode, R, word, positive_zero);
}

// |x| of a finite float as m * 2^e (from the bit pattern).
struct Parts {
  BigInt m;
  int64_t e;
};
inline Parts float_parts(float x) {
  const uint32_t b = fbits(x) & 0x7fffffffu;
  const uint32_t ef = b >> 23, fr = b & 0x7fffffu;
  if (ef == 0) return {BigInt(fr), -149};
  return {BigInt(fr | 0x800000u), static_cast<int64_t>(ef) - 150};
}
// (n * 2^en) / (d * 2^ed) / 2^ulog as P/Q with integers.
inline void ratio(const BigInt& n, int64_t en, const BigInt& d, int64_t ed, int64_t ulog, BigInt& P, BigInt& Q) {
  const int64_t k = en - ed - ulog;
  if (k >= 0) {
    P = n << static_cast<unsigned>(k);
    Q = d;
  } else {
    P = n;
    Q = d << static_cast<unsigned>(-k);
  }
}

// MPFR value with enough precision that every product used here is exact.
class Mp {
 public:
  explicit Mp(mpfr_prec_t prec = 4096) { mpfr_init2(v, prec); mpfr_set_zero(v, 1); }
  ~Mp() { mpfr_clear(v); }
  Mp(const Mp&) = delete;
  Mp& operator=(const Mp&) = delete;
  mpfr_t v;
};
inline void mp_set(mpfr_t r, const BigInt& m, int64_t e) {
  mpfr_set_str(r, m.str().c_str(), 10, MPFR_RNDN);
  mpfr_mul_2si(r, r, static_cast<long>(e), MPFR_RNDN);
}
// value of magnitude index i of grid g
inline void mp_grid_value(mpfr_t r, const Grid& g, int i) { mp_set(r, g.K[i], g.ulog); }

// RU_fp32(num / den) for positive num, den: MPFR at 24 bits, then the binary32
// exponent range with subnormals (emin -148, emax 128 in MPFR's convention).
// nullopt when the result overflows to +Inf.
inline std::optional<uint32_t> mpfr_ru_fp32(mpfr_t num, mpfr_t den) {
  const mpfr_exp_t old_emin = mpfr_get_emin(), old_emax = mpfr_get_emax();
  mpfr_t q;
  mpfr_init2(q, 24);
  int t = mpfr_div(q, num, den, MPFR_RNDU);
  mpfr_set_emin(-148);
  mpfr_set_emax(128);
  t = mpfr_check_range(q, t, MPFR_RNDU);
  mpfr_subnormalize(q, t, MPFR_RNDU);
  const bool inf = mpfr_inf_p(q);
  const float f = mpfr_get_flt(q, MPFR_RNDN);
  mpfr_set_emin(old_emin);
  mpfr_set_emax(old_emax);
  mpfr_clear(q);
  if (inf) return std::nullopt;
  return fbits(f);
}

// The default group layout and the tile of each element (spec/04-quantize.md
// 2.4), computed from the multi-index.
struct Layout {
  std::vector<int64_t> gs;  // resolved group shape
  std::vector<int64_t> tiles;
  int64_t groups = 1;
  std::vector<int64_t> group;  // per element
};
inline Layout layout(const mls::Format& f, const std::vector<int64_t>& shape) {
  Layout L;
  L.gs = f.group_shape;
  if (L.gs.empty()) {
    L.gs.assign(shape.size(), 0);
    if (shape.size() >= 2) L.gs[0] = L.gs[1] = 1;
  }
  int64_t n = 1;
  for (size_t a = 0; a < shape.size(); ++a) {
    if (L.gs[a] == 0 || L.gs[a] > shape[a]) L.gs[a] = shape[a];
    L.tiles.push_back((shape[a] + L.gs[a] - 1) / L.gs[a]);
    L.groups *= L.tiles.back();
    n *= shape[a];
  }
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t g = 0;
    for (size_t a = 0; a < shape.size(); ++a) g = g * L.tiles[a] + idx[a] / L.gs[a];
    L.group.push_back(g);
    for (size_t a = shape.size(); a-- > 0;) {
      if (++idx[a] < shape[a]) break;
      idx[a] = 0;
    }
  }
  return L;
}

struct Quantized {
  uint32_t tensor_scale = 0;
  std::vector<uint32_t> group_scales, elements;
  bool error = false;  // the spec demands an error (tensor-scale overflow, element overflow under :ovf_error)
};

// spec/04-quantize.md 4.2-4.6, from scratch: MPFR for the tensor scale,
// brute-force grid searches for the group scales and the elements.
inline Quantized quantize(const mls::Format& f, const std::vector<int64_t>& shape, const std::vector<float>& x,
                          const mls::Rounding& r, const std::vector<uint32_t>& rand,
                          std::optional<uint32_t> static_ts = std::nullopt) {
  Quantized out;
  const Grid ge = make_grid(f.element), gg = make_grid(f.group_scale);
  const Layout L = layout(f, shape);
  float amax = 0;
  std::vector<float> gmax(L.groups, 0.0f);
  for (size_t i = 0; i < x.size(); ++i) {
    amax = std::max(amax, std::fabs(x[i]));
    gmax[L.group[i]] = std::max(gmax[L.group[i]], std::fabs(x[i]));
  }
  const int iq = ge.imax(), ig = gg.imax();
  if (static_ts) {
    out.tensor_scale = *static_ts;
  } else if (amax == 0) {
    out.tensor_scale = 0x3f800000u;
  } else {
    Mp num, den, qm, gm;
    const Parts a = float_parts(amax);
    mp_set(num.v, a.m, a.e);
    mp_grid_value(qm.v, ge, iq);
    mp_grid_value(gm.v, gg, ig);
    mpfr_mul(den.v, qm.v, gm.v, MPFR_RNDN);
    const auto st = mpfr_ru_fp32(num.v, den.v);
    if (!st) {
      out.error = true;
      return out;
    }
    out.tensor_scale = *st;
  }
  const Parts st = float_parts(bitsf(out.tensor_scale));
  const RoundingMode gmode = f.scale_policy == mls::ScalePolicy::ceil    ? RoundingMode::rup
                             : f.scale_policy == mls::ScalePolicy::floor ? RoundingMode::rdn
                                                                         : RoundingMode::rne;
  std::vector<int> gidx(L.groups);
  for (int64_t g = 0; g < L.groups; ++g) {
    const Parts a = float_parts(gmax[g]);
    BigInt P, Q;
    ratio(a.m, a.e, st.m * ge.K[iq], st.e + ge.ulog, gg.ulog, P, Q);
    const Decision d = round(gg, false, P, Q, gmode);
    out.group_scales.push_back(static_cast<uint32_t>(d.code));
    gidx[g] = gg.index_of(d.code);
  }
  for (size_t i = 0; i < x.size(); ++i) {
    const Parts a = float_parts(x[i]);
    const int gi = gidx[L.group[i]];
    BigInt P, Q;
    ratio(a.m, a.e, st.m * gg.K[gi], st.e + gg.ulog, ge.ulog, P, Q);
    const Decision d = round(ge, std::signbit(x[i]), P, Q, r.mode, r.sr_bits,
                             r.mode == RoundingMode::sr ? rand[i] : 0, f.signed_zero == mls::SignedZero::positive);
    if (d.saturated && f.overflow == mls::OverflowPolicy::error) {
      out.error = true;
      return out;
    }
    out.elements.push_back(static_cast<uint32_t>(d.code));
  }
  return out;
}

}  // namespace oracle

namespace mls {
// gtest prints parameters with this (found by argument-dependent lookup).
inline void PrintTo(const Minifloat& f, std::ostream* os) { *os << oracle::describe(f); }
}  // namespace mls
