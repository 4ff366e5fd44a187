// The two exact engines of the one rounding routine (rounding.hpp,
// ExactEngine): `automatic` (checked fixed-width integers, Dyadic when a bound
// fails) must give exactly what `generic` (Dyadic only) gives -- every field of
// the result, or the same error -- on every grid of the family, every mode and
// overflow policy, on inputs inside the fixed-width bound and far outside it
// (mantissas of 100-140 bits, exponents beyond +-300), and the quantizer must
// produce identical tensors under both. The brute-force tests of
// test_rounding.cpp and test_family.cpp check the default (automatic) engine
// against independent oracles.
#include <gtest/gtest.h>

#include <random>

#include "mls/error.hpp"
#include "mls/format.hpp"
#include "mls/philox.hpp"
#include "mls/rounding.hpp"
#include "mls/tensor.hpp"

namespace {

using mls::BigInt;
using mls::Dyadic;
using mls::ExactEngine;
using mls::Minifloat;
using mls::OverflowPolicy;
using mls::Rounding;
using mls::RoundingMode;

std::vector<Minifloat> grids() {
  std::vector<Minifloat> g{Minifloat::binary32(), Minifloat::element(2, 1), Minifloat::element(2, 4),
                           Minifloat::element(3, 0), Minifloat::group_scale(4, 1), Minifloat::group_scale(8, 0)};
  for (const auto& p : mls::named_profiles()) {
    g.push_back(p.format.element);
    g.push_back(p.format.group_scale);
  }
  return g;
}

// A positive dyadic: a `bits`-bit mantissa (top bit set) times 2^e.
Dyadic random_dyadic(std::mt19937_64& rng, int bits, int64_t e) {
  BigInt m = 1;
  for (int i = 1; i < bits; ++i) m = (m << 1) | BigInt(rng() & 1);
  return Dyadic(m, e);
}

struct Outcome {
  bool threw = false;
  std::string error;
  mls::RoundResult r;
};

Outcome run(const Minifloat& g, const mls::RoundInput& v, const Rounding& rd, uint32_t w, OverflowPolicy o,
            ExactEngine e) {
  Outcome out;
  try {
    out.r = mls::round_to_grid(g, v, rd, w, o, mls::SignedZero::preserve, e);
  } catch (const mls::Error& err) {
    out.threw = true;
    out.error = err.what();
  }
  return out;
}

void expect_same(const Outcome& a, const Outcome& b, const std::string& where) {
  ASSERT_EQ(a.threw, b.threw) << where << ": " << a.error << b.error;
  if (a.threw) {
    EXPECT_EQ(a.error, b.error) << where;
    return;
  }
  EXPECT_EQ(a.r.code, b.r.code) << where;
  EXPECT_EQ(a.r.lo, b.r.lo) << where;
  EXPECT_EQ(a.r.hi, b.r.hi) << where;
  EXPECT_EQ(a.r.exact, b.r.exact) << where;
  EXPECT_EQ(a.r.away, b.r.away) << where;
  EXPECT_EQ(a.r.rule, b.r.rule) << where;
  EXPECT_EQ(a.r.t_num, b.r.t_num) << where;
  EXPECT_EQ(a.r.t_den, b.r.t_den) << where;
  EXPECT_EQ(a.r.r, b.r.r) << where;
}

TEST(ExactEngines, RoundToGridGivesTheSameResultOnEveryGridModeAndPolicy) {
  std::mt19937_64 rng(11);
  const std::vector<Rounding> modes{{RoundingMode::rne, 8}, {RoundingMode::rna, 8}, {RoundingMode::rtz, 8},
                                    {RoundingMode::rup, 8}, {RoundingMode::rdn, 8}, {RoundingMode::rto, 8},
                                    {RoundingMode::sr, 1},  {RoundingMode::sr, 8},  {RoundingMode::sr, 32}};
  int cases = 0, beyond = 0;
  for (const Minifloat& g : grids()) {
    std::vector<OverflowPolicy> policies{OverflowPolicy::saturate, OverflowPolicy::error};
    if (g.has_inf()) policies.push_back(OverflowPolicy::infinity);
    if (g.has_nan()) policies.push_back(OverflowPolicy::nan);
    const int64_t top = g.max_value().ilog2(), bottom = g.min_positive().ilog2();
    for (int i = 0; i < 400; ++i) {
      // |v| = num / den near the grid's range (sometimes far outside it), with
      // mantissas from 1 to 140 bits: most within Fixed's bound, some beyond.
      const int kind = static_cast<int>(rng() % 8);
      const int nb = kind == 0 ? 100 + static_cast<int>(rng() % 41) : 1 + static_cast<int>(rng() % 24);
      const int db = kind == 1 ? 100 + static_cast<int>(rng() % 41) : 1 + static_cast<int>(rng() % 48);
      const int64_t span = top - bottom + 6;
      int64_t le = bottom - 3 + static_cast<int64_t>(rng() % static_cast<uint64_t>(span));
      if (kind == 2) le += (rng() & 1) ? 400 : -400;
      const int64_t de = -static_cast<int64_t>(rng() % 600) + 300;
      Dyadic num = random_dyadic(rng, nb, le - nb + 1 + de), den = random_dyadic(rng, db, de - db + 1);
      if (kind == 3) num = Dyadic(0, 0);
      if (kind == 4) num = g.magnitude_value(g.nth_magnitude(rng() % g.valid_magnitude_count())) * den;  // on the grid
      if (kind == 5) {  // a midpoint between neighbours
        const uint64_t k = rng() % (g.valid_magnitude_count() - 1);
        num = (g.magnitude_value(g.nth_magnitude(k)) + g.magnitude_value(g.nth_magnitude(k + 1))) * den;
        den = ldexp(den, 1);
      }
      if (nb >= 100 || db >= 100 || kind == 2) ++beyond;
      const mls::RoundInput v{g.is_signed && (rng() & 1), num, den};
      const uint32_t w = static_cast<uint32_t>(rng());
      for (const Rounding& rd : modes)
        for (OverflowPolicy o : policies) {
          const std::string where = g.name() + " " + mls::to_string(rd.mode) + std::to_string(rd.sr_bits) + " " +
                                    mls::to_string(o) + " num=" + num.to_string() + " den=" + den.to_string();
          expect_same(run(g, v, rd, w, o, ExactEngine::automatic), run(g, v, rd, w, o, ExactEngine::generic), where);
          if (HasFatalFailure()) return;
          ++cases;
        }
    }
  }
  EXPECT_GT(cases, 100000);
  EXPECT_GT(beyond, 1000);  // inputs beyond the fixed-width bound: the fallback is exercised
}

TEST(ExactEngines, QuantizeGivesIdenticalTensorsForEveryNamedProfile) {
  std::mt19937_64 rng(12);
  std::normal_distribution<float> nd(0.f, 1.f);
  const mls::Shape shape{2, 64, 4, 8};
  for (const auto& p : mls::named_profiles())
    for (const RoundingMode m : {RoundingMode::rne, RoundingMode::rup, RoundingMode::sr}) {
      mls::QuantizeInput in;
      in.format = p.format;
      in.rounding = Rounding{m, 8};
      in.shape = shape;
      const int64_t n = mls::element_count(shape);
      for (int64_t i = 0; i < n; ++i) {
        // per channel block a different magnitude, from 2^-140 to 2^120, some zeros
        const int c = static_cast<int>((i / 32) % 64);
        const float v = i % 97 == 0 ? 0.f : std::ldexp(nd(rng), (c * 37) % 260 - 140);
        in.x.push_back(mls::float_bits(v));
      }
      if (m == RoundingMode::sr) in.rand = mls::random_words(3, 0, static_cast<size_t>(n));
      mls::MlsTensor a, b;
      std::string ea, eb;
      try { a = mls::quantize(in, ExactEngine::automatic); } catch (const mls::Error& e) { ea = e.what(); }
      try { b = mls::quantize(in, ExactEngine::generic); } catch (const mls::Error& e) { eb = e.what(); }
      EXPECT_EQ(ea, eb) << p.name;
      EXPECT_EQ(a.tensor_scale, b.tensor_scale) << p.name;
      EXPECT_EQ(a.group_scales, b.group_scales) << p.name;
      EXPECT_EQ(a.elements, b.elements) << p.name << " " << mls::to_string(m);
      if (ea.empty()) {
        EXPECT_EQ(a.elements.size(), static_cast<size_t>(n)) << p.name;
      }
    }
}

}  // namespace
