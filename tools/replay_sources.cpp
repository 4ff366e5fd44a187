#include "replay_sources.hpp"

#include <fstream>
#include <iterator>

#include "mls/error.hpp"
#include "mls/vectors/io.hpp"
#include "mls/vectors/safe_read.hpp"
#include "mls/vectors/suite.hpp"
#include "mls/conformance/vectors_bridge.hpp"

namespace mls::cli {

namespace {

// The signature check without HDF5 (an untrusted file never reaches HDF5 in
// this process, spec 7.8); finds the signature after a user block too.
bool is_hdf5(const std::string& path) { return vectors::has_hdf5_signature(path); }

}  // namespace

std::vector<conformance::Case> load_replay_cases(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open " + path);
  if (is_hdf5(path)) return conformance::cases_from_suite(vectors::safe_read_suite(path));
  const std::string text(std::istreambuf_iterator<char>(in), {});
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not a JSON case file and not a vector file: " + e.what());
  }
  try {
    return conformance::cases_from_case_file(j);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

}  // namespace mls::cli
