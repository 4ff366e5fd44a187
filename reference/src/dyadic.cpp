#include "mls/dyadic.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "mls/error.hpp"

namespace mls {

namespace {
int64_t msb(const BigInt& m) {  // m != 0
  return static_cast<int64_t>(boost::multiprecision::msb(boost::multiprecision::abs(m)));
}
}  // namespace

Dyadic Dyadic::from_float(float f) {
  if (!std::isfinite(f)) throw Error("non-finite float has no exact value");
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const bool neg = bits >> 31;
  const uint32_t ef = (bits >> 23) & 0xFF;
  const uint32_t frac = bits & 0x7FFFFF;
  BigInt m = ef == 0 ? BigInt(frac) : BigInt(frac | 0x800000u);
  const int64_t e = ef == 0 ? -149 : static_cast<int64_t>(ef) - 150;
  if (neg) m = -m;
  return Dyadic(m, e);
}

Dyadic Dyadic::from_double(double d) {
  if (!std::isfinite(d)) throw Error("non-finite double has no exact value");
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  const bool neg = bits >> 63;
  const uint64_t ef = (bits >> 52) & 0x7FF;
  const uint64_t frac = bits & ((uint64_t(1) << 52) - 1);
  BigInt m = ef == 0 ? BigInt(frac) : BigInt(frac | (uint64_t(1) << 52));
  const int64_t e = ef == 0 ? -1074 : static_cast<int64_t>(ef) - 1075;
  if (neg) m = -m;
  return Dyadic(m, e);
}

Dyadic Dyadic::normalized() const {
  if (m.is_zero()) return Dyadic(0, 0);
  const auto tz = static_cast<int64_t>(boost::multiprecision::lsb(boost::multiprecision::abs(m)));
  return Dyadic(m >> tz, e + tz);
}

int64_t Dyadic::ilog2() const { return msb(m) + e; }

int compare(const Dyadic& a, const Dyadic& b) {
  const int sa = a.sign(), sb = b.sign();
  if (sa != sb) return sa < sb ? -1 : 1;
  if (sa == 0) return 0;
  // Same sign, both non-zero: compare magnitudes by binade first.
  const int64_t la = a.ilog2(), lb = b.ilog2();
  int mag;
  if (la != lb) {
    mag = la < lb ? -1 : 1;
  } else if (a.e >= b.e) {
    // Equal binades bound the shift by the mantissa width.
    const BigInt am = boost::multiprecision::abs(a.m) << static_cast<unsigned>(a.e - b.e);
    const BigInt bm = boost::multiprecision::abs(b.m);
    mag = am < bm ? -1 : (am > bm ? 1 : 0);
  } else {
    const BigInt am = boost::multiprecision::abs(a.m);
    const BigInt bm = boost::multiprecision::abs(b.m) << static_cast<unsigned>(b.e - a.e);
    mag = am < bm ? -1 : (am > bm ? 1 : 0);
  }
  return sa > 0 ? mag : -mag;
}

Dyadic operator+(const Dyadic& a, const Dyadic& b) {
  if (a.is_zero()) return b;
  if (b.is_zero()) return a;
  if (a.e >= b.e) return Dyadic((a.m << static_cast<unsigned>(a.e - b.e)) + b.m, b.e);
  return Dyadic(a.m + (b.m << static_cast<unsigned>(b.e - a.e)), a.e);
}

Dyadic operator-(const Dyadic& a, const Dyadic& b) { return a + b.neg(); }

Dyadic operator*(const Dyadic& a, const Dyadic& b) { return Dyadic(a.m * b.m, a.e + b.e); }

Dyadic ldexp(const Dyadic& a, int64_t k) { return Dyadic(a.m, a.e + k); }

std::string Dyadic::to_string() const {
  const Dyadic n = normalized();
  if (n.e == 0) return n.m.str();
  return n.m.str() + "*2^" + std::to_string(n.e);
}

std::string Dyadic::to_decimal() const {
  const Dyadic n = normalized();
  if (n.e >= 0) return BigInt(n.m << static_cast<unsigned>(n.e)).str();
  // m * 2^-k = m * 5^k / 10^k: exact, k digits after the point.
  const auto k = static_cast<unsigned>(-n.e);
  BigInt scaled = boost::multiprecision::abs(n.m) * boost::multiprecision::pow(BigInt(5), k);
  std::string digits = scaled.str();
  if (digits.size() <= k) digits.insert(0, k + 1 - digits.size(), '0');
  digits.insert(digits.size() - k, ".");
  return (n.m.sign() < 0 ? "-" : "") + digits;
}

std::optional<double> Dyadic::to_double_exact() const {
  if (m.is_zero()) return 0.0;
  const Dyadic n = normalized();
  const BigInt am = boost::multiprecision::abs(n.m);
  if (msb(am) >= 53 || n.e < -1074 || n.ilog2() > 1023) return std::nullopt;
  const double v = std::ldexp(static_cast<double>(am), static_cast<int>(n.e));
  if (!std::isfinite(v) || Dyadic::from_double(v) != n.abs()) return std::nullopt;
  return n.m.sign() < 0 ? -v : v;
}

}  // namespace mls
