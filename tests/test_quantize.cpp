// Dynamic quantization (spec/04-quantize.md) on hand-computed tensors, the
// all-zero and signed-zero rules, partial edge tiles, static tensor scales,
// the scale policies and dequantization; then random tensors against the
// independent quantizer in oracle.hpp for every mode and policy.
#include <gtest/gtest.h>

#include <random>

#include "mls/error.hpp"
#include "mls/tensor.hpp"
#include "oracle.hpp"

namespace {

using mls::RoundingMode;
using oracle::hex;
using U = std::vector<uint32_t>;

mls::Rounding mode(RoundingMode m) { return mls::Rounding{m, 8}; }

std::string hexv(const std::vector<float>& x) {
  std::string s;
  for (float f : x) s += oracle::hexf(f) + " ";
  return s;
}

// mls-e2m1: elements 0 .125 | .25 .375 | .5 .75 | 1 1.5 (codes 0..7, sign 8);
// group scale g4m1: 2^(e-15) (1 + f/2), code 2e + f; 1.0 = 30, 1.5 = 31.

// amax 3: S_t = RU(3 / 2.25) = RU(4/3) = 0x3faaaaab; a_G/(S_t q_max) = 2/S_t just
// below 1.5, so S_g = 1.5 and S_t*S_g = 2 + 2^-24: every element sits just
// below a grid value.
TEST(QuantizeHand, OneByOneByTwoByTwoJustBelowGridValues) {
  const mls::Format f = mls::parse_format("mls-e2m1");
  const std::vector<float> x = {1.0f, -0.5f, 0.25f, 3.0f};
  const struct {
    RoundingMode m;
    U el;
  } cases[] = {{RoundingMode::rne, {4, 10, 1, 7}},
               {RoundingMode::rna, {4, 10, 1, 7}},
               {RoundingMode::rtz, {3, 9, 0, 6}},
               {RoundingMode::rup, {4, 9, 1, 7}},
               {RoundingMode::rdn, {3, 10, 0, 6}},
               {RoundingMode::rto, {3, 9, 1, 7}}};
  for (const auto& c : cases) {
    SCOPED_TRACE(oracle::mode_name(c.m));
    const mls::MlsTensor t = mls::quantize(f, {1, 1, 2, 2}, x, mode(c.m), {});
    EXPECT_EQ(t.tensor_scale, 0x3faaaaabu);
    EXPECT_EQ(t.group_scales, U{31});
    EXPECT_EQ(t.elements, c.el);
  }
  const mls::MlsTensor t = mls::quantize(f, {1, 1, 2, 2}, x, mode(RoundingMode::rne), {});
  // Exact values (2 + 2^-24) * {.5, -.25, .125, 1.5}; fp32 rounds them back to the inputs.
  EXPECT_EQ(mls::dequantize_fp64(t),
            (std::vector<double>{1.0 + 0x1p-25, -(0.5 + 0x1p-26), 0.25 + 0x1p-27, 3.0 + 0x1.8p-24}));
  EXPECT_EQ(mls::dequantize_fp32(t), (std::vector<float>{1.0f, -0.5f, 0.25f, 3.0f}));
  // Scale policies on the same ratio 2/S_t < 1.5: floor takes 1.0.
  EXPECT_EQ(mls::quantize(mls::parse_format("e2m1.g4m1:floor"), {1, 1, 2, 2}, x, mode(RoundingMode::rne), {}).group_scales,
            U{30});
  EXPECT_EQ(mls::quantize(mls::parse_format("e2m1.g4m1:nearest"), {1, 1, 2, 2}, x, mode(RoundingMode::rne), {}).group_scales,
            U{31});
}

// Four (n, c) groups of four; amax 2.25 gives S_t = 1 exactly.
TEST(QuantizeHand, TwoByTwoByTwoByTwoPerChannelGroups) {
  const mls::Format f = mls::parse_format("mls-e2m1");
  const std::vector<float> x = {2.25f, 1.0f, -0.75f, 0.0f,          // ratio 1.5 -> S_g 1.5 (31)
                                0.5f, -0.25f, 0.125f, 0.0625f,      // ratio 1/3 -> 0.375 (27)
                                0.0f, -0.0f, 0.0f, 0.0f,            // zero group -> g_min (0)
                                -1.5f, 0.1875f, 0.75f, -0.09375f};  // ratio 1 -> 1.0 (30); 0.1875 is a tie
  const mls::MlsTensor t = mls::quantize(f, {2, 2, 2, 2}, x, mode(RoundingMode::rne), {});
  EXPECT_EQ(t.tensor_scale, 0x3f800000u);
  EXPECT_EQ(t.group_scales, (U{31, 27, 0, 30}));
  EXPECT_EQ(t.elements, (U{7, 5, 12, 0, 7, 13, 3, 1, 0, 8, 0, 0, 15, 2, 5, 9}));
  const std::vector<double> want = {2.25, 1.125, -0.75, 0, 0.5625, -0.28125, 0.140625, 0.046875,
                                    0,    -0.0,  0,     0, -1.5,   0.25,     0.75,     -0.125};
  const auto d64 = mls::dequantize_fp64(t);
  const auto d32 = mls::dequantize_fp32(t);
  ASSERT_EQ(d64.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(oracle::dbits(d64[i]), oracle::dbits(want[i])) << "fp64 [" << i << "]";
    EXPECT_EQ(oracle::fbits(d32[i]), oracle::fbits(static_cast<float>(want[i]))) << "fp32 [" << i << "]";
  }
  // rtz: 1/1.5 -> .5, .5/.375 -> 1, .125/.375 -> .25, 0.1875 -> .125.
  EXPECT_EQ(mls::quantize(f, {2, 2, 2, 2}, x, mode(RoundingMode::rtz), {}).elements,
            (U{7, 4, 12, 0, 6, 12, 2, 1, 0, 8, 0, 0, 15, 1, 5, 8}));
}

TEST(QuantizeZero, AllZeroTensorHasUnitTensorScaleMinimalGroupScalesAndSignedZeros) {
  const std::vector<float> x = {0.0f, -0.0f, 0.0f, 0.0f, -0.0f, 0.0f};
  for (const char* name : {"mls-e2m1", "mls-e3m3", "mls-fixed4"}) {
    SCOPED_TRACE(name);
    const mls::Format f = mls::parse_format(name);
    const uint32_t s = static_cast<uint32_t>(f.element.sign_bit());
    for (RoundingMode m : oracle::deterministic_modes()) {
      const mls::MlsTensor t = mls::quantize(f, {2, 3}, x, mode(m), {});
      EXPECT_EQ(t.tensor_scale, 0x3f800000u);
      EXPECT_EQ(t.group_scales, U(6, 0));
      EXPECT_EQ(t.elements, (U{0, s, 0, 0, s, 0}));
      const auto d = mls::dequantize_fp32(t);
      for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(oracle::fbits(d[i]), oracle::fbits(x[i])) << i;
      const auto d64 = mls::dequantize_fp64(t);
      for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(std::signbit(d64[i]), std::signbit(x[i])) << i;
    }
    mls::Format pz = f;
    pz.signed_zero = mls::SignedZero::positive;
    EXPECT_EQ(mls::quantize(pz, {2, 3}, x, mode(RoundingMode::rne), {}).elements, U(6, 0));
  }
}

TEST(QuantizeZero, NegativeInputsThatRoundToZeroKeepTheirSignUnlessPoszero) {
  // 2.25 fixes S_t = 1, S_g = 1.5; -0.05/1.5 rounds to zero under rne.
  const std::vector<float> x = {2.25f, -0.05f, 0.05f, -0.0f};
  EXPECT_EQ(mls::quantize(mls::parse_format("e2m1.g4m1/1x1x1x0"), {1, 1, 1, 4}, x, mode(RoundingMode::rne), {}).elements,
            (U{7, 8, 0, 8}));
  EXPECT_EQ(mls::quantize(mls::parse_format("e2m1.g4m1/1x1x1x0:poszero"), {1, 1, 1, 4}, x, mode(RoundingMode::rne), {})
                .elements,
            (U{7, 0, 0, 0}));
}

// 3x5 plane with 2x2 tiles: tiles 2x3, the last row and column partial.
TEST(QuantizeLayout, PartialEdgeTilesAreGroupsOfTheirOwn) {
  const mls::Format f = mls::parse_format("e2m1.g4m1/1x1x2x2");
  const int group_of[3][5] = {{0, 0, 1, 1, 2}, {0, 0, 1, 1, 2}, {3, 3, 4, 4, 5}};
  const mls::GroupLayout L(f, {1, 1, 3, 5});
  ASSERT_EQ(L.group_count, 6);
  for (int h = 0; h < 3; ++h)
    for (int w = 0; w < 5; ++w) EXPECT_EQ(L.group_of(h * 5 + w), group_of[h][w]) << h << "," << w;
  // Group g's only non-zero element is +-1.5 * 2^-g (group 0: 2.25, fixing S_t = 1).
  std::vector<float> x(15, 0.0f);
  x[0] = 2.25f;
  x[2] = 0.75f;             // group 1
  x[4] = 0.375f;            // group 2, the partial column
  x[10] = -0.1875f;         // group 3, the partial row
  x[13] = 0.09375f;         // group 4
  x[14] = 0.046875f;        // group 5, the partial corner
  const mls::MlsTensor t = mls::quantize(f, {1, 1, 3, 5}, x, mode(RoundingMode::rne), {});
  EXPECT_EQ(t.tensor_scale, 0x3f800000u);
  EXPECT_EQ(t.group_scales, (U{31, 28, 26, 24, 22, 20}));
  EXPECT_EQ(t.elements, (U{7, 0, 7, 0, 7, 0, 0, 0, 0, 0, 15, 0, 0, 7, 7}));
}

TEST(QuantizeLayout, GroupShapesLargerThanOrNotDividingTheAxis) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  struct {
    const char* name;
    int64_t groups;
  } cases[] = {{"e2m1.g4m1/1x1x4x7", 1}, {"e2m1.g4m1/1x1x2x3", 4}, {"e2m1.g4m1/1x1x0x4", 2},
               {"e2m1.g4m1/9x9x9x9", 1}, {"e2m1.g4m1/1x1x1x1", 15}, {"e2m1.g4m1/0x0x3x0", 1}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const mls::Format f = mls::parse_format(c.name);
    const mls::MlsTensor t = mls::quantize(f, {1, 1, 3, 5}, x, mode(RoundingMode::rne), {});
    EXPECT_EQ(static_cast<int64_t>(t.group_scales.size()), c.groups);
    const oracle::Quantized o = oracle::quantize(f, {1, 1, 3, 5}, x, mode(RoundingMode::rne), {});
    EXPECT_EQ(t.group_scales, o.group_scales);
    EXPECT_EQ(t.elements, o.elements);
  }
}

