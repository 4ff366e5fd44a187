// The one rounding routine (spec/03-rounding.md). Every rounding in the golden
// model -- elements, group scales, the fp32 tensor scale, fp32/fp64 outputs --
// goes through round_to_grid, fed an exact value and a grid.
#pragma once
#include <cstdint>
#include <string>

#include "mls/dyadic.hpp"
#include "mls/minifloat.hpp"

namespace mls {

enum class RoundingMode { rne, rna, rtz, rup, rdn, rto, sr };

struct Rounding {
  RoundingMode mode = RoundingMode::rne;
  int sr_bits = 8;  // R, 1..32; only used by sr
  friend bool operator==(const Rounding&, const Rounding&) = default;
  void validate() const;  // throws mls::Error naming "rounding.bits"
};

// What happens to a magnitude above the largest finite grid value (3.5).
enum class OverflowPolicy { saturate, error, infinity };
// Sign of a zero result (4.5): the sign of the input, or always +0.
enum class SignedZero { preserve, positive };

// The rule that decided a rounding, for `mls explain` and diagnoses.
enum class Rule {
  exact,            // |v| is on the grid
  nearest_lower,    // nearest: t < 1/2
  nearest_upper,    // nearest: t > 1/2
  tie_even,         // rne tie: the neighbour whose code ends in 0
  tie_zero,         // rne tie where both codes end in 0: to zero
  tie_away,         // rna tie: away from zero
  toward_zero,      // rtz, or rup/rdn on the side that goes toward zero
  away_directed,    // rup/rdn on the side that goes away from zero
  odd,              // rto: the neighbour whose code ends in 1
  sr_away,          // sr: t + r/2^R >= 1
  sr_keep,          // sr: t + r/2^R < 1
  saturated,        // magnitude above the largest value, saturated
  clamped_min,      // below the smallest value of a grid without zero
  overflow_inf      // ieee grid: rounded past the largest finite value
};

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
                          SignedZero signed_zero = SignedZero::preserve);

// Convenience wrappers on the same routine.
uint32_t round_to_fp32_bits(const Dyadic& v, RoundingMode mode, OverflowPolicy overflow);  // rne/rup/... to binary32
float round_to_fp32(const Dyadic& v);    // nearest even, overflow to Inf (IEEE)
double round_to_fp64(const Dyadic& v);   // nearest even, overflow to Inf (IEEE)

std::string to_string(RoundingMode m);
RoundingMode rounding_mode_from_string(const std::string& s, const std::string& field = "rounding.mode");
std::string to_string(Rule r);
std::string describe(Rule r);  // one-line reason quoting the spec rule
std::string to_string(OverflowPolicy p);
OverflowPolicy overflow_from_string(const std::string& s, const std::string& field);
std::string to_string(SignedZero z);
SignedZero signed_zero_from_string(const std::string& s, const std::string& field);

}  // namespace mls
