// Conformance campaigns (spec/10-conformance.md): random cases biased to the
// edges (generate.hpp), replay of saved cases, shrinking of a failure to a
// minimal case (shrink.cpp), the running tally, and the reports (report.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "mls/conformance/backend.hpp"
#include "mls/conformance/judge.hpp"
#include "mls/progress.hpp"

namespace mls::conformance {

struct CaseResult {
  Status status = Status::ok;
  std::string message;   // backend message for unsupported/rejected/failure
  bool golden_rejects = false;
  Verdict verdict;       // when status == ok (or a mismatch of rejection)
  bool passed() const;   // ok + verdict.pass, or both sides rejected
  nlohmann::json to_json() const;
};

// Runs one case on the backend and judges it against the golden model.
CaseResult run_case(Backend& backend, const Case& c, const TierRequirement& tier);

// Every limit of a run, in one place (10.2, 10.5, 10.6).
struct Limits {
  int64_t max_failures = 1;           // random: stop an op after this many mismatches (0 = never)
  int64_t max_backend_failures = 5;   // abort after this many consecutive backend failures
  int64_t max_shrinks = 400;          // backend calls spent on shrinking one failure
  int64_t disambiguation_cases = 300; // extra cases spent singling out one cause (10.7)
  size_t max_reported_failures = 20;  // replay / verify: failing cases kept in the report per op
};

struct CampaignOptions {
  uint64_t seed = 1;
  int64_t cases = 1000;                 // per op
  std::vector<std::string> ops{"quantize", "dequantize", "conv2d", "gemm"};
  std::vector<std::string> formats;     // empty: generated formats; else these (names/short names/JSON)
  std::vector<std::string> modes;       // empty: all seven
  std::vector<std::string> arith;       // quantize: arithmetic profiles (4.12) drawn per case; empty: exact
  TierRequirement tier;                 // what conv/gemm outputs must reach
  Limits limits;
  std::string save_dir;                 // where minimal failing cases are written ("" = don't)
  progress::Meter* progress = nullptr;  // live progress (mls/progress.hpp); null = none
};

struct Tally {
  int64_t passed = 0, mismatched = 0, skipped = 0, backend_failures = 0;
  int64_t not_run = 0;                  // of `skipped`: no result at all (mls verify: status 3, missing group)
  Tier worst_tier = Tier::exact;        // conv/gemm, over the judged cases
  double worst_ulps = 0;
  std::vector<nlohmann::json> failures; // minimal failing cases with verdicts
  int64_t judged() const { return passed + mismatched; }
  void add(const CaseResult& r);
};

struct CampaignReport {
  std::string backend;
  std::map<std::string, Tally> per_op;
  bool aborted = false;
  std::string abort_reason;
  // Stopped by SIGINT or SIGTERM at a case boundary (mls/interrupt.hpp, 10.8):
  // the counts are those of the cases judged so far.
  bool interrupted = false;
  std::string interrupt_signal;  // "SIGINT", "SIGTERM"
  int interrupt_exit = 0;        // 128 + the signal number
  uint64_t cases_planned = 0;    // the cases the run set out to judge (0: not known)
  double seconds = 0;
  void mark_interrupted();       // from mls::interrupt's state
  uint64_t cases_done() const;   // every case counted in per_op
  int exit_code() const;  // 0 pass, 1 mismatch, 2 backend failure; 130/143 interrupted
  nlohmann::json to_json() const;
  std::string junit_xml() const;
  void print_summary(std::ostream& os) const;
};

// The differing fields, the first difference step by step and the likely
// cause of a failed case, indented, for the human log.
void print_mismatch(std::ostream& log, const CaseResult& r);

// Counts a judged case in a progress meter (done, mismatches, backend failures,
// skips); nothing when `m` is null. For loops outside this file (e.g. exhaustive
// checks) that report like a campaign.
void count_progress(progress::Meter* m, const CaseResult& r);

// Called after every case (for the streaming results log).
using CaseSink = std::function<void(const std::string& op, const Case&, const CaseResult&)>;

CampaignReport run_random_campaign(Backend& backend, const CampaignOptions& opt, const CaseSink& sink,
                                   std::ostream& log);
// Both loops stop at the next case boundary once mls::interrupt::requested(),
// with the report marked interrupted.
CampaignReport run_replay(Backend& backend, const std::vector<Case>& cases, const TierRequirement& tier,
                          const Limits& limits, const CaseSink& sink, std::ostream& log, const std::string& label,
                          progress::Meter* progress = nullptr);

}  // namespace mls::conformance
