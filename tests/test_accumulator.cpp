// The hardware accumulator profile (spec/06-conv.md 6.9) and the arith JSON
// object (6.10): hand-computed cases for alignment, saturation, wrap and
// error; fp32 inter-group against a hand-computed sequential sum; agreement
// with `exact` when F and W are large; alignment against the one rounding
// routine on a fixed-point grid.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "mls/conv.hpp"
#include "mls/error.hpp"
#include "../reference/src/conv_reduction.hpp"  // detail::align_down, the accumulator's fast rounder (6.9.1)
#include "test_conv_oracle.hpp"

using namespace mls;
using conv_oracle::TV;

namespace {

// e2m1 magnitudes: code 0..7 = 0, 1/8, 1/4, 3/8, 1/2, 3/4, 1, 3/2; sign bit 8.
uint32_t e2m1(double v) {
  const double mags[8] = {0, 0.125, 0.25, 0.375, 0.5, 0.75, 1.0, 1.5};
  for (uint32_t c = 0; c < 8; ++c) {
    if (mags[c] == v) return c;
    if (mags[c] == -v && v != 0) return c | 8u;
  }
  throw std::logic_error("not an e2m1 value");
}

// One group per tensor, all scales 1.0 (g4m1 code 30 = 2^(15-15)).
MlsTensor one_group(const Shape& shape, const std::vector<double>& vals, const char* fmt = "e2m1.g4m1/0x0") {
  MlsTensor t;
  t.format = parse_format(fmt);
  t.shape = shape;
  t.group_scales = {30};
  for (double v : vals) t.elements.push_back(e2m1(v));
  t.validate();
  return t;
}

ArithProfile acc(int64_t F, int64_t W, RoundingMode align, AccOverflow ovf, InterGroup ig = InterGroup::exact,
                 RoundingMode fin = RoundingMode::rne) {
  ArithProfile a;
  a.profile = ArithKind::accumulator;
  a.frac_bits = F;
  a.width = W;
  a.alignment = align;
  a.overflow = ovf;
  a.inter_group = ig;
  a.final_rounding = fin;
  return a;
}

float y0(const ReductionResult& r) { return bits_float(r.y.at(0)); }

template <class F>
void expect_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no mls::Error; expected one naming \"" << needle << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "error \"" << e.what() << "\" does not name \"" << needle << "\"";
  }
}

}  // namespace

TEST(Accumulator, AlignmentModesByHand) {
  // a = (3/8, 3/8, -3/8, 1/8), b = (3/4, 3/8, 3/8, 3/4); products 9/32, 9/64, -9/64, 3/32.
  // With F = 4 (LSB 1/16) they are 4.5, 2.25, -2.25 and 1.5 LSBs; exact sum 6 LSBs = 3/8.
  const MlsTensor a = one_group({1, 4}, {0.375, 0.375, -0.375, 0.125});
  const MlsTensor b = one_group({4, 1}, {0.75, 0.375, 0.375, 0.75});
  struct {
    RoundingMode m;
    float want;  // aligned products summed, times 1/16
  } cases[] = {
      {RoundingMode::rtz, 5.0f / 16},  // 4 + 2 - 2 + 1
      {RoundingMode::rne, 6.0f / 16},  // 4 + 2 - 2 + 2 (4.5 -> 4, 1.5 -> 2: ties to even)
      {RoundingMode::rna, 7.0f / 16},  // 5 + 2 - 2 + 2
      {RoundingMode::rup, 8.0f / 16},  // 5 + 3 - 2 + 2
      {RoundingMode::rdn, 4.0f / 16},  // 4 + 2 - 3 + 1
  };
  EXPECT_EQ(bits_float(gemm(a, b).y[0]), 0.375f);
  for (const auto& c : cases) {
    SCOPED_TRACE(to_string(c.m));
    const ReductionResult r = gemm(a, b, acc(4, 16, c.m, AccOverflow::error));
    EXPECT_EQ(y0(r), c.want);
    EXPECT_EQ(r.exact[0], Dyadic(BigInt(3), -3));  // the exact value is reported whatever the profile
  }
  // F = 6 holds every product exactly; F = 0 drops them all under rtz.
  EXPECT_EQ(y0(gemm(a, b, acc(6, 16, RoundingMode::rtz, AccOverflow::error))), 0.375f);
  EXPECT_EQ(y0(gemm(a, b, acc(0, 16, RoundingMode::rtz, AccOverflow::error))), 0.0f);
  // Negative F: LSB 2 (F = -1). Products 1.5 * 1.5 = 2.25 -> 1.125 LSB -> rne 1 -> 2.0.
  const MlsTensor c = one_group({1, 1}, {1.5}), d = one_group({1, 1}, {1.5});
  EXPECT_EQ(y0(gemm(c, d, acc(-1, 8, RoundingMode::rne, AccOverflow::error))), 2.0f);
  EXPECT_EQ(y0(gemm(c, d, acc(-1, 8, RoundingMode::rup, AccOverflow::error))), 4.0f);
}

