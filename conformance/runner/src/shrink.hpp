// Shrinking a failing case to a minimal one (spec/10-conformance.md 10.6) and
// saving it as a replayable one-case vector file plus JSON with the verdict.
#pragma once
#include <rapidcheck.h>

#include <string>

#include "mls/conformance/campaign.hpp"

namespace mls::conformance::detail {

struct Shrunk {
  Case c;
  CaseResult r;
  int64_t steps = 0, calls = 0;
};

// Greedy shrinking over RapidCheck's shrink tree: take the first shrink that
// still fails for the same reason, repeat until none does or `budget` backend
// calls are spent.
Shrunk shrink(Backend& backend, const rc::Shrinkable<Case>& start, const CaseResult& first, const TierRequirement& tier,
              int64_t budget);

// Writes failure-<op>-<n>.json (case + verdict) and, when the vector schema can
// hold the case, failure-<op>-<n>.h5; returns the replay path ("" when dir is "").
std::string save_case(const std::string& dir, const std::string& op, int64_t n, const Case& c, const CaseResult& r,
                      const std::string& source);

}  // namespace mls::conformance::detail
