// Saved replay cases (spec/10-conformance.md 10.6) as `mls check --replay
// case.json` reads them: the codec's case_from_json. Properties: only
// mls::Error is thrown for bad input, and an accepted case prints to JSON
// that reads back to the same case.
#include <nlohmann/json.hpp>

#include "fuzz_common.hpp"
#include "mls/conformance/codec.hpp"
#include "mls/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json j = nlohmann::json::parse(mls::fuzz::text(data, size), nullptr, false);
  if (j.is_discarded()) return 0;
  // The three shapes load_replay_cases accepts: {"schema":"mls-case","case":..}, an array, a bare case.
  const nlohmann::json* c = &j;
  if (j.is_object() && j.contains("schema") && j.at("schema") == "mls-case" && j.contains("case")) c = &j.at("case");
  auto one = [](const nlohmann::json& x) {
    mls::conformance::Case k;
    try {
      k = mls::conformance::case_from_json(x);
    } catch (const mls::Error&) {
      return;
    }
    const nlohmann::json back = mls::conformance::to_json(k);
    mls::conformance::Case again;
    try {
      again = mls::conformance::case_from_json(nlohmann::json::parse(back.dump()));
    } catch (const mls::Error& e) {
      mls::fuzz::broken("an accepted case prints to JSON that does not read back: " + std::string(e.what()));
    }
    MLS_FUZZ_CHECK(mls::conformance::to_json(again) == back, "case JSON round trip differs");
    (void)k.summary();
  };
  if (c->is_array()) {
    for (size_t i = 0; i < c->size() && i < 16; ++i) one((*c)[i]);
  } else {
    one(*c);
  }
  return 0;
}
