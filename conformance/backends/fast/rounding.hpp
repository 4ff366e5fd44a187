// mls-fast: rounding an exact positive quotient onto a grid (spec/03), the
// one routine for elements and group scales; the seeded bugs of element
// rounding live here, selected by a template argument (Mutant::none for the
// spec).
#pragma once
#include "fast.hpp"
#include "mutant.hpp"

namespace mlsfast {

// The magnitude code of y = (q + s) 2^e (q of at least 40 bits: see divide())
// on grid g under `mode` (word: sr's random word, R its bits). *over is set
// when the result lies past the largest finite value: for a grid with special
// values the rounding landed on the special position above it (returned as
// g.over_mag; 3.5, 3.2 step 6), for one without, y is above it (returned as
// g.max_mag; 3.2 step 2). A grid without zero clamps below its smallest value
// (code 0, step 1). kM: the element-rounding seeded bug that applies.
template <Mutant kM>
inline uint32_t round_mag(const Grid& g, const Exact& y, bool neg, int mode, int R, uint32_t word, bool* over) {
  const uint64_t q = static_cast<uint64_t>(y.q);
  const int64_t p = bitlen64(q) - 1 + y.e;  // 2^p <= y < 2^(p+1)
  const bool specials = g.specials != MLS_SPECIALS_NONE;
  *over = false;
  int64_t ulp;        // exponent of the gap width around y
  int64_t base;       // code = base + I (I = floor(y / 2^ulp))
  bool gap = false;   // zero_only: y in (0, 2^(1-b)), between codes 0 and 1 << M
  bool beyond = false;
  bool below = false;  // anything of t below 2^-32
  if (g.E == 0) {
    if (p >= 1 - int64_t(g.bias)) {  // y >= 2^(1-b) > q_max (no special values with E = 0)
      *over = true;
      return g.max_mag;
    }
    ulp = g.u0;
    base = 0;
  } else {
    const int64_t ef = p + g.bias;
    if (ef > g.emaxf) {
      beyond = true;
      below = true;
      ulp = base = 0;
    } else if (ef >= 1 || (ef == 0 && g.zero == MLS_ZERO_NONE)) {
      ulp = p - g.M;
      base = (ef - 1) * (int64_t(1) << g.M);  // (ef << M) | (I - 2^M)
    } else if (g.zero == MLS_ZERO_SUBNORMAL) {
      ulp = g.u0;
      base = 0;
    } else if (g.zero == MLS_ZERO_ONLY) {
      ulp = 1 - int64_t(g.bias);
      base = 0;
      gap = true;
    } else {
      return 0;  // below the smallest value of a grid without zero (ef < 0): that value
    }
  }
  uint32_t lo = 0, frac = 0;
  if (!beyond) {
    const int64_t shift = ulp - y.e;  // >= 39: I has at most M+1 <= 24 bits
    const uint64_t I = shift >= 64 ? 0 : q >> shift;
    const int64_t fs = shift - 32;
    if (fs >= 64) {
      below = true;
    } else {
      frac = static_cast<uint32_t>(q >> fs);  // floor(t 2^32)
      below = (q & ((uint64_t(1) << fs) - 1)) != 0 || y.sticky;
    }
    lo = static_cast<uint32_t>(base + static_cast<int64_t>(I));
    if (lo > g.max_mag) beyond = true;  // at or past the special position (specials only)
  }
  const bool exact = frac == 0 && !below;
  if (beyond) {
    if (!specials) {
      *over = true;
      return g.max_mag;
    }
    // Between the largest finite value and the special position with t >= 1 (3.2 step 4).
    bool away = false;
    switch (mode) {
      case MLS_RNE: away = kM != Mutant::truncate; break;
      case MLS_RNA: away = true; break;
      case MLS_RTZ: away = false; break;
      case MLS_RUP: away = !neg; break;
      case MLS_RDN: away = neg; break;
      case MLS_RTO: away = (g.max_mag & 1) == 0; break;
      case MLS_SR: {
        // t = 1 exactly and r = 0 is the one place where ">" and ">=" differ.
        const uint32_t r = R == 32 ? word : word >> (32 - R);
        away = !(kM == Mutant::sr_off_by_one && lo == g.over_mag && exact && r == 0);
        break;
      }
      default: break;
    }
    *over = away;
    return away ? g.over_mag : g.max_mag;
  }
  if (exact) return lo;
  if (!specials && lo == g.max_mag) {  // q_max < y (3.5)
    *over = true;
    return g.max_mag;
  }
  const uint32_t hi = gap ? (1u << g.M) : lo + 1;
  bool away = false;
  const uint32_t half = 0x80000000u;
  switch (mode) {
    case MLS_RNE:
      if constexpr (kM == Mutant::truncate) {
        away = false;
      } else if (frac != half || below) {
        away = frac > half || (frac == half && below);
      } else {
        // Tie: the neighbour whose code ends in 0; lo when both do (zero_only gap).
        away = kM == Mutant::tie_away ? true : (lo & 1) != 0;
      }
      break;
    case MLS_RNA:
      if (kM == Mutant::rna_even && frac == half && !below)
        away = (lo & 1) != 0;
      else
        away = frac >= half;
      break;
    case MLS_RTZ: away = false; break;
    case MLS_RUP: away = !neg; break;
    case MLS_RDN: away = neg; break;
    case MLS_RTO: away = (lo & 1) == 0; break;  // the neighbour ending in 1 (hi when neither: lo = 0)
    case MLS_SR: {
      // 3.4: away iff t + r/2^R >= 1  <=>  floor(t 2^R) + r >= 2^R (r integer).
      uint64_t r = R == 32 ? word : word >> (32 - R);
      if constexpr (kM == Mutant::sr_low_bits) r = R == 32 ? word : word & ((uint32_t(1) << R) - 1);
      const uint64_t F = R == 32 ? frac : frac >> (32 - R);
      const uint64_t one = uint64_t(1) << R;
      if constexpr (kM == Mutant::sr_off_by_one) {
        const bool rest = below || (R < 32 && (frac & ((uint32_t(1) << (32 - R)) - 1)) != 0);
        away = F + r > one || (F + r == one && rest);
      } else {
        away = F + r >= one;
      }
      break;
    }
    default: break;
  }
  uint32_t mag = away ? hi : lo;
  if (specials && mag == g.over_mag) *over = true;
  if constexpr (kM == Mutant::flush_subnormals)
    if (g.zero != MLS_ZERO_ONLY && (mag >> g.M) == 0) mag = 0;
  return mag;
}

// How an element's rounding ends (3.5, 3.6): the sign, the overflow policy.
// Also the rule of a cast to any grid (3.10): on a grid without zero code 0
// is the smallest value and keeps its sign; on an unsigned grid a negative
// non-zero input (-Inf under saturate too) is an error.
struct ElementRule {
  const Grid* el = nullptr;
  int32_t overflow = MLS_OVERFLOW_SATURATE;
  bool poszero = false;
  // The code of a rounded magnitude; *error for the error policy.
  uint32_t code(bool neg, uint32_t mag, bool over, bool* error) const {
    if (over) {
      switch (overflow) {
        case MLS_OVERFLOW_ERROR: *error = true; mag = el->max_mag; break;
        case MLS_OVERFLOW_INFINITY: mag = el->inf_mag; break;
        case MLS_OVERFLOW_NAN: mag = el->nan_mag; break;
        default: mag = el->max_mag; break;
      }
    }
    return el->encode(neg && (mag != 0 || !poszero || !el->has_zero()), mag);
  }
  // 3.10: a NaN or Inf input (bits with the all-ones exponent field).
  uint32_t nonfinite(uint32_t bits, bool* error) const {
    const bool neg = (bits >> 31) != 0;
    if (bits & 0x007fffffu) {
      if (!el->has_nan()) {
        *error = true;
        return 0;
      }
      return el->encode(neg, el->nan_mag);
    }
    switch (overflow) {
      case MLS_OVERFLOW_INFINITY: return el->encode(neg, el->inf_mag);
      case MLS_OVERFLOW_NAN: return el->encode(neg, el->nan_mag);
      case MLS_OVERFLOW_SATURATE:
        if (neg && !el->is_signed) break;
        return el->encode(neg, el->max_mag);
      default: break;
    }
    *error = true;
    return 0;
  }
  // x_bits divided by the scale D = dm 2^de (dm normalised, see divide()).
  template <Mutant kM>
  uint32_t quotient(uint32_t x_bits, uint64_t dm, int64_t de, int mode, int R, uint32_t word, bool* error) const {
    if (fp32_nonfinite(x_bits)) return nonfinite(x_bits, error);
    const bool neg = (x_bits >> 31) != 0;
    const Unpacked u = unpack_fp32(x_bits);
    if (u.m == 0) return code(neg, 0, false, error);
    if (neg && !el->is_signed) {
      *error = true;
      return 0;
    }
    bool over;
    const uint32_t mag = round_mag<kM>(*el, divide(u.m, u.e, dm, de), neg, mode, R, word, &over);
    return code(neg, mag, over, error);
  }
};

}  // namespace mlsfast
