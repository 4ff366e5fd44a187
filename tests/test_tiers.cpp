// Comparison tiers (spec/06-conv.md 6.12) and the bounds of the declared
// models (6.13): classification by hand, the bound's exact boundary, the bound
// holding for fp32 sums in shuffled orders and groupings (native IEEE fp32
// arithmetic plays the backend), and its tightness on adversarial cases.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>

#include "mls/conv.hpp"
#include "mls/error.hpp"
#include "mls/tiers.hpp"
#include "test_conv_oracle.hpp"

using namespace mls;
using conv_oracle::TV;

namespace {

Dyadic p2(int64_t k) { return Dyadic::pow2(k); }
const Dyadic kOne = Dyadic::from_int(1);

// The backend under the fp32_sum models: terms added in a random binary tree.
float shuffled_tree_sum(std::vector<float> xs, std::mt19937_64& rng) {
  if (xs.empty()) return 0.0f;
  while (xs.size() > 1) {
    const size_t i = rng() % xs.size();
    const float x = xs[i];
    xs.erase(xs.begin() + static_cast<std::ptrdiff_t>(i));
    const size_t j = rng() % xs.size();
    xs[j] = (rng() & 1) ? xs[j] + x : x + xs[j];
  }
  return xs[0];
}
float sequential_sum(const std::vector<float>& xs) {
  float s = 0.0f;
  for (float x : xs) s += x;
  return s;
}

}  // namespace

TEST(Tiers, ClassifiesByHand) {
  const Dyadic v = kOne + p2(-30);  // between 1 and 1 + 2^-23, nearer 1
  Classification c = classify_fp32(v, 0x3f800000u);
  EXPECT_EQ(c.tier, Tier::exact);
  EXPECT_EQ(c.expected, 0x3f800000u);
  EXPECT_EQ(c.lower, 0x3f800000u);
  EXPECT_EQ(c.upper, 0x3f800001u);
  EXPECT_EQ(classify_fp32(v, 0x3f800001u).tier, Tier::faithful);
  EXPECT_EQ(classify_fp32(v, 0x3f7fffffu).tier, Tier::none);
  // With the bound of 10 terms 2^-4: err = u + 2^-30 is within, 16 ulps are not.
  const ErrorBound b = fp32_sum_bound(std::vector<Dyadic>(10, p2(-4)));  // T = 10/16: B = 6.25 u (1 + ...)
  c = classify_fp32(v, 0x3f7fffffu, &b);
  EXPECT_EQ(c.tier, Tier::bounded);
  EXPECT_TRUE(c.has_bound);
  EXPECT_EQ(classify_fp32(v, 0x3f800010u, &b).tier, Tier::none);  // 16 ulps away
  // An exactly representable value has one faithful neighbour: itself.
  EXPECT_EQ(classify_fp32(kOne, 0x3f800001u).tier, Tier::none);
  EXPECT_EQ(classify_fp32(kOne, 0x3f800000u).tier, Tier::exact);
  // Zero: -0 is the faithful value but not the exact bits (6.8: zero is +0).
  EXPECT_EQ(classify_fp32(Dyadic(), 0x80000000u).tier, Tier::faithful);
  EXPECT_EQ(classify_fp32(Dyadic(), 0u).tier, Tier::exact);
  // A tiny negative value rounds to -0; +0 is faithful (the same value as -0).
  const Dyadic tiny = p2(-160).neg();
  EXPECT_EQ(classify_fp32(tiny, 0x80000000u).tier, Tier::exact);
  EXPECT_EQ(classify_fp32(tiny, 0u).tier, Tier::faithful);
  EXPECT_EQ(classify_fp32(tiny, 0x80000001u).tier, Tier::faithful);  // -2^-149 = RD
  EXPECT_EQ(classify_fp32(tiny, 0x00000001u).tier, Tier::none);
  // NaN never reaches a tier; beyond the fp32 range RNE is Inf and the largest finite value is faithful.
  EXPECT_EQ(classify_fp32(v, 0x7fc00000u, &b).tier, Tier::none);
  EXPECT_EQ(classify_fp32(p2(128), 0x7f800000u).tier, Tier::exact);
  EXPECT_EQ(classify_fp32(p2(128), 0x7f7fffffu).tier, Tier::faithful);
  EXPECT_EQ(classify_fp32(p2(127), 0x7f800000u).tier, Tier::none);
}

