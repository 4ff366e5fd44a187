// One explicit case as a one-case vector file (spec/08-vectors.md 8.5a): how
// `mls check` saves a minimal failing case so that any reader of the vector
// schema -- `mls check --replay`, `mls export`, an RTL testbench, h5py --
// can replay it. The expected outputs are the golden model's.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "mls/conv.hpp"
#include "mls/format.hpp"
#include "mls/tensor.hpp"
#include "mls/vectors/suite.hpp"

namespace mls::vectors {

// Case groups of one case (path "/<op>/0000"); `label` goes into the label attribute.
CaseGroup single_round_group(const Format& f, const Rounding& r, const std::vector<uint32_t>& x, uint32_t tensor_scale,
                             const std::vector<uint32_t>& rand, const std::string& label);
CaseGroup single_quantize_group(const Format& f, const Rounding& r, QuantArith arith, const Shape& shape,
                                const std::vector<uint32_t>& x, const std::vector<uint32_t>& rand, const std::string& label);
CaseGroup single_dequantize_group(const MlsTensor& t, const std::string& label);
CaseGroup single_conv_group(const MlsTensor& a, const MlsTensor& b, const Conv2dParams& p, const ArithProfile& arith,
                            const std::string& label);
CaseGroup single_gemm_group(const MlsTensor& a, const MlsTensor& b, const ArithProfile& arith, const std::string& label);

// A vector suite holding the given groups (one per op at most), with the root
// attributes of 8.3.1: seed 0, level 0 ("not generated"), and `options`
// carrying `source` (e.g. "mls check failure: campaign seed 1, quantize case 17").
Suite single_case_suite(std::vector<CaseGroup> groups, const std::string& source);

}  // namespace mls::vectors
