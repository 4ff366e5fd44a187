// Cases to replay: saved failing cases (JSON) and vector files (HDF5).
#pragma once
#include <string>
#include <vector>

#include "mls/conformance/campaign.hpp"

namespace mls::cli {

std::vector<conformance::Case> load_replay_cases(const std::string& path);

}  // namespace mls::cli
