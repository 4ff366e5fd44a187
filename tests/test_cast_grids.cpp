// Casts to grids valid only as group scales (spec/03-rounding.md 3.10, the
// protocol's round op): the one rule GridRole::cast, the OCP MX E8M0 scale grid
// as a cast's target with hand-computed codes, the request codec and the
// random round generator on such grids.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "mls/conformance/codec.hpp"
#include "mls/conformance/generate.hpp"
#include "mls/error.hpp"
#include "mls/minifloat.hpp"
#include "mls/rounding.hpp"

namespace {

using mls::GridRole;
using mls::Minifloat;
using mls::OverflowPolicy;
using mls::RoundingMode;

Minifloat e8m0() { return mls::parse_minifloat("e8m0", GridRole::cast, "grid"); }

uint64_t cast(const Minifloat& g, float x, RoundingMode m = RoundingMode::rne,
              OverflowPolicy o = OverflowPolicy::saturate) {
  return mls::round_fp32_input(g, mls::float_bits(x), mls::Dyadic::from_int(1), mls::Rounding{m, 8}, 0, o,
                               mls::SignedZero::preserve)
      .code;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const mls::Error& e) {
    return e.what();
  }
  return "";
}

TEST(CastGrids, OneRuleAcceptsElementAndGroupScaleGrids) {
  for (const char* name : {"fp8_e4m3", "fp4_e2m1", "int8", "e2m1", "e8m0", "g8m0b127n", "g4m3", "g5m2s", "g3m1z"})
    EXPECT_NO_THROW(mls::parse_minifloat(name, GridRole::cast, "grid")) << name;
  EXPECT_THROW(mls::parse_minifloat("e8m0", GridRole::element, "grid"), mls::Error);  // the element role alone
  // Valid in neither role: both reasons; a rule of both roles: once.
  Minifloat g = Minifloat::group_scale(0, 3);
  EXPECT_EQ(message_of([&] { g.validate(GridRole::cast); }),
            "the grid is neither an element format (signed must be true for an element format) nor a group-scale "
            "format (exp_bits = 0 is outside 1..8)");
  g = Minifloat::element(4, 30);
  EXPECT_EQ(message_of([&] { g.validate(GridRole::cast); }), "man_bits = 30 is outside 0..23");
}

// E8M0 (OCP MX v1.0 5.4.1: unsigned, bias 127, 2^-127..2^127, NaN 0xff, no
// zero). Codes by hand from the spec's rules (3.2-3.6, 3.10).
TEST(CastGrids, E8m0CodesByHand) {
  const Minifloat g = e8m0();
  EXPECT_EQ(cast(g, 1.0f), 127u);
  EXPECT_EQ(cast(g, 0.25f), 125u);
  EXPECT_EQ(cast(g, 0x1p127f), 254u);
  EXPECT_EQ(cast(g, 1.4f), 127u);  // nearer 1 than 2
  EXPECT_EQ(cast(g, 1.6f), 128u);
  // Ties (1.5 2^k, the midpoint of 2^k and 2^(k+1)) go to the even code under
  // rne: 1.5 -> 2 (128), 3 -> 2 (128), 6 -> 8 (130); rna takes the larger.
  EXPECT_EQ(cast(g, 1.5f), 128u);
  EXPECT_EQ(cast(g, 3.0f), 128u);
  EXPECT_EQ(cast(g, 6.0f), 130u);
  EXPECT_EQ(cast(g, 0.75f), 126u);
  EXPECT_EQ(cast(g, 3.0f, RoundingMode::rna), 129u);
  EXPECT_EQ(cast(g, 3.0f, RoundingMode::rtz), 128u);
  EXPECT_EQ(cast(g, 3.0f, RoundingMode::rto), 129u);  // the odd code
  // No zero: 0, -0 and anything below 2^-127 give the smallest value, code 0 (3.5).
  EXPECT_EQ(cast(g, 0.0f), 0u);
  EXPECT_EQ(cast(g, -0.0f), 0u);
  EXPECT_EQ(cast(g, 0x1p-140f), 0u);
  EXPECT_EQ(cast(g, 0x1p-140f, RoundingMode::rup), 0u);
  EXPECT_EQ(cast(g, 0x1.8p-127f), 0u);  // the tie of 2^-127 and 2^-126: the even code 0
  EXPECT_EQ(cast(g, 0x1.8p-127f, RoundingMode::rna), 1u);
  // Past 2^127: the special position 2^128 is NaN (3.5): saturate or NaN by policy.
  EXPECT_EQ(cast(g, 0x1.fp127f), 254u);
  EXPECT_EQ(cast(g, 0x1.fp127f, RoundingMode::rne, OverflowPolicy::nan), 255u);
  EXPECT_EQ(cast(g, 0x1.4p127f, RoundingMode::rne, OverflowPolicy::nan), 254u);  // below the tie 1.5 2^127
  // NaN gives 0xff; +Inf saturates or is NaN; a negative value is an error (3.6).
  EXPECT_EQ(cast(g, std::nanf("")), 255u);
  EXPECT_EQ(cast(g, INFINITY), 254u);
  EXPECT_EQ(cast(g, INFINITY, RoundingMode::rne, OverflowPolicy::nan), 255u);
  EXPECT_THROW(cast(g, -1.0f), mls::Error);
  EXPECT_THROW(cast(g, -0x1p-140f), mls::Error);
  EXPECT_THROW(cast(g, -INFINITY), mls::Error);
}

