// The one rounding routine (spec/03-rounding.md) against a brute-force search
// over every code of the grid in exact integer arithmetic (oracle.hpp), for
// every mode on dense exact inputs; and binary32 as a grid against the C++
// float conversion under fesetround and an independent double-arithmetic model.
#include <gtest/gtest.h>
#include <mpfr.h>

#include <cfenv>
#include <cfloat>
#include <random>
#include <sstream>

#include "mls/error.hpp"
#include "mls/rounding.hpp"
#include "oracle.hpp"

namespace {

using mls::RoundingMode;
using oracle::BigInt;
using oracle::hex;

std::string hexbig(const BigInt& v) {
  std::ostringstream o;
  o << "0x" << std::hex << v;
  return o.str();
}

BigInt random_below(std::mt19937_64& rng, const BigInt& n) {  // n > 0
  BigInt r = 0;
  for (int i = 0; i < 3; ++i) r = (r << 64) + rng();
  return r % n;
}

struct Mag {
  BigInt P, Q;  // |v| = P/Q in units of the grid
};

// Dense exact inputs: every code, every code +- a tiny non-dyadic offset, every
// midpoint and midpoint +- offset, values beyond q_max, below the smallest
// positive value, and random rationals whose denominators are not powers of two.
std::vector<Mag> dense_inputs(const oracle::Grid& g, std::mt19937_64& rng, int randoms) {
  std::vector<BigInt> k = g.K;
  std::sort(k.begin(), k.end());
  const BigInt Q = BigInt(3) << 20;
  std::vector<Mag> v;
  v.push_back({0, 1});
  for (size_t i = 0; i < k.size(); ++i) {
    v.push_back({k[i], 1});
    v.push_back({k[i] * Q + 1, Q});
    if (k[i] > 0) v.push_back({k[i] * Q - 1, Q});
    if (i + 1 < k.size()) {
      const BigInt twice_mid = k[i] + k[i + 1];
      v.push_back({twice_mid, 2});
      v.push_back({twice_mid * (Q / 2) + 1, Q});
      v.push_back({twice_mid * (Q / 2) - 1, Q});
    }
  }
  const BigInt kmax = k.back(), k1 = g.kmin_positive() > 0 ? g.kmin_positive() : k.front();
  for (const Mag& m : std::vector<Mag>{{kmax * 3, 2}, {kmax * 2, 1}, {kmax * 1000 + 7, 1}, {kmax << 40, 1},
                                       {(kmax << 40) + 1, BigInt(1) << 40}, {k1, 3}, {k1 * 2, 3}, {k1, BigInt(1) << 40},
                                       {1, BigInt(3) << 60}, {k1 * 5, 7}})
    v.push_back(m);
  if (!g.f.has_zero()) {  // grids without zero: below the smallest value
    v.push_back({k.front(), 2});
    v.push_back({k.front() * Q - 1, Q});
  }
  for (int i = 0; i < randoms; ++i) {
    const BigInt q = BigInt(rng() % (1u << 20)) * 2 + 3;  // odd >= 3: never a power of two
    v.push_back({random_below(rng, kmax * q * 5 / 4 + 1), q});
  }
  return v;
}

struct Checker {
  const oracle::Grid& g;
  int failures = 0;
  long checks = 0;

  void check(bool neg, const Mag& m, const oracle::Scan& s, mls::Rounding rd, uint32_t word, mls::SignedZero sz) {
    ++checks;
    const oracle::Decision want =
        oracle::decide(g, s, neg, m.P, m.Q, rd.mode, rd.sr_bits, word, sz == mls::SignedZero::positive);
    const mls::RoundResult got = mls::round_to_grid(g.f, mls::RoundInput{neg, mls::Dyadic(m.P, g.ulog), mls::Dyadic(m.Q, 0)},
                                                    rd, word, mls::OverflowPolicy::saturate, sz);
    bool ok = got.code == want.code && got.exact == want.exact;
    if (ok && !want.exact && !want.saturated && !want.clamped)
      ok = got.lo == g.mcode[want.lo] && got.hi == g.mcode[want.hi] && got.away == want.away;
    if (ok && rd.mode == RoundingMode::sr && !want.exact && !want.saturated && !want.clamped)
      ok = got.r == (rd.sr_bits == 32 ? word : word >> (32 - rd.sr_bits));
    if (!ok && ++failures <= 10)
      ADD_FAILURE() << oracle::describe(g.f) << " mode " << oracle::mode_name(rd.mode) << " R=" << rd.sr_bits << " word "
                    << hex(word) << (sz == mls::SignedZero::positive ? " poszero" : "") << " v = " << (neg ? "-" : "+")
                    << hexbig(m.P) << "/" << hexbig(m.Q) << " * 2^" << g.ulog << ": expected code " << hex(want.code)
                    << (want.exact ? " (exact)" : "") << (want.saturated ? " (saturated)" : "")
                    << (want.clamped ? " (clamped)" : "") << ", got " << hex(got.code) << " lo " << hex(got.lo) << " hi "
                    << hex(got.hi) << " exact " << got.exact << " away " << got.away << " rule "
                    << mls::to_string(got.rule);
  }

