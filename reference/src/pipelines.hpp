// Internal to the golden model: the quantizer arithmetic profiles (4.12).
#pragma once
#include "mls/tensor.hpp"

namespace mls::detail {

// Throws an mls::Error naming `arith` when the profile does not apply to the format.
void check_arith(const Format& f, QuantArith a);
// The profile's part of the steps: its own tensor and group scales (library
// pipelines) and every group's fp32 factor.
void apply_pipeline(const QuantizeInput& in, QuantizeSteps& p);

}  // namespace mls::detail
