#include "mls/minifloat.hpp"

#include <cstdio>
#include <regex>

#include "mls/error.hpp"
#include "mls/json_read.hpp"

namespace mls {

Minifloat Minifloat::element(int e, int m) {
  return Minifloat{true, e, m, default_bias(e), ZeroMode::subnormal, Specials::none, Encoding::sign_magnitude};
}
Minifloat Minifloat::group_scale(int e, int m) {
  return Minifloat{false, e, m, default_bias(e), ZeroMode::none, Specials::none, Encoding::sign_magnitude};
}
Minifloat Minifloat::binary32() {
  return Minifloat{true, 8, 23, 127, ZeroMode::subnormal, Specials::ieee, Encoding::sign_magnitude};
}
Minifloat Minifloat::binary64() {
  return Minifloat{true, 11, 52, 1023, ZeroMode::subnormal, Specials::ieee, Encoding::sign_magnitude};
}

// 1.9, one check per row of the table.
void Minifloat::validate(GridRole role) const {
  if (role == GridRole::cast) {  // either role's rules; the error names both (once if they agree)
    try {
      return validate(GridRole::element);
    } catch (const Error& as_element) {
      try {
        return validate(GridRole::group_scale);
      } catch (const Error& as_scale) {
        const std::string a = std::string(as_element.what()).substr(8), b = std::string(as_scale.what()).substr(12);
        if (a == b) throw Error(a);  // a rule of both roles ("element." / "group_scale." dropped)
        throw Error("the grid is neither an element format (" + a + ") nor a group-scale format (" + b + ")");
      }
    }
  }
  const std::string p = role == GridRole::element ? "element." : role == GridRole::group_scale ? "group_scale." : "";
  const int emax = role == GridRole::any ? 11 : 8, mmax = role == GridRole::any ? 52 : 23;
  const int emin = role == GridRole::group_scale && !twos_complement() ? 1 : 0;
  if (exp_bits < emin || exp_bits > emax)
    throw Error(p + "exp_bits = " + std::to_string(exp_bits) + " is outside " + std::to_string(emin) + ".." +
                std::to_string(emax));
  if (man_bits < 0 || man_bits > mmax)
    throw Error(p + "man_bits = " + std::to_string(man_bits) + " is outside 0.." + std::to_string(mmax));
  if (total_bits() > 63) throw Error(p + "exp_bits + man_bits + sign exceed 63 bits");
  if (total_bits() == 0) throw Error(p + "a format needs at least one bit");
  if (bias < -100000 || bias > 100000) throw Error(p + "bias = " + std::to_string(bias) + " is outside -100000..100000");
  if (zero == ZeroMode::zero_only && exp_bits == 0)
    throw Error(p + "zero = zero_only needs exp_bits >= 1 (with E = 0 every code has exponent field 0)");
  if (specials == Specials::ieee && (exp_bits < 2 || man_bits < 1))
    throw Error(p + "specials = ieee needs exp_bits >= 2 and man_bits >= 1 (Inf and NaN take the all-ones exponent field)");
  if (specials == Specials::nan_all_ones && (exp_bits < 1 || exp_bits + man_bits < 2))
    throw Error(p + "specials = nan_all_ones needs exp_bits >= 1 and exp_bits + man_bits >= 2 (the all-ones magnitude "
                    "is NaN; a finite non-zero value must remain)");
  if (twos_complement()) {
    if (exp_bits != 0) throw Error(p + "encoding = twos_complement needs exp_bits = 0 (an integer grid)");
    if (!is_signed) throw Error(p + "encoding = twos_complement needs signed = true");
    if (specials != Specials::none) throw Error(p + "encoding = twos_complement needs specials = none");
    if (zero != ZeroMode::subnormal) throw Error(p + "encoding = twos_complement needs zero = subnormal");
  }
  if (role == GridRole::element) {
    if (exp_bits == 0 && man_bits == 0)
      throw Error(p + "man_bits = 0 with exp_bits = 0 leaves only the value zero (an element format needs a non-zero value)");
    if (!is_signed) throw Error(p + "signed must be true for an element format");
    if (zero == ZeroMode::none) throw Error(p + "zero = none is not allowed for an element format (an element must be able to be zero)");
  }
  if (role == GridRole::group_scale && twos_complement())
    throw Error(p + "encoding = twos_complement is not allowed for a group-scale format (scales are positive)");
}

uint64_t Minifloat::encode(bool negative, uint64_t mcode) const {
  if (!is_signed) return mcode;
  if (twos_complement()) return negative && mcode != 0 ? (code_count() - mcode) & (code_count() - 1) : mcode;
  return mcode | (negative ? sign_bit() : 0);
}

std::pair<bool, uint64_t> Minifloat::split(uint64_t code) const {
  if (!is_signed) return {false, code};
  const bool neg = (code & sign_bit()) != 0;
  if (twos_complement()) return {neg, neg ? code_count() - code : code};
  return {neg, code & (magnitude_code_count() - 1)};
}

bool Minifloat::is_valid_magnitude(uint64_t mcode) const {
  if (mcode >= magnitude_code_count()) return false;
  const uint64_t e = mcode >> man_bits, f = mcode & ((uint64_t(1) << man_bits) - 1);
  if (zero == ZeroMode::zero_only && e == 0 && f != 0) return false;
  if (specials == Specials::ieee && e == (uint64_t(1) << exp_bits) - 1) return false;
  if (specials == Specials::nan_all_ones && mcode == magnitude_code_count() - 1) return false;
  return true;
}

bool Minifloat::is_valid_code(uint64_t code) const {
  if (total_bits() < 64 && code >= code_count()) return false;  // binary64: every 64-bit pattern is in range
  if (twos_complement()) return true;                          // every pattern is an integer
  return is_valid_magnitude(code & (magnitude_code_count() - 1));
}

uint64_t Minifloat::valid_magnitude_count() const {
  uint64_t n = magnitude_code_count();
  if (zero == ZeroMode::zero_only) n -= (uint64_t(1) << man_bits) - 1;
  if (specials == Specials::ieee) n -= uint64_t(1) << man_bits;
  if (specials == Specials::nan_all_ones) n -= 1;
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

uint64_t Minifloat::nan_code(bool negative) const {
  if (specials == Specials::nan_all_ones) return encode(negative, magnitude_code_count() - 1);
  if (specials == Specials::ieee)
    return encode(negative, (((uint64_t(1) << exp_bits) - 1) << man_bits) | (uint64_t(1) << (man_bits - 1)));
  throw Error("format " + name() + " has no NaN code");
}

uint64_t Minifloat::inf_code(bool negative) const {
  if (specials != Specials::ieee) throw Error("format " + name() + " has no Inf code");
  return encode(negative, ((uint64_t(1) << exp_bits) - 1) << man_bits);
}

bool Minifloat::is_nan_code(uint64_t code) const {
  if (specials == Specials::none || (total_bits() < 64 && code >= code_count())) return false;
  const uint64_t mag = code & (magnitude_code_count() - 1);
  if (specials == Specials::nan_all_ones) return mag == magnitude_code_count() - 1;
  const uint64_t ones = (uint64_t(1) << exp_bits) - 1;
  return (mag >> man_bits) == ones && (mag & ((uint64_t(1) << man_bits) - 1)) != 0;
}

bool Minifloat::is_inf_code(uint64_t code) const {
  if (specials != Specials::ieee || (total_bits() < 64 && code >= code_count())) return false;
  return (code & (magnitude_code_count() - 1)) == ((uint64_t(1) << exp_bits) - 1) << man_bits;
}

std::pair<uint64_t, int64_t> Minifloat::magnitude_parts(uint64_t mcode) const {
  const int64_t e = static_cast<int64_t>(mcode >> man_bits);
  const uint64_t f = mcode & ((uint64_t(1) << man_bits) - 1);
  if (e == 0 && zero != ZeroMode::none)  // subnormal row: 2^(1-b) * f/2^M
    return {f, 1 - bias - man_bits};
  return {f + (uint64_t(1) << man_bits), e - bias - man_bits};  // 2^(e-b) (1 + f/2^M)
}

Dyadic Minifloat::magnitude_value(uint64_t mcode) const {
  const auto [m, e] = magnitude_parts(mcode);
  return Dyadic(BigInt(m), e);
}

Dyadic Minifloat::decode(uint64_t code) const {
  if (!is_valid_code(code)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(code));
    const char* why = is_nan_code(code) ? " is a NaN code of format " : is_inf_code(code) ? " is an Inf code of format "
                                                                                          : " is not a valid code of format ";
    throw Error(std::string("code 0x") + buf + why + name());
  }
  const auto [neg, mag] = split(code);
  const Dyadic v = magnitude_value(mag);
  return neg ? v.neg() : v;
}

Dyadic Minifloat::min_positive() const { return magnitude_value(nth_magnitude(has_zero() ? 1 : 0)); }

// 1.10: e<E>m<M>[b<bias>][z][n|i] (signed), g<E>m<M>[b<bias>][s|z][n|i]
// (unsigned: default bias 2^E-1 and zero none), i<W>[b<bias>] (two's complement).
std::string Minifloat::name() const {
  if (twos_complement()) {
    std::string s = "i" + std::to_string(total_bits());
    if (bias != 0) s += "b" + std::to_string(bias);
    return s;
  }
  std::string s = std::string(is_signed ? "e" : "g") + std::to_string(exp_bits) + "m" + std::to_string(man_bits);
  const int db = is_signed ? default_bias(exp_bits) : (1 << exp_bits) - 1;
  if (bias != db) s += "b" + std::to_string(bias);
  const ZeroMode dz = is_signed ? ZeroMode::subnormal : ZeroMode::none;
  if (zero != dz) s += zero == ZeroMode::zero_only ? "z" : zero == ZeroMode::subnormal ? "s" : "x";
  if (specials == Specials::nan_all_ones) s += "n";
  if (specials == Specials::ieee) s += "i";
  return s;
}

nlohmann::json Minifloat::to_json(GridRole role) const {
  // Fields at their role's default are left out, so that every MLS format
  // prints as it did in spec 1.0 (vector files regenerate byte for byte).
  nlohmann::json j{{"exp_bits", exp_bits}, {"man_bits", man_bits}};
  const bool scale = role == GridRole::group_scale;
  if (!scale || bias != default_bias(exp_bits)) j["bias"] = bias;
  if (!scale || zero != ZeroMode::none) j["zero"] = to_string(zero);
  if (scale ? is_signed : !is_signed) j["signed"] = is_signed;
  if (specials != Specials::none) j["specials"] = to_string(specials);
  if (encoding != Encoding::sign_magnitude) j["encoding"] = to_string(encoding);
  return j;
}

Minifloat minifloat_from_json(const nlohmann::json& j, GridRole role, const std::string& field) {
  json_read::check_keys(j, field, {"exp_bits", "man_bits", "bias", "zero", "signed", "specials", "encoding"});
  const bool scale = role == GridRole::group_scale;
  const int e = json_read::integer<int>(j, "exp_bits", field);
  const int m = json_read::integer<int>(j, "man_bits", field);
  Minifloat g = scale ? Minifloat::group_scale(e, m) : Minifloat::element(e, m);
  if (j.contains("bias")) g.bias = json_read::integer<int>(j, "bias", field);
  if (j.contains("zero")) g.zero = enum_from_name<ZeroMode>(json_read::string(j, "zero", field), field + ".zero");
  if (j.contains("signed")) g.is_signed = json_read::boolean(j, "signed", field);
  if (j.contains("specials"))
    g.specials = enum_from_name<Specials>(json_read::string(j, "specials", field), field + ".specials");
  if (j.contains("encoding"))
    g.encoding = enum_from_name<Encoding>(json_read::string(j, "encoding", field), field + ".encoding");
  if (g.twos_complement() && !j.contains("bias")) g.bias = 0;
  return g;
}

const std::vector<NamedGrid>& named_grids() {
  static const std::vector<NamedGrid> grids = [] {
    auto mk = [](bool s, int e, int m, int b, ZeroMode z, Specials sp) {
      return Minifloat{s, e, m, b, z, sp, Encoding::sign_magnitude};
    };
    const auto sub = ZeroMode::subnormal;
    return std::vector<NamedGrid>{
        {"fp8_e4m3", "OCP MX v1.0 5.3.1 (FP8 E4M3: bias 7, no Inf, NaN S.1111.111, max 448)",
         mk(true, 4, 3, 7, sub, Specials::nan_all_ones)},
        {"fp8_e5m2", "OCP MX v1.0 5.3.1 (FP8 E5M2: bias 15, IEEE Inf and NaN, max 57344)",
         mk(true, 5, 2, 15, sub, Specials::ieee)},
        {"fp6_e2m3", "OCP MX v1.0 5.3.2 (FP6 E2M3: bias 1, no Inf/NaN, max 7.5)", mk(true, 2, 3, 1, sub, Specials::none)},
        {"fp6_e3m2", "OCP MX v1.0 5.3.2 (FP6 E3M2: bias 3, no Inf/NaN, max 28)", mk(true, 3, 2, 3, sub, Specials::none)},
        {"fp4_e2m1", "OCP MX v1.0 5.3.3 (FP4 E2M1: bias 1, no Inf/NaN, max 6)", mk(true, 2, 1, 1, sub, Specials::none)},
        {"int8", "OCP MX v1.0 5.3.4 (INT8: two's complement, implicit scale 2^-6, max 127/64)",
         Minifloat{true, 0, 7, 0, sub, Specials::none, Encoding::twos_complement}},
        {"e8m0", "OCP MX v1.0 5.4.1 (E8M0 scale: unsigned, bias 127, no zero, NaN 0xff, 2^-127..2^127)",
         mk(false, 8, 0, 127, ZeroMode::none, Specials::nan_all_ones)},
        {"binary32", "IEEE 754 binary32", Minifloat::binary32()},
    };
  }();
  return grids;
}

Minifloat parse_minifloat(const std::string& text, GridRole role, const std::string& field) {
  Minifloat g;
  if (!text.empty() && text.front() == '{') {
    g = minifloat_from_json(json_read::parse(text, field), role, field);
  } else {
    bool named = false;
    for (const auto& n : named_grids())
      if (n.name == text) {
        g = n.grid;
        named = true;
      }
    if (!named) {
      static const std::regex re(R"(^(?:([eg])(\d+)m(\d+)(?:b(-?\d+))?([szx]?)([ni]?)|i(\d+)(?:b(-?\d+))?)$)");
      std::smatch m;
      if (!std::regex_match(text, m, re))
        throw Error(field + " \"" + text + "\" is not a grid name like e2m1, e4m3b7n, g8m0b127n, i8 or one of " + [] {
          std::string s;
          for (const auto& n : named_grids()) s += (s.empty() ? "" : ", ") + n.name;
          return s;
        }());
      const std::string role_name = role == GridRole::element ? "element." : role == GridRole::group_scale ? "group_scale." : "";
      auto num = [&](int i, const char* fname) {  // a field of the name, range-checked before conversion
        const std::string t = m[i].str();
        if (t.size() > 7) throw Error(field + ": " + role_name + fname + " = " + t + " is out of range");
        return std::stoi(t);
      };
      if (m[7].matched) {
        const int w = num(7, "bits");
        if (w < 2) throw Error(field + ": i" + m[7].str() + " needs at least 2 bits");
        g = Minifloat{true, 0, w - 1, m[8].matched ? num(8, "bias") : 0, ZeroMode::subnormal, Specials::none,
                      Encoding::twos_complement};
      } else {
        const bool sgn = m[1].str() == "e";
        const int e = num(2, "exp_bits"), mm = num(3, "man_bits");
        if (e > 30) throw Error(field + ": " + role_name + "exp_bits = " + std::to_string(e) + " is outside 0..8");
        g = sgn ? Minifloat::element(e, mm) : Minifloat::group_scale(e, mm);
        if (m[4].matched) g.bias = num(4, "bias");
        const std::string z = m[5].str(), s = m[6].str();
        if (z == "z") g.zero = ZeroMode::zero_only;
        if (z == "s") g.zero = ZeroMode::subnormal;
        if (z == "x") g.zero = ZeroMode::none;
        if (s == "n") g.specials = Specials::nan_all_ones;
        if (s == "i") g.specials = Specials::ieee;
      }
    }
  }
  try {
    g.validate(role);
  } catch (const Error& e) {
    throw Error(field + ": " + e.what());
  }
  return g;
}

}  // namespace mls
