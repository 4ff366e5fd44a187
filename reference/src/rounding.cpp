#include "mls/rounding.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "mls/error.hpp"

namespace mls {

void Rounding::validate() const {
  if (mode == RoundingMode::sr && (sr_bits < 1 || sr_bits > 32))
    throw Error("rounding.bits = " + std::to_string(sr_bits) + " is outside 1..32");
}

namespace {
bool is_odd(uint64_t c) { return (c & 1) != 0; }

// A candidate for the lower neighbour from the binade of |v| (a speed-up only:
// the caller confirms it with exact comparisons and otherwise searches).
// floor(log2 |v|) is l0 or l0 - 1 with l0 = ilog2(num) - ilog2(den); the code is
// then (e << M) | (floor(|v| / 2^q) - 2^M) with q = max(lg, emin) - M.
std::optional<uint64_t> direct_lower(const Minifloat& g, const RoundInput& v) {
  if (v.num.is_zero() || g.zero == ZeroMode::zero_only) return std::nullopt;
  int64_t lg = v.num.ilog2() - v.den.ilog2();
  if (compare(v.num, v.den * Dyadic::pow2(lg)) < 0) --lg;
  const int64_t emin = g.has_zero() ? 1 - g.bias : -g.bias;  // exponent of the lowest normal binade
  const int64_t l = std::max(lg, emin);
  const int64_t q = l - g.man_bits;
  // n = floor(|v| / 2^q) = floor(num / (den 2^q)), on aligned integers.
  const Dyadic d = v.den * Dyadic::pow2(q);
  const int64_t e = std::min(v.num.e, d.e);
  if (v.num.e - e > 4096 || d.e - e > 4096) return std::nullopt;
  const BigInt nn = v.num.m << static_cast<unsigned>(v.num.e - e), dd = d.m << static_cast<unsigned>(d.e - e);
  const BigInt n = nn / dd;
  if (n > (BigInt(1) << (g.man_bits + 1))) return std::nullopt;
  const uint64_t cnt = n.convert_to<uint64_t>();
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
}  // namespace

// spec/03-rounding.md, section 3.2 ("One routine"). Steps are numbered as there.
RoundResult round_to_grid(const Minifloat& g, const RoundInput& v, const Rounding& rounding, uint32_t rand_word,
                          OverflowPolicy overflow, SignedZero signed_zero) {
  if (v.num.sign() < 0 || v.den.sign() <= 0) throw Error("round_to_grid: |v| must be num/den with num >= 0, den > 0");
  if (v.negative && !g.is_signed && !v.num.is_zero())
    throw Error("a negative value cannot be rounded to the unsigned format " + g.name());
  rounding.validate();
  const bool neg = v.negative;
  // cmp(c) = sign(|v| - value(c)), exactly: num vs den * value(c).
  auto cmp = [&](uint64_t mcode) { return compare(v.num, v.den * g.magnitude_value(mcode)); };

  RoundResult res;
  auto finish = [&](uint64_t mag) {
    // 3.6 / 4.5: sign of the result; a zero takes the input's sign under `preserve`.
    bool sign = neg;
    if (g.has_zero() && mag == 0 && signed_zero == SignedZero::positive) sign = false;
    if (!g.is_signed) sign = false;
    res.code = mag | (sign ? g.sign_bit() : 0);
    return res;
  };

  // Step 1: below the smallest value of a grid without zero: the smallest value.
  if (!g.has_zero() && cmp(0) < 0) {
    res.lo = res.hi = 0;
    res.rule = Rule::clamped_min;
    return finish(0);
  }
  // Step 2: above the largest finite value.
  const uint64_t maxc = g.max_magnitude_code();
  const bool ieee = g.nonfinite == NonFinite::ieee;
  const uint64_t infc = ieee ? ((uint64_t(1) << g.exp_bits) - 1) << g.man_bits : 0;
  if (cmp(maxc) > 0 && !ieee) {
    if (overflow == OverflowPolicy::error)
      throw Error("magnitude " + (v.num.is_zero() ? std::string("0") : "above the largest value " +
                  g.max_value().to_decimal()) + " of " + g.name() + " (overflow policy error)");
    res.lo = res.hi = maxc;
    res.rule = Rule::saturated;
    return finish(maxc);
  }
  // Step 3: neighbours lo <= |v| < hi by binary search over the valid codes.
  uint64_t lo, hi;
  if (cmp(maxc) > 0) {  // ieee: between the largest finite value and the Inf position
    lo = maxc;
    hi = infc;
  } else if (auto guess = direct_lower(g, v); guess && cmp(*guess) >= 0 &&
             (*guess == maxc || cmp(g.nth_magnitude(g.index_of_magnitude(*guess) + 1)) < 0)) {
    // The binade formula's candidate, confirmed by the two exact comparisons
    // that define lo (value(lo) <= |v| < value(next)): same result as the search.
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
  const Dyadic lov = g.magnitude_value(lo), hiv = g.magnitude_value(hi);
  const Dyadic A = v.num - v.den * lov;
  const Dyadic G = v.den * (hiv - lov);
  res.t_num = A;
  res.t_den = G;
  const bool beyond = ieee && hi == infc && compare(A, G) >= 0;  // |v| at or past the Inf position: t >= 1
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
      res.r = R == 32 ? rand_word : rand_word >> (32 - R);
      away = beyond || compare(ldexp(A, R) + G * Dyadic::from_int(res.r), ldexp(G, R)) >= 0;
      res.rule = away ? Rule::sr_away : Rule::sr_keep;
      break;
    }
  }
  res.away = away;
  uint64_t mag = away ? hi : lo;
  // Step 6: rounding to the Inf position of an ieee grid is an overflow.
  if (ieee && mag == infc) {
    if (overflow == OverflowPolicy::error)
      throw Error("value rounds above the largest finite value of " + g.name() + " (overflow policy error)");
    if (overflow == OverflowPolicy::saturate) { mag = maxc; res.rule = Rule::saturated; }
    else res.rule = Rule::overflow_inf;
  }
  return finish(mag);
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

std::string to_string(RoundingMode m) {
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

RoundingMode rounding_mode_from_string(const std::string& s, const std::string& field) {
  for (auto m : {RoundingMode::rne, RoundingMode::rna, RoundingMode::rtz, RoundingMode::rup, RoundingMode::rdn,
                 RoundingMode::rto, RoundingMode::sr})
    if (to_string(m) == s) return m;
  throw Error(field + " = \"" + s + "\" is not one of rne, rna, rtz, rup, rdn, rto, sr");
}

std::string to_string(Rule r) {
  switch (r) {
    case Rule::exact: return "exact";
    case Rule::nearest_lower: return "nearest_lower";
    case Rule::nearest_upper: return "nearest_upper";
    case Rule::tie_even: return "tie_even";
    case Rule::tie_zero: return "tie_zero";
    case Rule::tie_away: return "tie_away";
    case Rule::toward_zero: return "toward_zero";
    case Rule::away_directed: return "away_directed";
    case Rule::odd: return "odd";
    case Rule::sr_away: return "sr_away";
    case Rule::sr_keep: return "sr_keep";
    case Rule::saturated: return "saturated";
    case Rule::clamped_min: return "clamped_min";
    case Rule::overflow_inf: return "overflow_inf";
  }
  return "?";
}

std::string describe(Rule r) {
  switch (r) {
    case Rule::exact: return "the value is on the grid: no rounding (3.2 step 3)";
    case Rule::nearest_lower: return "t < 1/2: the nearer neighbour is the lower one";
    case Rule::nearest_upper: return "t > 1/2: the nearer neighbour is the upper one";
    case Rule::tie_even: return "t = 1/2: tie goes to the neighbour whose code ends in 0 (rne)";
    case Rule::tie_zero: return "t = 1/2 and both codes end in 0: tie goes to zero (rne, zero_only gap)";
    case Rule::tie_away: return "t = 1/2: tie goes away from zero (rna)";
    case Rule::toward_zero: return "directed rounding toward zero";
    case Rule::away_directed: return "directed rounding away from zero";
    case Rule::odd: return "inexact: the neighbour whose code ends in 1 (rto)";
    case Rule::sr_away: return "t + r/2^R >= 1: rounds away from zero (sr)";
    case Rule::sr_keep: return "t + r/2^R < 1: rounds toward zero (sr)";
    case Rule::saturated: return "magnitude above the largest value: saturated (3.5)";
    case Rule::clamped_min: return "below the smallest value of a format without zero: the smallest value (3.5)";
    case Rule::overflow_inf: return "rounded past the largest finite value: infinity (IEEE overflow)";
  }
  return "?";
}

std::string to_string(OverflowPolicy p) {
  switch (p) {
    case OverflowPolicy::saturate: return "saturate";
    case OverflowPolicy::error: return "error";
    case OverflowPolicy::infinity: return "infinity";
  }
  return "?";
}
OverflowPolicy overflow_from_string(const std::string& s, const std::string& field) {
  if (s == "saturate") return OverflowPolicy::saturate;
  if (s == "error") return OverflowPolicy::error;
  throw Error(field + " = \"" + s + "\" is not one of saturate, error");
}
std::string to_string(SignedZero z) { return z == SignedZero::preserve ? "preserve" : "positive"; }
SignedZero signed_zero_from_string(const std::string& s, const std::string& field) {
  if (s == "preserve") return SignedZero::preserve;
  if (s == "positive") return SignedZero::positive;
  throw Error(field + " = \"" + s + "\" is not one of preserve, positive");
}

}  // namespace mls
