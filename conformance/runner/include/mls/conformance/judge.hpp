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

// The golden answer of a case (via the reference).
QuantizeResult golden_quantize(const QuantizeCase& c);
ReductionResult golden_conv(const ConvCase& c);

struct FieldDiff {
  std::string field;  // "tensor_scale", "group_scales[3]", "elements[17]", "y[5]"
  uint64_t expected = 0, got = 0;
};

// Cause identifiers, one per seeded-bug class of the catalogue.
//   tie_rule truncation fp32_reciprocal sr_threshold sr_bits flush_subnormals
//   scale_floor scale_nearest tensor_scale_nearest signed_zero
//   accumulator_overflow summation_order wrong_shape unknown
struct Verdict {
  bool pass = true;
  std::vector<FieldDiff> diffs;  // the first few differing fields
  size_t diff_count = 0;
  std::string cause_id;          // empty when pass
  std::string cause;             // one line for humans
  nlohmann::json detail;         // the first differing element, step by step
  // conv / gemm only: the tier reached over all outputs, worst error in ulps.
  Tier tier = Tier::exact;
  double worst_ulps = 0;
  std::vector<int> candidates;   // quantize: every hypothesis that reproduces the answer
  nlohmann::json to_json() const;
};

// Quantize diagnosis by hypotheses (the golden model with one deliberate
// deviation each): the indices of those that reproduce `got`, optionally
// restricted to `among`. set_cause names a hypothesis in a verdict.
std::vector<int> matching_hypotheses(const QuantizeCase& c, const QuantizeResult& got,
                                     const std::vector<int>* among = nullptr);
void set_cause(Verdict& v, int hypothesis);

Verdict judge_quantize(const QuantizeCase& c, const QuantizeResult& expected, const QuantizeResult& got);
Verdict judge_dequantize(const MlsTensor& t, const TensorResult& got);
// `required` is the tier a pass needs (exact by default; faithful or bounded
// when the backend declares an fp32 accumulation model).
Verdict judge_conv(const ConvCase& c, const ReductionResult& expected, const TensorResult& got, Tier required);

}  // namespace mls::conformance
