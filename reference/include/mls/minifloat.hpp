// Minifloat descriptor (spec/01-minifloat.md): one runtime struct describes
// every grid of the family -- element formats (MLS E2M1, OCP E4M3/E5M2/FP6/FP4,
// INT8), group-scale formats (MLS g4m1, OCP E8M0, NVFP4's E4M3) and, for the
// final roundings, IEEE binary32/binary64 themselves.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "mls/dyadic.hpp"
#include "mls/enums.hpp"

namespace mls {

// 1.5: what exponent field 0 encodes.
enum class ZeroMode { subnormal, zero_only, none };
template <>
struct EnumTable<ZeroMode> {
  static constexpr std::string_view what = "zero mode";
  static constexpr std::array<EnumEntry<ZeroMode>, 3> entries{{
      {ZeroMode::subnormal, "subnormal", 0, "exponent field 0 holds zero and the subnormals"},
      {ZeroMode::zero_only, "zero_only", 1, "exponent field 0 holds only zero (f = 0); other codes are invalid"},
      {ZeroMode::none, "none", 2, "exponent field 0 is an ordinary binade; there is no zero"},
  }};
};

// 1.6: special values.
enum class Specials { none, ieee, nan_all_ones };
template <>
struct EnumTable<Specials> {
  static constexpr std::string_view what = "special-value encoding";
  static constexpr std::array<EnumEntry<Specials>, 3> entries{{
      {Specials::none, "none", 0, "every code is finite (MLS, FP6, FP4, INT8)"},
      {Specials::ieee, "ieee", 1, "exponent field all ones: Inf (f = 0) and NaN (f != 0) (E5M2, binary32)"},
      {Specials::nan_all_ones, "nan_all_ones", 2,
       "the all-ones magnitude is NaN, one per sign; no Inf (OCP E4M3, E8M0's 0xff)"},
  }};
};

// 1.2: how sign and magnitude make a code.
enum class Encoding { sign_magnitude, twos_complement };
template <>
struct EnumTable<Encoding> {
  static constexpr std::string_view what = "code encoding";
  static constexpr std::array<EnumEntry<Encoding>, 2> entries{{
      {Encoding::sign_magnitude, "sign_magnitude", 0, "sign bit, exponent field, mantissa field"},
      {Encoding::twos_complement, "twos_complement", 1,
       "E = 0 only: the code is a two's complement integer times 2^(1-b-M) (OCP INT8)"},
  }};
};

// Where a descriptor is used: selects the validation ranges of 1.9. `cast`:
// the target grid of a cast (3.10, the protocol's round op): any grid valid
// as an element format or as a group-scale format (e.g. OCP's E8M0 scale
// grid: unsigned, no zero); JSON and name defaults are the element's.
enum class GridRole { element, group_scale, any, cast };

struct Minifloat {
  bool is_signed = true;
  int exp_bits = 2;   // E
  int man_bits = 1;   // M
  int bias = 3;       // b
  ZeroMode zero = ZeroMode::subnormal;
  Specials specials = Specials::none;
  Encoding encoding = Encoding::sign_magnitude;

  friend bool operator==(const Minifloat&, const Minifloat&) = default;

  static int default_bias(int exp_bits) { return exp_bits <= 0 || exp_bits > 30 ? 0 : (1 << exp_bits) - 1; }
  static Minifloat element(int e, int m);        // signed, default bias, subnormals
  static Minifloat group_scale(int e, int m);    // unsigned, bias 2^E-1, zero = none
  static Minifloat binary32();
  static Minifloat binary64();

  // Throws mls::Error naming the field ("exp_bits", "man_bits", "bias", ...),
  // prefixed "element." / "group_scale." for those roles (1.9).
  void validate(GridRole role = GridRole::any) const;

  int total_bits() const { return (is_signed ? 1 : 0) + exp_bits + man_bits; }
  uint64_t code_count() const { return uint64_t(1) << total_bits(); }
  uint64_t magnitude_code_count() const { return uint64_t(1) << (exp_bits + man_bits); }
  uint64_t sign_bit() const { return is_signed ? uint64_t(1) << (exp_bits + man_bits) : 0; }
  bool twos_complement() const { return encoding == Encoding::twos_complement; }

