// Bad input (spec/07-errors.md): every invalid input is an mls::Error whose
// message names the offending field or index; nothing is guessed.
#include <gtest/gtest.h>

#include <cfloat>
#include <limits>

#include "mls/explain.hpp"
#include "mls/error.hpp"
#include "mls/tensor.hpp"
#include "oracle.hpp"

namespace {

using mls::RoundingMode;

void expect_error_naming(const std::function<void()>& fn, const std::vector<std::string>& parts, const std::string& what) {
  try {
    fn();
    ADD_FAILURE() << what << ": no mls::Error";
  } catch (const mls::Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << what << ": message lacks \"" << p << "\": " << e.what();
  }
}

const mls::Format kE2m1 = mls::parse_format("mls-e2m1");
const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

TEST(BadInput, NonFiniteInputNamesTheFirstBadIndex) {
  const struct {
    std::vector<float> x;
    std::vector<std::string> parts;
  } cases[] = {
      {{1, 2, 3, kNaN, 5}, {"x[3]", "NaN"}},
      {{kInf, 2, 3, 4, kNaN}, {"x[0]", "Inf"}},
      {{1, 2, 3, 4, -kInf}, {"x[4]", "Inf"}},
      {{1, -kNaN, kInf, 4, 5}, {"x[1]", "NaN"}},
  };
  for (const auto& c : cases) {
    for (RoundingMode m : {RoundingMode::rne, RoundingMode::sr}) {
      const std::vector<uint32_t> words(5, 0);
      expect_error_naming([&] { mls::quantize(kE2m1, {5}, c.x, {m, 8}, words); }, c.parts, c.parts[0]);
      expect_error_naming([&] { mls::explain(kE2m1, {5}, c.x, {m, 8}, words, 0); }, c.parts, c.parts[0] + " (explain)");
    }
    EXPECT_EQ(mls::first_nonfinite(c.x), std::optional<int64_t>(std::stoi(c.parts[0].substr(2))));
  }
  EXPECT_EQ(mls::first_nonfinite({1, 2, FLT_MAX, -FLT_MAX, FLT_TRUE_MIN}), std::nullopt);
}

TEST(BadInput, InvalidDescriptorsAreRejectedBeforeQuantizing) {
  mls::Format f = kE2m1;
  f.element.exp_bits = 9;
  expect_error_naming([&] { mls::quantize(f, {2}, {1, 2}, {}, {}); }, {"exp_bits"}, "E = 9");
  f = kE2m1;
  f.group_scale.bias = -100001;  // spec 1.1: any bias in range; this one is not
  expect_error_naming([&] { mls::quantize(f, {2}, {1, 2}, {}, {}); }, {"group_scale.bias"}, "group bias");
  f = kE2m1;
  f.group_shape = {1, 2, 3};
  expect_error_naming([&] { mls::quantize(f, {2, 2}, {1, 2, 3, 4}, {}, {}); }, {"group_shape", "rank"}, "rank");
  f.group_shape = {-1, 2};
  expect_error_naming([&] { mls::quantize(f, {2, 2}, {1, 2, 3, 4}, {}, {}); }, {"group_shape[0]"}, "negative entry");
  expect_error_naming([&] { mls::quantize(kE2m1, {2}, {1, 2}, {RoundingMode::sr, 33}, {0, 0}); }, {"rounding.bits"},
                      "sr33");
  expect_error_naming([&] { mls::quantize(kE2m1, {2}, {1, 2}, {RoundingMode::sr, 0}, {0, 0}); }, {"rounding.bits"}, "sr0");
}

TEST(BadInput, MismatchedShapesAndMissingRandomWords) {
  expect_error_naming([&] { mls::quantize(kE2m1, {2, 3}, {1, 2, 3, 4, 5}, {}, {}); }, {"x has 5", "[2,3]", "6"},
                      "5 values for 6");
  expect_error_naming([&] { mls::quantize(kE2m1, {2, 0, 3}, {}, {}, {}); }, {"shape[1]"}, "zero dimension");
  expect_error_naming([&] { mls::quantize(kE2m1, {2, -3}, {1, 2}, {}, {}); }, {"shape[1]"}, "negative dimension");
  expect_error_naming([&] { mls::quantize(kE2m1, {}, {1}, {}, {}); }, {"shape"}, "rank 0");
  expect_error_naming([&] { mls::quantize(kE2m1, {4}, {1, 2, 3, 4}, {RoundingMode::sr, 8}, {1, 2, 3}); },
                      {"rand has 3", "4"}, "3 words for 4 elements");
  expect_error_naming([&] { mls::quantize(kE2m1, {4}, {1, 2, 3, 4}, {RoundingMode::sr, 8}, {}); }, {"rand has 0"},
                      "no words");
  // Words are not needed (and not checked) without sr.
  EXPECT_NO_THROW(mls::quantize(kE2m1, {4}, {1, 2, 3, 4}, {RoundingMode::rne, 8}, {}));
  expect_error_naming([&] { mls::explain(kE2m1, {4}, {1, 2, 3, 4}, {}, {}, 4); }, {"index 4"}, "explain index");
}

TEST(BadInput, StaticTensorScaleMustBePositiveFinite) {
  for (uint32_t bits : {0x00000000u, 0x80000000u, 0xbf800000u, 0x7f800000u, 0x7fc00000u, 0xff800000u})
    expect_error_naming([&] { mls::quantize(kE2m1, {2}, {1, 2}, {}, {}, bits); }, {"tensor_scale", oracle::hex(bits).substr(2)},
                        oracle::hex(bits));
  EXPECT_NO_THROW(mls::quantize(kE2m1, {2}, {1, 2}, {}, {}, 0x00000001u));  // the smallest subnormal is allowed
}

// q_max * g_max < 1 lets a / (q_max g_max) pass FLT_MAX: S_t overflows (4.3).
TEST(BadInput, TensorScaleOverflowIsAnError) {
  const mls::Format f = mls::parse_format("e0m1b10.g4m1");  // q_max = 2^-10, g_max = 1.5
  expect_error_naming([&] { mls::quantize(f, {2}, {1.0f, FLT_MAX}, {}, {}); }, {"tensor_scale", "overflow"}, "FLT_MAX");
  expect_error_naming([&] { mls::dynamic_tensor_scale(f, -FLT_MAX); }, {"tensor_scale"}, "dynamic_tensor_scale");
  // Just below the threshold it is fine: 2^117 / (2^-10 * 1.5) < 2^128.
  EXPECT_NO_THROW(mls::quantize(f, {2}, {1.0f, std::ldexp(1.0f, 117)}, {}, {}));
  // The overflow is also what MPFR says.
  oracle::Mp num, den;
  mpfr_set_flt(num.v, FLT_MAX, MPFR_RNDN);
  mpfr_set_d(den.v, std::ldexp(1.5, -10), MPFR_RNDN);
  EXPECT_FALSE(oracle::mpfr_ru_fp32(num.v, den.v).has_value());
}

mls::MlsTensor valid_tensor(const mls::Format& f) {
  return mls::quantize(f, {1, 2, 1, 3}, {1.0f, -0.5f, 0.25f, 3.0f, 0.0f, -2.0f}, {}, {});
}

TEST(BadInput, TensorValidateNamesTheBadCode) {
  {
    mls::MlsTensor t = valid_tensor(kE2m1);
    EXPECT_NO_THROW(t.validate());
    t.elements[2] = 16;
    expect_error_naming([&] { t.validate(); }, {"elements[2]", "16"}, "element code beyond 4 bits");
    expect_error_naming([&] { mls::dequantize_fp32(t); }, {"elements[2]"}, "dequantize_fp32");
    expect_error_naming([&] { mls::dequantize_fp64(t); }, {"elements[2]"}, "dequantize_fp64");
  }
  {
    mls::MlsTensor t = valid_tensor(mls::parse_format("e2m1z.g4m1"));
    t.elements[4] = 9;  // sign | e = 0, f = 1: not a zero_only code
    expect_error_naming([&] { t.validate(); }, {"elements[4]"}, "zero_only code");
  }
  {
    mls::MlsTensor t = valid_tensor(kE2m1);
    t.group_scales[1] = 32;
    expect_error_naming([&] { t.validate(); }, {"group_scales[1]", "32"}, "group-scale code beyond 5 bits");
  }
  {
    mls::MlsTensor t = valid_tensor(kE2m1);
    t.elements.pop_back();
    expect_error_naming([&] { t.validate(); }, {"elements has 5"}, "too few elements");
    t = valid_tensor(kE2m1);
    t.group_scales.push_back(0);
    expect_error_naming([&] { t.validate(); }, {"group_scales has 3", "2 groups"}, "too many group scales");
    for (uint32_t bits : {0x00000000u, 0x80000000u, 0xc0000000u, 0x7f800000u, 0x7fc00001u}) {
      t = valid_tensor(kE2m1);
      t.tensor_scale = bits;
      expect_error_naming([&] { t.validate(); }, {"tensor_scale"}, oracle::hex(bits));
    }
    t = valid_tensor(kE2m1);
    t.shape = {1, 2, 0, 3};
    expect_error_naming([&] { t.validate(); }, {"shape[2]"}, "zero dimension");
  }
}

TEST(BadInput, TensorJsonNamesMissingAndMistypedFields) {
  const nlohmann::json good = valid_tensor(kE2m1).to_json();
  EXPECT_NO_THROW(mls::MlsTensor::from_json(good));
  for (const char* k : {"format", "shape", "tensor_scale", "group_scales", "elements"}) {
    nlohmann::json j = good;
    j.erase(k);
    expect_error_naming([&] { mls::MlsTensor::from_json(j); }, {k}, std::string("missing ") + k);
  }
  nlohmann::json j = good;
  j["elements"][3] = 1.5;
  expect_error_naming([&] { mls::MlsTensor::from_json(j); }, {"elements[3]"}, "non-integer code");
  j = good;
  j["tensor_scale"] = -1;
  expect_error_naming([&] { mls::MlsTensor::from_json(j); }, {"tensor_scale"}, "negative tensor scale bits");
  j = good;
  j["group_scales"][0] = 99;
  expect_error_naming([&] { mls::MlsTensor::from_json(j); }, {"group_scales[0]"}, "invalid group-scale code");
  expect_error_naming([&] { mls::MlsTensor::from_json(nlohmann::json::array()); }, {"object"}, "array");
}

}  // namespace
