// Exhaustive checking (spec/11-exhaustive.md 11.7-11.9): every fp32 input of
// a range -- by default all 2^32 -- pushed through a C ABI backend's `round`
// entry (a cast) or its `quantize` entry (the element stage of a quantizer,
// with a static tensor scale and a fixed group scale) in large batches on all
// cores, and compared with a breakpoint table (reference/.../breakpoints.hpp).
// Reports merge: the shards of one check (--shard i/N), a resumed run and
// outside tools' reports (tools/exhaustive_numpy.py) give one report.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "mls/breakpoints.hpp"
#include "mls/error.hpp"
#include "mls/format.hpp"

namespace mls::conformance {

// The backend cannot be run for this check at all: a library that does not
// load, or one that does not compute the op for the spec (10.4: exit 2,
// "nothing could be compared").
struct BackendUnavailable : Error {
  using Error::Error;
};

// An inclusive range of fp32 bit patterns.
struct PatternRange {
  uint64_t first = 0, last = 0xffffffffu;
  uint64_t size() const { return last - first + 1; }
  friend bool operator==(const PatternRange&, const PatternRange&) = default;
};
inline constexpr PatternRange kAllPatterns{0, 0xffffffffu};
// "A:B" (inclusive; hex with 0x or decimal); errors name `field` and the fp32 space.
PatternRange parse_pattern_range(const std::string& text, const std::string& field = "--range");
// Part i of n (0-based) of `r`: contiguous, the parts in order cover `r` exactly.
PatternRange shard_part(const PatternRange& r, int index, int count);

// The element stage of a quantizer (11.8): every group is [anchor, x1, x2, ...]
// so that its group scale is `group_scale` whatever inputs <= anchor share it.
struct QuantizeStage {
  Format format;               // group_shape (or block) as the backend will see it
  uint32_t tensor_scale = 0;   // S_t, fp32 bits (a static tensor scale, 4.6)
  uint32_t group_scale = 0;    // G, a code of the format's group-scale grid
  uint32_t anchor = 0;         // the largest |x| whose group scale is G (fp32 bits, positive)
  int64_t group_elems = 0;     // elements per group (anchor included)
  nlohmann::json to_json() const;   // with "op": "quantize"
  static QuantizeStage from_json(const nlohmann::json& j, const std::string& what);
};
// The stage for `format` with S_t and G: finds the anchor by bisection with
// the golden model (select_group_scale); a format without blocks gets groups
// of `group_elems` along the last axis. Throws naming the option at fault.
QuantizeStage make_quantize_stage(const Format& format, uint32_t tensor_scale, uint32_t group_scale,
                                  int64_t group_elems = 64);
// The breakpoint spec of that stage's elements (scale S_t * S_g, the format's policies).
BreakpointSpec quantize_stage_spec(const QuantizeStage& st, const Rounding& rounding, uint32_t word, QuantArith arith);

struct MismatchClass {
  std::string kind = "element";    // "element"; quantize: also "group_scale", "tensor_scale"
  BreakpointOutcome expected;      // status 0 ok / 1 error
  uint8_t got_status = 0;          // the backend's MLS_* status
  uint32_t got_code = 0;
  uint64_t count = 0;
  std::vector<uint32_t> first;     // the smallest such inputs, ascending
  std::string cause_id, cause;     // 10.7 diagnosis of the first inputs
  nlohmann::json detail;           // the first input step by step
};

struct ExhaustiveReport {
  BreakpointSpec spec;
  std::string table_sha256, implementation;
  nlohmann::json stage = {{"op", "round"}};  // {"op":"round"} or the QuantizeStage JSON with "op":"quantize"
  PatternRange requested = kAllPatterns;
  std::optional<std::pair<int, int>> shard;   // this report's part of `requested` (index, count)
  std::vector<PatternRange> covered;          // sorted, disjoint, adjacent ranges joined
  // Inputs: checked = matched + mismatched + backend_failures; every covered
  // input is checked, skipped (the backend declined it) or out of reach (the
  // quantize stage: above the anchor, NaN, Inf). scale_mismatches counts the
  // quantize stage's groups whose tensor or group scale differs.
  uint64_t checked = 0, matched = 0, mismatched = 0, skipped = 0, backend_failures = 0, out_of_reach = 0;
  uint64_t scale_mismatches = 0;
  std::vector<MismatchClass> classes;         // sorted by first input
  uint64_t classes_dropped = 0;               // classes beyond the limit (their inputs are counted)
  // One deviation (10.7) that reproduces the first input of every element
  // class at once, when there is one: {"cause_id", "cause", "classes"}; else null.
  nlohmann::json diagnosis;
  nlohmann::json run = nlohmann::json::object();  // timings and rates: not part of the result

  PatternRange target() const;  // the shard's part, or `requested`
  bool complete() const;        // covered == target()
  int exit_code() const;        // 0 pass, 1 mismatch, 2 backend failure / nothing checked / incomplete
  std::string result() const;   // pass, mismatch, backend_failure, incomplete
  nlohmann::json to_json() const;
  static ExhaustiveReport from_json(const nlohmann::json& j, const std::string& what);
  void print_summary(std::ostream& os) const;
};

// One line of progress (percent, inputs/s, time left). Kept in one place so
// the shared progress component of the tools can replace it.
struct ExhaustiveProgress {
  uint64_t done = 0, total = 0, mismatched = 0;
  double seconds = 0;
  bool final = false;
};

struct ExhaustiveOptions {
  PatternRange range = kAllPatterns;
  std::optional<std::pair<int, int>> shard;
  int threads = 0;                      // 0: every core
  uint64_t batch = uint64_t(1) << 20;   // inputs per backend call (and per unit of work)
  size_t first_inputs = 8;              // inputs kept per mismatch class
  size_t max_classes = 4096;
  std::string state_path;               // the partial report, rewritten every state_every_s (resumable)
  double state_every_s = 10;
  const ExhaustiveReport* resume = nullptr;  // a partial report of the same check: only what it lacks is run
  bool baseline = true;                 // measure the plain input-reading loop in the same run
  std::function<void(const ExhaustiveProgress&)> progress;
  const std::atomic<bool>* stop = nullptr;   // set: finish the batches in flight, report what is covered
  // Called by the worker thread after each finished batch (inputs done so far), before it takes the
  // next one: a deterministic point at which to set `stop` (tests, embedders).
  std::function<void(uint64_t)> after_batch;
};

// Runs the check against the C ABI library at `backend_lib`. Throws
// mls::Error for a library that cannot be loaded, a backend that does not
// compute the op for this spec (nothing checked; the message says why), an
// inconsistent resume report.
ExhaustiveReport run_exhaustive(const BreakpointTable& table, const std::string& backend_lib,
                                const std::optional<QuantizeStage>& quantize, const ExhaustiveOptions& options);

// Joins reports of one check (shards, a run and its resume, an outside
// tool's parts): same table, implementation, stage and requested range;
// covered ranges disjoint. With `require_complete`, the union must cover the
// requested range (the message names the first gap). Classes are joined
// and diagnosed again. `names` name the inputs in messages.
ExhaustiveReport merge_exhaustive(const std::vector<ExhaustiveReport>& parts, const std::vector<std::string>& names,
                                  bool require_complete);

// Fills cause_id, cause and detail of every class from its first inputs
// (10.7 hypotheses, judge.cpp) against the golden model, and `diagnosis`:
// a hypothesis that explains the first input of every class together (a
// truncation gives many classes, some of which alone look like another cause).
void diagnose_exhaustive(ExhaustiveReport& report);

}  // namespace mls::conformance
