// Format descriptors (spec/02-format.md): named profiles, the short-name and
// JSON forms printed and parsed round trip, and validation errors that name
// the offending field.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "mls/error.hpp"
#include "mls/format.hpp"
#include "oracle.hpp"

namespace {

mls::Minifloat mf(bool s, int e, int m, int b, mls::ZeroMode z) {
  return {s, e, m, b, z, mls::Specials::none, mls::Encoding::sign_magnitude};
}

TEST(FormatProfiles, NamedProfilesHaveTheDocumentedFormatsAndRoundTrip) {
  struct Want {
    const char* name;
    const char* short_name;
    mls::Minifloat element, group;
  } want[] = {
      {"mls-e2m1", "e2m1.g4m1", mf(true, 2, 1, 3, mls::ZeroMode::subnormal), mf(false, 4, 1, 15, mls::ZeroMode::none)},
      {"mls-e2m4", "e2m4.g4m1", mf(true, 2, 4, 3, mls::ZeroMode::subnormal), mf(false, 4, 1, 15, mls::ZeroMode::none)},
      {"mls-e3m3", "e3m3.g4m1", mf(true, 3, 3, 7, mls::ZeroMode::subnormal), mf(false, 4, 1, 15, mls::ZeroMode::none)},
      {"mls-e2m1-g3m0", "e2m1.g3m0", mf(true, 2, 1, 3, mls::ZeroMode::subnormal), mf(false, 3, 0, 7, mls::ZeroMode::none)},
      {"mls-fixed4", "e0m3.g4m1", mf(true, 0, 3, 0, mls::ZeroMode::subnormal), mf(false, 4, 1, 15, mls::ZeroMode::none)},
  };
  // The MLS profiles come first; the OCP MX and NVFP4 members are checked in test_family.cpp.
  ASSERT_GE(mls::named_profiles().size(), std::size(want));
  for (size_t i = 0; i < std::size(want); ++i) EXPECT_EQ(mls::named_profiles()[i].name, want[i].name);
  for (const auto& w : want) {
    SCOPED_TRACE(w.name);
    const mls::Format f = mls::parse_format(w.name);
    EXPECT_EQ(f.element, w.element) << oracle::describe(f.element);
    EXPECT_EQ(f.group_scale, w.group) << oracle::describe(f.group_scale);
    EXPECT_TRUE(f.group_shape.empty());
    EXPECT_EQ(f.scale_policy, mls::ScalePolicy::ceil);
    EXPECT_EQ(f.signed_zero, mls::SignedZero::preserve);
    EXPECT_EQ(f.overflow, mls::OverflowPolicy::saturate);
    EXPECT_EQ(f.short_name(), w.short_name);
    EXPECT_EQ(mls::parse_format(f.short_name()), f);
    EXPECT_EQ(mls::format_from_json(f.to_json()), f);
    EXPECT_EQ(mls::parse_format(f.to_json().dump()), f);
  }
  for (const auto& p : mls::named_profiles())  // spec 2: for the paper's configurations the group-scale widths are ours, said plainly
    if (p.name == "mls-e2m1" || p.name == "mls-e2m4" || p.name == "mls-e3m3") {
      EXPECT_NE(p.description.find("this project's choice"), std::string::npos) << p.name << ": " << p.description;
    }
}

TEST(FormatShortName, FieldsOptionsAndCanonicalPrinting) {
  const mls::Format f = mls::parse_format("e3m2b-2z.g5m2/2x1x0:floor:poszero:ovf_error");
  EXPECT_EQ(f.element, mf(true, 3, 2, -2, mls::ZeroMode::zero_only));
  EXPECT_EQ(f.group_scale, mf(false, 5, 2, 31, mls::ZeroMode::none));
  EXPECT_EQ(f.group_shape, (std::vector<int64_t>{2, 1, 0}));
  EXPECT_EQ(f.scale_policy, mls::ScalePolicy::floor);
  EXPECT_EQ(f.signed_zero, mls::SignedZero::positive);
  EXPECT_EQ(f.overflow, mls::OverflowPolicy::error);
  EXPECT_EQ(f.short_name(), "e3m2b-2z.g5m2/2x1x0:floor:poszero:ovf_error");
  EXPECT_EQ(mls::parse_format("e2m1b3.g4m1:ceil").short_name(), "e2m1.g4m1");  // defaults are not printed
  EXPECT_EQ(mls::parse_format("e2m1.g4m1:nearest").scale_policy, mls::ScalePolicy::nearest);
  const nlohmann::json j = nlohmann::json::parse(
      R"({"element":{"exp_bits":2,"man_bits":1,"bias":3,"zero":"subnormal"},"group_scale":{"exp_bits":4,"man_bits":1},
          "group_shape":[1,1,0,0],"scale_policy":"ceil","signed_zero":"preserve"})");
  EXPECT_EQ(mls::format_from_json(j), mls::parse_format("e2m1.g4m1/1x1x0x0"));
  EXPECT_EQ(mls::format_from_json(nlohmann::json::parse(R"({"element":{"exp_bits":2,"man_bits":4}})")),
            mls::parse_format("mls-e2m4"));
}

