// Output meant for people (human.hpp).
#include "human.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "io.hpp"

namespace mls::cli::human {

std::string compact(const Dyadic& v0) {
  if (v0.is_zero()) return "0";
  const Dyadic v = v0.normalized();  // m odd
  const std::string sign = v.sign() < 0 ? "-" : "";
  const BigInt am = boost::multiprecision::abs(v.m);
  const int64_t bits = static_cast<int64_t>(boost::multiprecision::msb(am)) + 1;
  const int64_t top = v.e + bits - 1;  // |v| = (am / 2^(bits-1)) * 2^top, the first factor in [1, 2)
  if (top > -12 && top < 40) {         // a short exact decimal is the plainest form
    const std::string dec = v.to_decimal();
    if (dec.size() <= 14) return dec;
  }
  if (am == 1) return sign + "2^" + std::to_string(v.e);
  if (bits <= 12) return sign + Dyadic(am, -(bits - 1)).to_decimal() + "*2^" + std::to_string(top);
  const int64_t shift = std::max<int64_t>(0, bits - 60);
  const long double mant = std::ldexp(static_cast<long double>(static_cast<uint64_t>(am >> shift)), -(bits - shift - 1));
  char b[64];
  if (top > -16000 && top < 16000)
    std::snprintf(b, sizeof b, "%s%.7Lg", sign.c_str(), std::ldexp(mant, static_cast<int>(top)));
  else
    std::snprintf(b, sizeof b, "%s%.7Lg*2^%lld", sign.c_str(), mant, static_cast<long long>(top));
  return b;
}

std::string number(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::string preview(const std::vector<double>& v, size_t n) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < n; ++i) s += (i ? " " : "") + number(v[i]);
  if (v.size() > n) s += " ... (" + std::to_string(v.size()) + " in all)";
  return s;
}

void tensor_summary(std::ostream& os, const MlsTensor& t, const std::optional<std::vector<float>>& x) {
  os << "  shape          " << shape_string(t.shape) << " (" << t.elements.size() << " values)\n";
  os << "  format         " << t.format.short_name() << "\n";
  os << "  tensor scale   " << hex32(t.tensor_scale) << " = " << compact(t.tensor_scale_value()) << "\n";
  // Group scales: count, group shape, code and value range (NaN scales counted apart).
  int64_t nan_scales = 0;
  std::optional<Dyadic> lo, hi;
  uint32_t cmin = UINT32_MAX, cmax = 0;
  for (size_t g = 0; g < t.group_scales.size(); ++g) {
    cmin = std::min(cmin, t.group_scales[g]);
    cmax = std::max(cmax, t.group_scales[g]);
    try {
      const Dyadic s = t.group_scale_value(static_cast<int64_t>(g));
      if (!lo || s < *lo) lo = s;
      if (!hi || s > *hi) hi = s;
    } catch (const std::exception&) {
      ++nan_scales;
    }
  }
  os << "  group scales   " << t.group_scales.size() << " groups";
  try {
    os << " of " << shape_string(t.format.resolved_group_shape(t.shape));
  } catch (const std::exception&) {
  }
  if (!t.group_scales.empty()) {
    os << ", codes " << cmin << ".." << cmax;
    if (lo) os << ", S_g " << compact(*lo) << " .. " << compact(*hi);
    if (nan_scales) os << ", " << nan_scales << " NaN";
  }
  os << "\n";
  const std::vector<double> y = dequantize_fp64(t);
  size_t zeros = 0, nonfinite = 0;
  double ymin = INFINITY, ymax = -INFINITY;
  for (double v : y) {
    if (!std::isfinite(v)) {
      ++nonfinite;
      continue;
    }
    zeros += v == 0;
    ymin = std::min(ymin, v);
    ymax = std::max(ymax, v);
  }
  os << "  dequantized    " << preview(y) << "\n";
  if (y.size() > nonfinite)
    os << "  range          " << number(ymin) << " .. " << number(ymax) << ", " << zeros << " zeros"
       << (nonfinite ? ", " + std::to_string(nonfinite) + " NaN/Inf" : "") << "\n";
  if (x && x->size() == y.size()) {
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      const double e = std::fabs(y[i] - static_cast<double>((*x)[i]));
      if (std::isfinite(e) && e > worst) worst = e, at = i;
    }
    os << "  max |error|    " << number(worst) << " (element " << at << ": input " << number((*x)[at]) << ", value "
       << number(y[at]) << ")\n";
  }
}

}  // namespace mls::cli::human