  void run(const std::vector<Mag>& inputs, std::mt19937_64& rng) {
    static const int kBits[] = {1, 2, 5, 8, 13, 32};
    for (const Mag& m : inputs) {
      const oracle::Scan s = oracle::scan(g, m.P, m.Q);
      for (int sign = 0; sign < (g.f.is_signed ? 2 : 1); ++sign) {
        const bool neg = sign == 1;
        for (RoundingMode mode : oracle::deterministic_modes())
          check(neg, m, s, mls::Rounding{mode, 8}, 0, mls::SignedZero::preserve);
        if (g.f.is_signed) check(neg, m, s, mls::Rounding{RoundingMode::rtz, 8}, 0, mls::SignedZero::positive);
        for (int R : kBits) check(neg, m, s, mls::Rounding{RoundingMode::sr, R}, static_cast<uint32_t>(rng()),
                                  mls::SignedZero::preserve);
      }
    }
  }
};

class ElementRounding : public ::testing::TestWithParam<mls::Minifloat> {};
TEST_P(ElementRounding, EveryModeMatchesBruteForceOverAllCodes) {
  const oracle::Grid g = oracle::make_grid(GetParam());
  SCOPED_TRACE(oracle::describe(g.f));
  std::mt19937_64 rng(0x5eed0000u + static_cast<unsigned>(g.f.exp_bits * 16 + g.f.man_bits));
  Checker c{g};
  c.run(dense_inputs(g, rng, 48), rng);
  EXPECT_EQ(c.failures, 0) << "of " << c.checks << " checks";
  EXPECT_GT(c.checks, 100);
}
INSTANTIATE_TEST_SUITE_P(SmallElementFormats, ElementRounding, ::testing::ValuesIn(oracle::small_element_formats()),
                         [](const auto& info) { return oracle::ident(info.param); });

class GroupScaleRounding : public ::testing::TestWithParam<mls::Minifloat> {};
TEST_P(GroupScaleRounding, EveryModeMatchesBruteForceIncludingClampToTheSmallestValue) {
  const oracle::Grid g = oracle::make_grid(GetParam());
  SCOPED_TRACE(oracle::describe(g.f));
  std::mt19937_64 rng(0x9000u + static_cast<unsigned>(g.f.exp_bits * 16 + g.f.man_bits));
  Checker c{g};
  c.run(dense_inputs(g, rng, 24), rng);
  EXPECT_EQ(c.failures, 0) << "of " << c.checks << " checks";
  EXPECT_GT(c.checks, 100);
}
INSTANTIATE_TEST_SUITE_P(AllGroupScaleFormats, GroupScaleRounding, ::testing::ValuesIn(oracle::small_group_formats()),
                         [](const auto& info) { return oracle::ident(info.param); });

// Hand-computed cases pin the oracle itself to the spec text.
uint64_t rnd(const mls::Minifloat& f, double v, RoundingMode m) {
  return mls::round_to_grid(f, mls::RoundInput{v < 0, mls::Dyadic::from_double(std::fabs(v))}, mls::Rounding{m, 8}, 0).code;
}
uint64_t orc(const mls::Minifloat& f, double v, RoundingMode m) {
  // v * 2^-ulog is an integer over 2^20 for every value below
  const oracle::Grid g = oracle::make_grid(f);
  const BigInt P(static_cast<long long>(std::ldexp(std::fabs(v), static_cast<int>(20 - g.ulog))));
  return oracle::round(g, v < 0, P, BigInt(1) << 20, m).code;
}
TEST(RoundingTies, HandComputedTieAndOddCases) {
  const auto e2m1 = mls::Minifloat::element(2, 1);  // 0 .125 | .25 .375 | .5 .75 | 1 1.5
  const auto e2m1z = oracle::element(2, 1, 3, mls::ZeroMode::zero_only);  // 0 | .25 .375 | ...
  const auto e2m0z = oracle::element(2, 0, 3, mls::ZeroMode::zero_only);  // 0 | .25 | .5 | 1
  struct Case {
    mls::Minifloat f;
    double v;
    RoundingMode m;
    uint64_t code;
  } cases[] = {
      {e2m1, 0.1875, RoundingMode::rne, 2},   {e2m1, 0.1875, RoundingMode::rna, 2},
      {e2m1, 0.3125, RoundingMode::rne, 2},   {e2m1, 0.3125, RoundingMode::rna, 3},
      {e2m1, 1.25, RoundingMode::rne, 6},     {e2m1, 1.25, RoundingMode::rna, 7},
      {e2m1, -1.25, RoundingMode::rne, 14},   {e2m1, -1.25, RoundingMode::rna, 15},
      {e2m1, 1.25, RoundingMode::rto, 7},     {e2m1, 0.4375, RoundingMode::rto, 3},
      {e2m1, 0.0625, RoundingMode::rne, 0},   {e2m1, 0.0625, RoundingMode::rna, 1},
      {e2m1, -0.0625, RoundingMode::rne, 8},  {e2m1, -0.3, RoundingMode::rup, 10},
      {e2m1, -0.3, RoundingMode::rdn, 11},    {e2m1, 0.3, RoundingMode::rtz, 2},
      {e2m1, 1.6, RoundingMode::rto, 7},      {e2m1, 1.6, RoundingMode::rup, 7},
      {e2m1, 100.0, RoundingMode::rne, 7},    {e2m1, -100.0, RoundingMode::rdn, 15},
      {e2m1z, 0.125, RoundingMode::rne, 0},   {e2m1z, 0.125, RoundingMode::rna, 2},
      {e2m1z, 0.0625, RoundingMode::rto, 2},  {e2m1z, 0.126, RoundingMode::rne, 2},
      {e2m1z, -0.125, RoundingMode::rne, 8},  {e2m0z, 0.125, RoundingMode::rne, 0},
      {e2m0z, 0.75, RoundingMode::rne, 2},    {e2m0z, 0.375, RoundingMode::rne, 2},
      {e2m0z, 0.375, RoundingMode::rto, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(oracle::describe(c.f) + " v=" + std::to_string(c.v) + " " + oracle::mode_name(c.m));
    EXPECT_EQ(rnd(c.f, c.v, c.m), c.code);
    EXPECT_EQ(orc(c.f, c.v, c.m), c.code);
  }
}

TEST(RoundingOverflow, ErrorPolicyThrowsOnlyAboveTheLargestValue) {
  for (const auto& f : oracle::small_element_formats()) {
    SCOPED_TRACE(oracle::describe(f));
    const mls::Dyadic q = f.max_value();
    for (RoundingMode m : oracle::deterministic_modes()) {
      EXPECT_EQ(mls::round_to_grid(f, {true, q}, {m, 8}, 0, mls::OverflowPolicy::error).code,
                f.sign_bit() | f.max_magnitude_code());
      EXPECT_THROW(mls::round_to_grid(f, {false, q + mls::Dyadic(1, -200)}, {m, 8}, 0, mls::OverflowPolicy::error),
                   mls::Error);
    }
  }
}

TEST(RoundingUnsigned, NegativeValuesAreRejectedOnAnUnsignedGrid) {
  EXPECT_THROW(mls::round_to_grid(mls::Minifloat::group_scale(4, 1), {true, mls::Dyadic(1, 0)}, {}, 0), mls::Error);
}

// ---- binary32 as a grid ----------------------------------------------------

__attribute__((noinline)) float cast_under(double d, int fe) {
  volatile double vd = d;
  const int old = std::fegetround();
  std::fesetround(fe);
  volatile float f = static_cast<float>(vd);
  std::fesetround(old);
  return f;
}

// rna, rto and sr from the truncation and the next float away, in double
// arithmetic (exact: |d| - lo and the gap have at most 53 significant bits).
uint32_t fp32_model(double d, RoundingMode m, int R, uint32_t word) {
  const float lo = cast_under(d, FE_TOWARDZERO);
  if (static_cast<double>(lo) == d) return oracle::fbits(lo);
  const double a = std::fabs(d), alo = std::fabs(static_cast<double>(lo));
  const double ahi = alo == FLT_MAX ? std::ldexp(1.0, 128) : static_cast<double>(std::nextafter(std::fabs(lo), INFINITY));
  const double t = (a - alo) / (ahi - alo);  // >= 1 beyond the Inf position
  bool away = false;
  if (m == RoundingMode::rna) away = t >= 0.5;
  if (m == RoundingMode::rto) away = !(oracle::fbits(lo) & 1);
  if (m == RoundingMode::sr) away = t + std::ldexp(static_cast<double>(R == 32 ? word : word >> (32 - R)), -R) >= 1;
  const float mag = away ? (alo == FLT_MAX ? INFINITY : std::nextafter(std::fabs(lo), INFINITY)) : std::fabs(lo);
  return oracle::fbits(mag) | (std::signbit(d) ? 0x80000000u : 0);
}

std::vector<double> fp32_inputs() {
  std::mt19937_64 rng(77);
  std::vector<double> v = {0.0, -0.0, 1.0, FLT_MAX, -FLT_MAX, std::ldexp(1.0, 128) - std::ldexp(1.0, 103),
                           std::ldexp(1.0, 128) - std::ldexp(1.0, 103) - std::ldexp(1.0, 60), std::ldexp(1.0, 128),
                           std::ldexp(1.0, 200), std::ldexp(1.0, -149), std::ldexp(1.0, -150), std::ldexp(3.0, -151),
                           std::ldexp(1.0, -151), std::ldexp(1.0, -126) - std::ldexp(1.0, -150), -std::ldexp(1.0, -160),
                           std::ldexp(1.0, -127) + std::ldexp(1.0, -200), 1.0 + std::ldexp(1.0, -24),
                           1.0 + std::ldexp(3.0, -24), -(1.0 + std::ldexp(1.0, -24))};
  for (int i = 0; i < 6000; ++i) {
    uint64_t mant = rng() & ((uint64_t(1) << 52) - 1);
    const int kind = static_cast<int>(rng() % 8);
    if (kind == 0) mant &= ~((uint64_t(1) << 29) - 1);                          // exactly a float (when normal)
    if (kind == 1) mant = (mant & ~((uint64_t(1) << 29) - 1)) | (uint64_t(1) << 28);  // a tie
    const double m = std::ldexp(static_cast<double>(mant | (uint64_t(1) << 52)), -52);
    const int e = static_cast<int>(rng() % 300) - 160;  // subnormals, normals and overflow
    v.push_back((rng() & 1 ? -1 : 1) * std::ldexp(m, e));
  }
  return v;
}

mls::Dyadic exact(double d) {  // from the bits, without the reference's converter
  int e;
  const double m = std::frexp(std::fabs(d), &e);
  const auto mi = static_cast<long long>(std::ldexp(m, 53));
  return mls::Dyadic(BigInt(d < 0 ? -mi : mi), e - 53);
}

TEST(RoundingBinary32, DirectedAndNearestMatchTheFloatCastUnderFesetround) {
  const std::pair<RoundingMode, int> modes[] = {{RoundingMode::rne, FE_TONEAREST},
                                                {RoundingMode::rtz, FE_TOWARDZERO},
                                                {RoundingMode::rup, FE_UPWARD},
                                                {RoundingMode::rdn, FE_DOWNWARD}};
  int failures = 0;
  for (double d : fp32_inputs())
    for (auto [m, fe] : modes) {
      const uint32_t want = oracle::fbits(cast_under(d, fe));
      const uint32_t got = static_cast<uint32_t>(
          mls::round_to_grid(mls::Minifloat::binary32(), {std::signbit(d), exact(std::fabs(d))}, {m, 8}, 0,
                             mls::OverflowPolicy::infinity)
              .code);
      // The wrapper takes a Dyadic, which has no -0.
      const uint32_t wrapped = mls::round_to_fp32_bits(exact(d), m, mls::OverflowPolicy::infinity);
      if (wrapped != (d == 0 ? 0u : want) && ++failures <= 10)
        ADD_FAILURE() << "round_to_fp32_bits " << oracle::mode_name(m) << " of double " << hex(oracle::dbits(d))
                      << ": expected " << hex(want) << ", got " << hex(wrapped);
      if (got != want && ++failures <= 10)
        ADD_FAILURE() << "binary32 " << oracle::mode_name(m) << " of double " << hex(oracle::dbits(d)) << ": expected "
                      << hex(want) << ", got " << hex(got);
    }
  EXPECT_EQ(failures, 0);
  // The nearest-even wrapper is the same rounding.
  for (double d : fp32_inputs()) {
    if (d == 0) continue;
    ASSERT_EQ(oracle::fbits(mls::round_to_fp32(exact(d))), oracle::fbits(cast_under(d, FE_TONEAREST)))
        << hex(oracle::dbits(d));
  }
}

TEST(RoundingBinary32, TiesAwayOddAndStochasticMatchAnIndependentModel) {
  std::mt19937 rng(4242);
  int failures = 0;
  for (double d : fp32_inputs()) {
    const uint32_t word = rng();
    for (auto [m, R] : {std::pair{RoundingMode::rna, 8}, {RoundingMode::rto, 8}, {RoundingMode::sr, 1},
                        {RoundingMode::sr, 11}, {RoundingMode::sr, 32}}) {
      const uint32_t want = fp32_model(d, m, R, word);
      const uint32_t got = static_cast<uint32_t>(
          mls::round_to_grid(mls::Minifloat::binary32(), {std::signbit(d), exact(std::fabs(d))}, {m, R}, word,
                             mls::OverflowPolicy::infinity)
              .code);
      if (got != want && ++failures <= 10)
        ADD_FAILURE() << "binary32 " << oracle::mode_name(m) << R << " word " << hex(word) << " of double "
                      << hex(oracle::dbits(d)) << ": expected " << hex(want) << ", got " << hex(got);
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(RoundingBinary32, OverflowPoliciesSaturateOrThrowInsteadOfInfinity) {
  const mls::Dyadic big = exact(std::ldexp(1.0, 128) - std::ldexp(1.0, 103));  // ties up to Inf
  EXPECT_EQ(mls::round_to_fp32_bits(big, RoundingMode::rne, mls::OverflowPolicy::infinity), 0x7f800000u);
  EXPECT_EQ(mls::round_to_fp32_bits(big, RoundingMode::rne, mls::OverflowPolicy::saturate), 0x7f7fffffu);
  EXPECT_EQ(mls::round_to_fp32_bits(big.neg(), RoundingMode::rne, mls::OverflowPolicy::saturate), 0xff7fffffu);
  EXPECT_THROW(mls::round_to_fp32_bits(big, RoundingMode::rne, mls::OverflowPolicy::error), mls::Error);
  EXPECT_EQ(mls::round_to_fp32_bits(big, RoundingMode::rtz, mls::OverflowPolicy::error), 0x7f7fffffu);
  EXPECT_EQ(mls::round_to_fp32_bits(exact(FLT_MAX), RoundingMode::rup, mls::OverflowPolicy::error), 0x7f7fffffu);
}

// round_to_fp64 (used by dequantize_fp64) against MPFR with the binary64 range.
TEST(RoundingBinary64, NearestEvenOfExactProductsMatchesMpfr) {
  std::mt19937_64 rng(31337);
  const mpfr_exp_t emin = mpfr_get_emin(), emax = mpfr_get_emax();
  int failures = 0;
  for (int i = 0; i < 3000; ++i) {
    auto rd = [&] {
      const double m = std::ldexp(static_cast<double>((rng() >> 11) | (uint64_t(1) << 52)), -52);
      return (rng() & 1 ? -1 : 1) * std::ldexp(m, static_cast<int>(rng() % 1100) - 550);
    };
    const double a = rd(), b = rd();
    oracle::Mp pa(53), pb(53);
    mpfr_t p;
    mpfr_init2(p, 53);
    mpfr_set_d(pa.v, a, MPFR_RNDN);
    mpfr_set_d(pb.v, b, MPFR_RNDN);
    mpfr_set_emin(-1073);
    mpfr_set_emax(1024);
    const int t = mpfr_mul(p, pa.v, pb.v, MPFR_RNDN);
    mpfr_subnormalize(p, t, MPFR_RNDN);
    const double want = mpfr_get_d(p, MPFR_RNDN);
    mpfr_set_emin(emin);
    mpfr_set_emax(emax);
    mpfr_clear(p);
    const double got = mls::round_to_fp64(exact(a) * exact(b));
    if (oracle::dbits(got) != oracle::dbits(want) && ++failures <= 10)
      ADD_FAILURE() << hex(oracle::dbits(a)) << " * " << hex(oracle::dbits(b)) << ": expected "
                    << hex(oracle::dbits(want)) << ", got " << hex(oracle::dbits(got));
  }
  EXPECT_EQ(failures, 0);
}

}  // namespace