// Random valid descriptors over the whole allowed ranges.
RC_GTEST_PROP(FormatRoundTrip, RandomValidDescriptorsSurviveShortNameAndJson, ()) {
  mls::Format f;
  const int e = *rc::gen::inRange(0, 9);
  const int m = *rc::gen::inRange(e == 0 ? 1 : 0, 24);
  f.element = mf(true, e, m, *rc::gen::oneOf(rc::gen::inRange(-100000, 100001), rc::gen::inRange(-20, 300)),
                 e >= 1 && *rc::gen::arbitrary<bool>() ? mls::ZeroMode::zero_only : mls::ZeroMode::subnormal);
  if (*rc::gen::arbitrary<bool>()) f.element.bias = oracle::default_bias(e);
  const int ge = *rc::gen::inRange(1, 9);
  f.group_scale = mf(false, ge, *rc::gen::inRange(0, 24), (1 << ge) - 1, mls::ZeroMode::none);
  const int rank = *rc::gen::inRange(0, 6);
  for (int i = 0; i < rank; ++i) f.group_shape.push_back(*rc::gen::inRange<int64_t>(0, 1000001));
  f.scale_policy = *rc::gen::element(mls::ScalePolicy::ceil, mls::ScalePolicy::nearest, mls::ScalePolicy::floor);
  f.signed_zero = *rc::gen::element(mls::SignedZero::preserve, mls::SignedZero::positive);
  f.overflow = *rc::gen::element(mls::OverflowPolicy::saturate, mls::OverflowPolicy::error);
  f.validate();
  RC_LOG() << f.short_name() << " " << f.to_json().dump();
  RC_ASSERT(mls::parse_format(f.short_name()) == f);
  RC_ASSERT(mls::format_from_json(f.to_json()) == f);
  RC_ASSERT(mls::parse_format(f.to_json().dump()) == f);
  RC_ASSERT(mls::parse_format("  " + f.to_json().dump(2)) == f);
}

void expect_error_naming(const std::function<void()>& fn, const std::string& field, const std::string& what) {
  try {
    fn();
    ADD_FAILURE() << what << ": no mls::Error (expected one naming " << field << ")";
  } catch (const mls::Error& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos)
        << what << ": message does not name " << field << ": " << e.what();
  }
}

