// The parts of the exhaustive checker shared by its source files
// (exhaustive.cpp: engine and round; exhaustive_quantize.cpp: the element
// stage of a quantizer; exhaustive_report.cpp: reports, merging, diagnosis).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "mls/conformance/exhaustive.hpp"
#include "mls_backend.h"

namespace mls::conformance::detail {

// A mismatch class: what was expected, what came back (11.9).
struct ClassKey {
  enum Kind : uint8_t { element = 0, group_scale = 1, tensor_scale = 2 };
  Kind kind = element;
  uint8_t want_status = 0;
  uint32_t want_code = 0;
  uint8_t got_status = 0;
  uint32_t got_code = 0;
  auto tie() const { return std::tie(kind, want_status, want_code, got_status, got_code); }
  friend bool operator<(const ClassKey& a, const ClassKey& b) { return a.tie() < b.tie(); }
};
std::string kind_name(ClassKey::Kind k);
ClassKey::Kind kind_from_name(const std::string& s, const std::string& field);

struct ClassAcc {
  uint64_t count = 0;
  std::vector<uint32_t> first;  // ascending, at most first_inputs
};

// Counts of one piece of work; joined under the engine's lock.
struct Tally {
  uint64_t matched = 0, mismatched = 0, skipped = 0, backend_failures = 0, out_of_reach = 0;
  uint64_t scale_mismatches = 0;
  uint64_t classes_dropped = 0;  // classes a report left out (their inputs are counted above)
  std::map<ClassKey, ClassAcc> classes;
  std::vector<std::string> failure_messages;  // the first backend failures, for the log
  // A mismatch (or a backend failure: status other than ok / input error) at x;
  // inputs of one class arrive in increasing order within one piece of work.
  void add(const ClassKey& k, uint32_t x, size_t first_inputs);
  void merge(const Tally& o, size_t first_inputs);
};

// Sorted, overlapping or adjacent ranges joined.
std::vector<PatternRange> join_ranges(std::vector<PatternRange> r);
void fill_from_tally(ExhaustiveReport& r, const Tally& t, size_t max_classes);
Tally tally_of(const ExhaustiveReport& r);

// One thread's buffers and comparison. process() runs [lo, hi] (at most
// `batch` inputs): entries with a code in one call per stretch, entries the
// spec makes errors one input per call (11.7).
class Worker {
 public:
  Worker(const BreakpointTable& t, const mls_backend_v2* api, uint64_t batch, size_t first_inputs);
  virtual ~Worker() = default;
  virtual void process(uint64_t lo, uint64_t hi, Tally& tally) { process_range(lo, hi, tally); }
  double backend_s = 0, compare_s = 0;

 protected:
  void process_range(uint64_t lo, uint64_t hi, Tally& tally);
  // The backend's answer for x_[off .. off+n) into codes_ (status MLS_*).
  virtual int32_t call_backend(size_t off, size_t n) = 0;
  void record(const BreakpointOutcome& want, uint8_t st, uint32_t got, uint32_t x, Tally& tally,
              ClassKey::Kind kind = ClassKey::element);

  const BreakpointTable& t_;
  const mls_backend_v2* api_;
  size_t k_first_;
  bool sr_ = false;
  std::vector<uint32_t> x_, codes_, rand_;
  std::vector<uint8_t> status_;
  bool failed_ = false;
  Tally* tally_ = nullptr;  // the tally of the piece of work in progress

 private:
  void call(size_t off, size_t n, Tally& tally);
  void compare(size_t off, size_t n, uint32_t want, Tally& tally);
  void singles(uint64_t a, uint64_t b, const BreakpointOutcome& want, Tally& tally);
};

std::string last_error(const mls_backend_v2* api);

// exhaustive_quantize.cpp
void probe_quantize(const mls_backend_v2* api, const std::string& name, const BreakpointTable& t, const QuantizeStage& st);
std::unique_ptr<Worker> make_quantize_worker(const BreakpointTable& t, const mls_backend_v2* api, const QuantizeStage& st,
                                             uint64_t batch, size_t first_inputs);

}  // namespace mls::conformance::detail