TEST(QuantizeStatic, SmallStaticTensorScaleSaturatesGroupScaleAndElements) {
  const std::vector<float> x = {1.0f, 2.0f, 4.0f, -8.0f};
  // S_t = 1: ratio 8/1.5 > g_max, so S_g = 1.5; x/1.5 = .67 1.33 2.67 -5.33.
  const mls::MlsTensor t =
      mls::quantize(mls::parse_format("mls-e2m1"), {1, 1, 1, 4}, x, mode(RoundingMode::rne), {}, 0x3f800000u);
  EXPECT_EQ(t.tensor_scale, 0x3f800000u);
  EXPECT_EQ(t.group_scales, U{31});
  EXPECT_EQ(t.elements, (U{5, 7, 7, 15}));
  try {
    mls::quantize(mls::parse_format("e2m1.g4m1:ovf_error"), {1, 1, 1, 4}, x, mode(RoundingMode::rne), {}, 0x3f800000u);
    ADD_FAILURE() << "no overflow error";
  } catch (const mls::Error& e) {
    EXPECT_NE(std::string(e.what()).find("x[2]"), std::string::npos) << e.what();
  }
  // A static scale large enough: no saturation, same as the rule for that scale.
  const mls::MlsTensor big =
      mls::quantize(mls::parse_format("e2m1.g4m1:ovf_error"), {1, 1, 1, 4}, x, mode(RoundingMode::rne), {}, 0x40800000u);
  EXPECT_EQ(big.group_scales, U{31});  // 8 / (4 * 1.5) = 1.33 -> 1.5
  EXPECT_EQ(big.elements, (U{1, 3, 5, 15}));  // x / 6 = .167 .333 .667 -1.33
}