TEST(Accumulator, SaturateWrapAndErrorByHand) {
  // F = 2 (LSB 1/4), W = 5: register range [-16, 15] LSBs. 1.5 * 1.5 = 2.25 = 9 LSBs.
  const MlsTensor a2 = one_group({1, 2}, {1.5, 1.5}), b2 = one_group({2, 1}, {1.5, 1.5});
  // 9 + 9 = 18 > 15: saturate -> 15 (3.75); wrap -> 18 - 32 = -14 (-3.5); error throws.
  EXPECT_EQ(y0(gemm(a2, b2, acc(2, 5, RoundingMode::rtz, AccOverflow::saturate))), 3.75f);
  EXPECT_EQ(y0(gemm(a2, b2, acc(2, 5, RoundingMode::rtz, AccOverflow::wrap))), -3.5f);
  expect_error([&] { gemm(a2, b2, acc(2, 5, RoundingMode::rtz, AccOverflow::error)); }, "arith.overflow = error");
  // Negative: -9 - 9 = -18 < -16: saturate -> -16 (-4); wrap -> 14 (3.5).
  const MlsTensor n2 = one_group({2, 1}, {-1.5, -1.5});
  EXPECT_EQ(y0(gemm(a2, n2, acc(2, 5, RoundingMode::rtz, AccOverflow::saturate))), -4.0f);
  EXPECT_EQ(y0(gemm(a2, n2, acc(2, 5, RoundingMode::rtz, AccOverflow::wrap))), 3.5f);
  // Three terms 9, 9, -9: saturation is sticky (15 - 9 = 6 -> 1.5), wrap is modular and
  // returns to the exact 9 (2.25) once the true sum is back in range.
  const MlsTensor a3 = one_group({1, 3}, {1.5, 1.5, 1.5}), b3 = one_group({3, 1}, {1.5, 1.5, -1.5});
  EXPECT_EQ(y0(gemm(a3, b3, acc(2, 5, RoundingMode::rtz, AccOverflow::saturate))), 1.5f);
  EXPECT_EQ(y0(gemm(a3, b3, acc(2, 5, RoundingMode::rtz, AccOverflow::wrap))), 2.25f);
  // The unbounded register (products shifted by F = 100 > 77 bits leave __int128):
  // W = 103 holds [-4, 4 - 2^-100]; 2.25 + 2.25 = 4.5 wraps to -3.5 and saturates to
  // 4 - 2^-100, which the final rounding takes to 4.
  EXPECT_EQ(y0(gemm(a2, b2, acc(100, 103, RoundingMode::rtz, AccOverflow::wrap))), -3.5f);
  EXPECT_EQ(y0(gemm(a2, b2, acc(100, 103, RoundingMode::rtz, AccOverflow::saturate))), 4.0f);
  expect_error([&] { gemm(a2, b2, acc(100, 103, RoundingMode::rtz, AccOverflow::error)); }, "103-bit");
  EXPECT_EQ(y0(gemm(a3, b3, acc(2, 200, RoundingMode::rtz, AccOverflow::error))), 2.25f);
  // A single product beyond the register: 9 > 7 for W = 4.
  const MlsTensor a1 = one_group({1, 1}, {1.5}), b1 = one_group({1, 1}, {1.5});
  EXPECT_EQ(y0(gemm(a1, b1, acc(2, 4, RoundingMode::rtz, AccOverflow::saturate))), 1.75f);
  EXPECT_EQ(y0(gemm(a1, b1, acc(2, 4, RoundingMode::rtz, AccOverflow::wrap))), -1.75f);  // 9 - 16 = -7
}

