// conv2d (three passes) and GEMM against an independent naive exact
// implementation (test_conv_oracle.hpp), the exact adjoint identities, the
// canonical segments, and bad input (spec/06-conv.md).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <functional>

#include "mls/conv.hpp"
#include "mls/error.hpp"
#include "test_conv_oracle.hpp"

using namespace mls;
using conv_oracle::Geo;
using conv_oracle::TV;

namespace {

const std::vector<std::string>& formats() {
  // Element and group-scale formats that between them take every engine path of
  // 6.16: int64 (e2m1.g4m1), __int128 (e4m3.g4m2 with many terms), generic
  // (g8m1: group scales 2^-255..1.5, or e5m2 with a wide element range).
  static const std::vector<std::string> f = {"e2m1.g4m1", "e3m3.g4m1", "e2m4.g4m1", "e0m3.g4m1",
                                             "e1m2z.g3m0", "e4m3.g4m2", "e5m2.g8m1", "e2m1.g8m0"};
  return f;
}

std::string tensor_trace(const char* name, const MlsTensor& t) {
  std::string s = std::string(name) + ": " + t.format.short_name() + " shape " + shape_string(t.shape) +
                  " ts=" + hex32(t.tensor_scale) + " gs=[";
  for (size_t i = 0; i < t.group_scales.size() && i < 16; ++i) s += (i ? "," : "") + std::to_string(t.group_scales[i]);
  s += t.group_scales.size() > 16 ? ",...] el=[" : "] el=[";
  for (size_t i = 0; i < t.elements.size() && i < 32; ++i) s += (i ? "," : "") + hex32(t.elements[i]).substr(6);
  return s + (t.elements.size() > 32 ? ",...]" : "]");
}

std::string geo_trace(const Geo& g) {
  char b[256];
  std::snprintf(b, sizeof b, "N=%lld C=%lld H=%lld W=%lld O=%lld KH=%lld KW=%lld G=%lld stride=%lld,%lld pad=%lld,%lld dil=%lld,%lld",
                (long long)g.N, (long long)g.C, (long long)g.H, (long long)g.W, (long long)g.O, (long long)g.KH,
                (long long)g.KW, (long long)g.G, (long long)g.sh, (long long)g.sw, (long long)g.ph, (long long)g.pw,
                (long long)g.dh, (long long)g.dw);
  return b;
}

Format with_groups(const std::string& name, std::vector<int64_t> group_shape) {
  Format f = parse_format(name);
  f.group_shape = std::move(group_shape);
  return f;
}

// The three passes of one geometry, each checked against the naive oracle with both engines,
// and y against MPFR's nearest-even rounding of the oracle's exact value.
struct Case {
  Geo g;
  MlsTensor A, W, dY;
};

void check_case(const Case& c) {
  SCOPED_TRACE(geo_trace(c.g));
  SCOPED_TRACE(tensor_trace("A", c.A));
  SCOPED_TRACE(tensor_trace("W", c.W));
  SCOPED_TRACE(tensor_trace("dY", c.dY));
  const auto va = conv_oracle::values(c.A), vw = conv_oracle::values(c.W), vy = conv_oracle::values(c.dY);
  struct P {
    ConvPass pass;
    const MlsTensor *a, *b;
    const std::vector<TV>*x, *y;
  } passes[] = {{ConvPass::fwd, &c.A, &c.W, &va, &vw},
                {ConvPass::bwd_data, &c.dY, &c.W, &vy, &vw},
                {ConvPass::bwd_weight, &c.A, &c.dY, &va, &vy}};
  for (const P& p : passes) {
    SCOPED_TRACE("pass " + to_string(p.pass));
    const auto want = conv_oracle::naive_conv(p.pass, c.g, *p.x, *p.y);
    const Conv2dParams params = c.g.params(p.pass);
    const ReductionResult r = conv2d(*p.a, *p.b, params);
    const auto generic = conv2d_exact(*p.a, *p.b, params, ExactEngine::generic);
    ASSERT_EQ(r.exact.size(), want.size());
    ASSERT_EQ(generic.size(), want.size());
    ASSERT_EQ(r.shape, p.pass == ConvPass::fwd ? c.g.y_shape() : p.pass == ConvPass::bwd_data ? c.g.a_shape() : c.g.w_shape());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_TRUE(conv_oracle::same(want[i], r.exact[i]))
          << "output " << i << ": oracle " << conv_oracle::str(want[i]) << " automatic " << r.exact[i].to_string();
      ASSERT_TRUE(conv_oracle::same(want[i], generic[i]))
          << "output " << i << ": oracle " << conv_oracle::str(want[i]) << " generic " << generic[i].to_string();
      ASSERT_EQ(r.y[i], conv_oracle::mpfr_fp32(want[i])) << "output " << i << " exact " << conv_oracle::str(want[i]);
    }
  }
}

