// The format family (spec 1.1): the OCP MX and NVFP4 grids decoded code by
// code against tables written out from the standards' text (not from the
// descriptor), rounding to every family grid against a brute-force search in
// every mode and overflow policy, the special inputs of 3.10, the MX and
// NVFP4 quantization rules (4.1.2, 4.4, 4.5.1) on hand-computed examples, the
// arithmetic profiles of 4.12, and the bad descriptors of 1.9 / 2.8.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <vector>

#include "mls/error.hpp"
#include "mls/explain.hpp"
#include "mls/format.hpp"
#include "mls/tensor.hpp"

namespace {

using mls::Minifloat;
using mls::OverflowPolicy;
using mls::RoundingMode;

constexpr long double kNaN = std::numeric_limits<long double>::quiet_NaN();
constexpr long double kInf = std::numeric_limits<long double>::infinity();

Minifloat grid(const char* name) { return mls::parse_minifloat(name, mls::GridRole::any, "grid"); }

// ---- the OCP tables, from the text of OCP MX v1.0 section 5 and the OFP8 spec -----------
// Each returns the value of a code, NaN for NaN codes, +-Inf for Inf codes.

long double ocp_e4m3(uint32_t c) {  // S.EEEE.MMM, bias 7, no Inf, S.1111.111 is NaN, subnormals 2^-6 * 0.MMM
  const int s = c >> 7, e = (c >> 3) & 15, m = c & 7;
  if (e == 15 && m == 7) return kNaN;
  const long double v = e == 0 ? std::ldexp(m / 8.0L, -6) : std::ldexp(1 + m / 8.0L, e - 7);
  return s ? -v : v;
}
long double ocp_e5m2(uint32_t c) {  // S.EEEEE.MM, bias 15, IEEE-like: E = 31 is Inf (M = 0) or NaN
  const int s = c >> 7, e = (c >> 2) & 31, m = c & 3;
  if (e == 31) return m == 0 ? (s ? -kInf : kInf) : kNaN;
  const long double v = e == 0 ? std::ldexp(m / 4.0L, -14) : std::ldexp(1 + m / 4.0L, e - 15);
  return s ? -v : v;
}
long double ocp_e8m0(uint32_t c) {  // unsigned exponent, bias 127, 0xff is NaN, no zero
  return c == 255 ? kNaN : std::ldexp(1.0L, static_cast<int>(c) - 127);
}
long double ocp_e2m3(uint32_t c) {  // FP6 S.EE.MMM, bias 1, no Inf/NaN
  const int s = c >> 5, e = (c >> 3) & 3, m = c & 7;
  const long double v = e == 0 ? m / 8.0L : std::ldexp(1 + m / 8.0L, e - 1);
  return s ? -v : v;
}
long double ocp_e3m2(uint32_t c) {  // FP6 S.EEE.MM, bias 3, no Inf/NaN
  const int s = c >> 5, e = (c >> 2) & 7, m = c & 3;
  const long double v = e == 0 ? std::ldexp(m / 4.0L, -2) : std::ldexp(1 + m / 4.0L, e - 3);
  return s ? -v : v;
}
long double ocp_e2m1(uint32_t c) {  // FP4: the eight magnitudes listed in section 5.3.3
  static const long double mag[8] = {0, 0.5L, 1, 1.5L, 2, 3, 4, 6};
  return (c & 8) ? -mag[c & 7] : mag[c & 7];
}
long double ocp_int8(uint32_t c) {  // two's complement, implicit scale 2^-6
  return static_cast<int8_t>(static_cast<uint8_t>(c)) / 64.0L;
}

struct Table {
  const char* name;
  uint32_t codes;
  long double (*value)(uint32_t);
};
const Table kTables[] = {{"fp8_e4m3", 256, ocp_e4m3}, {"fp8_e5m2", 256, ocp_e5m2}, {"e8m0", 256, ocp_e8m0},
                         {"fp6_e2m3", 64, ocp_e2m3},  {"fp6_e3m2", 64, ocp_e3m2},  {"fp4_e2m1", 16, ocp_e2m1},
                         {"int8", 256, ocp_int8}};

long double ld(const mls::Dyadic& d) { return std::ldexp(d.m.convert_to<long double>(), static_cast<int>(d.e)); }

TEST(FamilyGrids, EveryCodeDecodesAsTheOcpTablesSay) {
  for (const Table& t : kTables) {
    SCOPED_TRACE(t.name);
    const Minifloat g = grid(t.name);
    EXPECT_EQ(g.code_count(), t.codes);
    for (uint32_t c = 0; c < t.codes; ++c) {
      const long double want = t.value(c);
      SCOPED_TRACE("code " + std::to_string(c));
      if (std::isnan(want)) {
        EXPECT_TRUE(g.is_nan_code(c));
        EXPECT_FALSE(g.is_valid_code(c));
        EXPECT_THROW(g.decode(c), mls::Error);
      } else if (std::isinf(want)) {
        EXPECT_TRUE(g.is_inf_code(c));
        EXPECT_EQ(g.split(c).first, want < 0);
      } else {
        ASSERT_TRUE(g.is_valid_code(c));
        EXPECT_EQ(ld(g.decode(c)), want);
      }
    }
  }
  // Anchor values named in the standards' text.
  EXPECT_EQ(ld(grid("fp8_e4m3").max_value()), 448);
  EXPECT_EQ(ld(grid("fp8_e4m3").min_positive()), std::ldexp(1.0L, -9));
  EXPECT_EQ(ld(grid("fp8_e5m2").max_value()), 57344);
  EXPECT_EQ(ld(grid("fp8_e5m2").min_positive()), std::ldexp(1.0L, -16));
  EXPECT_EQ(ld(grid("fp6_e2m3").max_value()), 7.5L);
  EXPECT_EQ(ld(grid("fp6_e3m2").max_value()), 28);
  EXPECT_EQ(ld(grid("fp4_e2m1").max_value()), 6);
  EXPECT_EQ(ld(grid("int8").max_value()), 127 / 64.0L);
  EXPECT_EQ(ld(grid("int8").decode(0x80)), -2);  // a valid code; quantization never produces it (4.5)
  EXPECT_EQ(ld(grid("e8m0").max_value()), std::ldexp(1.0L, 127));
  EXPECT_EQ(ld(grid("e8m0").min_positive()), std::ldexp(1.0L, -127));
  // emax_elem of OCP 6.3: the exponent of the largest normal.
  for (auto [n, e] : std::vector<std::pair<const char*, int>>{{"fp8_e4m3", 8}, {"fp8_e5m2", 15}, {"fp6_e2m3", 2},
                                                              {"fp6_e3m2", 4}, {"fp4_e2m1", 2}, {"int8", 0}})
    EXPECT_EQ(grid(n).emax(), e) << n;
}

// ---- rounding: brute force over every code --------------------------------------------------
// The nearest / directed choices among the finite values of the table, the
// position just above the largest finite value (E4M3: 480, E5M2: 2^16, the
// next binade for the others) for the overflow decision, by the definitions
// of 3.3 and 3.5 (IEEE 754 overflow: round as if the exponent were unbounded).

struct Expected {
  bool nan = false, inf = false;
  long double value = 0;  // finite result
  bool error = false;
};

Expected brute(const Table& t, long double v, RoundingMode mode, OverflowPolicy ovf) {
  std::vector<long double> mags;
  std::map<long double, uint32_t> code_of;
  const bool signed_grid = std::string(t.name) != "e8m0";
  for (uint32_t c = 0; c < t.codes; ++c) {
    const long double x = t.value(c);
    if (std::isnan(x) || std::isinf(x) || x < 0 || (x == 0 && std::signbit(x))) continue;
    if (!code_of.count(x)) mags.push_back(x);
    code_of.emplace(x, c);
  }
  std::sort(mags.begin(), mags.end());
  const long double vmax = mags.back();
  const long double next = std::string(t.name) == "fp8_e4m3" ? 480 : std::string(t.name) == "fp8_e5m2" ? 65536
                           : std::string(t.name) == "int8"   ? 2.0L
                                                             : 2 * std::ldexp(1.0L, std::ilogb(vmax)) * 1.0L;
  bool neg = v < 0 || (v == 0 && std::signbit(v));
  const long double a = std::fabs(v);
  Expected e;
  if (a > vmax && ovf == OverflowPolicy::saturate) {
    e.value = neg ? -vmax : vmax;
    return e;
  }
  if (a > vmax && ovf == OverflowPolicy::error && std::string(t.name) != "fp8_e4m3" &&
      std::string(t.name) != "fp8_e5m2") {  // grids without specials: any magnitude above the max (3.5)
    e.error = true;
    return e;
  }
  long double lo = 0, hi = 0;
  bool exact = false;
  if (a >= next) {
    lo = vmax;
    hi = next;
  } else if (a > vmax) {
    lo = vmax;
    hi = next;
  } else {
    for (long double m : mags) {
      if (m == a) exact = true;
      if (m <= a) lo = m;
    }
    for (auto it = mags.rbegin(); it != mags.rend(); ++it)
      if (*it >= a) hi = *it;
  }
  long double r = lo;
  if (!exact && lo != hi) {
    const long double mid = (lo + hi) / 2;
    bool away = false;
    const auto odd = [&](long double m) {
      return m == next ? (std::string(t.name) == "fp8_e4m3")  // 0x7f: the NaN position ends in 1
                       : (code_of.at(m) & 1) != 0;
    };
    switch (mode) {
      case RoundingMode::rne: away = a > mid || (a == mid && odd(lo)); break;
      case RoundingMode::rna: away = a >= mid; break;
      case RoundingMode::rtz: away = false; break;
      case RoundingMode::rup: away = !neg; break;
      case RoundingMode::rdn: away = neg; break;
      case RoundingMode::rto: away = !odd(lo); break;
      default: break;
    }
    // At or past the position (t >= 1): nearest modes go there, directed modes by their direction,
    // rto to the neighbour whose code ends in 1 (3.3, 3.7).
    if (a >= next && mode != RoundingMode::rto)
      away = mode != RoundingMode::rtz && !(mode == RoundingMode::rup && neg) && !(mode == RoundingMode::rdn && !neg);
    r = away ? hi : lo;
  }
  if (r == next) {
    if (ovf == OverflowPolicy::infinity) e.inf = true;
    else if (ovf == OverflowPolicy::nan) e.nan = true;
    else if (ovf == OverflowPolicy::error) e.error = true;
    else r = vmax;
    if (e.inf || e.nan || e.error) {
      e.value = neg ? -1 : 1;
      return e;
    }
  }
  if (!signed_grid) neg = false;
  e.value = neg ? -r : r;
  return e;
}

TEST(FamilyRounding, EveryGridModeAndOverflowPolicyMatchesBruteForce) {
  const RoundingMode modes[] = {RoundingMode::rne, RoundingMode::rna, RoundingMode::rtz, RoundingMode::rup,
                                RoundingMode::rdn, RoundingMode::rto};
  for (const Table& t : kTables) {
    if (std::string(t.name) == "e8m0") continue;  // an unsigned scale grid: the scale rules below
    const Minifloat g = grid(t.name);
    std::vector<OverflowPolicy> policies{OverflowPolicy::saturate, OverflowPolicy::error};
    if (g.has_nan()) policies.push_back(OverflowPolicy::nan);
    if (g.has_inf()) policies.push_back(OverflowPolicy::infinity);
    // Every finite value, every midpoint, a point a quarter into each gap, and
    // the region past the largest value, both signs.
    std::vector<long double> pts;
    std::vector<long double> mags;
    for (uint32_t c = 0; c < t.codes; ++c)
      if (std::isfinite(t.value(c)) && t.value(c) >= 0) mags.push_back(t.value(c));
    std::sort(mags.begin(), mags.end());
    mags.erase(std::unique(mags.begin(), mags.end()), mags.end());
    for (size_t i = 0; i < mags.size(); ++i) {
      pts.push_back(mags[i]);
      if (i + 1 < mags.size()) {
        pts.push_back((mags[i] + mags[i + 1]) / 2);
        pts.push_back(mags[i] + (mags[i + 1] - mags[i]) / 4);
      }
    }
    const long double vmax = mags.back();
    for (long double f : {1.01L, 1.0625L, 1.125L, 1.5L, 4.0L, 1e6L}) pts.push_back(vmax * f);
    for (OverflowPolicy ovf : policies)
      for (RoundingMode m : modes)
        for (long double p : pts)
          for (int s : {1, -1}) {
            const long double v = s * p;
            const float vf = static_cast<float>(v);
            if (static_cast<long double>(vf) != v) continue;  // fp32 inputs only
            SCOPED_TRACE(std::string(t.name) + " " + mls::to_string(m) + " " + mls::to_string(ovf) + " v = " +
                         std::to_string(static_cast<double>(v)));
            const Expected want = brute(t, v, m, ovf);
            mls::RoundResult got;
            try {
              got = mls::round_fp32_input(g, mls::float_bits(vf), mls::Dyadic::from_int(1), mls::Rounding{m, 8}, 0, ovf,
                                          mls::SignedZero::preserve);
            } catch (const mls::Error&) {
              EXPECT_TRUE(want.error);
              continue;
            }
            ASSERT_FALSE(want.error);
            if (want.nan) {
              EXPECT_TRUE(g.is_nan_code(got.code));
            } else if (want.inf) {
              EXPECT_TRUE(g.is_inf_code(got.code));
            } else {
              ASSERT_TRUE(g.is_valid_code(got.code));
              EXPECT_EQ(ld(g.decode(got.code)), want.value);
              if (g.twos_complement() && want.value == 0) EXPECT_EQ(got.code, 0u) << "two's complement has one zero";
              else EXPECT_EQ(g.split(got.code).first, std::signbit(want.value)) << "sign";
            }
          }
  }
}

TEST(FamilyRounding, E4m3AroundOverflow448_464_480) {
  const Minifloat g = grid("fp8_e4m3");
  auto code = [&](float x, OverflowPolicy o, RoundingMode m = RoundingMode::rne) {
    return mls::round_fp32_input(g, mls::float_bits(x), mls::Dyadic::from_int(1), mls::Rounding{m, 8}, 0, o,
                                 mls::SignedZero::preserve)
        .code;
  };
  EXPECT_EQ(code(448, OverflowPolicy::nan), 0x7eu);
  EXPECT_EQ(code(463.9f, OverflowPolicy::nan), 0x7eu);
  EXPECT_EQ(code(464, OverflowPolicy::nan), 0x7eu);  // the tie goes to the even code 0x7e (448)
  EXPECT_EQ(code(464.1f, OverflowPolicy::nan), 0x7fu);
  EXPECT_EQ(code(480, OverflowPolicy::nan), 0x7fu);
  EXPECT_EQ(code(-500, OverflowPolicy::nan), 0xffu);
  EXPECT_EQ(code(1e30f, OverflowPolicy::saturate), 0x7eu);
  EXPECT_EQ(code(500, OverflowPolicy::nan, RoundingMode::rtz), 0x7eu);  // toward zero never overflows
  EXPECT_THROW(code(500, OverflowPolicy::error), mls::Error);
  EXPECT_EQ(code(450, OverflowPolicy::error), 0x7eu);  // rounds to 448: not an overflow
  // E5M2 IEEE overflow: 61440 is the tie with the Inf position (even: Inf).
  const Minifloat h = grid("fp8_e5m2");
  EXPECT_EQ(mls::round_fp32_input(h, mls::float_bits(61439.9f), mls::Dyadic::from_int(1), {}, 0, OverflowPolicy::infinity,
                                  mls::SignedZero::preserve)
                .code,
            0x7bu);
  EXPECT_EQ(mls::round_fp32_input(h, mls::float_bits(61440), mls::Dyadic::from_int(1), {}, 0, OverflowPolicy::infinity,
                                  mls::SignedZero::preserve)
                .code,
            0x7cu);
}

TEST(FamilyRounding, SpecialInputs310) {
  const auto round = [](const char* n, uint32_t x, OverflowPolicy o) {
    return mls::round_fp32_input(grid(n), x, mls::Dyadic::from_int(1), {}, 0, o, mls::SignedZero::preserve).code;
  };
  EXPECT_EQ(round("fp8_e4m3", 0x7fc00000u, OverflowPolicy::saturate), 0x7fu);  // NaN keeps its sign
  EXPECT_EQ(round("fp8_e4m3", 0xffc00000u, OverflowPolicy::saturate), 0xffu);
  EXPECT_EQ(round("fp8_e5m2", 0x7fc00000u, OverflowPolicy::saturate), 0x7eu);  // the quiet NaN S.11111.10
  EXPECT_EQ(round("fp8_e5m2", 0xff800000u, OverflowPolicy::infinity), 0xfcu);
  EXPECT_EQ(round("fp8_e5m2", 0x7f800000u, OverflowPolicy::saturate), 0x7bu);  // Inf saturates
  EXPECT_EQ(round("fp8_e4m3", 0x7f800000u, OverflowPolicy::nan), 0x7fu);
  EXPECT_EQ(round("fp4_e2m1", 0xff800000u, OverflowPolicy::saturate), 0xfu);
  EXPECT_THROW(round("fp4_e2m1", 0x7fc00000u, OverflowPolicy::saturate), mls::Error);  // no NaN code
  EXPECT_THROW(round("fp4_e2m1", 0x7f800000u, OverflowPolicy::error), mls::Error);
  EXPECT_EQ(round("int8", 0x80000000u, OverflowPolicy::saturate), 0u);  // two's complement has one zero
  EXPECT_EQ(round("int8", mls::float_bits(-3.0f), OverflowPolicy::saturate), 0x81u);  // -127/64: symmetric saturation
}

// ---- quantization rules, hand-computed ----------------------------------------------------------

mls::MlsTensor q(const char* fmt, std::vector<float> x, mls::Shape shape = {}, const char* r = "rne") {
  if (shape.empty()) shape = {static_cast<int64_t>(x.size())};
  return mls::quantize(mls::parse_format(fmt), shape, x, mls::parse_rounding(r), {});
}

TEST(FamilyQuantize, Mxfp4BlocksOf32WithTheOcpScaleRule) {
  // Block 0 (elements 0..31): amax 7 -> X = 2^(floor(log2 7) - emax) = 2^(2 - 2) = 1 (E8M0 code 127).
  //   5 is the tie of 4 (code 6) and 6 (code 7): the even code 6; -1.25 the tie of 1 (code 2) and 1.5
  //   (code 3): code 2 with the sign bit, 0xa; 7 is above q_max = 6 and saturates (code 7).
  // Block 1 (elements 32..39, a partial block): amax 0.75 -> X = 2^(-1 - 2) = 1/8 (code 124).
  //   0.75 / X = 6 (code 7); 0.03125 / X = 0.25, the tie of 0 and 0.5: code 0.
  std::vector<float> x(40, 0.0f);
  x[0] = 5;
  x[1] = -1.25f;
  x[2] = 7;
  x[32] = 0.75f;
  x[33] = 0.03125f;
  const mls::MlsTensor t = q("mxfp4", x);
  EXPECT_EQ(t.tensor_scale, 0x3f800000u);
  ASSERT_EQ(t.group_scales, (std::vector<uint32_t>{127, 124}));
  EXPECT_EQ(t.elements[0], 0x6u);
  EXPECT_EQ(t.elements[1], 0xau);
  EXPECT_EQ(t.elements[2], 0x7u);
  EXPECT_EQ(t.elements[3], 0x0u);
  EXPECT_EQ(t.elements[32], 0x7u);
  EXPECT_EQ(t.elements[33], 0x0u);
  // The round-up rule (`ceil`, GPU kernels): X = the smallest power of two >= 7 / 6 = 2 (code 128).
  EXPECT_EQ(q("mxfp4:ceil", x).group_scales[0], 128u);
  EXPECT_EQ(q("mxfp4:ocp_ceil", x).group_scales[0], 128u);  // 2^(ceil(log2 7) - 2) = 2
  // ocp_even: 7 rounded to 2 significant bits (ties away) is 8: X = 2^(3 - 2) = 2.
  EXPECT_EQ(q("mxfp4:ocp_even", x).group_scales[0], 128u);
}

TEST(FamilyQuantize, NonFiniteBlocksZeroBlocksAndTinyBlocks) {
  std::vector<float> x(64, 1.0f);
  x[3] = std::numeric_limits<float>::quiet_NaN();  // block 0: scale NaN (0xff), every element code 0 (4.1.2)
  x[40] = std::numeric_limits<float>::infinity();  // block 1: amax +Inf -> the largest scale 2^127 (code 254)
  const mls::MlsTensor t = q("mxfp8-e4m3", x);
  ASSERT_EQ(t.group_scales, (std::vector<uint32_t>{255, 254}));
  for (int i = 0; i < 32; ++i) EXPECT_EQ(t.elements[i], 0u) << i;
  EXPECT_EQ(t.elements[40], 0x7eu);  // Inf / 2^127 = Inf: saturates to 448 (overflow saturate)
  EXPECT_EQ(t.elements[41], 0x00u);  // 1 / 2^127 underflows to +0
  const std::vector<float> d = mls::dequantize_fp32(t);
  EXPECT_TRUE(std::isnan(d[0]) && std::isnan(d[31]));
  // An all-zero block: scale 2^-127 (code 0) and zeros; a block of fp32 subnormals near the lower limit.
  std::vector<float> z(32, 0.0f);
  z[5] = -0.0f;
  EXPECT_EQ(q("mxfp4", z).group_scales[0], 0u);
  EXPECT_EQ(q("mxfp4", z).elements[5], 0x8u);  // -0 keeps its sign
  std::vector<float> tiny(32, 0.0f);
  tiny[0] = std::ldexp(1.0f, -140);  // X = 2^(-140 - 2) clamps to 2^-127; 2^-140 / 2^-127 = 2^-13 -> 0
  tiny[1] = std::ldexp(1.0f, -127);  // 1/1 at the clamp... 2^-127 / 2^-127 = 1 -> code 2
  const mls::MlsTensor tt = q("mxfp4", tiny);
  EXPECT_EQ(tt.group_scales[0], 0u);
  EXPECT_EQ(tt.elements[0], 0u);
  EXPECT_EQ(tt.elements[1], 2u);
  // NVFP4 rejects non-finite input (4.1).
  EXPECT_THROW(q("nvfp4", {1.0f, std::numeric_limits<float>::quiet_NaN()}), mls::Error);
}

TEST(FamilyQuantize, Nvfp4TwoLevelScaling) {
  // amax 6 * 448 = 2688 gives S_t = RU_fp32(2688 / 2688) = 1; a block with amax 3 has
  // a_G / (6 S_t) = 0.5, an E4M3 value (code 0x30); 1.5 / 0.5 = 3 (E2M1 code 5).
  std::vector<float> x(32, 0.0f);
  x[0] = 2688;
  x[16] = 3;
  x[17] = 1.5f;
  const mls::MlsTensor t = q("nvfp4", x);
  EXPECT_EQ(t.tensor_scale, 0x3f800000u);
  ASSERT_EQ(t.group_scales.size(), 2u);
  EXPECT_EQ(t.group_scales[0], 0x7eu);  // 2688 / 6 = 448
  EXPECT_EQ(t.group_scales[1], 0x30u);
  EXPECT_EQ(t.elements[16], 0x7u);  // 3 / 0.5 = 6
  EXPECT_EQ(t.elements[17], 0x5u);
  // A block whose scale rounds to zero: every element a zero (4.5.1). S_t = 2688 / 2688 = 1;
  // a_G = 2^-12 -> 2^-12 / 6 ~ 4.07e-5 is below half the smallest subnormal 2^-9 of E4M3.
  x[18] = 0;
  x[16] = std::ldexp(1.0f, -12);
  x[17] = -std::ldexp(1.0f, -13);
  const mls::MlsTensor z = q("nvfp4", x);
  EXPECT_EQ(z.group_scales[1], 0u);
  EXPECT_EQ(z.elements[16], 0u);
  EXPECT_EQ(z.elements[17], 0x8u);
}

TEST(FamilyQuantize, Mxint8IsSymmetricTwosComplement) {
  std::vector<float> x = {1.0f, -1.0f, 0.5f, -2.0f};
  const mls::MlsTensor t = q("mxint8", x);
  // amax 2: X = 2^(1 - 0) = 2; -2 / 2 = -1 -> -64/64: code 0xc0; 1/2 = 0.5 -> 32 (0x20); 0.5/2 = 16.
  EXPECT_EQ(t.group_scales[0], 128u);
  EXPECT_EQ(t.elements, (std::vector<uint32_t>{0x20, 0xe0, 0x10, 0xc0}));
}

// ---- arithmetic profiles (4.12) ---------------------------------------------------------------

TEST(FamilyPipelines, TorchaoMxDividesCodeZeroBlocksBy2ToTheMinus126) {
  // A block with X = 2^-127 (code 0): the exact rule divides by 2^-127, torchao by 2^-126.
  std::vector<float> x(32, 0.0f);
  x[0] = std::ldexp(1.0f, -125);  // floor(log2) - 8 = -133: clamped to -127
  mls::QuantizeInput in{mls::parse_format("mxfp8-e4m3"), {}, mls::QuantArith::exact, {32}, {}, {}, std::nullopt};
  for (float v : x) in.x.push_back(mls::float_bits(v));
  const mls::MlsTensor exact = mls::quantize(in);
  in.arith = mls::QuantArith::torchao_mx;
  const mls::MlsTensor torchao = mls::quantize(in);
  EXPECT_EQ(exact.group_scales, torchao.group_scales);
  EXPECT_EQ(exact.elements[0], 0x48u);    // 2^-125 / 2^-127 = 4 = 2^2: E4M3 exponent field 9
  EXPECT_EQ(torchao.elements[0], 0x40u);  // 2^-125 / 2^-126 = 2: field 8 (torchao's clamp of the divisor)
}

// ---- bad descriptors ---------------------------------------------------------------------------

TEST(FamilyValidation, ImpossibleFamilyDescriptorsNameTheField) {
  const auto err = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const mls::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(err([] { mls::parse_format("e0m3n.g4m1"); }).find("specials"), std::string::npos);  // nan_all_ones with E = 0
  EXPECT_NE(err([] { mls::parse_format("e1m2i.g4m1"); }).find("specials"), std::string::npos);   // ieee with E = 1
  EXPECT_NE(err([] { mls::parse_format("e2m1.g4m1:ovf_nan"); }).find("overflow"), std::string::npos);
  EXPECT_NE(err([] { mls::parse_format("mxfp4:tscale_amax"); }).find("nonfinite"), std::string::npos);
  EXPECT_EQ(err([] { q("mxfp4", {1, 2, 3}, {3}); }), "");  // a rank-1 tensor has a last axis
  mls::Format f = mls::parse_format("mxfp4");
  f.block_axis = 2;
  EXPECT_NE(err([&] { mls::quantize(f, {2, 3}, {1, 2, 3, 4, 5, 6}, {}, {}); }).find("block.axis"), std::string::npos);
  mls::QuantizeInput in{mls::parse_format("mls-e2m1"), {}, mls::QuantArith::torchao_nvfp4, {2}, {0, 0}, {}, std::nullopt};
  EXPECT_NE(err([&] { mls::quantize(in); }).find("arith = torchao_nvfp4"), std::string::npos);
}

}  // namespace