TEST(CastGrids, RoundRequestTakesAGroupScaleGrid) {
  using mls::conformance::case_from_json;
  const auto c = case_from_json(nlohmann::json::parse(R"({"op":"round","element":"e8m0","x":[1069547520]})"));
  EXPECT_EQ(c.round.element, e8m0());
  const auto j = to_json(c);
  EXPECT_EQ(case_from_json(j).round.element, e8m0());  // the JSON form round-trips (element defaults, 1.1)
  const auto bad = message_of(
      [] { case_from_json(nlohmann::json::parse(R"({"op":"round","element":{"exp_bits":0,"man_bits":3,"signed":false},"x":[0]})")); });
  EXPECT_NE(bad.find("element: the grid is neither an element format"), std::string::npos) << bad;
}

TEST(CastGrids, GeneratorCastsToE8m0WithoutNegativesMostly) {
  mls::conformance::GeneratorOptions opt;
  opt.formats = {"e8m0"};
  int cases = 0, with_negative = 0, zeros = 0, below = 0, ties = 0, errors = 0;
  for (int64_t i = 0; i < 400; ++i) {
    const auto c = mls::conformance::generate_case(mls::conformance::Op::round, 7, i, opt);
    ASSERT_EQ(c.round.element, e8m0());
    ++cases;
    bool neg = false;
    for (uint32_t x : c.round.x) {
      neg |= (x >> 31) && (x & 0x7fffffffu) != 0 && mls::fp32_is_finite(x);  // (-Inf under nan: NaN, no error)
      zeros += (x & 0x7fffffffu) == 0;
      below += (x & 0x7fffffffu) != 0 && (x & 0x7fffffffu) < 0x00400000u && c.round.scale == mls::Dyadic::from_int(1);
      ties += (x & 0x7fffffu) == 0x400000u && ((x >> 23) & 0xff) != 0;
    }
    with_negative += neg;
    try {
      for (size_t k = 0; k < c.round.x.size(); ++k)
        mls::round_fp32_input(c.round.element, c.round.x[k], c.round.scale, c.round.rounding,
                              c.round.rand.empty() ? 0 : c.round.rand[k], c.round.overflow, c.round.signed_zero);
    } catch (const mls::Error&) {
      ++errors;
    }
  }
  EXPECT_GT(with_negative, 10);   // the error path, now and then
  EXPECT_LT(with_negative, 100);  // but most casts answer codes
  EXPECT_GE(errors, with_negative);
  EXPECT_GT(zeros, 100);
  EXPECT_GT(below, 20);
  EXPECT_GT(ties, 50);
}

}  // namespace
