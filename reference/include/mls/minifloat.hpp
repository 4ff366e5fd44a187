// Minifloat descriptor (spec/01-minifloat.md): one runtime struct describes
// element formats, group-scale formats and, for the final roundings, IEEE
// binary32/binary64 themselves.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "mls/dyadic.hpp"

namespace mls {

enum class ZeroMode { subnormal, zero_only, none };
enum class NonFinite { none, ieee };  // ieee: exponent field all ones is Inf/NaN

struct Minifloat {
  bool is_signed = true;
  int exp_bits = 2;   // E
  int man_bits = 1;   // M
  int bias = 3;       // b
  ZeroMode zero = ZeroMode::subnormal;
  NonFinite nonfinite = NonFinite::none;

  friend bool operator==(const Minifloat&, const Minifloat&) = default;

  static int default_bias(int exp_bits) { return exp_bits <= 0 || exp_bits > 30 ? 0 : (1 << exp_bits) - 1; }
  static Minifloat element(int e, int m);        // signed, default bias, subnormals
  static Minifloat group_scale(int e, int m);    // unsigned, bias 2^E-1, zero = none
  static Minifloat binary32();
  static Minifloat binary64();

  // Throws mls::Error naming the field ("exp_bits", "man_bits", "bias", ...).
  // `limits` = "element", "group_scale" or "any" selects the allowed ranges.
  void validate(const std::string& what = "any") const;

  int total_bits() const { return (is_signed ? 1 : 0) + exp_bits + man_bits; }
  uint64_t code_count() const { return uint64_t(1) << total_bits(); }
  uint64_t magnitude_code_count() const { return uint64_t(1) << (exp_bits + man_bits); }
  uint64_t sign_bit() const { return is_signed ? uint64_t(1) << (exp_bits + man_bits) : 0; }

  // Magnitude codes (code without the sign bit) in increasing value order.
  // Valid magnitude codes are those with a value: zero_only drops e = 0,
  // f != 0; ieee drops the all-ones exponent field.
  bool is_valid_magnitude(uint64_t mcode) const;
  bool is_valid_code(uint64_t code) const;
  uint64_t valid_magnitude_count() const;
  uint64_t nth_magnitude(uint64_t index) const;   // index-th valid magnitude code
  uint64_t index_of_magnitude(uint64_t mcode) const;
  uint64_t max_magnitude_code() const { return nth_magnitude(valid_magnitude_count() - 1); }
  uint64_t min_magnitude_code() const { return 0; }  // zero, or 2^-b when zero = none
  bool has_zero() const { return zero != ZeroMode::none; }

  // Value of a magnitude code by the section 1 formula (defined for every bit
  // pattern, also the virtual ieee Inf position 2^(2^E-1-b)).
  Dyadic magnitude_value(uint64_t mcode) const;
  // Signed value of a full code; throws mls::Error for an invalid code.
  Dyadic decode(uint64_t code) const;

  Dyadic max_value() const { return magnitude_value(max_magnitude_code()); }       // q_max / g_max
  Dyadic min_positive() const;                                                       // smallest non-zero magnitude
  std::string name() const;  // e.g. "e2m1", "e2m1b2", "g4m1" style text for humans
};

std::string to_string(ZeroMode z);
std::string to_string(NonFinite n);
ZeroMode zero_mode_from_string(const std::string& s, const std::string& field);
NonFinite nonfinite_from_string(const std::string& s, const std::string& field);

}  // namespace mls
