#include "mls/minifloat.hpp"

#include <cstdio>

#include "mls/error.hpp"

namespace mls {

Minifloat Minifloat::element(int e, int m) {
  return Minifloat{true, e, m, default_bias(e), ZeroMode::subnormal, NonFinite::none};
}
Minifloat Minifloat::group_scale(int e, int m) {
  return Minifloat{false, e, m, default_bias(e), ZeroMode::none, NonFinite::none};
}
Minifloat Minifloat::binary32() { return Minifloat{true, 8, 23, 127, ZeroMode::subnormal, NonFinite::ieee}; }
Minifloat Minifloat::binary64() { return Minifloat{true, 11, 52, 1023, ZeroMode::subnormal, NonFinite::ieee}; }

void Minifloat::validate(const std::string& what) const {
  const std::string p = what == "any" ? "" : what + ".";
  const int emax = what == "any" ? 11 : 8, mmax = what == "any" ? 52 : 23;
  if (exp_bits < 0 || exp_bits > emax)
    throw Error(p + "exp_bits = " + std::to_string(exp_bits) + " is outside 0.." + std::to_string(emax));
  if (man_bits < 0 || man_bits > mmax)
    throw Error(p + "man_bits = " + std::to_string(man_bits) + " is outside 0.." + std::to_string(mmax));
  if (total_bits() > 63) throw Error(p + "exp_bits + man_bits + sign exceed 63 bits");
  if (total_bits() == 0) throw Error(p + "a format needs at least one bit");
  if (bias < -100000 || bias > 100000) throw Error(p + "bias = " + std::to_string(bias) + " is outside -100000..100000");
  if (nonfinite == NonFinite::ieee && exp_bits < 2)
    throw Error(p + "nonfinite = ieee needs exp_bits >= 2");
  if (zero == ZeroMode::zero_only && exp_bits == 0)
    throw Error(p + "zero = zero_only needs exp_bits >= 1 (with E = 0 every code has exponent field 0)");
  if (what == "element") {
    if (exp_bits == 0 && man_bits == 0)
      throw Error(p + "man_bits = 0 with exp_bits = 0 leaves only the value zero (an element format needs a non-zero value)");
    if (!is_signed) throw Error(p + "signed must be true for an element format");
    if (zero == ZeroMode::none) throw Error(p + "zero = none is not allowed for an element format (an element must be able to be zero)");
    if (nonfinite != NonFinite::none) throw Error(p + "nonfinite must be none for an MLS format");
  }
  if (what == "group_scale") {
    if (is_signed) throw Error(p + "signed must be false for a group-scale format");
    if (zero != ZeroMode::none) throw Error(p + "zero must be none for a group-scale format");
    if (exp_bits < 1) throw Error(p + "exp_bits must be >= 1 for a group-scale format");
    if (bias != (1 << exp_bits) - 1)
      throw Error(p + "bias = " + std::to_string(bias) + " must be 2^exp_bits - 1 = " + std::to_string((1 << exp_bits) - 1) +
                  " for a group-scale format (values 2^-k (1 + f/2^Mg), k = 0..2^Eg-1)");
    if (nonfinite != NonFinite::none) throw Error(p + "nonfinite must be none for an MLS format");
  }
}

bool Minifloat::is_valid_magnitude(uint64_t mcode) const {
  if (mcode >= magnitude_code_count()) return false;
  const uint64_t e = mcode >> man_bits, f = mcode & ((uint64_t(1) << man_bits) - 1);
  if (zero == ZeroMode::zero_only && e == 0 && f != 0) return false;
  if (nonfinite == NonFinite::ieee && e == (uint64_t(1) << exp_bits) - 1) return false;
  return true;
}

bool Minifloat::is_valid_code(uint64_t code) const {
  if (total_bits() < 64 && code >= code_count()) return false;  // binary64: every 64-bit pattern is in range
  return is_valid_magnitude(code & (magnitude_code_count() - 1));
}

uint64_t Minifloat::valid_magnitude_count() const {
  uint64_t n = magnitude_code_count();
  if (zero == ZeroMode::zero_only) n -= (uint64_t(1) << man_bits) - 1;
  if (nonfinite == NonFinite::ieee) n -= uint64_t(1) << man_bits;
  return n;
}

uint64_t Minifloat::nth_magnitude(uint64_t index) const {
  if (zero == ZeroMode::zero_only && index > 0) return index + (uint64_t(1) << man_bits) - 1;
  return index;
}

uint64_t Minifloat::index_of_magnitude(uint64_t mcode) const {
  if (zero == ZeroMode::zero_only && mcode > 0) return mcode - ((uint64_t(1) << man_bits) - 1);
  return mcode;
}

Dyadic Minifloat::magnitude_value(uint64_t mcode) const {
  const int64_t e = static_cast<int64_t>(mcode >> man_bits);
  const uint64_t f = mcode & ((uint64_t(1) << man_bits) - 1);
  if (e == 0 && zero != ZeroMode::none)  // subnormal row: 2^(1-b) * f/2^M
    return Dyadic(BigInt(f), 1 - bias - man_bits);
  return Dyadic(BigInt(f) + (BigInt(1) << man_bits), e - bias - man_bits);  // 2^(e-b) (1 + f/2^M)
}

Dyadic Minifloat::decode(uint64_t code) const {
  if (!is_valid_code(code))
    throw Error("code 0x" + [&] {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(code));
      return std::string(buf);
    }() + " is not a valid code of format " + name());
  const Dyadic mag = magnitude_value(code & (magnitude_code_count() - 1));
  return (code & sign_bit()) ? mag.neg() : mag;
}

Dyadic Minifloat::min_positive() const { return magnitude_value(nth_magnitude(has_zero() ? 1 : 0)); }

std::string Minifloat::name() const {
  std::string s = std::string(is_signed ? "e" : "g") + std::to_string(exp_bits) + "m" + std::to_string(man_bits);
  const int db = is_signed ? default_bias(exp_bits) : (1 << exp_bits) - 1;
  if (bias != db) s += "b" + std::to_string(bias);
  if (zero == ZeroMode::zero_only) s += "z";
  return s;
}

std::string to_string(ZeroMode z) {
  switch (z) {
    case ZeroMode::subnormal: return "subnormal";
    case ZeroMode::zero_only: return "zero_only";
    case ZeroMode::none: return "none";
  }
  return "?";
}
std::string to_string(NonFinite n) { return n == NonFinite::none ? "none" : "ieee"; }

ZeroMode zero_mode_from_string(const std::string& s, const std::string& field) {
  if (s == "subnormal") return ZeroMode::subnormal;
  if (s == "zero_only") return ZeroMode::zero_only;
  if (s == "none") return ZeroMode::none;
  throw Error(field + " = \"" + s + "\" is not one of subnormal, zero_only, none");
}
NonFinite nonfinite_from_string(const std::string& s, const std::string& field) {
  if (s == "none") return NonFinite::none;
  if (s == "ieee") return NonFinite::ieee;
  throw Error(field + " = \"" + s + "\" is not one of none, ieee");
}

}  // namespace mls
