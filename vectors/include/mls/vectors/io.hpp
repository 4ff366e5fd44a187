// Reading and writing vector files and results files (spec/08-vectors.md).
//
// Typical use by a conformance runner:
//
//   using namespace mls::vectors;
//   const Suite vec = read_suite("level1.h5");            // validated, digests checked
//   Suite res = make_results(vec, "my-impl 1.2");          // outputs allocated, status = not run
//   for (auto& g : res.groups) {
//     const CaseGroup& in = *vec.find(g.path);
//     if (in.op != Op::round) continue;
//     const Format f = in.format();
//     const Rounding r = in.rounding();
//     for (uint64_t k = 0; k < in.count(); ++k) {
//       const RoundRow c = round_case(in, k);
//       set_round_output(g, k, RoundOutput{kStatusOk, my_round(f, r, c)});
//     }
//   }
//   write_suite("results.h5", res);
//   ... later: const Suite back = read_results("results.h5", vec);
//
// Every failure is an mls::Error whose message starts with the file name and
// names the HDF5 path (e.g. "x.h5: /round/0003/inputs/x: dataset is missing").
#pragma once
#include <string>

#include "mls/vectors/suite.hpp"

namespace mls::vectors {

struct ReadOptions {
  // Check the file checksum in the user block (before HDF5 parses the file)
  // and recompute the group and content digests (8.6). Off: structure only.
  bool verify_digests = true;
};

// Reads and validates a vector file (kind "vectors") or, without the
// cross-check against its vector file, a results file. Checks the file
// checksum (when the file carries one), the schema name and version, the root
// attributes, every case group against the dataset table (schema.hpp) and
// the digests. The whole file is read into memory.
Suite read_suite(const std::string& path, const ReadOptions& options = {});

// Reads a results file and checks it against the vector file it answers:
// every group path exists there with the same op and case count, and holds
// only outputs/ datasets with the dims of the vector file's outputs. Group
// attributes the results file omits are copied from the vector file, so the
// typed accessors of suite.hpp work on the returned groups.
Suite read_results(const std::string& path, const Suite& vectors, const ReadOptions& options = {});

// Writes a suite. Fills in case_count (from the datasets), the group digests
// and, for vector files, group_count, case_count and content_sha256 at the
// root; validates; then writes a temporary file next to `path`, stamps the
// file checksum into its 512-byte user block and renames it over `path`, so
// no half-written file ever carries the final name. Output is
// byte-for-byte deterministic: no timestamps, fixed attribute and dataset
// order, contiguous layout, no filters (8.7).
void write_suite(const std::string& path, Suite suite);

// A results suite for `vectors`: the same group paths and attributes (minus
// the digest), outputs/ datasets allocated with zeros and status = not run.
Suite make_results(const Suite& vectors, const std::string& implementation);

// Digests of spec 8.6 (64 lowercase hex digits).
std::string group_digest(const CaseGroup& g);
std::string content_digest(const Suite& s);
// Sets case_count, sha256 of every group and the root's group_count,
// case_count and content_sha256 (what write_suite does before writing).
void finalize_suite(Suite& s);

// The HDF5 library version this build writes with ("1.10.8").
std::string hdf5_version();

// A plain tree -- root attributes and datasets one group deep ("entries/start")
// -- written in the conventions of the vector files (deterministic layout, the
// 512-byte user block with the file checksum of 8.6, a temporary name renamed
// into place), for the other HDF5 file kinds of the project (breakpoint
// tables, spec/11-exhaustive.md 11.5). The caller validates the content.
struct Tree {
  Attrs attrs;
  std::map<std::string, Array> data;
};
void write_tree(const std::string& path, const Tree& tree);
// Checks the file checksum first when `verify_checksum` and the file carries
// one; errors name the file and the HDF5 path.
Tree read_tree(const std::string& path, bool verify_checksum = true);
// True when the file starts with the user-block checksum line mls writes (8.6).
bool has_file_checksum(const std::string& path);

}  // namespace mls::vectors
