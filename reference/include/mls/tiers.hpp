// Comparison tiers for a backend's fp32 result against the exact value
// (spec/06-conv.md 6.12) and the rigorous error bounds of the declared
// accumulation models (6.13).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "mls/dyadic.hpp"
#include "mls/enums.hpp"

namespace mls {

enum class Tier { exact, faithful, bounded, none };  // best first
template <>
struct EnumTable<Tier> {
  static constexpr std::string_view what = "comparison tier";
  static constexpr std::array<EnumEntry<Tier>, 4> entries{{
      {Tier::exact, "exact", 0, "bits equal the exact value rounded once (6.12)"},
      {Tier::faithful, "faithful", 1, "one of the two fp32 neighbours of the exact value (6.12)"},
      {Tier::bounded, "bounded", 2, "within the declared model's rigorous bound (6.12, 6.13)"},
      {Tier::none, "none", 3, "outside every tier"},
  }};
};

// 6.13: the declared models. u = 2^-24, gamma_k = k u / (1 - k u).
//  fp32_sum:        each full-scale segment term tau_s = S_tA S_tB S_gA S_gB P_s
//                   is rounded once to fp32 (nearest even); the n results are
//                   added in fp32 (nearest even) in any order and grouping.
//  fp32_sum_scaled: each segment value t_s = S_gA S_gB P_s is rounded once to
//                   fp32; the n results are added in fp32 in any order; the
//                   sum is multiplied by the tensor scales, either by
//                   RNE(S_tA S_tB s) or by RNE(RNE(S_tA S_tB) s).
// Neither model may overflow fp32; a result that does is outside the bound.
enum class BoundModel { fp32_sum, fp32_sum_scaled };
template <>
struct EnumTable<BoundModel> {
  static constexpr std::string_view what = "declared accumulation model";
  static constexpr std::array<EnumEntry<BoundModel>, 2> entries{{
      {BoundModel::fp32_sum, "fp32_sum", 0, "segment terms rounded to fp32 and summed in fp32 in any order (6.13.1)"},
      {BoundModel::fp32_sum_scaled, "fp32_sum_scaled", 1,
       "segment values summed in fp32 in any order, then scaled by the tensor scales (6.13.2)"},
  }};
};
BoundModel bound_model_from_string(const std::string& s, const std::string& field = "model");

// A bound B = c0 + sum_i c_i / (1 - k_i u) (every c >= 0, 0 <= k_i < 2^24),
// which is how every gamma_k expression of 6.13 is written exactly.
struct ErrorBound {
  BoundModel model = BoundModel::fp32_sum;
  int64_t n = 0;                                 // number of terms
  bool finite = true;                            // false when n u >= 1 (no bound)
  Dyadic c0;
  std::vector<std::pair<Dyadic, int64_t>> parts;  // (c_i, k_i)
};
// fp32_sum: B = gamma_n T + (1 + gamma_{n-1}) H, T = sum |tau_s|,
// H = 2^-150 * #{s : 0 < |tau_s| < 2^-126}.
ErrorBound fp32_sum_bound(const std::vector<Dyadic>& full_terms);
// fp32_sum_scaled with S = S_tA S_tB: B = gamma_{n+2} S T + (1 + gamma_{n+1}) S H
//   + [S < 2^-126] 2^-150 (1+u) ((1 + gamma_n) T + (1 + gamma_{n-1}) H) + 2^-150,
// T, H over the segment values t_s.
ErrorBound fp32_sum_scaled_bound(const std::vector<Dyadic>& values, const Dyadic& tensor_scale_product);
// Exactly: |err| <= B ? (false for an infinite bound).
bool within_bound(const ErrorBound& b, const Dyadic& err);
// B as a double, for reports only (never used in a decision).
double bound_value(const ErrorBound& b);
nlohmann::json to_json(const ErrorBound& b);

// The fp32 ulp at the exact value v (6.12): 2^(floor(log2|v|) - 23) for
// 2^-126 <= |v| < 2^128, 2^104 above, 2^-149 below (and for v = 0).
Dyadic fp32_ulp(const Dyadic& v);

struct Classification {
  Tier tier = Tier::none;
  uint32_t expected = 0;          // RNE_fp32(exact): the `exact` profile's bits
  uint32_t got = 0;
  uint32_t lower = 0, upper = 0;  // the faithful pair: RD_fp32(exact), RU_fp32(exact)
  double err_ulps = 0;            // |got - exact| / fp32_ulp(exact); inf for Inf/NaN results
  bool has_bound = false;
  double bound_ulps = 0;          // B / fp32_ulp(exact)
  nlohmann::json to_json() const;
};
// 6.12: the best tier `got` reaches. Without `bound` the tier below faithful is none.
Classification classify_fp32(const Dyadic& exact, uint32_t got, const ErrorBound* bound = nullptr);

}  // namespace mls
