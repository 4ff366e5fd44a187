// Conformance campaigns (spec/10-conformance.md): RapidCheck-driven random
// cases biased to the edges, replay of saved cases, shrinking of a failure
// to a minimal case, and the running tally that the reports print.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "mls/conformance/backend.hpp"
#include "mls/conformance/judge.hpp"

namespace mls::conformance {

// One case of any op, in its protocol-v1 JSON form ("op" says which).
struct Case {
  std::string op;  // quantize | dequantize | conv2d | gemm
  QuantizeCase q;
  MlsTensor t;     // dequantize
  ConvCase conv;   // conv2d, gemm
  nlohmann::json to_json() const;
  static Case from_json(const nlohmann::json& j);  // throws mls::Error naming the field
  std::string summary() const;                     // "quantize e2m1.g4m1 rne [1,2,3]"
  int64_t size() const;                            // elements, for shrinking reports
};

struct CaseResult {
  Status status = Status::ok;
  std::string message;   // backend message for unsupported/rejected/failure
  bool golden_rejects = false;
  Verdict verdict;       // when status == ok (or a mismatch of rejection)
  bool passed() const;   // ok + verdict.pass, or both sides rejected
  nlohmann::json to_json() const;
};

// Runs one case on the backend and judges it against the golden model.
CaseResult run_case(Backend& backend, const Case& c, Tier conv_tier);

struct CampaignOptions {
  uint64_t seed = 1;
  int64_t cases = 1000;                 // per op
  std::vector<std::string> ops{"quantize", "dequantize", "conv2d", "gemm"};
  std::vector<std::string> formats;     // empty: generated formats; else these (names/short names/JSON)
  std::vector<std::string> modes;       // empty: all seven
  Tier conv_tier = Tier::exact;         // the tier conv/gemm outputs must reach
  int64_t max_shrinks = 400;            // backend calls spent on shrinking one failure
  int64_t max_failures = 1;             // stop an op after this many mismatches (0 = never)
  int64_t max_backend_failures = 5;     // abort after this many consecutive backend failures
  std::string save_dir;                 // where minimal failing cases are written ("" = don't)
};

struct Tally {
  int64_t passed = 0, mismatched = 0, skipped = 0, backend_failures = 0;
  int64_t not_run = 0;                  // of `skipped`: no result at all (mls verify: status 3, missing group)
  Tier worst_tier = Tier::exact;        // conv/gemm
  double worst_ulps = 0;
  std::vector<nlohmann::json> failures; // minimal failing cases with verdicts
  void add(const CaseResult& r, const std::string& op);
};

struct CampaignReport {
  std::string backend;
  std::map<std::string, Tally> per_op;
  bool aborted = false;
  std::string abort_reason;
  double seconds = 0;
  int exit_code() const;  // 0 pass, 1 mismatch, 2 backend failure
  nlohmann::json to_json() const;
  std::string junit_xml() const;
  void print_summary(std::ostream& os) const;
};

// The differing fields, the first difference step by step and the likely
// cause of a failed case, indented, for the human log.
void print_mismatch(std::ostream& log, const CaseResult& r);

// Called after every case (for the streaming results log).
using CaseSink = std::function<void(const std::string& op, const Case&, const CaseResult&)>;

CampaignReport run_random_campaign(Backend& backend, const CampaignOptions& opt, const CaseSink& sink,
                                   std::ostream& log);
CampaignReport run_replay(Backend& backend, const std::vector<Case>& cases, Tier conv_tier, const CaseSink& sink,
                          std::ostream& log, const std::string& label);

// A generated random case (exposed for tests and `mls gen`-style use).
Case generate_case(const std::string& op, uint64_t seed, int64_t index, const CampaignOptions& opt);

}  // namespace mls::conformance