TEST(Accumulator, Fp32InterGroupIsSequentialNearestEvenByHand) {
  // Per-element groups (1x1): every product is its own segment. Segment values
  // 1, 2^-24, 2^-24 (group scales g5m1: code 62 = 1.0, code 14 = 2^-24).
  MlsTensor a;
  a.format = parse_format("e2m1.g5m1/1x1");
  a.shape = {1, 3};
  a.elements = {e2m1(1.0), e2m1(1.0), e2m1(1.0)};
  a.group_scales = {62, 14, 14};
  a.validate();
  MlsTensor b = a;
  b.shape = {3, 1};
  b.group_scales = {62, 62, 62};
  b.validate();
  const ArithProfile fp32 = acc(64, 128, RoundingMode::rtz, AccOverflow::error, InterGroup::fp32);
  // Exact: 1 + 2^-23, representable. Sequential fp32: 1 + 2^-24 ties to 1 (even), twice.
  EXPECT_EQ(gemm(a, b).y[0], 0x3f800001u);
  EXPECT_EQ(gemm(a, b, fp32).y[0], 0x3f800000u);
  EXPECT_EQ(gemm(a, b, acc(64, 128, RoundingMode::rtz, AccOverflow::error, InterGroup::exact)).y[0], 0x3f800001u);
  // Canonical order matters: small terms first sum exactly to 2^-23, then 1 + 2^-23.
  a.group_scales = {14, 14, 62};
  EXPECT_EQ(gemm(a, b, fp32).y[0], 0x3f800001u);
  // The tensor scales apply after the sum, with the final rounding: 3 * (1 + 2^-23) = 3 + 1.5 * 2^-22
  // is a tie between 3 + 2^-22 (odd) and 3 + 2^-21 (even) in [2, 4), where the spacing is 2^-22.
  a.tensor_scale = float_bits(3.0f);
  EXPECT_EQ(bits_float(gemm(a, b, fp32).y[0]), 3.0f + 0x1p-21f);
  EXPECT_EQ(bits_float(gemm(a, b, acc(64, 128, RoundingMode::rtz, AccOverflow::error, InterGroup::fp32,
                                      RoundingMode::rtz)).y[0]),
            3.0f + 0x1p-22f);
}