  // 1.2: a code from a sign and a magnitude code, and back. In two's
  // complement the magnitude of the most negative code is 2^M (a value with
  // no positive twin) and zero has one code.
  uint64_t encode(bool negative, uint64_t mcode) const;
  std::pair<bool, uint64_t> split(uint64_t code) const;

  // Magnitude codes (code without the sign) in increasing value order. Valid
  // magnitude codes are those with a finite value: zero_only drops e = 0,
  // f != 0; ieee drops the all-ones exponent field; nan_all_ones drops the
  // all-ones magnitude.
  bool is_valid_magnitude(uint64_t mcode) const;
  // A code with a finite value (1.7); NaN and Inf codes are not valid values.
  bool is_valid_code(uint64_t code) const;
  uint64_t valid_magnitude_count() const;
  uint64_t nth_magnitude(uint64_t index) const;   // index-th valid magnitude code
  uint64_t index_of_magnitude(uint64_t mcode) const;
  uint64_t max_magnitude_code() const { return nth_magnitude(valid_magnitude_count() - 1); }
  bool has_zero() const { return zero != ZeroMode::none; }

  // 1.6: special codes.
  bool has_nan() const { return specials != Specials::none; }
  bool has_inf() const { return specials == Specials::ieee; }
  uint64_t nan_code(bool negative = false) const;  // ieee: the quiet NaN with only the top mantissa bit
  uint64_t inf_code(bool negative = false) const;
  bool is_nan_code(uint64_t code) const;
  bool is_inf_code(uint64_t code) const;
  // A code that decode() or a NaN/Inf test accepts: valid, NaN or Inf.
  bool is_code(uint64_t code) const { return is_valid_code(code) || is_nan_code(code) || is_inf_code(code); }

  // Value of a magnitude code by the 1.3 formula (defined for every bit
  // pattern, also the special positions above the largest finite value).
  Dyadic magnitude_value(uint64_t mcode) const;
  // The same value as (mantissa, exponent): magnitude_value = m * 2^e, m < 2^(M+1).
  std::pair<uint64_t, int64_t> magnitude_parts(uint64_t mcode) const;
  // Signed value of a valid code; throws mls::Error for an invalid or special code.
  Dyadic decode(uint64_t code) const;

  Dyadic max_value() const { return magnitude_value(max_magnitude_code()); }       // q_max / g_max
  Dyadic min_positive() const;                                                       // smallest non-zero magnitude
  // floor(log2(max_value())): emax_elem of OCP MX v1.0 (4.4 rule `ocp`).
  int64_t emax() const { return max_value().ilog2(); }
  // The magnitude code just above the largest finite value (1.6): the Inf
  // position of ieee, the NaN code of nan_all_ones, the first code past the
  // end otherwise. Overflow decisions round between max and it (3.5).
  uint64_t overflow_position() const { return max_magnitude_code() + 1; }

  std::string name() const;  // 1.10, e.g. "e2m1", "e4m3b7n", "g8m0b127n", "i8"
  nlohmann::json to_json(GridRole role) const;
};

// 1.10: a grid name (`e2m1b1`, `g8m0b127n`, `i8`), a named grid (1.8:
// fp8_e4m3, e8m0, ...) or JSON (text starting with '{'). Validated for `role`.
Minifloat parse_minifloat(const std::string& text, GridRole role, const std::string& field);
// The JSON object of 1.1; unknown members and wrong types are errors naming `field`.
Minifloat minifloat_from_json(const nlohmann::json& j, GridRole role, const std::string& field);

struct NamedGrid {
  std::string name;
  std::string source;  // the standard's section that defines it
  Minifloat grid;
};
// 1.8: the element and scale grids of OCP MX v1.0 and NVFP4, by name.
const std::vector<NamedGrid>& named_grids();

}  // namespace mls