TEST(Tiers, ErrorInUlps) {
  const Dyadic v = kOne + p2(-30);
  EXPECT_EQ(classify_fp32(v, 0x3f800002u).err_ulps, 2.0 - 0x1p-7);  // (2^-22 - 2^-30) / 2^-23
  EXPECT_EQ(classify_fp32(v, 0x3f800000u).err_ulps, 0x1p-7);
  EXPECT_EQ(classify_fp32(p2(-140), 0x00000400u).err_ulps, 1024.0 - 512.0);  // ulp 2^-149; got 2^-139
  EXPECT_TRUE(std::isinf(classify_fp32(v, 0x7f800000u).err_ulps));
  EXPECT_EQ(fp32_ulp(kOne), p2(-23));
  EXPECT_EQ(fp32_ulp(Dyadic(BigInt(3), -1)), p2(-23));
  EXPECT_EQ(fp32_ulp(Dyadic(BigInt(-3), 0)), p2(-22));
  EXPECT_EQ(fp32_ulp(p2(-126)), p2(-149));
  EXPECT_EQ(fp32_ulp(p2(-127)), p2(-149));
  EXPECT_EQ(fp32_ulp(Dyadic()), p2(-149));
  EXPECT_EQ(fp32_ulp(p2(200)), p2(104));
}

TEST(Tiers, BoundIsExactAtItsBoundary) {
  // Terms {1, 1}: B = gamma_2 * 2 = 4u / (1 - 2u) = 2^-22 (1 + 2^-23 + 2^-46 + ...).
  const ErrorBound b = fp32_sum_bound({kOne, kOne});
  EXPECT_EQ(b.n, 2);
  EXPECT_TRUE(within_bound(b, p2(-22) + p2(-45)));
  EXPECT_TRUE(within_bound(b, p2(-22) + p2(-45) + p2(-68)));
  EXPECT_FALSE(within_bound(b, p2(-22) + p2(-45) + p2(-67)));
  EXPECT_TRUE(within_bound(b, (p2(-22) + p2(-45)).neg()));  // the sign of err is ignored
  // A subnormal-range term adds (1 + gamma_{n-1}) 2^-150: one term 2^-140 gives
  // B = u/(1-u) 2^-140 + 2^-150 = 2^-150 + 2^-164 (1 + 2^-24 + ...).
  const ErrorBound t = fp32_sum_bound({p2(-140)});
  EXPECT_TRUE(within_bound(t, p2(-150) + p2(-164)));
  EXPECT_FALSE(within_bound(t, p2(-150) + p2(-163)));
  // No terms: nothing but zero is within the bound.
  const ErrorBound z = fp32_sum_bound({});
  EXPECT_TRUE(within_bound(z, Dyadic()));
  EXPECT_FALSE(within_bound(z, p2(-200)));
  // An infinite bound (n u >= 1) admits nothing.
  ErrorBound inf = fp32_sum_bound({kOne});
  inf.finite = false;
  EXPECT_FALSE(within_bound(inf, Dyadic()));
  // The scaled model with S = 1: gamma_{n+2} T + ... + 2^-150.
  const ErrorBound s = fp32_sum_scaled_bound({kOne, kOne}, kOne);
  EXPECT_TRUE(within_bound(s, p2(-21)));  // gamma_4 * 2 = 8u/(1-4u) > 2^-21
  EXPECT_FALSE(within_bound(s, p2(-21) + p2(-40)));
}

