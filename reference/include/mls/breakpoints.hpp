// Breakpoint tables (spec/11-exhaustive.md): the whole truth table of a cast
// to an element grid -- or of the element stage of a quantizer -- over all
// 2^32 fp32 inputs, as the short sorted list of input bit patterns where the
// outcome changes. For a fixed grid, rounding mode, scale, policies and (sr)
// random word, the outcome is a monotone step function of |x| within each
// sign (11.2), so the list is found exactly by bisection over bit patterns
// with the golden model (round_fp32_input / quantize_element); nothing is
// guessed in floating point.
#pragma once
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mls/dyadic.hpp"
#include "mls/minifloat.hpp"
#include "mls/rounding.hpp"
#include "mls/tensor.hpp"

namespace mls {

// 11.1: what one table describes. The outcome of input x is
//   arith = exact:  round_fp32_input(element, x, scale, rounding, word, overflow, signed_zero)   (3.10)
//   otherwise:      quantize_element of a format with this element and these policies (4.12)
struct BreakpointSpec {
  Minifloat element = Minifloat::element(2, 1);
  Rounding rounding;
  OverflowPolicy overflow = OverflowPolicy::saturate;
  SignedZero signed_zero = SignedZero::preserve;
  Dyadic scale = Dyadic::from_int(1);  // S = S_t * S_g (or 1 for a plain cast); > 0
  uint32_t word = 0;                   // the one random word of every input (sr only; 0 otherwise)
  QuantArith arith = QuantArith::exact;

  friend bool operator==(const BreakpointSpec&, const BreakpointSpec&) = default;
  // Throws mls::Error naming the field: the grid (1.9), the rounding, a
  // positive scale whose normalised mantissa fits int64 and exponent int32
  // (the C ABI's cast), a word of 0 unless sr, a policy the grid can take.
  void validate() const;
  // The canonical JSON (11.5): every field spelled out, keys sorted.
  nlohmann::json to_json() const;
  static BreakpointSpec from_json(const nlohmann::json& j);  // strict: unknown or missing members are errors
  std::string label() const;  // "e2m1 rne scale 1", "fp8 e4m3b7n sr8 word 0x80000000 scale 2^-3"
};

// The status of an outcome: the C ABI's MLS_OK / MLS_ERR_INPUT values (and
// the outputs/status codes of vector files, 8.4).
inline constexpr uint8_t kBreakpointOk = 0;
inline constexpr uint8_t kBreakpointError = 1;  // the spec makes this input an error (3.5, 3.10)

struct BreakpointOutcome {
  uint32_t code = 0;   // the element code (0 when status is an error)
  uint8_t status = kBreakpointOk;
  friend bool operator==(const BreakpointOutcome&, const BreakpointOutcome&) = default;
};

// The golden outcome of one input: the formula of BreakpointSpec, an
// mls::Error becoming status kBreakpointError.
BreakpointOutcome breakpoint_outcome(const BreakpointSpec& spec, uint32_t x_bits);

// One interval [start, next start - 1] of fp32 bit patterns with one outcome.
struct BreakpointEntry {
  uint32_t start = 0;
  BreakpointOutcome outcome;
  friend bool operator==(const BreakpointEntry&, const BreakpointEntry&) = default;
};

// 11.3: the input classes the table always separates (their first bit
// patterns are always entry starts, whatever the outcomes).
enum class InputClass { zero, subnormal, normal, inf, nan };
template <>
struct EnumTable<InputClass> {
  static constexpr std::string_view what = "fp32 input class";
  static constexpr std::array<EnumEntry<InputClass>, 5> entries{{
      {InputClass::zero, "zero", 0, "+0 or -0 (0x00000000, 0x80000000)"},
      {InputClass::subnormal, "subnormal", 1, "magnitude 0x00000001..0x007fffff"},
      {InputClass::normal, "normal", 2, "magnitude 0x00800000..0x7f7fffff"},
      {InputClass::inf, "inf", 3, "magnitude 0x7f800000"},
      {InputClass::nan, "nan", 4, "magnitude 0x7f800001..0x7fffffff (every payload)"},
  }};
};
InputClass input_class(uint32_t x_bits);
// The first bit pattern of every class, both signs, in increasing order:
// 0x00000000, 0x00000001, 0x00800000, 0x7f800000, 0x7f800001, 0x80000000, ...
const std::array<uint32_t, 10>& class_starts();

struct BreakpointTable {
  BreakpointSpec spec;
  // Sorted by start; entries[0].start = 0; entry k covers [start_k, start_{k+1} - 1],
  // the last one up to 0xffffffff. Adjacent entries differ in outcome or
  // start a class (class_starts()). Together they cover every fp32 bit pattern once.
  std::vector<BreakpointEntry> entries;

  // The entry holding x (binary search) and its outcome.
  size_t find(uint32_t x_bits) const;
  const BreakpointOutcome& lookup(uint32_t x_bits) const { return entries[find(x_bits)].outcome; }
  uint32_t last(size_t k) const { return k + 1 < entries.size() ? entries[k + 1].start - 1 : 0xffffffffu; }
  // Structure only (11.3): sorted, starting at 0, every class start present,
  // no two adjacent entries with the same outcome inside a class, statuses
  // 0 or 1, codes of the grid. Throws mls::Error naming the entry.
  void check_structure() const;
};

// Options of the computation (limits only; the result does not depend on them).
struct BreakpointOptions {
  // Refuse grids with more valid magnitudes than this: the table has at
  // most ~2 entries per magnitude and sign (E8M7 has 32640).
  uint64_t max_magnitudes = uint64_t(1) << 16;
};

// 11.4: the table of `spec`, by bisection over the bit patterns of each
// class with breakpoint_outcome(). Throws mls::Error for an invalid spec.
BreakpointTable compute_breakpoints(const BreakpointSpec& spec, const BreakpointOptions& options = {});

// The first entry where two tables differ, or -1 when they are equal
// (used to check that a table matches the spec it claims, 11.6).
int64_t first_difference(const BreakpointTable& a, const BreakpointTable& b);

}  // namespace mls
