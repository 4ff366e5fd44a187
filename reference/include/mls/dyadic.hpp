// Exact dyadic rationals m * 2^e on an unbounded integer (Boost.Multiprecision
// cpp_int). Every value the MLS format can produce is dyadic: fp32 inputs,
// scales, element values and their products. Quotients are never formed;
// rounding decisions compare products of dyadics (spec/03-rounding.md).
#pragma once
#include <boost/multiprecision/cpp_int.hpp>
#include <cstdint>
#include <optional>
#include <string>

namespace mls {

using BigInt = boost::multiprecision::cpp_int;

struct Dyadic {
  BigInt m = 0;      // signed mantissa
  int64_t e = 0;     // binary exponent: value = m * 2^e

  Dyadic() = default;
  Dyadic(BigInt mant, int64_t exp) : m(std::move(mant)), e(exp) {}
  static Dyadic from_int(int64_t v) { return Dyadic(BigInt(v), 0); }
  static Dyadic pow2(int64_t k) { return Dyadic(BigInt(1), k); }
  // Exact value of a finite float/double; throws mls::Error for NaN/Inf.
  static Dyadic from_float(float f);
  static Dyadic from_double(double d);

  bool is_zero() const { return m.is_zero(); }
  int sign() const { return m.sign(); }
  Dyadic abs() const { return Dyadic(boost::multiprecision::abs(m), e); }
  Dyadic neg() const { return Dyadic(-m, e); }
  // Canonical form: m odd (or zero with e = 0). Value unchanged.
  Dyadic normalized() const;
  // floor(log2 |v|); v must be non-zero.
  int64_t ilog2() const;

  // Exact decimal expansion (every dyadic has a finite one), and the form
  // "m*2^e" with m odd, both for humans and for vector files.
  std::string to_decimal() const;
  std::string to_string() const;
  // The double equal to this value, if there is one (no rounding here: the
  // one rounding routine, round_to_grid, handles inexact conversions).
  std::optional<double> to_double_exact() const;
};

int compare(const Dyadic& a, const Dyadic& b);
inline bool operator==(const Dyadic& a, const Dyadic& b) { return compare(a, b) == 0; }
inline bool operator!=(const Dyadic& a, const Dyadic& b) { return compare(a, b) != 0; }
inline bool operator<(const Dyadic& a, const Dyadic& b) { return compare(a, b) < 0; }
inline bool operator<=(const Dyadic& a, const Dyadic& b) { return compare(a, b) <= 0; }
inline bool operator>(const Dyadic& a, const Dyadic& b) { return compare(a, b) > 0; }
inline bool operator>=(const Dyadic& a, const Dyadic& b) { return compare(a, b) >= 0; }
Dyadic operator+(const Dyadic& a, const Dyadic& b);
Dyadic operator-(const Dyadic& a, const Dyadic& b);
Dyadic operator*(const Dyadic& a, const Dyadic& b);
Dyadic ldexp(const Dyadic& a, int64_t k);

}  // namespace mls
