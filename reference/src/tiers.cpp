// Comparison tiers and error bounds (spec/06-conv.md 6.12, 6.13).
#include "mls/tiers.hpp"

#include <cmath>
#include <limits>

#include "mls/error.hpp"
#include "mls/rounding.hpp"
#include "mls/tensor.hpp"

namespace mls {

BoundModel bound_model_from_string(const std::string& s, const std::string& field) {
  return enum_from_name<BoundModel>(s, field);
}

namespace {
const int64_t kUExp = -24;                       // u = 2^-24
const Dyadic kEta = Dyadic::pow2(-150);          // half the smallest fp32 subnormal
const Dyadic kMinNormal = Dyadic::pow2(-126);

// c * k * u
Dyadic times_ku(const Dyadic& c, int64_t k) { return ldexp(c * Dyadic::from_int(k), kUExp); }
// 1 - k u, exactly
Dyadic one_minus_ku(int64_t k) { return Dyadic(BigInt(1) << 24, kUExp) - Dyadic(BigInt(k), kUExp); }

struct Sums {
  Dyadic T;        // sum |x|
  int64_t tiny = 0;
};
Sums sums(const std::vector<Dyadic>& xs) {
  Sums s;
  for (const Dyadic& x : xs) {
    s.T = s.T + x.abs();
    if (!x.is_zero() && x.abs() < kMinNormal) ++s.tiny;
  }
  return s;
}

void add_part(ErrorBound& b, const Dyadic& c, int64_t k) {
  if (c.is_zero()) return;
  if (k < 0 || k >= (int64_t(1) << 24)) {  // gamma_k undefined: n u >= 1
    b.finite = false;
    return;
  }
  b.parts.emplace_back(c, k);
}
}  // namespace

// 6.13.1
ErrorBound fp32_sum_bound(const std::vector<Dyadic>& terms) {
  ErrorBound b;
  b.model = BoundModel::fp32_sum;
  b.n = static_cast<int64_t>(terms.size());
  const Sums s = sums(terms);
  const Dyadic H = kEta * Dyadic::from_int(s.tiny);
  add_part(b, times_ku(s.T, b.n), b.n);  // gamma_n T
  add_part(b, H, b.n - 1);               // (1 + gamma_{n-1}) H
  return b;
}

// 6.13.2
ErrorBound fp32_sum_scaled_bound(const std::vector<Dyadic>& values, const Dyadic& S) {
  if (S.sign() <= 0) throw Error("fp32_sum_scaled_bound: the tensor scale product must be positive");
  ErrorBound b;
  b.model = BoundModel::fp32_sum_scaled;
  b.n = static_cast<int64_t>(values.size());
  const int64_t n = b.n;
  const Sums s = sums(values);
  const Dyadic H = kEta * Dyadic::from_int(s.tiny);
  add_part(b, times_ku(S * s.T, n + 2), n + 2);  // gamma_{n+2} S T
  add_part(b, S * H, n + 1);                     // (1 + gamma_{n+1}) S H
  if (S < kMinNormal) {                          // RNE(S_tA S_tB) may be subnormal
    const Dyadic k1u = Dyadic(BigInt((int64_t(1) << 24) + 1), kUExp);  // 1 + u
    add_part(b, kEta * k1u * s.T, n);            // 2^-150 (1+u) (1 + gamma_n) T
    add_part(b, kEta * k1u * H, n - 1);          // 2^-150 (1+u) (1 + gamma_{n-1}) H
  }
  b.c0 = kEta;                                   // the final product's own underflow
  return b;
}

bool within_bound(const ErrorBound& b, const Dyadic& err) {
  if (!b.finite) return false;
  // |err| <= c0 + sum c_i / d_i  <=>  |err| D <= c0 D + sum c_i D / d_i, D = prod d_i > 0.
  std::vector<Dyadic> d;
  for (const auto& [c, k] : b.parts) d.push_back(one_minus_ku(k));
  Dyadic D = Dyadic::from_int(1);
  for (const Dyadic& x : d) D = D * x;
  Dyadic rhs = b.c0 * D;
  for (size_t i = 0; i < b.parts.size(); ++i) {
    Dyadic t = b.parts[i].first;
    for (size_t j = 0; j < d.size(); ++j)
      if (j != i) t = t * d[j];
    rhs = rhs + t;
  }
  return err.abs() * D <= rhs;
}

namespace {
double approx(const Dyadic& x) {
  const double v = round_to_fp64(x);
  return v;
}
}  // namespace

double bound_value(const ErrorBound& b) {
  if (!b.finite) return std::numeric_limits<double>::infinity();
  double v = approx(b.c0);
  for (const auto& [c, k] : b.parts) v += approx(c) / (1.0 - std::ldexp(static_cast<double>(k), kUExp));
  return v;
}

nlohmann::json to_json(const ErrorBound& b) {
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& [c, k] : b.parts) parts.push_back({{"c", c.to_string()}, {"k", k}});
  return {{"model", to_string(b.model)}, {"n", b.n}, {"finite", b.finite}, {"c0", b.c0.to_string()},
          {"parts", parts}, {"approx", bound_value(b)}};
}

Dyadic fp32_ulp(const Dyadic& v) {
  if (v.is_zero()) return Dyadic::pow2(-149);
  const int64_t k = v.ilog2();
  if (k < -126) return Dyadic::pow2(-149);
  if (k > 127) return Dyadic::pow2(104);
  return Dyadic::pow2(k - 23);
}

nlohmann::json Classification::to_json() const {
  nlohmann::json j{{"tier", mls::to_string(tier)},
                   {"expected", expected},
                   {"got", got},
                   {"faithful", {lower, upper}},
                   {"err_ulps", std::isfinite(err_ulps) ? nlohmann::json(err_ulps) : nlohmann::json("inf")}};
  if (has_bound) j["bound_ulps"] = std::isfinite(bound_ulps) ? nlohmann::json(bound_ulps) : nlohmann::json("inf");
  return j;
}

// 6.12
Classification classify_fp32(const Dyadic& exact, uint32_t got, const ErrorBound* bound) {
  Classification c;
  c.got = got;
  c.expected = round_to_fp32_bits(exact, RoundingMode::rne, OverflowPolicy::infinity);
  c.lower = round_to_fp32_bits(exact, RoundingMode::rdn, OverflowPolicy::infinity);
  c.upper = round_to_fp32_bits(exact, RoundingMode::rup, OverflowPolicy::infinity);
  const Dyadic ulp = fp32_ulp(exact);
  const float g = bits_float(got);
  Dyadic err;
  if (std::isfinite(g)) {
    err = (Dyadic::from_float(g) - exact).abs();
    c.err_ulps = approx(ldexp(err, -ulp.ilog2()));
  } else {
    c.err_ulps = std::numeric_limits<double>::infinity();
  }
  if (bound) {
    c.has_bound = true;
    c.bound_ulps = bound->finite ? bound_value(*bound) / std::ldexp(1.0, static_cast<int>(ulp.ilog2()))
                                 : std::numeric_limits<double>::infinity();
  }
  if (got == c.expected) {
    c.tier = Tier::exact;
  } else if (!std::isnan(g) && (g == bits_float(c.lower) || g == bits_float(c.upper))) {
    c.tier = Tier::faithful;  // value equality: -0 and +0 are the same neighbour
  } else if (bound && std::isfinite(g) && within_bound(*bound, err)) {
    c.tier = Tier::bounded;
  } else {
    c.tier = Tier::none;
  }
  return c;
}

}  // namespace mls
