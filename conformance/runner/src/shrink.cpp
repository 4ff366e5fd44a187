#include "shrink.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "mls/conformance/vectors_bridge.hpp"
#include "mls/error.hpp"
#include "mls/interrupt.hpp"
#include "mls/vectors/io.hpp"

namespace mls::conformance::detail {

Shrunk shrink(Backend& backend, const rc::Shrinkable<Case>& start, const CaseResult& first, const TierRequirement& tier,
              int64_t budget) {
  Shrunk s{start.value(), first, 0, 0};
  rc::Shrinkable<Case> cur = start;
  bool progress = true;
  // An interruption (mls/interrupt.hpp) ends the shrinking with the smallest case so far.
  while (progress && s.calls < budget && !interrupt::requested()) {
    progress = false;
    auto seq = cur.shrinks();
    while (auto next = seq.next()) {
      if (s.calls >= budget || interrupt::requested()) break;
      Case cand;
      try {
        cand = next->value();
      } catch (const std::exception&) {
        continue;  // a shrink the generator cannot build (e.g. an invalid combination)
      }
      ++s.calls;
      const CaseResult r = run_case(backend, cand, tier);
      if (r.status != Status::ok && r.status != Status::rejected) continue;
      // Keep the failure's identity: a smaller case that fails for another
      // reason would make the diagnosis of the minimal case misleading.
      const auto& fc = first.verdict.candidates;
      const bool same_cause = first.verdict.cause_id == "unknown" || r.verdict.cause_id == first.verdict.cause_id ||
                              (!fc.empty() && std::find(r.verdict.candidates.begin(), r.verdict.candidates.end(),
                                                        fc.front()) != r.verdict.candidates.end());
      if (!r.passed() && same_cause) {
        cur = *next;
        s.c = cand;
        s.r = r;
        ++s.steps;
        progress = true;
        break;
      }
    }
  }
  return s;
}

std::string save_case(const std::string& dir, const std::string& op, int64_t n, const Case& c, const CaseResult& r,
                      const std::string& source) {
  if (dir.empty()) return "";
  std::filesystem::create_directories(dir);
  const std::string stem = dir + "/failure-" + op + "-" + std::to_string(n);
  const std::string path = stem + ".json";
  const nlohmann::json j{{"schema", "mls-case"}, {"version", 1}, {"case", to_json(c)}, {"result", r.to_json()}};
  const std::string tmp = interrupt::temp_name(path);
  const interrupt::TempFile guard(tmp);
  {
    std::ofstream out(tmp);
    out << j.dump(1) << "\n";
    if (!out) {
      std::remove(tmp.c_str());
      throw Error("cannot write " + tmp);
    }
  }
  std::filesystem::rename(tmp, path);
  if (auto suite = case_to_suite(c, source)) {
    vectors::write_suite(stem + ".h5", std::move(*suite));
    return stem + ".h5";
  }
  return path;
}

}  // namespace mls::conformance::detail