// fp32_sum: terms rounded once, summed in any order and grouping, stay within B.
RC_GTEST_PROP(Tiers, BoundHoldsForShuffledFp32Sums, ()) {
  static const char* fmts[] = {"e2m1.g4m1", "e3m3.g4m1", "e2m4.g8m1", "e5m2.g4m2", "e2m1.g8m0"};
  const auto fa = *rc::gen::inRange<size_t>(0, 5), fb = *rc::gen::inRange<size_t>(0, 5);
  // Tensor-scale ranges: ordinary, and tiny enough for subnormal terms.
  const auto range = *rc::gen::element(std::make_pair(-8, 8), std::make_pair(-75, -60), std::make_pair(-140, -100));
  const bool use_conv = *rc::gen::arbitrary<bool>();
  std::mt19937_64 rng(*rc::gen::arbitrary<uint64_t>());
  MlsTensor a, b;
  Conv2dParams p;
  std::vector<Dyadic> exact;
  std::vector<std::vector<Segment>> segs;
  if (use_conv) {
    const conv_oracle::Geo g{1, 4, 4, 4, 2, 3, 3, 2, 1, 1, 1, 1, 1, 1};
    a = conv_oracle::random_tensor(rng, parse_format(std::string(fmts[fa]) + "/1x2x2x0"), g.a_shape(), range.first,
                                   range.second);
    b = conv_oracle::random_tensor(rng, parse_format(fmts[fb]), g.w_shape(), range.first, range.second);
    p = g.params(ConvPass::fwd);
    exact = conv2d_exact(a, b, p);
    for (size_t o = 0; o < exact.size(); ++o) segs.push_back(conv2d_segments(a, b, p, static_cast<int64_t>(o)));
  } else {
    const int64_t K = *rc::gen::inRange<int64_t>(1, 64);
    a = conv_oracle::random_tensor(rng, parse_format(std::string(fmts[fa]) + "/1x1"), {2, K}, range.first, range.second);
    b = conv_oracle::random_tensor(rng, parse_format(fmts[fb]), {K, 2}, range.first, range.second);
    exact = gemm_exact(a, b);
    for (size_t o = 0; o < exact.size(); ++o) segs.push_back(gemm_segments(a, b, static_cast<int64_t>(o)));
  }
  const TV S = conv_oracle::mul(conv_oracle::fp32_value(a.tensor_scale), conv_oracle::fp32_value(b.tensor_scale));
  const float alpha = bits_float(a.tensor_scale) * bits_float(b.tensor_scale);  // fl(S_tA S_tB)
  const auto full = use_conv ? conv2d_error_bounds(a, b, p, BoundModel::fp32_sum)
                             : gemm_error_bounds(a, b, BoundModel::fp32_sum);
  const auto scaled = use_conv ? conv2d_error_bounds(a, b, p, BoundModel::fp32_sum_scaled)
                               : gemm_error_bounds(a, b, BoundModel::fp32_sum_scaled);
  for (size_t o = 0; o < exact.size(); ++o) {
    std::vector<float> terms, values;
    for (const Segment& s : segs[o]) {
      terms.push_back(bits_float(conv_oracle::mpfr_fp32(TV{s.term.m, s.term.e})));
      values.push_back(bits_float(conv_oracle::mpfr_fp32(TV{s.value.m, s.value.e})));
    }
    RC_ASSERT(full[o].n == static_cast<int64_t>(segs[o].size()));
    for (int rep = 0; rep < 2; ++rep) {  // canonical order, then a random tree
      const float y = rep == 0 ? sequential_sum(terms) : shuffled_tree_sum(terms, rng);
      const Classification c = classify_fp32(exact[o], float_bits(y), &full[o]);
      RC_LOG() << "output " << o << " exact " << exact[o].to_string() << " got " << hex32(float_bits(y)) << " tier "
               << to_string(c.tier) << " err " << c.err_ulps << " ulps, bound " << c.bound_ulps << "\n";
      RC_ASSERT(c.tier != Tier::none);
      RC_ASSERT(within_bound(full[o], Dyadic::from_float(y) - exact[o]));
      // Scaled: sum the group-scaled values, then apply the tensor scales with one
      // rounding (exact S) or two (fl(S) first).
      const float s = rep == 0 ? sequential_sum(values) : shuffled_tree_sum(values, rng);
      const float y1 = bits_float(conv_oracle::mpfr_fp32(conv_oracle::mul(S, conv_oracle::fp32_value(float_bits(s)))));
      const float y2 = alpha * s;
      RC_ASSERT(within_bound(scaled[o], Dyadic::from_float(y1) - exact[o]));
      RC_ASSERT(within_bound(scaled[o], Dyadic::from_float(y2) - exact[o]));
    }
  }
}

