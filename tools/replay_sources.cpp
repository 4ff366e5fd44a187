#include "replay_sources.hpp"

#include <fstream>
#include <iterator>

#include "mls/error.hpp"

namespace mls::cli {

std::vector<conformance::Case> load_replay_cases(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open " + path);
  const std::string text(std::istreambuf_iterator<char>(in), {});
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not a JSON case file and not a vector file: " + e.what());
  }
  std::vector<conformance::Case> out;
  try {
    if (j.is_object() && j.value("schema", "") == "mls-case") out.push_back(conformance::Case::from_json(j.at("case")));
    else if (j.is_array()) for (const auto& c : j) out.push_back(conformance::Case::from_json(c));
    else out.push_back(conformance::Case::from_json(j));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  return out;
}

}  // namespace mls::cli
