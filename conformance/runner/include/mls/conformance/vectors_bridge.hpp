// Between runner cases and vector files (spec/08-vectors.md, spec/10-conformance.md):
// the cases of a vector file as runner cases (replay), a runner case as a
// one-case vector file (a saved failure), and `mls verify`: a results file
// (8.5) judged against the vector file it answers.
#pragma once
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "mls/conformance/campaign.hpp"
#include "mls/vectors/suite.hpp"

namespace mls::conformance {

// Case k of a quantize, dequantize, conv or gemm group as a runner case.
Case case_from_group(const vectors::CaseGroup& g, uint64_t k);
// Every round, quantize, dequantize, conv and gemm case of a suite, in path
// order (consecutive round rows with one scale batched into one request).
// philox groups are not an op and are not included.
std::vector<Case> cases_from_suite(const vectors::Suite& s);

// The case as a one-case vector suite with the golden outputs, or nullopt
// when the schema cannot hold it (a quantize case with a static tensor scale,
// a round case whose scale is not an fp32 value).
std::optional<vectors::Suite> case_to_suite(const Case& c, const std::string& source);

// `mls verify`: every case of `vec` judged from the outputs in `res` (a
// results file checked against `vec` by vectors::read_results). Status 0
// results are compared (conv/gemm by tier), status 1 must match a spec
// error, status 2 (unsupported) and 3 (not run) and groups missing from the
// results are skipped, never passed. round and philox groups are compared
// bit for bit. Mismatches are printed to `log` naming the HDF5 group and case.
// Stops at the next case once mls::interrupt::requested() (report marked interrupted).
CampaignReport verify_results(const vectors::Suite& vec, const vectors::Suite& res, const TierRequirement& tier,
                              const Limits& limits, const CaseSink& sink, std::ostream& log,
                              progress::Meter* progress = nullptr);

}  // namespace mls::conformance