TEST(Tiers, BoundIsTightOnAnAdversarialSum) {
  // 1 followed by 99 terms t = 2^-24 + 2^-47: each sequential add rounds 1 + t up
  // to the next float, an error of 2^-24 - 2^-47 (almost u) every time.
  std::vector<Dyadic> terms{kOne};
  std::vector<float> f{1.0f};
  for (int i = 0; i < 99; ++i) {
    terms.push_back(p2(-24) + p2(-47));
    f.push_back(0x1p-24f + 0x1p-47f);
  }
  Dyadic exact;
  for (const Dyadic& t : terms) exact = exact + t;
  const float y = sequential_sum(f);
  const ErrorBound b = fp32_sum_bound(terms);
  const Dyadic err = (Dyadic::from_float(y) - exact).abs();
  ASSERT_TRUE(within_bound(b, err));
  const double ratio = bound_value(b) / round_to_fp64(err);
  EXPECT_GE(ratio, 1.0);
  EXPECT_LE(ratio, 1.05) << "bound " << bound_value(b) << " err " << round_to_fp64(err);
}

TEST(Tiers, BoundIsTightOnAnAdversarialGemmUnderTheAccumulatorModel) {
  // The accumulator profile with fp32 inter-group accumulation is a backend of the
  // fp32_sum_scaled model (sequential order, exact segments). Per-element groups:
  // segment values 1, then 99 times 1.0625 * 2^-24 (e2m4 element 1 + 1/16, group
  // scale g5m1 2^-24). Each add rounds up by 0.9375 u.
  const int64_t K = 100;
  MlsTensor a;
  a.format = parse_format("e2m4.g5m1/1x1");
  a.shape = {1, K};
  a.elements.assign(K, 0x31);     // e = 3, f = 1: 2^0 * (1 + 1/16)
  a.elements[0] = 0x30;           // 1.0
  a.group_scales.assign(K, 14);   // 2^(7-31) = 2^-24
  a.group_scales[0] = 62;         // 1.0
  MlsTensor b;
  b.format = parse_format("e2m4.g5m1/0x0");
  b.shape = {K, 1};
  b.elements.assign(K, 0x30);
  b.group_scales = {62};
  ArithProfile acc;
  acc.profile = ArithKind::accumulator;
  acc.frac_bits = 40;
  acc.width = 64;
  acc.alignment = RoundingMode::rtz;
  acc.overflow = AccOverflow::error;
  acc.inter_group = InterGroup::fp32;
  acc.final_rounding = RoundingMode::rne;
  const ReductionResult r = gemm(a, b, acc);
  EXPECT_EQ(bits_float(r.y[0]), 1.0f + 99 * 0x1p-23f);  // every add rounded up to the next float
  const auto bounds = gemm_error_bounds(a, b, BoundModel::fp32_sum_scaled);
  const Classification c = classify_fp32(r.exact[0], r.y[0], &bounds[0]);
  EXPECT_EQ(c.tier, Tier::bounded);
  const double ratio = c.bound_ulps / c.err_ulps;
  EXPECT_GE(ratio, 1.0);
  EXPECT_LE(ratio, 1.2) << "bound " << c.bound_ulps << " ulps, err " << c.err_ulps << " ulps";
  // The exact profile is the exact tier, the same sum at the other end of the spectrum.
  EXPECT_EQ(classify_fp32(r.exact[0], gemm(a, b).y[0], &bounds[0]).tier, Tier::exact);
}

TEST(Tiers, ClassificationJson) {
  const ErrorBound b = fp32_sum_bound({kOne, kOne});
  const auto j = classify_fp32(kOne + p2(-30), 0x3f800001u, &b).to_json();
  EXPECT_EQ(j.at("tier"), "faithful");
  EXPECT_EQ(j.at("expected"), 0x3f800000u);
  EXPECT_EQ(j.at("faithful"), nlohmann::json({0x3f800000u, 0x3f800001u}));
  EXPECT_TRUE(j.contains("bound_ulps"));
  EXPECT_EQ(to_json(b).at("model"), "fp32_sum");
  EXPECT_EQ(bound_model_from_string("fp32_sum_scaled"), BoundModel::fp32_sum_scaled);
  EXPECT_THROW(bound_model_from_string("fp16"), Error);
}