TEST(Accumulator, Fp32InterGroupMatchesAnIndependentSequentialSum) {
  // Conv forward with per-(n,c) groups: the model's y must equal MPFR-rounded
  // segment values summed with native IEEE fp32 adds in canonical order.
  std::mt19937_64 rng(21);
  const conv_oracle::Geo g{2, 6, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  const Format f = parse_format("e3m3.g5m2");
  for (int rep = 0; rep < 4; ++rep) {
    const MlsTensor A = conv_oracle::random_tensor(rng, f, g.a_shape(), -20, 20);
    const MlsTensor W = conv_oracle::random_tensor(rng, f, g.w_shape(), -20, 20);
    const Conv2dParams p = g.params(ConvPass::fwd);
    const ReductionResult r = conv2d(A, W, p, acc(80, 200, RoundingMode::rtz, AccOverflow::error, InterGroup::fp32));
    const TV S = conv_oracle::mul(conv_oracle::fp32_value(A.tensor_scale), conv_oracle::fp32_value(W.tensor_scale));
    for (int64_t o = 0; o < static_cast<int64_t>(r.y.size()); ++o) {
      float s = 0.0f;
      for (const Segment& seg : conv2d_segments(A, W, p, o)) {
        uint32_t t = conv_oracle::mpfr_fp32(TV{seg.value.m, seg.value.e});
        s = s + bits_float(t);
      }
      const uint32_t want = s == 0 ? float_bits(s) : conv_oracle::mpfr_fp32(conv_oracle::mul(S, conv_oracle::fp32_value(float_bits(s))));
      ASSERT_EQ(r.y[o], want) << "output " << o;
    }
  }
}

RC_GTEST_PROP(Accumulator, EqualsExactWhenTheRegisterIsLargeEnough, ()) {
  // Products of these formats are multiples of 2^-64 at worst (e5m2: 2^(1-31-2) squared),
  // and sums stay far below 2^100: F = 64 and W >= 120 lose nothing.
  static const char* fmts[] = {"e2m1.g4m1", "e3m3.g4m1", "e2m4.g8m1", "e0m3.g4m1", "e5m2.g4m2"};
  const int64_t M = *rc::gen::inRange<int64_t>(1, 4), K = *rc::gen::inRange<int64_t>(1, 30),
                N = *rc::gen::inRange<int64_t>(1, 4);
  const auto fa = *rc::gen::inRange<size_t>(0, 5), fb = *rc::gen::inRange<size_t>(0, 5);
  const int64_t W = *rc::gen::element<int64_t>(120, 121, 400);
  const auto align = *rc::gen::element(RoundingMode::rtz, RoundingMode::rdn, RoundingMode::rup, RoundingMode::rne,
                                       RoundingMode::rna);
  const auto ovf = *rc::gen::element(AccOverflow::saturate, AccOverflow::wrap, AccOverflow::error);
  std::mt19937_64 rng(*rc::gen::arbitrary<uint64_t>());
  const MlsTensor a = conv_oracle::random_tensor(rng, parse_format(std::string(fmts[fa]) + "/1x4"), {M, K});
  const MlsTensor b = conv_oracle::random_tensor(rng, parse_format(std::string(fmts[fb]) + "/3x1"), {K, N});
  const ReductionResult ex = gemm(a, b);
  const ReductionResult hw = gemm(a, b, acc(64, W, align, ovf, InterGroup::exact));
  RC_ASSERT(hw.y == ex.y);
  RC_ASSERT(hw.exact == ex.exact);
  // The conv passes too, on a small random case.
  const conv_oracle::Geo g{1, 2, 4, 4, 2, 3, 3, 2, 1, 2, 1, 1, 1, 1};
  const MlsTensor A = conv_oracle::random_tensor(rng, parse_format(fmts[fa]), g.a_shape());
  const MlsTensor Wt = conv_oracle::random_tensor(rng, parse_format(fmts[fb]), g.w_shape());
  const MlsTensor dY = conv_oracle::random_tensor(rng, parse_format(fmts[fa]), g.y_shape());
  RC_ASSERT(conv2d(A, Wt, g.params(ConvPass::fwd), acc(64, W, align, ovf)).y ==
            conv2d(A, Wt, g.params(ConvPass::fwd)).y);
  RC_ASSERT(conv2d(dY, Wt, g.params(ConvPass::bwd_data), acc(64, W, align, ovf)).y ==
            conv2d(dY, Wt, g.params(ConvPass::bwd_data)).y);
  RC_ASSERT(conv2d(A, dY, g.params(ConvPass::bwd_weight), acc(64, W, align, ovf)).y ==
            conv2d(A, dY, g.params(ConvPass::bwd_weight)).y);
}

TEST(Accumulator, AlignmentAgreesWithTheRoundingRoutineOnAFixedPointGrid) {
  // Every e2m1 x e2m1 product, F = -1..6, each alignment mode: the aligned
  // product equals round_to_grid on the E = 0 grid f * 2^-F (3.x, ties to even f).
  const Format f = parse_format("e2m1.g4m1/0x0");
  for (int64_t F = -1; F <= 6; ++F)
    for (RoundingMode m : {RoundingMode::rtz, RoundingMode::rdn, RoundingMode::rup, RoundingMode::rne, RoundingMode::rna})
      for (uint32_t x = 0; x < 16; ++x)
        for (uint32_t y = 0; y < 16; ++y) {
          SCOPED_TRACE("F=" + std::to_string(F) + " " + to_string(m) + " codes " + hex32(x) + " " + hex32(y));
          MlsTensor a;
          a.format = f;
          a.shape = {1, 1};
          a.group_scales = {30};
          a.elements = {x};
          MlsTensor b = a;
          b.elements = {y};
          const Dyadic p = f.element.decode(x) * f.element.decode(y);
          Minifloat grid{true, 0, 20, static_cast<int>(1 - 20 + F), ZeroMode::subnormal, Specials::none, Encoding::sign_magnitude};
          const RoundResult rr = round_to_grid(grid, RoundInput{p.sign() < 0, p.abs(), Dyadic::from_int(1)},
                                               Rounding{m, 8}, 0, OverflowPolicy::error);
          const Dyadic want = grid.decode(rr.code);
          const ReductionResult r = gemm(a, b, acc(F, 24, m, AccOverflow::error));
          ASSERT_EQ(r.y[0], round_to_fp32_bits(want, RoundingMode::rne, OverflowPolicy::error));
        }
}

TEST(Accumulator, AlignDownEqualsRoundToIntegerOverEveryModeWidthAndSign) {
  // Item 4 of issue 11: the accumulator's own integer rounder (accum.cpp,
  // both instantiations) equals the one rounding routine (round_to_integer =
  // round_to_grid on an E = 0 grid) for every alignment mode, shift k = 1..40,
  // both signs, and values from 0 to 2^48 (products are below 2^48): every
  // value near 0, and near each j * 2^(k-1) (the ties and their neighbours).
  const RoundingMode modes[] = {RoundingMode::rtz, RoundingMode::rdn, RoundingMode::rup, RoundingMode::rne,
                                RoundingMode::rna};
  int64_t checked = 0;
  for (RoundingMode m : modes)
    for (int64_t k = 1; k <= 40; ++k) {
      std::vector<__int128> mags;
      for (__int128 v = 0; v < 70; ++v) mags.push_back(v);
      const __int128 half = __int128(1) << (k - 1);
      for (__int128 j : {__int128(1), __int128(2), __int128(3), __int128(4), __int128(5), __int128(7), __int128(1) << 20})
        for (int d = -2; d <= 2; ++d) mags.push_back(j * half + d);
      mags.push_back((__int128(1) << 48) - 1);
      for (__int128 mag : mags) {
        if (mag < 0) continue;
        for (int sign : {1, -1}) {
          const __int128 v = sign * mag;
          const BigInt big(v);
          const BigInt want = round_to_integer(big, k, m);
          SCOPED_TRACE(to_string(m) + " k=" + std::to_string(k) + " v=" + big.str());
          ASSERT_EQ(detail::align_down<BigInt>(big, k, m), want);
          ASSERT_EQ(BigInt(detail::align_down<__int128>(v, k, m)), want);
          ++checked;
        }
      }
    }
  EXPECT_GT(checked, 5 * 40 * 70 * 2);  // the loops ran (the assertions are the ASSERT_EQs above)
  // A mode the accumulator does not define is refused, not rounded somehow.
  EXPECT_THROW(detail::align_down<BigInt>(BigInt(5), 1, RoundingMode::rto), Error);
}

TEST(Accumulator, FinalRoundingModes) {
  // Exact 1 + 2^-30 with inter-group exact: rne/rtz/rdn -> 1, rup -> 1 + 2^-23.
  MlsTensor a;
  a.format = parse_format("e2m1.g8m0/1x1");
  a.shape = {1, 2};
  a.elements = {e2m1(1.0), e2m1(1.0)};
  a.group_scales = {255, 225};  // 2^0, 2^-30
  a.validate();
  MlsTensor b = a;
  b.shape = {2, 1};
  b.group_scales = {255, 255};
  const auto run = [&](RoundingMode fin) {
    return gemm(a, b, acc(64, 128, RoundingMode::rtz, AccOverflow::error, InterGroup::exact, fin)).y[0];
  };
  EXPECT_EQ(run(RoundingMode::rne), 0x3f800000u);
  EXPECT_EQ(run(RoundingMode::rtz), 0x3f800000u);
  EXPECT_EQ(run(RoundingMode::rdn), 0x3f800000u);
  EXPECT_EQ(run(RoundingMode::rup), 0x3f800001u);
  EXPECT_EQ(run(RoundingMode::rna), 0x3f800000u);
}

TEST(ArithJson, RoundTripsAndNamesBadFields) {
  const ArithProfile a = acc(12, 32, RoundingMode::rne, AccOverflow::wrap, InterGroup::fp32, RoundingMode::rtz);
  EXPECT_EQ(ArithProfile::from_json(a.to_json()), a);
  EXPECT_EQ(parse_arith(a.to_json().dump()), a);
  EXPECT_EQ(parse_arith("exact"), ArithProfile::exact());
  EXPECT_EQ(parse_arith(R"({"profile":"exact"})"), ArithProfile::exact());
  EXPECT_EQ(a.to_json().dump(),
            R"({"alignment":"rne","final_rounding":"rtz","frac_bits":12,"inter_group":"fp32","overflow":"wrap","profile":"accumulator","width":32})");
  auto j = a.to_json();
  j.erase("width");
  expect_error([&] { ArithProfile::from_json(j); }, "arith.width is missing");
  j = a.to_json();
  j["width"] = 1;
  expect_error([&] { ArithProfile::from_json(j); }, "arith.width");
  j = a.to_json();
  j["frac_bits"] = "x";
  expect_error([&] { ArithProfile::from_json(j); }, "arith.frac_bits");
  j = a.to_json();
  j["alignment"] = "sr";
  expect_error([&] { ArithProfile::from_json(j); }, "arith.alignment");
  j = a.to_json();
  j["alignment"] = "truncate";
  expect_error([&] { ArithProfile::from_json(j); }, "arith.alignment");
  j = a.to_json();
  j["overflow"] = "clamp";
  expect_error([&] { ArithProfile::from_json(j); }, "arith.overflow");
  j = a.to_json();
  j["inter_group"] = "fp16";
  expect_error([&] { ArithProfile::from_json(j); }, "arith.inter_group");
  j = a.to_json();
  j["final_rounding"] = "rto";
  expect_error([&] { ArithProfile::from_json(j); }, "arith.final_rounding");
  j = a.to_json();
  j["extra"] = 1;
  expect_error([&] { ArithProfile::from_json(j); }, "arith.extra");
  expect_error([] { parse_arith(R"({"profile":"exact","width":3})"); }, "arith.width");
  expect_error([] { parse_arith(R"({"profile":"fast"})"); }, "arith.profile");
  expect_error([] { parse_arith("fast"); }, "arith");
  expect_error([] { parse_arith("{"); }, "arith is not valid JSON");
}
