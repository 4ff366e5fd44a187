// `mls gen`: the vector generators of spec/08-vectors.md section 8.8.
//
// A suite is a deterministic list of case groups (op x format x rounding or
// arithmetic x shape). Each group's cases are a curated edge table followed
// by weighted random cases (and, with --exhaustive, enumerations); case k of a
// group depends only on the options, the group and k, so any subset of cases
// can be computed on its own. That is what sharding uses: shard i of N holds
// the cases [floor(i*T/N), floor((i+1)*T/N)) of the suite's T cases numbered
// group by group in path order, and merge_shards() joins the N parts into the
// file the unsharded command writes, byte for byte.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mls/progress.hpp"
#include "mls/vectors/suite.hpp"

namespace mls::vectors {

struct GenOptions {
  std::vector<Op> ops;                 // empty = every op
  // Formats: profile names, short names, JSON, or the words "profiles" (every
  // named profile) and "variants" (the edge-format list of 8.8). Empty = profiles.
  std::vector<std::string> formats;
  std::vector<std::string> roundings;  // "rne", "sr8", ...; empty = rne rna rtz rup rdn rto sr8
  std::vector<std::string> ariths;     // conv/gemm: "exact", "acc24", "acc12wrap" or JSON; empty = all three
  uint64_t seed = 1;
  int level = 1;                       // 1 (seconds) or 2 (minutes)
  bool exhaustive = false;
  // round: every fp32 input with unbiased exponent in [first, second] (both
  // signs, subnormals as exponent -127). Default with --exhaustive: the
  // element format's range (8.8).
  std::optional<std::pair<int, int>> binades;
  int shard_index = 0, shard_count = 1;
  int jobs = 0;  // worker threads, 0 = all cores; never changes the output
  // Refuse an output above this many bytes of case data (use sharding).
  uint64_t max_bytes = uint64_t(3) << 30;
  // Live progress: cases made (mls/progress.hpp); null = none. Never changes the output.
  progress::Meter* progress = nullptr;

  void validate() const;            // throws mls::Error naming the option
  nlohmann::json to_json() const;   // root attribute "options" (no shard, jobs, max_bytes)
};

// One planned case group (without its cases).
struct GroupSummary {
  std::string path, label;
  Op op = Op::round;
  uint64_t total = 0;  // cases in the whole (unsharded) suite
};

// The plan: every case group the options produce, in path order.
std::vector<GroupSummary> plan_suite(const GenOptions& options);
// Generates the suite (or shard) in memory; write it with write_suite().
// Throws interrupt::Interrupted when SIGINT/SIGTERM came (mls/interrupt.hpp):
// the workers stop after the chunk in hand and nothing is returned.
Suite generate(const GenOptions& options);
// Joins shards 0..N-1 of one command into the unsharded suite. Errors name
// the shard and the group when they do not fit together.
Suite merge_shards(const std::vector<Suite>& shards);

// The named arithmetic profiles for conv/gemm ("exact", "acc24", "acc12wrap").
ArithProfile named_arith(const std::string& name);
// The edge-format list used by the word "variants".
const std::vector<std::string>& variant_formats();

}  // namespace mls::vectors