TEST(QuantizePolicy, CeilNearestAndFloorGroupScales) {
  // Group 0 fixes S_t = 1 (amax 2.25); group 1 has a_G = 7/16: ratio 7/24 between 0.25 and 0.375.
  const std::vector<float> x = {2.25f, 0.0f, 0.4375f, -0.125f};
  const struct {
    const char* name;
    uint32_t g1;
    U el;
  } cases[] = {
      {"e2m1.g4m1", 27, {7, 0, 6, 11}},          // S = .375: 1.17 -> 1, -.33 -> -.375
      {"e2m1.g4m1:nearest", 26, {7, 0, 7, 12}},  // S = .25: 1.75 saturates to 1.5, -.5
      {"e2m1.g4m1:floor", 26, {7, 0, 7, 12}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const mls::MlsTensor t = mls::quantize(mls::parse_format(c.name), {1, 2, 1, 2}, x, mode(RoundingMode::rne), {});
    EXPECT_EQ(t.tensor_scale, 0x3f800000u);
    EXPECT_EQ(t.group_scales, (U{31, c.g1}));
    EXPECT_EQ(t.elements, c.el);
  }
  // floor below g_min clamps to g_min; nearest above g_max takes g_max.
  const std::vector<float> tiny = {2.25f, 0.0f, 1e-30f, 0.0f};
  EXPECT_EQ(mls::quantize(mls::parse_format("e2m1.g4m1:floor"), {1, 2, 1, 2}, tiny, mode(RoundingMode::rne), {})
                .group_scales,
            (U{31, 0}));
}

TEST(QuantizeStochastic, ElementIUsesWordI) {
  const mls::Format f = mls::parse_format("mls-e2m1");
  // S_t = 1, S_g = 1.5 (from 2.25); 0.28125/1.5 = 0.1875: t = 1/2 between .125 and .25,
  // so with R = 1 the top bit of each element's own word decides.
  const std::vector<float> x = {2.25f, 0.28125f, -0.28125f, 0.28125f};
  const mls::Rounding r{RoundingMode::sr, 1};
  EXPECT_EQ(mls::quantize(f, {1, 1, 1, 4}, x, r, {0, 0x80000000u, 0x7fffffffu, 0xffffffffu}).elements,
            (U{7, 2, 9, 2}));
  EXPECT_EQ(mls::quantize(f, {1, 1, 1, 4}, x, r, {0xffffffffu, 0, 0x80000000u, 0x7fffffffu}).elements,
            (U{7, 1, 10, 1}));
}

// Random tensors, formats, modes, policies and static scales against the oracle.
TEST(QuantizeOracle, RandomTensorsMatchTheIndependentQuantizer) {
  std::mt19937_64 rng(0xC0FFEE);
  const auto& ef = oracle::small_element_formats();
  const auto& gf = oracle::small_group_formats();
  int failures = 0, errors = 0;
  for (int iter = 0; iter < 400; ++iter) {
    mls::Format f;
    f.element = ef[rng() % ef.size()];
    f.group_scale = gf[rng() % gf.size()];
    f.scale_policy = static_cast<mls::ScalePolicy>(rng() % 3);
    f.signed_zero = rng() % 4 == 0 ? mls::SignedZero::positive : mls::SignedZero::preserve;
    f.overflow = rng() % 4 == 0 ? mls::OverflowPolicy::error : mls::OverflowPolicy::saturate;
    const size_t rank = 1 + rng() % 4;
    std::vector<int64_t> shape;
    int64_t n = 1;
    for (size_t a = 0; a < rank; ++a) {
      shape.push_back(1 + static_cast<int64_t>(rng() % 4));
      n *= shape.back();
    }
    if (rng() % 3) {
      for (size_t a = 0; a < rank; ++a) f.group_shape.push_back(static_cast<int64_t>(rng() % (shape[a] + 2)));
    }
    const int center = static_cast<int>(rng() % 200) - 100;
    std::vector<float> x;
    for (int64_t i = 0; i < n; ++i) {
      const int kind = static_cast<int>(rng() % 10);
      float v = std::ldexp(static_cast<float>(rng() & 0xffffff), center - 24 + static_cast<int>(rng() % 12));
      if (kind == 0) v = 0;
      if (kind == 1) v = std::ldexp(static_cast<float>(1 + rng() % 7), center);  // short significands: exact cases
      x.push_back(rng() & 1 ? -v : v);
    }
    mls::Rounding r{static_cast<RoundingMode>(rng() % 7), 1 + static_cast<int>(rng() % 32)};
    std::vector<uint32_t> words;
    if (r.mode == RoundingMode::sr)
      for (int64_t i = 0; i < n; ++i) words.push_back(static_cast<uint32_t>(rng()));
    std::optional<uint32_t> st;
    if (rng() % 5 == 0) st = oracle::fbits(std::ldexp(1.0f + static_cast<float>(rng() % 8) / 8, center + static_cast<int>(rng() % 9) - 4));
    const oracle::Quantized want = oracle::quantize(f, shape, x, r, words, st);
    std::string got_text;
    bool same;
    try {
      const mls::MlsTensor t = mls::quantize(f, shape, x, r, words, st);
      same = !want.error && t.tensor_scale == want.tensor_scale && t.group_scales == want.group_scales &&
             t.elements == want.elements;
      got_text = hex(t.tensor_scale);
      for (auto c : t.group_scales) got_text += " g" + hex(c);
      for (auto c : t.elements) got_text += " " + hex(c);
    } catch (const mls::Error& e) {
      same = want.error;
      got_text = std::string("error: ") + e.what();
      ++errors;
    }
    if (!same && ++failures <= 5) {
      std::string want_text = want.error ? "error" : hex(want.tensor_scale);
      for (auto c : want.group_scales) want_text += " g" + hex(c);
      for (auto c : want.elements) want_text += " " + hex(c);
      ADD_FAILURE() << "format " << f.short_name() << " (" << oracle::describe(f.element) << "; "
                    << oracle::describe(f.group_scale) << ") mode " << oracle::mode_name(r.mode) << r.sr_bits
                    << " static " << (st ? hex(*st) : "-") << " shape " << mls::shape_string(shape) << "\n x " << hexv(x)
                    << "\n expected " << want_text << "\n got      " << got_text;
    }
  }
  EXPECT_EQ(failures, 0);
  EXPECT_GT(errors, 0) << "no case exercised the overflow error policy";
}

}  // namespace