Case make_case(const Geo& g, std::mt19937_64& rng, const Format& fa, const Format& fw, const Format& fy, int kmin = -8,
               int kmax = 8) {
  return Case{g, conv_oracle::random_tensor(rng, fa, g.a_shape(), kmin, kmax),
              conv_oracle::random_tensor(rng, fw, g.w_shape(), kmin, kmax),
              conv_oracle::random_tensor(rng, fy, g.y_shape(), kmin, kmax)};
}

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

TEST(Conv, HandPickedGeometriesMatchNaiveExact) {
  // plain 3x3 pad 1; stride 2; dilation 2 with padding 2; groups 2; depthwise; 1x1; kernel larger than stride grid.
  const Geo geos[] = {
      {2, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1},  {1, 2, 7, 6, 3, 3, 3, 1, 2, 2, 1, 1, 1, 1},
      {1, 2, 6, 7, 2, 3, 2, 1, 1, 1, 2, 2, 2, 2},  {2, 4, 4, 4, 6, 2, 2, 2, 1, 1, 0, 1, 1, 1},
      {1, 3, 5, 4, 3, 3, 3, 3, 1, 2, 1, 1, 1, 1},  {2, 3, 3, 3, 2, 1, 1, 1, 1, 1, 0, 0, 1, 1},
      {1, 1, 7, 7, 1, 2, 3, 1, 3, 2, 0, 2, 2, 1},
  };
  std::mt19937_64 rng(7);
  for (const Geo& g : geos)
    for (const char* f : {"e2m1.g4m1", "e4m3.g4m2", "e5m2.g8m1"}) {
      SCOPED_TRACE(f);
      check_case(make_case(g, rng, parse_format(f), parse_format(f), parse_format(f)));
    }
}

