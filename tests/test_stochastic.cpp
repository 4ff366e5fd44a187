// Stochastic rounding (spec/03-rounding.md 3.4): away iff t + r/2^R >= 1 with
// r the R most significant bits of the word, so exactly floor(t * 2^R) of the
// 2^R values of r round away, and the low 32-R bits of the word are ignored.
#include <gtest/gtest.h>

#include <random>

#include "mls/rounding.hpp"
#include "oracle.hpp"

namespace {

using mls::RoundingMode;
using oracle::BigInt;
using oracle::hex;

// A gap of grid g between magnitude indices lo and lo+1 (of the sorted values),
// and |v| = lo + t * gap with t = n/d, as P/Q in grid units.
struct Gap {
  mls::Minifloat f;
  BigInt klo, khi;
  uint64_t code_lo, code_hi;
  int64_t ulog;
};

std::vector<Gap> gaps() {
  std::vector<Gap> v;
  auto add = [&](const mls::Minifloat& f, uint64_t lo, uint64_t hi) {
    const oracle::Grid g = oracle::make_grid(f);
    v.push_back({f, g.K[g.index_of(lo)], g.K[g.index_of(hi)], lo, hi, g.ulog});
  };
  add(oracle::element(0, 3, 0), 3, 4);                                 // fixed point, one unit
  add(mls::Minifloat::element(2, 1), 0, 1);                            // zero to the subnormal
  add(mls::Minifloat::element(2, 1), 6, 7);                            // 1 to 1.5
  add(mls::Minifloat::element(3, 2), 3, 4);                            // largest subnormal to smallest normal
  add(oracle::element(2, 1, 3, mls::ZeroMode::zero_only), 0, 2);       // the zero_only gap
  add(mls::Minifloat::group_scale(4, 1), 17, 18);                      // a group-scale binade boundary
  return v;
}

mls::RoundResult sr(const Gap& gp, bool neg, int64_t n, int64_t d, int R, uint32_t word) {
  // |v| = klo + (khi - klo) * n/d  =  (klo*d + (khi-klo)*n) / d  grid units
  const BigInt P = gp.klo * d + (gp.khi - gp.klo) * n;
  return mls::round_to_grid(gp.f, {neg, mls::Dyadic(P, gp.ulog), mls::Dyadic(BigInt(d), 0)},
                            mls::Rounding{RoundingMode::sr, R}, word);
}

std::vector<std::pair<int64_t, int64_t>> fractions() {
  std::vector<std::pair<int64_t, int64_t>> t;
  for (int64_t d : {2, 3, 5, 7, 10, 64, 97, 1000, 1024, 4099}) {
    const int64_t step = std::max<int64_t>(1, d / 7);
    for (int64_t n = 1; n < d; n += step) t.push_back({n, d});
    t.push_back({d - 1, d});
  }
  return t;
}

TEST(StochasticRounding, ExactlyFloorOfT2RWordsRoundAwayForEveryR1To10) {
  const auto ts = fractions();
  for (const Gap& gp : gaps()) {
    SCOPED_TRACE(oracle::describe(gp.f) + " gap " + hex(gp.code_lo) + ".." + hex(gp.code_hi));
    for (int R = 1; R <= 10; ++R)
      for (size_t ti = 0; ti < ts.size(); ti += R >= 8 ? 3 : 1) {  // fewer t where 2^R words are many
        const auto [n, d] = ts[ti];
        const bool neg = gp.f.is_signed && ((n + R) & 1);
        int64_t away = 0;
        for (uint32_t r = 0; r < (1u << R); ++r) {
          const mls::RoundResult res = sr(gp, neg, n, d, R, r << (32 - R));
          const uint64_t mag = res.code & ~gp.f.sign_bit();
          ASSERT_TRUE(mag == gp.code_lo || mag == gp.code_hi) << "r " << r << " code " << hex(res.code);
          ASSERT_EQ(res.r, r);
          away += mag == gp.code_hi;
        }
        EXPECT_EQ(away, (n << R) / d) << "R " << R << " t " << n << "/" << d << (neg ? " negative" : "");
      }
  }
}

TEST(StochasticRounding, LowBitsOfTheWordBelowTheTopRAreIgnored) {
  std::mt19937 rng(2024);
  const auto ts = fractions();
  for (const Gap& gp : gaps()) {
    SCOPED_TRACE(oracle::describe(gp.f));
    for (int R = 1; R <= 31; ++R)
      for (int i = 0; i < 12; ++i) {
        const auto [n, d] = ts[rng() % ts.size()];
        const uint32_t r = rng() & ((1u << R) - 1), top = r << (32 - R);
        const uint32_t low_mask = (1u << (32 - R)) - 1;
        const uint64_t base = sr(gp, false, n, d, R, top).code;
        EXPECT_EQ(sr(gp, false, n, d, R, top | (rng() & low_mask)).code, base) << "R " << R << " word " << hex(top);
        EXPECT_EQ(sr(gp, false, n, d, R, top | low_mask).code, base) << "R " << R << " word " << hex(top);
      }
  }
}

TEST(StochasticRounding, R32UsesTheWholeWord) {
  const Gap gp = gaps()[0];
  // t = 1/2: away iff r >= 2^31, the whole word compared.
  EXPECT_EQ(sr(gp, false, 1, 2, 32, 0x7fffffffu).code, gp.code_lo);
  EXPECT_EQ(sr(gp, false, 1, 2, 32, 0x80000000u).code, gp.code_hi);
  // t = 1 - 2^-32: only r = 0 keeps it.
  EXPECT_EQ(sr(gp, false, (int64_t(1) << 32) - 1, int64_t(1) << 32, 32, 0).code, gp.code_lo);
  EXPECT_EQ(sr(gp, false, (int64_t(1) << 32) - 1, int64_t(1) << 32, 32, 1).code, gp.code_hi);
  // t = 2^-32: only r = 2^32 - 1 rounds away.
  EXPECT_EQ(sr(gp, false, 1, int64_t(1) << 32, 32, 0xfffffffeu).code, gp.code_lo);
  EXPECT_EQ(sr(gp, false, 1, int64_t(1) << 32, 32, 0xffffffffu).code, gp.code_hi);
  // A fraction just below 2^-32 never rounds away.
  EXPECT_EQ(sr(gp, false, 1, (int64_t(1) << 32) + 1, 32, 0xffffffffu).code, gp.code_lo);
}

TEST(StochasticRounding, ValuesOnTheGridIgnoreTheWord) {
  for (const auto& f : oracle::small_element_formats()) {
    if (f.exp_bits > 3) continue;
    SCOPED_TRACE(oracle::describe(f));
    const oracle::Grid g = oracle::make_grid(f);
    for (size_t i = 0; i < g.K.size(); ++i)
      for (uint32_t w : {0u, 1u, 0x80000000u, 0xffffffffu, 0x12345678u})
        for (int R : {1, 8, 32})
          EXPECT_EQ(mls::round_to_grid(f, {true, mls::Dyadic(g.K[i], g.ulog)}, {RoundingMode::sr, R}, w).code,
                    g.mcode[i] | g.sign_bit)
              << "code " << hex(g.mcode[i]) << " R " << R << " word " << hex(w);
  }
}

}  // namespace
