#include "replay_sources.hpp"

#include <hdf5.h>

#include <fstream>
#include <iterator>

#include "mls/error.hpp"
#include "mls/vectors/io.hpp"
#include "mls/vectors/suite.hpp"
#include "mls/conformance/vectors_bridge.hpp"

namespace mls::cli {

namespace {

bool is_hdf5(const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  return H5Fis_hdf5(path.c_str()) > 0;  // finds the signature after a user block too
}

}  // namespace

std::vector<conformance::Case> load_replay_cases(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open " + path);
  if (is_hdf5(path)) return conformance::cases_from_suite(vectors::read_suite(path));
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
