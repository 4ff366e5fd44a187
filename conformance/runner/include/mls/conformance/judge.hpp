// Comparison of a backend's answer with the golden model, and diagnosis of
// the likely cause of a mismatch (spec/10-conformance.md).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mls/conformance/backend.hpp"
#include "mls/conv.hpp"
#include "mls/tiers.hpp"

namespace mls::conformance {

// What a conv/gemm answer must reach (10.3): the tier, and for `bounded` the
// declared accumulation model whose bound applies (6.13).
struct TierRequirement {
  Tier tier = Tier::exact;
  BoundModel model = BoundModel::fp32_sum;
};

// The golden answer of a case (via the reference).
CodesResult golden_round(const RoundCase& c);
QuantizeResult golden_quantize(const QuantizeCase& c);
ReductionResult golden_conv(const ConvCase& c);
Conv2dParams conv_params(const ConvCase& c);  // the params with the resolved out_shape

struct FieldDiff {
  std::string field;  // "tensor_scale", "group_scales[3]", "elements[17]", "y[5]", "codes[2]"
  uint64_t expected = 0, got = 0;
};

// At most this many differing fields are listed in a verdict (the count is complete).
inline constexpr size_t kMaxListedDiffs = 8;

struct Verdict {
  bool pass = true;
  std::vector<FieldDiff> diffs;  // the first few differing fields
  size_t diff_count = 0;
  std::string cause_id;          // empty when pass; one of the hypotheses' ids (10.7)
  std::string cause;             // one line for humans
  nlohmann::json detail;         // the first differing element, step by step
  // conv / gemm only: the tier reached over all outputs, worst error in ulps.
  Tier tier = Tier::exact;
  double worst_ulps = 0;
  std::vector<int> candidates;   // round/quantize: every hypothesis that reproduces the answer
  void add_diff(const std::string& field, uint64_t expected, uint64_t got);
  nlohmann::json to_json() const;
};

// Diagnosis by hypotheses (the golden model with one deliberate deviation
// each): the indices of those that reproduce `got`, optionally restricted to
// `among`. set_cause names a hypothesis in a verdict.
std::vector<int> matching_hypotheses(const QuantizeCase& c, const QuantizeResult& got,
                                     const std::vector<int>* among = nullptr);
std::vector<int> matching_round_hypotheses(const RoundCase& c, const CodesResult& got,
                                           const std::vector<int>* among = nullptr);
void set_cause(Verdict& v, int hypothesis);
// Every cause id a diagnosis can name (10.7), in catalogue order.
std::vector<std::string> cause_ids();

Verdict judge_round(const RoundCase& c, const CodesResult& expected, const CodesResult& got);
Verdict judge_quantize(const QuantizeCase& c, const QuantizeResult& expected, const QuantizeResult& got);
Verdict judge_dequantize(const MlsTensor& t, const TensorResult& got);
Verdict judge_conv(const ConvCase& c, const ReductionResult& expected, const TensorResult& got,
                   const TierRequirement& required);

}  // namespace mls::conformance
