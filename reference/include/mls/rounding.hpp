// The one rounding routine (spec/03-rounding.md). Every rounding in the golden
// model -- elements, group scales, the fp32 tensor scale, fp32/fp64 outputs,
// the accumulator alignment of 6.9.1 (a fixed-point grid) -- goes through
// round_to_grid, fed an exact value and a grid.
#pragma once
#include <cstdint>
#include <string>

#include "mls/dyadic.hpp"
#include "mls/enums.hpp"
#include "mls/minifloat.hpp"

namespace mls {

enum class RoundingMode { rne, rna, rtz, rup, rdn, rto, sr };
template <>
struct EnumTable<RoundingMode> {
  static constexpr std::string_view what = "rounding mode";
  static constexpr std::array<EnumEntry<RoundingMode>, 7> entries{{
      {RoundingMode::rne, "rne", 0, "nearest, ties to the neighbour whose code ends in 0 (3.3)"},
      {RoundingMode::rna, "rna", 1, "nearest, ties away from zero (3.3)"},
      {RoundingMode::rtz, "rtz", 2, "toward zero (3.3)"},
      {RoundingMode::rup, "rup", 3, "toward +infinity (3.3)"},
      {RoundingMode::rdn, "rdn", 4, "toward -infinity (3.3)"},
      {RoundingMode::rto, "rto", 5, "round to odd: an inexact result takes the neighbour whose code ends in 1 (3.3)"},
      {RoundingMode::sr, "sr", 6, "stochastic with R random bits: away iff t + r/2^R >= 1 (3.4)"},
  }};
};

struct Rounding {
  RoundingMode mode = RoundingMode::rne;
  int sr_bits = 8;  // R, 1..32; only used by sr
  friend bool operator==(const Rounding&, const Rounding&) = default;
  void validate() const;  // throws mls::Error naming "rounding.bits"
};

// 3.5: what happens to a magnitude above the largest finite grid value.
enum class OverflowPolicy { saturate, error, infinity, nan };
template <>
struct EnumTable<OverflowPolicy> {
  static constexpr std::string_view what = "overflow policy";
  static constexpr std::array<EnumEntry<OverflowPolicy>, 4> entries{{
      {OverflowPolicy::saturate, "saturate", 0, "the largest finite value, whatever the mode (3.5)"},
      {OverflowPolicy::error, "error", 1, "an input error (3.5)"},
      {OverflowPolicy::infinity, "infinity", 2, "IEEE 754 overflow: values that round past the largest finite value are Inf (ieee grids)"},
      {OverflowPolicy::nan, "nan", 3, "values that round past the largest finite value are NaN (grids with a NaN code)"},
  }};
};

// 3.6: sign of a zero result: the sign of the input, or always +0.
enum class SignedZero { preserve, positive };
template <>
struct EnumTable<SignedZero> {
  static constexpr std::string_view what = "signed-zero policy";
  static constexpr std::array<EnumEntry<SignedZero>, 2> entries{{
      {SignedZero::preserve, "preserve", 0, "a zero result keeps the sign of its input (3.6)"},
      {SignedZero::positive, "positive", 1, "a zero result is +0 (3.6)"},
  }};
};

// The rule that decided a rounding, for `mls explain`, diagnoses and the
// info/rule column of vector files (the code).
enum class Rule {
  exact, nearest_lower, nearest_upper, tie_even, tie_zero, tie_away, toward_zero, away_directed, odd, sr_away,
  sr_keep, saturated, clamped_min, overflow_inf, overflow_nan, nan_input, inf_input
};
template <>
struct EnumTable<Rule> {
  static constexpr std::string_view what = "decision rule";
  static constexpr std::array<EnumEntry<Rule>, 17> entries{{
      {Rule::exact, "exact", 0, "the value is on the grid: no rounding (3.2 step 3)"},
      {Rule::nearest_lower, "nearest_lower", 1, "t < 1/2: the nearer neighbour is the lower one"},
      {Rule::nearest_upper, "nearest_upper", 2, "t > 1/2: the nearer neighbour is the upper one"},
      {Rule::tie_even, "tie_even", 3, "t = 1/2: tie goes to the neighbour whose code ends in 0 (rne)"},
      {Rule::tie_zero, "tie_zero", 4, "t = 1/2 and both codes end in 0: tie goes to zero (rne, zero_only gap)"},
      {Rule::tie_away, "tie_away", 5, "t = 1/2: tie goes away from zero (rna)"},
      {Rule::toward_zero, "toward_zero", 6, "directed rounding toward zero"},
      {Rule::away_directed, "away_directed", 7, "directed rounding away from zero"},
      {Rule::odd, "odd", 8, "inexact: the neighbour whose code ends in 1 (rto)"},
      {Rule::sr_away, "sr_away", 9, "t + r/2^R >= 1: rounds away from zero (sr)"},
      {Rule::sr_keep, "sr_keep", 10, "t + r/2^R < 1: rounds toward zero (sr)"},
      {Rule::saturated, "saturated", 11, "magnitude above the largest value: saturated (3.5)"},
      {Rule::clamped_min, "clamped_min", 12, "below the smallest value of a format without zero: the smallest value (3.5)"},
      {Rule::overflow_inf, "overflow_inf", 13, "rounded past the largest finite value: infinity (IEEE overflow, 3.5)"},
      {Rule::overflow_nan, "overflow_nan", 14, "rounded past the largest finite value: NaN (overflow = nan, 3.5)"},
      {Rule::nan_input, "nan_input", 15, "the input is NaN: the grid's NaN (3.10)"},
      {Rule::inf_input, "inf_input", 16, "the input is infinite (3.10)"},
  }};
};

// Which engine computes exact values. Both give identical results (3.2, 6.16);
// `generic` is the plain Dyadic (unbounded integer) arithmetic, `automatic`
// uses fixed-width integers while a check on every operation proves they
// cannot overflow, and redoes the work on Dyadic when one fails.
enum class ExactEngine { automatic, generic };

struct RoundInput {
  bool negative = false;  // sign of v (also for v = -0)
  Dyadic num;             // |v| = num / den, num >= 0
  Dyadic den = Dyadic::from_int(1);  // den > 0
};

struct RoundResult {
  uint64_t code = 0;      // full code including the sign bit
  uint64_t lo = 0, hi = 0;  // neighbouring magnitude codes, lo <= |v| < hi (lo == hi if exact)
  bool exact = false;
  bool away = false;      // the result is hi
  Rule rule = Rule::exact;
  Dyadic t_num, t_den;    // t = (|v| - lo) / (hi - lo) = t_num / t_den (both 0 if exact)
  uint32_t r = 0;         // sr: the R random bits used
};

RoundResult round_to_grid(const Minifloat& grid, const RoundInput& v, const Rounding& rounding, uint32_t rand_word,
                          OverflowPolicy overflow = OverflowPolicy::saturate,
                          SignedZero signed_zero = SignedZero::preserve, ExactEngine engine = ExactEngine::automatic);

// 3.10: an fp32 input (bit pattern) divided by a positive scale and rounded;
// NaN and Inf inputs are decided here, finite ones by round_to_grid.
RoundResult round_fp32_input(const Minifloat& grid, uint32_t x_bits, const Dyadic& scale, const Rounding& rounding,
                             uint32_t rand_word, OverflowPolicy overflow, SignedZero signed_zero,
                             ExactEngine engine = ExactEngine::automatic);

// 3.4 in pieces, for generators, diagnoses and tests: the R random bits of a
// word, the smallest r that rounds away for t = t_num / t_den (2^R when none
// does), and a word whose top R bits are r (its low bits taken from `low`).
uint32_t sr_r(uint32_t word, int R);
uint64_t sr_threshold(const Dyadic& t_num, const Dyadic& t_den, int R);
uint32_t sr_word(uint64_t r, int R, uint32_t low = 0);

// Convenience wrappers on the same routine.
uint32_t round_to_fp32_bits(const Dyadic& v, RoundingMode mode, OverflowPolicy overflow);  // rne/rup/... to binary32
float round_to_fp32(const Dyadic& v);    // nearest even, overflow to Inf (IEEE)
double round_to_fp64(const Dyadic& v);   // nearest even, overflow to Inf (IEEE)
// 6.9.1: the integer v * 2^-k (k > 0) rounded under `mode` (rtz rdn rup rne
// rna): round_to_grid on the fixed-point grid E0, M = bit length, b = 0.
BigInt round_to_integer(const BigInt& v, int64_t k, RoundingMode mode);

std::string describe(Rule r);  // one-line reason quoting the spec rule
RoundingMode rounding_mode_from_string(const std::string& s, const std::string& field = "rounding.mode");

}  // namespace mls