TEST(FormatValidation, EveryImpossibleDescriptorIsRejectedNamingTheField) {
  struct Bad {
    std::function<void(mls::Format&)> mutate;
    const char* field;
    const char* what;
  } bad[] = {
      {[](mls::Format& f) { f.element.exp_bits = -1; }, "element.exp_bits", "element E = -1"},
      {[](mls::Format& f) { f.element.exp_bits = 9; }, "element.exp_bits", "element E = 9"},
      {[](mls::Format& f) { f.element.man_bits = -1; }, "element.man_bits", "element M = -1"},
      {[](mls::Format& f) { f.element.man_bits = 24; }, "element.man_bits", "element M = 24"},
      {[](mls::Format& f) { f.element.bias = 100001; }, "element.bias", "element bias too large"},
      {[](mls::Format& f) { f.element.bias = -100001; }, "element.bias", "element bias too small"},
      {[](mls::Format& f) { f.element = mf(true, 0, 0, 0, mls::ZeroMode::subnormal); }, "exp_bits", "E0M0 element"},
      {[](mls::Format& f) { f.element.zero = mls::ZeroMode::none; }, "element.zero", "element without zero"},
      {[](mls::Format& f) { f.element = mf(true, 0, 3, 0, mls::ZeroMode::zero_only); }, "element.zero", "zero_only, E=0"},
      {[](mls::Format& f) { f.element.is_signed = false; }, "element.signed", "unsigned element"},
      {[](mls::Format& f) { f.element = mf(true, 1, 2, 1, mls::ZeroMode::subnormal); f.element.specials = mls::Specials::ieee; }, "element.specials", "ieee element with E = 1"},
      {[](mls::Format& f) { f.element = mf(true, 0, 3, 0, mls::ZeroMode::subnormal); f.element.specials = mls::Specials::nan_all_ones; }, "element.specials", "nan_all_ones with E = 0"},
      {[](mls::Format& f) { f.element.encoding = mls::Encoding::twos_complement; }, "element.encoding", "two's complement with E = 2"},
      {[](mls::Format& f) { f.group_scale = mf(false, 0, 1, 0, mls::ZeroMode::none); }, "group_scale.exp_bits", "Eg = 0"},
      {[](mls::Format& f) { f.group_scale = mf(false, 9, 1, 511, mls::ZeroMode::none); }, "group_scale.exp_bits", "Eg = 9"},
      {[](mls::Format& f) { f.group_scale.man_bits = 24; }, "group_scale.man_bits", "Mg = 24"},
      {[](mls::Format& f) { f.group_scale.bias = 100001; }, "group_scale.bias", "group bias too large"},
      {[](mls::Format& f) { f.group_scale.zero = mls::ZeroMode::zero_only; f.group_scale.exp_bits = 0; }, "group_scale.exp_bits", "group zero_only with E = 0"},
      {[](mls::Format& f) { f.group_scale = mf(false, 1, 0, 0, mls::ZeroMode::none); f.group_scale.specials = mls::Specials::nan_all_ones; }, "group_scale.specials", "nan_all_ones with E + M = 1"},
      {[](mls::Format& f) { f.block_size = 32; f.group_shape = {1, 1}; }, "block", "block and group_shape together"},
      {[](mls::Format& f) { f.nonfinite = mls::NonFiniteInput::propagate; }, "nonfinite", "propagate with an amax tensor scale"},
      {[](mls::Format& f) { f.overflow = mls::OverflowPolicy::nan; }, "overflow", "overflow = nan without a NaN code"},
      {[](mls::Format& f) { f.group_shape = {1, -1, 0, 0}; }, "group_shape[1]", "negative group shape entry"},
      {[](mls::Format& f) { f.overflow = mls::OverflowPolicy::infinity; }, "overflow", "overflow = infinity"},
  };
  for (const auto& b : bad) {
    mls::Format f;
    b.mutate(f);
    expect_error_naming([&] { f.validate(); }, b.field, b.what);
    // The same descriptor through JSON, where the JSON form carries the field
    // (signedness, nonfinite, the group bias and zero mode are implied there).
    const std::string fld = b.field;
    const bool in_json = fld.find("signed") == std::string::npos && fld.find("nonfinite") == std::string::npos &&
                         fld != "group_scale.bias" && fld != "group_scale.zero" && fld != "overflow";
    if (in_json)
      expect_error_naming([&] { mls::format_from_json(f.to_json()); }, b.field, std::string(b.what) + " (JSON)");
  }
}

