#include "mls/rounding.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>

#include "mls/error.hpp"
#include "mls/bits.hpp"

namespace mls {

void Rounding::validate() const {
  if (mode == RoundingMode::sr && (sr_bits < 1 || sr_bits > 32))
    throw Error("rounding.bits = " + std::to_string(sr_bits) + " is outside 1..32");
}

namespace {
bool is_odd(uint64_t c) { return (c & 1) != 0; }

// ---- the two number types of the routine ------------------------------------------
// Dyadic (unbounded integers) and Fixed: a non-negative m * 2^e with m < 2^127
// in one unsigned __int128. Every Fixed operation checks the bound that keeps
// it exact and throws FixedOverflow instead of losing a bit; round_to_grid
// then redoes the whole rounding on Dyadic. Every value the routine forms is
// non-negative (|v|, grid values, t's numerator and denominator), so Fixed
// has no sign.
struct FixedOverflow {};

struct Fixed {
  using U = unsigned __int128;
  static constexpr int kBits = 127;  // m < 2^127: the sum of two aligned values fits in 128 bits
  U m = 0;
  int64_t e = 0;

  Fixed() = default;
  Fixed(U mant, int64_t exp) : m(mant), e(exp) {
    if (bits(m) > kBits) throw FixedOverflow{};
  }
  static int bits(U v) {
    const auto hi = static_cast<uint64_t>(v >> 64), lo = static_cast<uint64_t>(v);
    return hi ? 128 - std::countl_zero(hi) : 64 - std::countl_zero(lo);
  }
  static Fixed from(const Dyadic& d) {
    if (d.sign() < 0) throw FixedOverflow{};
    if (d.is_zero()) return {};
    if (boost::multiprecision::msb(d.m) >= static_cast<unsigned>(kBits)) throw FixedOverflow{};
    return Fixed(d.m.convert_to<U>(), d.e);
  }
  bool is_zero() const { return m == 0; }
  int64_t ilog2() const { return bits(m) - 1 + e; }
};

// Both mantissas at the smaller exponent, checked.
std::pair<Fixed::U, Fixed::U> aligned(const Fixed& a, const Fixed& b, int64_t& e) {
  e = std::min(a.e, b.e);
  auto up = [](Fixed::U m, int64_t s) {
    if (m == 0 || s == 0) return m;
    if (s >= Fixed::kBits || Fixed::bits(m) + s > Fixed::kBits) throw FixedOverflow{};
    return m << s;
  };
  return {up(a.m, a.e - e), up(b.m, b.e - e)};
}

int compare(const Fixed& a, const Fixed& b) {
  if (a.is_zero() || b.is_zero()) return a.is_zero() ? (b.is_zero() ? 0 : -1) : 1;
  const int64_t la = a.ilog2(), lb = b.ilog2();
  if (la != lb) return la < lb ? -1 : 1;
  int64_t e;  // same binade: the aligned mantissas have the bit length of the longer one
  const auto [am, bm] = aligned(a, b, e);
  return am < bm ? -1 : (am > bm ? 1 : 0);
}
Fixed operator*(const Fixed& a, const Fixed& b) {
  if (a.is_zero() || b.is_zero()) return {};
  if (Fixed::bits(a.m) + Fixed::bits(b.m) > Fixed::kBits) throw FixedOverflow{};
  return Fixed(a.m * b.m, a.e + b.e);
}
Fixed operator+(const Fixed& a, const Fixed& b) {
  if (a.is_zero()) return b;
  if (b.is_zero()) return a;
  int64_t e;
  const auto [am, bm] = aligned(a, b, e);
  return Fixed(am + bm, e);  // < 2^128: checked against 2^127 by the constructor
}
Fixed operator-(const Fixed& a, const Fixed& b) {  // a >= b (else Dyadic decides)
  if (b.is_zero()) return a;
  int64_t e;
  const auto [am, bm] = aligned(a, b, e);
  if (am < bm) throw FixedOverflow{};
  return Fixed(am - bm, e);
}
Fixed ldexp(const Fixed& a, int64_t k) { return Fixed(a.m, a.e + k); }

// What the routine needs of a number type beyond arithmetic.
template <class N> N grid_value(const Minifloat& g, uint64_t mcode);
template <> Dyadic grid_value<Dyadic>(const Minifloat& g, uint64_t mcode) { return g.magnitude_value(mcode); }
template <> Fixed grid_value<Fixed>(const Minifloat& g, uint64_t mcode) {
  const auto [m, e] = g.magnitude_parts(mcode);
  return Fixed(m, e);
}
template <class N> N small_int(uint64_t v);
template <> Dyadic small_int<Dyadic>(uint64_t v) { return Dyadic(BigInt(v), 0); }
template <> Fixed small_int<Fixed>(uint64_t v) { return Fixed(v, 0); }
Dyadic to_dyadic(const Dyadic& v) { return v; }
Dyadic to_dyadic(const Fixed& v) { return Dyadic(BigInt(v.m), v.e); }
// floor(num / d) when it is at most `limit` (else nullopt), num, d > 0.
std::optional<uint64_t> floor_quotient(const Dyadic& num, const Dyadic& d, uint64_t limit) {
  const int64_t e = std::min(num.e, d.e);
  if (num.e - e > 4096 || d.e - e > 4096) return std::nullopt;
  const BigInt nn = num.m << static_cast<unsigned>(num.e - e), dd = d.m << static_cast<unsigned>(d.e - e);
  const BigInt n = nn / dd;
  if (n > limit) return std::nullopt;
  return n.convert_to<uint64_t>();
}
std::optional<uint64_t> floor_quotient(const Fixed& num, const Fixed& d, uint64_t limit) {
  int64_t e;
  const auto [nn, dd] = aligned(num, d, e);
  const Fixed::U n = nn / dd;
  if (n > limit) return std::nullopt;
  return static_cast<uint64_t>(n);
}

// A candidate for the lower neighbour from the binade of |v| (a speed-up only:
// the caller confirms it with exact comparisons and otherwise searches).
// floor(log2 |v|) is l0 or l0 - 1 with l0 = ilog2(num) - ilog2(den); the code is
// then (e << M) | (floor(|v| / 2^q) - 2^M) with q = max(lg, emin) - M.
template <class N>
std::optional<uint64_t> direct_lower(const Minifloat& g, const N& num, const N& den) {
  if (num.is_zero() || g.zero == ZeroMode::zero_only) return std::nullopt;
  int64_t lg = num.ilog2() - den.ilog2();
  if (compare(num, ldexp(den, lg)) < 0) --lg;
  const int64_t emin = g.has_zero() ? 1 - g.bias : -g.bias;  // exponent of the lowest normal binade
  const int64_t l = std::max(lg, emin);
  const int64_t q = l - g.man_bits;
  // n = floor(|v| / 2^q) = floor(num / (den 2^q)), on aligned integers.
  const auto n = floor_quotient(num, ldexp(den, q), uint64_t(1) << (g.man_bits + 1));
  if (!n) return std::nullopt;
  const uint64_t cnt = *n;
  uint64_t code;
  if (lg < emin) {
    if (!g.has_zero()) return std::nullopt;
    code = cnt;  // subnormal row: f = n
  } else {
    const int64_t efield = l + g.bias;
    if (efield < 0 || cnt < (uint64_t(1) << g.man_bits)) return std::nullopt;
    code = (static_cast<uint64_t>(efield) << g.man_bits) | (cnt - (uint64_t(1) << g.man_bits));
  }
  if (!g.is_valid_magnitude(code)) return std::nullopt;
  return code;
}

// spec/03-rounding.md, section 3.2 ("One routine"). Steps are numbered as
// there. |v| = num / den; N is the number type (the same text for both).
template <class N>
RoundResult round_on(const Minifloat& g, bool neg, const N& num, const N& den, const Rounding& rounding,
                     uint32_t rand_word, OverflowPolicy overflow, SignedZero signed_zero) {
  // cmp(c) = sign(|v| - value(c)), exactly: num vs den * value(c).
  auto cmp = [&](uint64_t mcode) { return compare(num, den * grid_value<N>(g, mcode)); };

  RoundResult res;
  auto finish = [&](uint64_t mag) {
    // 3.6 / 4.5: sign of the result; a zero takes the input's sign under `preserve`.
    bool sign = neg;
    if (g.has_zero() && mag == 0 && signed_zero == SignedZero::positive) sign = false;
    if (!g.is_signed) sign = false;
    res.code = g.encode(sign, mag);
    return res;
  };
  auto finish_code = [&](uint64_t code, Rule rule) {
    res.code = code;
    res.rule = rule;
    return res;
  };

  // Step 1: below the smallest value of a grid without zero: the smallest value.
  if (!g.has_zero() && cmp(0) < 0) {
    res.lo = res.hi = 0;
    res.rule = Rule::clamped_min;
    return finish(0);
  }
  // Step 2: above the largest finite value of a grid without special values.
  const uint64_t maxc = g.max_magnitude_code();
  const bool specials = g.specials != Specials::none;
  if ((overflow == OverflowPolicy::infinity && !g.has_inf()) || (overflow == OverflowPolicy::nan && !g.has_nan()))
    throw Error("overflow = " + to_string(overflow) + " needs a grid with " +
                (overflow == OverflowPolicy::nan ? "a NaN" : "an Inf") + " code; " + g.name() + " has none (3.5)");
  if (cmp(maxc) > 0 && !specials) {
    if (overflow == OverflowPolicy::error)
      throw Error("magnitude " + (num.is_zero() ? std::string("0") : "above the largest value " +
                  g.max_value().to_decimal()) + " of " + g.name() + " (overflow policy error)");
    res.lo = res.hi = maxc;
    res.rule = Rule::saturated;
    return finish(maxc);
  }
  // A grid with special values rounds between its largest finite value and
  // the special position above it (1.6, 3.7); landing there is step 6.
  const uint64_t overc = g.overflow_position();
  // Step 3: neighbours lo <= |v| < hi: the binade formula's candidate when the
  // two exact comparisons that define lo (value(lo) <= |v| < value(next))
  // confirm it, otherwise by binary search over the valid codes.
  uint64_t lo, hi;
  if (cmp(maxc) > 0) {  // specials: between the largest finite value and the special position
    lo = maxc;
    hi = overc;
  } else if (auto guess = direct_lower(g, num, den); guess && cmp(*guess) >= 0 &&
             (*guess == maxc || cmp(g.nth_magnitude(g.index_of_magnitude(*guess) + 1)) < 0)) {
    lo = *guess;
    if (cmp(lo) == 0) {
      res.lo = res.hi = lo;
      res.exact = true;
      res.rule = Rule::exact;
      return finish(lo);
    }
    hi = g.nth_magnitude(g.index_of_magnitude(lo) + 1);
  } else {
    uint64_t a = 0, b = g.valid_magnitude_count() - 1;  // invariant: value(nth(a)) <= |v|
    while (a < b) {
      const uint64_t mid = a + (b - a + 1) / 2;
      if (cmp(g.nth_magnitude(mid)) >= 0) a = mid; else b = mid - 1;
    }
    lo = g.nth_magnitude(a);
    if (cmp(lo) == 0) {
      res.lo = res.hi = lo;
      res.exact = true;
      res.rule = Rule::exact;
      return finish(lo);
    }
    hi = g.nth_magnitude(a + 1);
  }
  res.lo = lo;
  res.hi = hi;
  // Step 4: t = (|v| - lo) / (hi - lo) as an exact fraction A / G.
  const N lov = grid_value<N>(g, lo), hiv = grid_value<N>(g, hi);
  const N A = num - den * lov;
  const N G = den * (hiv - lov);
  const bool beyond = specials && hi == overc && compare(A, G) >= 0;  // |v| at or past the special position: t >= 1
  const int half = beyond ? 1 : compare(ldexp(A, 1), G);       // sign(t - 1/2)
  // Step 5: the decision, one case per mode.
  bool away = false;
  switch (rounding.mode) {
    case RoundingMode::rne:
      if (half != 0) { away = half > 0; res.rule = away ? Rule::nearest_upper : Rule::nearest_lower; }
      else if (!is_odd(lo) && !is_odd(hi)) { away = false; res.rule = Rule::tie_zero; }
      else { away = is_odd(lo); res.rule = Rule::tie_even; }
      break;
    case RoundingMode::rna:
      if (half != 0) { away = half > 0; res.rule = away ? Rule::nearest_upper : Rule::nearest_lower; }
      else { away = true; res.rule = Rule::tie_away; }
      break;
    case RoundingMode::rtz: away = false; res.rule = Rule::toward_zero; break;
    case RoundingMode::rup: away = !neg; res.rule = away ? Rule::away_directed : Rule::toward_zero; break;
    case RoundingMode::rdn: away = neg; res.rule = away ? Rule::away_directed : Rule::toward_zero; break;
    case RoundingMode::rto:
      // Inexact: the neighbour whose code ends in 1; the non-zero one (hi) when neither does.
      away = !is_odd(lo);
      res.rule = Rule::odd;
      break;
    case RoundingMode::sr: {
      // 3.4: away iff t + r/2^R >= 1, r = the R most significant bits of the word.
      const int R = rounding.sr_bits;
      res.r = sr_r(rand_word, R);
      away = beyond || compare(ldexp(A, R) + G * small_int<N>(res.r), ldexp(G, R)) >= 0;
      res.rule = away ? Rule::sr_away : Rule::sr_keep;
      break;
    }
  }
  res.t_num = to_dyadic(A);
  res.t_den = to_dyadic(G);
  res.away = away;
  uint64_t mag = away ? hi : lo;
  // Step 6: landing on the special position above the largest finite value
  // is an overflow, decided by the policy (3.5).
  if (specials && mag == overc) {
    switch (overflow) {
      case OverflowPolicy::error:
        throw Error("value rounds above the largest finite value of " + g.name() + " (overflow policy error)");
      case OverflowPolicy::saturate: mag = maxc; res.rule = Rule::saturated; break;
      case OverflowPolicy::infinity: return finish_code(g.inf_code(neg), Rule::overflow_inf);
      case OverflowPolicy::nan: return finish_code(g.nan_code(neg), Rule::overflow_nan);
    }
  }
  return finish(mag);
}
}  // namespace

RoundResult round_to_grid(const Minifloat& g, const RoundInput& v, const Rounding& rounding, uint32_t rand_word,
                          OverflowPolicy overflow, SignedZero signed_zero, ExactEngine engine) {
  if (v.num.sign() < 0 || v.den.sign() <= 0) throw Error("round_to_grid: |v| must be num/den with num >= 0, den > 0");
  if (v.negative && !g.is_signed && !v.num.is_zero())
    throw Error("a negative value cannot be rounded to the unsigned format " + g.name());
  rounding.validate();
  if (engine == ExactEngine::automatic) {
    try {
      return round_on(g, v.negative, Fixed::from(v.num), Fixed::from(v.den), rounding, rand_word, overflow, signed_zero);
    } catch (const FixedOverflow&) {
      // a bound failed: the same steps on unbounded integers below
    }
  }
  return round_on(g, v.negative, v.num, v.den, rounding, rand_word, overflow, signed_zero);
}

uint32_t round_to_fp32_bits(const Dyadic& v, RoundingMode mode, OverflowPolicy overflow) {
  const RoundResult r = round_to_grid(Minifloat::binary32(), RoundInput{v.sign() < 0, v.abs(), Dyadic::from_int(1)},
                                      Rounding{mode, 8}, 0, overflow);
  return static_cast<uint32_t>(r.code);
}

float round_to_fp32(const Dyadic& v) {
  const uint32_t bits = round_to_fp32_bits(v, RoundingMode::rne, OverflowPolicy::infinity);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

double round_to_fp64(const Dyadic& v) {
  if (auto d = v.to_double_exact()) return *d;
  const RoundResult r = round_to_grid(Minifloat::binary64(), RoundInput{v.sign() < 0, v.abs(), Dyadic::from_int(1)},
                                      Rounding{}, 0, OverflowPolicy::infinity);
  double d;
  std::memcpy(&d, &r.code, 8);
  return d;
}

uint32_t sr_r(uint32_t word, int R) { return R >= 32 ? word : word >> (32 - R); }

uint32_t sr_word(uint64_t r, int R, uint32_t low) {
  if (R >= 32) return static_cast<uint32_t>(r);
  return static_cast<uint32_t>(r << (32 - R)) | (low & ((uint32_t(1) << (32 - R)) - 1));
}

// 3.4: away iff t + r/2^R >= 1 iff r >= 2^R (1 - t): the smallest such r is
// ceil(2^R (t_den - t_num) / t_den).
uint64_t sr_threshold(const Dyadic& t_num, const Dyadic& t_den, int R) {
  const Dyadic num = ldexp(t_den - t_num, R);
  if (num.sign() <= 0) return 0;
  const int64_t e = std::min(num.e, t_den.e);
  const BigInt a = num.m << static_cast<unsigned>(num.e - e), b = t_den.m << static_cast<unsigned>(t_den.e - e);
  BigInt q = a / b;
  if (q * b < a) q += 1;
  return q.convert_to<uint64_t>();
}

RoundResult round_fp32_input(const Minifloat& g, uint32_t x_bits, const Dyadic& scale, const Rounding& rounding,
                             uint32_t rand_word, OverflowPolicy overflow, SignedZero signed_zero, ExactEngine engine) {
  const bool neg = (x_bits >> 31) != 0;
  const bool nonfinite = (x_bits & 0x7f800000u) == 0x7f800000u;
  if (!nonfinite) {
    const Dyadic ax = Dyadic::from_float(bits_float(x_bits & 0x7fffffffu));
    return round_to_grid(g, RoundInput{neg, ax, scale}, rounding, rand_word, overflow, signed_zero, engine);
  }
  // 3.10: NaN gives the grid's NaN (the input's sign); Inf gives the grid's
  // Inf of its sign when the overflow policy is infinity, NaN when it is nan,
  // the largest finite value under saturate; every other case is an error.
  RoundResult res;
  const bool is_nan = (x_bits & 0x007fffffu) != 0;
  if (is_nan) {
    if (!g.has_nan()) throw Error("the input is NaN and " + g.name() + " has no NaN code (3.10)");
    res.code = g.nan_code(neg);
    res.rule = Rule::nan_input;
    return res;
  }
  res.rule = Rule::inf_input;
  switch (overflow) {
    case OverflowPolicy::infinity:
      if (!g.has_inf()) break;
      res.code = g.inf_code(neg);
      return res;
    case OverflowPolicy::nan:
      if (!g.has_nan()) break;
      res.code = g.nan_code(neg);
      return res;
    case OverflowPolicy::saturate:
      if (neg && !g.is_signed) break;
      res.lo = res.hi = g.max_magnitude_code();
      res.code = g.encode(neg, res.lo);
      return res;
    case OverflowPolicy::error: break;
  }
  throw Error(std::string("the input is ") + (neg ? "-" : "+") + "Inf and cannot be rounded to " + g.name() +
              " under overflow = " + to_string(overflow) + " (3.10)");
}

BigInt round_to_integer(const BigInt& v, int64_t k, RoundingMode mode) {
  // The fixed-point grid f * 2^0 (E = 0, b = 1 - M) wide enough for |v| 2^-k.
  const BigInt mag = boost::multiprecision::abs(v);
  const int64_t bits = mag.is_zero() ? 0 : static_cast<int64_t>(boost::multiprecision::msb(mag)) + 1;
  const int M = static_cast<int>(std::max<int64_t>(1, bits - k + 2));
  if (M > 62) throw Error("round_to_integer: value too wide for a 63-bit grid");
  const Minifloat grid{true, 0, M, 1 - M, ZeroMode::subnormal, Specials::none, Encoding::sign_magnitude};
  const RoundResult r = round_to_grid(grid, RoundInput{v.sign() < 0, Dyadic(mag, -k), Dyadic::from_int(1)},
                                      Rounding{mode, 8}, 0, OverflowPolicy::error);
  const auto [neg, m] = grid.split(r.code);
  return neg ? BigInt(-BigInt(m)) : BigInt(m);
}

RoundingMode rounding_mode_from_string(const std::string& s, const std::string& field) {
  return enum_from_name<RoundingMode>(s, field);
}

std::string describe(Rule r) { return std::string(enum_help(r)); }

}  // namespace mls
