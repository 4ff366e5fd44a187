// Format descriptors as users give them (spec/02-format.md 2.7, 2.8): a
// profile name, a short name or JSON text (mls::parse_format), the JSON form
// (mls::format_from_json) and rounding names (mls::parse_rounding); the
// family's grid names, named grids and grid JSON (spec 1.8, 1.10:
// mls::parse_minifloat, minifloat_from_json, for the element and the scale
// role) and conv/gemm arithmetic profiles (mls::parse_arith, 6.9).
// Properties: only mls::Error is thrown, and whatever is accepted prints
// back to a short name (grid name) and a JSON form that parse to the same
// format (grid, profile).
#include <nlohmann/json.hpp>

#include "fuzz_common.hpp"
#include "mls/error.hpp"
#include "mls/conv.hpp"
#include "mls/format.hpp"
#include "mls/minifloat.hpp"

using mls::Error;

namespace {

void round_trip(const mls::Format& f, const std::string& input) {
  mls::Format g, h;
  try {
    g = mls::parse_format(f.short_name());
  } catch (const Error& e) {
    mls::fuzz::broken("accepted " + input + " but its short name " + f.short_name() + " does not parse: " + e.what());
  }
  MLS_FUZZ_CHECK(g == f, "short name " + f.short_name() + " of " + input + " parses to another format");
  try {
    h = mls::format_from_json(nlohmann::json::parse(f.to_json().dump()));
  } catch (const Error& e) {
    mls::fuzz::broken("accepted " + input + " but its JSON " + f.to_json().dump() + " does not parse: " + e.what());
  }
  MLS_FUZZ_CHECK(h == f, "JSON form of " + input + " parses to another format");
}

void grid_round_trip(const std::string& s, mls::GridRole role) {
  mls::Minifloat m;
  try {
    m = mls::parse_minifloat(s, role, "grid");
  } catch (const Error&) {
    return;
  }
  mls::Minifloat g, h;
  try {
    g = mls::parse_minifloat(m.name(), role, "grid");
    h = mls::minifloat_from_json(nlohmann::json::parse(m.to_json(role).dump()), role, "grid");
  } catch (const Error& e) {
    mls::fuzz::broken("accepted grid " + s + " but its name " + m.name() + " or JSON does not parse: " + e.what());
  }
  MLS_FUZZ_CHECK(g == m, "grid name " + m.name() + " of " + s + " parses to another grid");
  MLS_FUZZ_CHECK(h == m, "grid JSON of " + s + " parses to another grid");
}

bool same(const mls::Rounding& a, const mls::Rounding& b) {
  return a.mode == b.mode && (a.mode != mls::RoundingMode::sr || a.sr_bits == b.sr_bits);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string s = mls::fuzz::text(data, size);
  try {
    round_trip(mls::parse_format(s), s);
  } catch (const Error&) {
  }
  const nlohmann::json j = nlohmann::json::parse(s, nullptr, false);
  if (!j.is_discarded()) {
    try {
      round_trip(mls::format_from_json(j), s);
    } catch (const Error&) {
    }
    try {
      const mls::Rounding r = mls::rounding_from_json(j);
      MLS_FUZZ_CHECK(same(mls::rounding_from_json(mls::rounding_to_json(r)), r), "rounding JSON round trip of " + s);
    } catch (const Error&) {
    }
  }
  grid_round_trip(s, mls::GridRole::element);
  grid_round_trip(s, mls::GridRole::group_scale);
  try {
    const mls::ArithProfile a = mls::parse_arith(s);
    MLS_FUZZ_CHECK(mls::parse_arith(a.to_json().dump()) == a, "arith profile JSON round trip of " + s);
  } catch (const Error&) {
  }
  try {
    const mls::Rounding r = mls::parse_rounding(s);
    MLS_FUZZ_CHECK(same(mls::parse_rounding(mls::rounding_name(r)), r), "rounding name round trip of " + s);
  } catch (const Error&) {
  }
  return 0;
}