TEST(FormatValidation, MalformedJsonAndShortNamesNameTheField) {
  const std::pair<const char*, const char*> json_cases[] = {
      {R"({"element":{"exp_bits":2,"man_bits":1},"foo":1})", "format.foo"},
      {R"({"group_scale":{"exp_bits":4,"man_bits":1}})", "format.element"},
      {R"({"element":{"exp_bits":"2","man_bits":1}})", "format.element.exp_bits"},
      {R"({"element":{"exp_bits":2.5,"man_bits":1}})", "format.element.exp_bits"},
      {R"({"element":{"exp_bits":2}})", "format.element.man_bits"},
      {R"({"element":{"exp_bits":2,"man_bits":1,"zero":"sometimes"}})", "format.element.zero"},
      {R"({"element":{"exp_bits":2,"man_bits":1},"scale_policy":"up"})", "format.scale_policy"},
      {R"({"element":{"exp_bits":2,"man_bits":1},"signed_zero":"neg"})", "format.signed_zero"},
      {R"({"element":{"exp_bits":2,"man_bits":1},"overflow":"infinity"})", "format.overflow"},
      {R"({"element":{"exp_bits":2,"man_bits":1},"group_scale":{"exp_bits":0,"man_bits":1}})", "format.group_scale.exp_bits"},
      {R"({"element":{"exp_bits":2,"man_bits":1},"group_shape":[1,-1]})", "group_shape[1]"},
      {R"({"element":{"exp_bits":2,"man_bits":1},"group_shape":"1x1"})", "format.group_shape"},
      {R"({"element":{"exp_bits":2,"man_bits":1,"bias":200000}})", "bias"},
      {R"({"element":{"exp_bits":2,"man_bits":1}, )", "JSON"},
  };
  for (const auto& [text, field] : json_cases) expect_error_naming([&] { mls::parse_format(text); }, field, text);
  const std::pair<const char*, const char*> short_cases[] = {
      {"e2m1.g0m1", "group_scale.exp_bits"}, {"e9m1.g4m1", "element.exp_bits"}, {"e2m24.g4m1", "element.man_bits"},
      {"e2m1.g4m24", "group_scale.man_bits"}, {"e2m1.g4m1:bogus", ":bogus"}, {"e0m0.g4m1", "exp_bits"},
      {"e0m2z.g4m1", "element.zero"}, {"e2m1b1234567.g4m1", "element.bias"}, {"e2m1b200000.g4m1", "element.bias"},
      {"nonsense", "nonsense"}, {"e2m1.g4m1/1x", "e2m1.g4m1/1x"}, {"mls-e2m2", "mls-e2m2"},
  };
  for (const auto& [text, field] : short_cases) expect_error_naming([&] { mls::parse_format(text); }, field, text);
}

TEST(FormatRounding, NamesAndJsonRoundTripAndBadBitsAreNamed) {
  for (mls::RoundingMode m : {mls::RoundingMode::rne, mls::RoundingMode::rna, mls::RoundingMode::rtz,
                              mls::RoundingMode::rup, mls::RoundingMode::rdn, mls::RoundingMode::rto}) {
    const mls::Rounding r{m, 8};
    EXPECT_EQ(mls::parse_rounding(mls::rounding_name(r)), r) << oracle::mode_name(m);
    EXPECT_EQ(mls::rounding_from_json(mls::rounding_to_json(r)), r) << oracle::mode_name(m);
    EXPECT_EQ(mls::rounding_name(r), oracle::mode_name(m));
  }
  for (int R = 1; R <= 32; ++R) {
    const mls::Rounding r{mls::RoundingMode::sr, R};
    EXPECT_EQ(mls::rounding_name(r), "sr" + std::to_string(R));
    EXPECT_EQ(mls::parse_rounding(mls::rounding_name(r)), r);
    EXPECT_EQ(mls::parse_rounding("sr:" + std::to_string(R)), r);
    EXPECT_EQ(mls::rounding_from_json(mls::rounding_to_json(r)), r);
  }
  EXPECT_EQ(mls::parse_rounding("sr").sr_bits, 8);
  for (const char* t : {"sr0", "sr33", "sr:0", "sr999"})
    expect_error_naming([&] { mls::parse_rounding(t); }, "rounding.bits", t);
  expect_error_naming([&] { mls::parse_rounding("srx"); }, "srx", "srx");
  expect_error_naming([&] { mls::parse_rounding("nearest"); }, "rounding", "nearest");
  expect_error_naming([&] { mls::rounding_from_json({{"mode", "sr"}, {"bits", 0}}); }, "rounding.bits", "bits 0");
  expect_error_naming([&] { mls::rounding_from_json({{"mode", "rnd"}}); }, "rounding.mode", "mode rnd");
  expect_error_naming([&] { mls::rounding_from_json({{"mode", "rne"}, {"R", 3}}); }, "rounding.R", "key R");
}

}  // namespace