TEST(Conv, GroupLayoutsThatSplitTheWalk) {
  // Group tiles over H and W (and over channels) make the canonical walk
  // change groups inside a kernel window; the exact value must not care.
  const Geo g{1, 4, 6, 6, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  std::mt19937_64 rng(11);
  for (auto gs : std::vector<std::vector<int64_t>>{{1, 2, 2, 3}, {0, 0, 0, 0}, {1, 1, 1, 1}, {1, 3, 4, 5}, {}})
    check_case(make_case(g, rng, with_groups("e2m1.g4m1", gs), with_groups("e3m3.g4m1", gs),
                         with_groups("e2m4.g4m1", gs)));
}

RC_GTEST_PROP(Conv, AllPassesMatchNaiveExactOnRandomCases, ()) {
  Geo g;
  g.N = *rc::gen::inRange<int64_t>(1, 3);
  g.G = *rc::gen::inRange<int64_t>(1, 4);
  g.C = g.G * *rc::gen::inRange<int64_t>(1, 4);
  g.O = g.G * *rc::gen::inRange<int64_t>(1, 4);
  g.KH = *rc::gen::inRange<int64_t>(1, 4);
  g.KW = *rc::gen::inRange<int64_t>(1, 4);
  g.sh = *rc::gen::inRange<int64_t>(1, 4);
  g.sw = *rc::gen::inRange<int64_t>(1, 4);
  g.dh = *rc::gen::inRange<int64_t>(1, 3);
  g.dw = *rc::gen::inRange<int64_t>(1, 3);
  g.ph = *rc::gen::inRange<int64_t>(0, 3);
  g.pw = *rc::gen::inRange<int64_t>(0, 3);
  g.H = std::max(*rc::gen::inRange<int64_t>(1, 9), g.dh * (g.KH - 1) + 1 - 2 * g.ph);
  g.W = std::max(*rc::gen::inRange<int64_t>(1, 9), g.dw * (g.KW - 1) + 1 - 2 * g.pw);
  const auto fi = *rc::gen::container<std::vector<size_t>>(3, rc::gen::inRange<size_t>(0, formats().size()));
  const auto layouts = *rc::gen::container<std::vector<std::vector<int64_t>>>(
      3, rc::gen::oneOf(rc::gen::just(std::vector<int64_t>{}),
                        rc::gen::container<std::vector<int64_t>>(4, rc::gen::inRange<int64_t>(0, 4))));
  const uint64_t seed = *rc::gen::arbitrary<uint64_t>();
  std::mt19937_64 rng(seed);
  const Case c = make_case(g, rng, with_groups(formats()[fi[0]], layouts[0]), with_groups(formats()[fi[1]], layouts[1]),
                           with_groups(formats()[fi[2]], layouts[2]));
  check_case(c);
  RC_ASSERT(!::testing::Test::HasFailure());
}

// <fwd(A,W), dY> = <A, bwd_data(dY,W)> = <W, bwd_weight(A,dY)>, exactly.
RC_GTEST_PROP(Conv, AdjointIdentitiesHoldExactly, ()) {
  Geo g;
  g.N = *rc::gen::inRange<int64_t>(1, 4);
  g.G = *rc::gen::inRange<int64_t>(1, 4);
  g.C = g.G * *rc::gen::inRange<int64_t>(1, 4);
  g.O = g.G * *rc::gen::inRange<int64_t>(1, 4);
  g.KH = *rc::gen::inRange<int64_t>(1, 5);
  g.KW = *rc::gen::inRange<int64_t>(1, 5);
  g.sh = *rc::gen::inRange<int64_t>(1, 4);
  g.sw = *rc::gen::inRange<int64_t>(1, 4);
  g.dh = *rc::gen::inRange<int64_t>(1, 4);
  g.dw = *rc::gen::inRange<int64_t>(1, 4);
  g.ph = *rc::gen::inRange<int64_t>(0, 4);
  g.pw = *rc::gen::inRange<int64_t>(0, 4);
  g.H = std::max(*rc::gen::inRange<int64_t>(1, 9), g.dh * (g.KH - 1) + 1 - 2 * g.ph);
  g.W = std::max(*rc::gen::inRange<int64_t>(1, 9), g.dw * (g.KW - 1) + 1 - 2 * g.pw);
  const auto fi = *rc::gen::container<std::vector<size_t>>(3, rc::gen::inRange<size_t>(0, formats().size()));
  std::mt19937_64 rng(*rc::gen::arbitrary<uint64_t>());
  const Case c = make_case(g, rng, parse_format(formats()[fi[0]]), parse_format(formats()[fi[1]]),
                           parse_format(formats()[fi[2]]));
  auto inner = [](const std::vector<Dyadic>& x, const MlsTensor& t) {
    Dyadic s;
    for (size_t i = 0; i < x.size(); ++i) s = s + x[i] * t.value(static_cast<int64_t>(i));
    return s;
  };
  const Dyadic l1 = inner(conv2d_exact(c.A, c.W, g.params(ConvPass::fwd)), c.dY);
  const Dyadic l2 = inner(conv2d_exact(c.dY, c.W, g.params(ConvPass::bwd_data)), c.A);
  const Dyadic l3 = inner(conv2d_exact(c.A, c.dY, g.params(ConvPass::bwd_weight)), c.W);
  RC_LOG() << geo_trace(g) << "\n" << tensor_trace("A", c.A) << "\n" << tensor_trace("W", c.W) << "\n"
           << tensor_trace("dY", c.dY) << "\n<fwd,dY> = " << l1.to_string() << "\n<A,bwd_data> = " << l2.to_string()
           << "\n<W,bwd_weight> = " << l3.to_string() << "\n";
  RC_ASSERT(l1 == l2);
  RC_ASSERT(l1 == l3);
}

RC_GTEST_PROP(Gemm, MatchesNaiveExact, ()) {
  const int64_t M = *rc::gen::inRange<int64_t>(1, 5), K = *rc::gen::inRange<int64_t>(1, 40),
                N = *rc::gen::inRange<int64_t>(1, 5);
  const auto fi = *rc::gen::container<std::vector<size_t>>(2, rc::gen::inRange<size_t>(0, formats().size()));
  const auto layouts = *rc::gen::container<std::vector<std::vector<int64_t>>>(
      2, rc::gen::oneOf(rc::gen::just(std::vector<int64_t>{}),
                        rc::gen::container<std::vector<int64_t>>(2, rc::gen::inRange<int64_t>(0, 9))));
  std::mt19937_64 rng(*rc::gen::arbitrary<uint64_t>());
  const MlsTensor a = conv_oracle::random_tensor(rng, with_groups(formats()[fi[0]], layouts[0]), {M, K});
  const MlsTensor b = conv_oracle::random_tensor(rng, with_groups(formats()[fi[1]], layouts[1]), {K, N});
  RC_LOG() << tensor_trace("a", a) << "\n" << tensor_trace("b", b) << "\n";
  const auto want = conv_oracle::naive_gemm(M, K, N, conv_oracle::values(a), conv_oracle::values(b));
  const ReductionResult r = gemm(a, b);
  const auto generic = gemm_exact(a, b, ExactEngine::generic);
  RC_ASSERT(r.shape == Shape({M, N}));
  for (size_t i = 0; i < want.size(); ++i) {
    RC_ASSERT(conv_oracle::same(want[i], r.exact[i]));
    RC_ASSERT(conv_oracle::same(want[i], generic[i]));
    RC_ASSERT(r.y[i] == conv_oracle::mpfr_fp32(want[i]));
  }
}

TEST(Conv, WideReductionsMatchNaiveExact) {
  // Many terms per output with wide element/group ranges push the fixed-width
  // bound (6.16) past int64 into __int128 and past __int128 into the generic loop.
  std::mt19937_64 rng(3);
  const Geo g{2, 64, 5, 5, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  for (const char* f : {"e2m1.g4m1", "e4m3.g4m2", "e4m3.g5m3", "e5m2.g8m1"}) {
    SCOPED_TRACE(f);
    const Format fmt = with_groups(f, {1, 2, 0, 0});
    const MlsTensor A = conv_oracle::random_tensor(rng, fmt, g.a_shape(), -100, 100, 0.0);
    const MlsTensor W = conv_oracle::random_tensor(rng, fmt, g.w_shape(), -100, 100, 0.0);
    const auto want = conv_oracle::naive_conv(ConvPass::fwd, g, conv_oracle::values(A), conv_oracle::values(W));
    const auto got = conv2d_exact(A, W, g.params(ConvPass::fwd));
    for (size_t i = 0; i < want.size(); ++i) ASSERT_TRUE(conv_oracle::same(want[i], got[i])) << "output " << i;
  }
}

TEST(Conv, SubnormalAndOverflowingOutputsRoundLikeMpfr) {
  // Tiny tensor scales give subnormal fp32 outputs; huge ones overflow to Inf.
  std::mt19937_64 rng(5);
  const Geo g{1, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  for (auto [lo, hi] : std::vector<std::pair<int, int>>{{-100, -60}, {-160, -140}, {60, 127}}) {
    const Format f = parse_format("e2m4.g4m1");
    check_case(make_case(g, rng, f, f, f, lo, hi));
  }
}

TEST(Conv, SegmentsFollowTheCanonicalWalk) {
  // A: (1,2,3,3) in groups of 1x1x2x3 (rows 0-1 and row 2 of each channel);
  // W: (1,2,3,3) one group per (o, c). Output (0,0,1,1) with pad 1 walks
  // c=0: rows 0,1 (A group 0), row 2 (group 1); c=1: rows 0,1 (group 2), row 2 (group 3).
  std::mt19937_64 rng(1);
  const Geo g{1, 2, 3, 3, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  const MlsTensor A = conv_oracle::random_tensor(rng, with_groups("e2m1.g4m1", {1, 1, 2, 3}), g.a_shape());
  const MlsTensor W = conv_oracle::random_tensor(rng, parse_format("e2m1.g4m1"), g.w_shape());
  const auto segs = conv2d_segments(A, W, g.params(ConvPass::fwd), 4);  // (n,o,oh,ow) = (0,0,1,1)
  ASSERT_EQ(segs.size(), 4u);
  const int64_t want[4][4] = {{0, 0, 0, 6}, {1, 0, 6, 3}, {2, 1, 9, 6}, {3, 1, 15, 3}};
  Dyadic total;
  for (size_t s = 0; s < 4; ++s) {
    EXPECT_EQ(segs[s].group_a, want[s][0]);
    EXPECT_EQ(segs[s].group_b, want[s][1]);
    EXPECT_EQ(segs[s].first, want[s][2]);
    EXPECT_EQ(segs[s].count, want[s][3]);
    EXPECT_EQ(segs[s].term, A.tensor_scale_value() * W.tensor_scale_value() * segs[s].value);
    total = total + segs[s].term;
  }
  EXPECT_EQ(total, conv2d_exact(A, W, g.params(ConvPass::fwd))[4]);
  // Output (0,0,0,0): the padding row and column are skipped, not segment breaks:
  // c=0 rows 0-1 (group 0) only: 4 terms; c=1: 4 terms.
  const auto corner = conv2d_segments(A, W, g.params(ConvPass::fwd), 0);
  ASSERT_EQ(corner.size(), 2u);
  EXPECT_EQ(corner[0].count, 4);
  EXPECT_EQ(corner[1].first, 4);
  EXPECT_EQ(corner[1].count, 4);
}

TEST(Conv, OutputsWithNoTermsAreExactlyPlusZero) {
  // 1x1 kernel, padding 2: the outer ring of outputs reads only padding.
  std::mt19937_64 rng(2);
  const Geo g{1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 2, 2, 1, 1};
  const Case c = make_case(g, rng, parse_format("e2m1.g4m1"), parse_format("e2m1.g4m1"), parse_format("e2m1.g4m1"));
  const ReductionResult r = conv2d(c.A, c.W, g.params(ConvPass::fwd));
  ASSERT_EQ(r.shape, Shape({1, 1, 6, 6}));
  EXPECT_EQ(r.y[0], 0u);
  EXPECT_TRUE(r.exact[0].is_zero());
  EXPECT_TRUE(conv2d_segments(c.A, c.W, g.params(ConvPass::fwd), 0).empty());
  check_case(c);
}

TEST(Conv, MacCountCountsInRangeTerms) {
  const Geo g{8, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  const ConvGeometry geo = ConvGeometry::resolve(g.params(ConvPass::fwd), g.a_shape(), g.w_shape());
  // Per axis: 32 outputs x 3 taps minus the 2 taps that fall on padding.
  EXPECT_EQ(geo.mac_count(), int64_t(8) * 16 * 16 * 94 * 94);
  EXPECT_EQ(geo.out_shape, Shape({8, 16, 32, 32}));
  EXPECT_EQ(geo.reduction_length(), 16 * 9);
}

// ---------------------------------------------------------------------------
// Bad input: each a clear mls::Error naming the field.

TEST(ConvErrors, ShapeMismatchesNameTheField) {
  std::mt19937_64 rng(9);
  const Format f = parse_format("e2m1.g4m1");
  const Geo g{1, 4, 5, 5, 4, 3, 3, 2, 1, 1, 1, 1, 1, 1};
  const Case c = make_case(g, rng, f, f, f);
  const MlsTensor wrong_cg = conv_oracle::random_tensor(rng, f, {4, 3, 3, 3});
  expect_error([&] { conv2d(c.A, wrong_cg, g.params(ConvPass::fwd)); }, "b.shape[1]");
  const MlsTensor wrong_oh = conv_oracle::random_tensor(rng, f, {1, 4, 4, 5});
  expect_error([&] { conv2d(wrong_oh, c.W, g.params(ConvPass::bwd_data)); }, "a.shape[2]");
  expect_error([&] { conv2d(c.A, wrong_oh, g.params(ConvPass::bwd_weight)); }, "b.shape[2]");
  const MlsTensor wrong_n = conv_oracle::random_tensor(rng, f, {2, 4, 5, 5});
  expect_error([&] { conv2d(wrong_n, c.W, g.params(ConvPass::bwd_data)); }, "a.shape[0]");
  const MlsTensor wrong_o = conv_oracle::random_tensor(rng, f, {1, 6, 5, 5});
  expect_error([&] { conv2d(c.A, wrong_o, g.params(ConvPass::bwd_weight)); }, "b.shape[1]");
  Conv2dParams p = g.params(ConvPass::bwd_weight);
  p.out_shape = {4, 2, 3};
  expect_error([&] { conv2d(c.A, c.dY, p); }, "out_shape");
  p.out_shape.clear();
  expect_error([&] { conv2d(c.A, c.dY, p); }, "out_shape is required");
  p = g.params(ConvPass::bwd_data);
  p.out_shape.clear();
  expect_error([&] { conv2d(c.dY, c.W, p); }, "out_shape is required");
  p = g.params(ConvPass::fwd);
  p.out_shape = {1, 4, 5, 4};
  expect_error([&] { conv2d(c.A, c.W, p); }, "out_shape");
  const MlsTensor rank3 = conv_oracle::random_tensor(rng, f, {4, 5, 5});
  expect_error([&] { conv2d(rank3, c.W, g.params(ConvPass::fwd)); }, "a.shape");
  expect_error([&] { conv2d(c.A, rank3, g.params(ConvPass::fwd)); }, "b.shape");
  const MlsTensor m23 = conv_oracle::random_tensor(rng, f, {2, 3});
  const MlsTensor m43 = conv_oracle::random_tensor(rng, f, {4, 3});
  expect_error([&] { gemm(m23, m43); }, "b.shape[0]");
  expect_error([&] { gemm(c.A, m43); }, "a.shape");
}

TEST(ConvErrors, BadParametersNameTheField) {
  std::mt19937_64 rng(10);
  const Format f = parse_format("e2m1.g4m1");
  const Geo g{1, 4, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  const Case c = make_case(g, rng, f, f, f);
  auto with = [&](const std::function<void(Conv2dParams&)>& edit) {
    Conv2dParams p = g.params(ConvPass::fwd);
    edit(p);
    return p;
  };
  expect_error([&] { conv2d(c.A, c.W, with([](auto& p) { p.stride[0] = 0; })); }, "stride[0]");
  expect_error([&] { conv2d(c.A, c.W, with([](auto& p) { p.stride[1] = -2; })); }, "stride[1]");
  expect_error([&] { conv2d(c.A, c.W, with([](auto& p) { p.dilation[1] = 0; })); }, "dilation[1]");
  expect_error([&] { conv2d(c.A, c.W, with([](auto& p) { p.padding[0] = -1; })); }, "padding[0]");
  expect_error([&] { conv2d(c.A, c.W, with([](auto& p) { p.groups = 0; })); }, "groups");
  // Dilation 3 makes the 3x3 kernel span 7 rows; H + 2*0 = 5 leaves no output.
  expect_error([&] { conv2d(c.A, c.W, with([](auto& p) { p.padding = {0, 0}; p.dilation = {3, 1}; })); },
               "padding/dilation leave no output height");
  expect_error([&] { conv2d(c.A, c.W, with([](auto& p) { p.padding = {1, 0}; p.dilation = {1, 4}; })); },
               "padding/dilation leave no output width");
  // C = 4 not divisible by groups = 3; O = 4 not divisible by 3 either.
  const MlsTensor w3 = conv_oracle::random_tensor(rng, f, {4, 1, 3, 3});
  expect_error([&] { conv2d(c.A, w3, with([](auto& p) { p.groups = 3; })); }, "a.shape[1] = 4 (C) is not divisible by groups = 3");
  const MlsTensor w_o3 = conv_oracle::random_tensor(rng, f, {3, 2, 3, 3});
  expect_error([&] { conv2d(c.A, w_o3, with([](auto& p) { p.groups = 2; })); }, "b.shape[0] = 3 (O) is not divisible by groups = 2");
}

TEST(ConvErrors, UnusableOperandsNameTheField) {
  std::mt19937_64 rng(12);
  const Format f = parse_format("e2m1.g4m1");
  const Geo g{1, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  Case c = make_case(g, rng, f, f, f);
  // A group layout of the wrong rank has no meaning for the tensor.
  MlsTensor bad_layout = c.A;
  bad_layout.format.group_shape = {1, 1, 0};
  expect_error([&] { conv2d(bad_layout, c.W, g.params(ConvPass::fwd)); }, "a.group_shape");
  // A code outside the element format.
  MlsTensor bad_code = c.W;
  bad_code.elements[3] = 16;
  expect_error([&] { conv2d(c.A, bad_code, g.params(ConvPass::fwd)); }, "b.elements[3]");
  // A zero_only element format with a subnormal code.
  MlsTensor zo = conv_oracle::random_tensor(rng, parse_format("e2m1z.g4m1"), g.a_shape());
  zo.elements[0] = 1;
  expect_error([&] { conv2d(zo, c.W, g.params(ConvPass::fwd)); }, "a.elements[0]");
  // Group scales of the wrong count, a group-scale code out of range, a bad tensor scale.
  MlsTensor few = c.A;
  few.group_scales.pop_back();
  expect_error([&] { conv2d(few, c.W, g.params(ConvPass::fwd)); }, "a.group_scales");
  MlsTensor gs_range = c.A;
  gs_range.group_scales[0] = 32;
  expect_error([&] { conv2d(gs_range, c.W, g.params(ConvPass::fwd)); }, "a.group_scales[0]");
  MlsTensor ts = c.A;
  ts.tensor_scale = 0x7f800000u;
  expect_error([&] { conv2d(ts, c.W, g.params(ConvPass::fwd)); }, "a.tensor_scale");
  ts.tensor_scale = 0x80000000u;
  expect_error([&] { conv2d(ts, c.W, g.params(ConvPass::fwd)); }, "a.tensor_scale");
  // A non-finite operand (an Inf code of an ieee element format, 6.11).
  MlsTensor ieee = c.A;
  ieee.format.element.specials = Specials::ieee;
  ieee.elements[1] = static_cast<uint32_t>(ieee.format.element.inf_code(true));
  expect_error([&] { conv2d(ieee, c.W, g.params(ConvPass::fwd)); }, "a.elements[1] is Inf");
  // Elements and shape disagree.
  MlsTensor short_el = c.W;
  short_el.elements.pop_back();
  expect_error([&] { conv2d(c.A, short_el, g.params(ConvPass::fwd)); }, "b.elements");
}

TEST(ConvJson, ExactValuesRoundTrip) {
  for (const Dyadic& d : {Dyadic(BigInt(-12), -3), Dyadic(BigInt(0), 5), Dyadic(BigInt(1) << 200, -7)}) {
    const auto j = dyadic_to_json(d);
    EXPECT_EQ(dyadic_from_json(j, "exact[0]"), d);
  }
  EXPECT_EQ(dyadic_to_json(Dyadic(BigInt(-12), -3)).dump(), R"({"e":-1,"m":"-3"})");
  expect_error([] { dyadic_from_json(nlohmann::json{{"m", "1x"}, {"e", 0}}, "exact[2]"); }, "exact[2].m");
  expect_error([] { dyadic_from_json(nlohmann::json{{"m", 3}, {"e", 0}}, "exact[1]"); }, "exact[1]");
}

// spec/06-conv.md 6.15.1 and 6.15.2, number for number.
TEST(ConvSpec, WorkedExamples) {
  auto tensor = [](Shape shape, uint32_t ts, std::vector<uint32_t> gs, std::vector<uint32_t> el) {
    MlsTensor t;
    t.format = parse_format("e2m1.g4m1");
    t.shape = std::move(shape);
    t.tensor_scale = ts;
    t.group_scales = std::move(gs);
    t.elements = std::move(el);
    t.validate();
    return t;
  };
  const MlsTensor A = tensor({1, 2, 2, 2}, 0x3f000000u, {30, 29}, {7, 12, 2, 5, 6, 3, 15, 1});
  const MlsTensor W = tensor({1, 2, 2, 2}, 0x3e800000u, {31, 28}, {4, 6, 13, 2, 7, 14, 4, 3});
  const Conv2dParams p;  // fwd, stride 1, no padding, groups 1
  const ReductionResult r = conv2d(A, W, p);
  ASSERT_EQ(r.shape, Shape({1, 1, 1, 1}));
  EXPECT_EQ(r.exact[0], Dyadic(BigInt(273), -12));
  EXPECT_EQ(dyadic_to_json(r.exact[0]).dump(), R"({"e":-12,"m":"273"})");
  EXPECT_EQ(r.y[0], 0x3d888000u);
  const auto segs = conv2d_segments(A, W, p, 0);
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].sum, Dyadic(BigInt(1), -2));
  EXPECT_EQ(segs[0].value, Dyadic(BigInt(3), -3));
  EXPECT_EQ(segs[1].sum, Dyadic(BigInt(27), -6));
  EXPECT_EQ(segs[1].value, Dyadic(BigInt(81), -9));
  ArithProfile acc = parse_arith(R"({"profile":"accumulator","frac_bits":3,"width":8,"alignment":"rtz",
      "overflow":"saturate","inter_group":"exact","final_rounding":"rne"})");
  EXPECT_EQ(conv2d(A, W, p, acc).y[0], 0x3d840000u);  // 33/512
  acc.alignment = RoundingMode::rne;
  EXPECT_EQ(conv2d(A, W, p, acc).y[0], 0x3d840000u);
  acc.alignment = RoundingMode::rup;
  EXPECT_EQ(bits_float(conv2d(A, W, p, acc).y[0]), 0.09375f);
  const Classification c = classify_fp32(r.exact[0], 0x3d840000u);
  EXPECT_EQ(c.tier, Tier::none);
  EXPECT_EQ(c.err_ulps, 294912.0);
}
