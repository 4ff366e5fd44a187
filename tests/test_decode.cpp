// Exhaustive decode (spec/01-minifloat.md): every code of every element
// format with 1+E+M <= 8 and of every group-scale format Eg 1..6, Mg 0..2,
// against the section 1 formula evaluated independently in long double.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "mls/error.hpp"
#include "mls/minifloat.hpp"
#include "oracle.hpp"

namespace {

using oracle::hex;

long double to_ld(const mls::Dyadic& d) {  // exact here: |m| < 2^64, small exponents
  return std::ldexp(d.m.convert_to<long double>(), static_cast<int>(d.e));
}

// Every code (and a few past the code space): validity, value, sign bit,
// magnitude order, count of valid magnitudes, q_max and the smallest positive.
void check_every_code(const mls::Minifloat& f) {
  SCOPED_TRACE(oracle::describe(f));
  const int width = (f.is_signed ? 1 : 0) + f.exp_bits + f.man_bits;
  const uint64_t n = uint64_t(1) << width;
  EXPECT_EQ(f.code_count(), n);
  EXPECT_EQ(f.sign_bit(), f.is_signed ? uint64_t(1) << (f.exp_bits + f.man_bits) : 0u);
  std::vector<uint64_t> valid_mags;
  long double vmax = -1, vmin_pos = -1;
  for (uint64_t c = 0; c < n + 8; ++c) {
    const auto want = oracle::decode_ld(f, c);
    if (!want) {
      EXPECT_FALSE(f.is_valid_code(c)) << "code " << hex(c);
      EXPECT_THROW(f.decode(c), mls::Error) << "code " << hex(c);
      continue;
    }
    ASSERT_TRUE(f.is_valid_code(c)) << "code " << hex(c);
    const mls::Dyadic d = f.decode(c);
    EXPECT_EQ(to_ld(d), *want) << "code " << hex(c) << " decoded as " << d.to_string();
    const uint64_t mag = c & ((uint64_t(1) << (f.exp_bits + f.man_bits)) - 1);
    EXPECT_EQ(to_ld(f.magnitude_value(mag)), std::fabs(*want)) << "magnitude code " << hex(mag);
    if (c < (uint64_t(1) << (f.exp_bits + f.man_bits))) {
      valid_mags.push_back(c);
      vmax = std::max(vmax, *want);
      if (*want > 0 && (vmin_pos < 0 || *want < vmin_pos)) vmin_pos = *want;
    }
  }
  EXPECT_THROW(f.decode(n << 4), mls::Error);
  EXPECT_THROW(f.decode(~uint64_t(0)), mls::Error);
  // Magnitude codes are ordered by value; nth_magnitude enumerates the valid ones.
  ASSERT_EQ(f.valid_magnitude_count(), valid_mags.size());
  std::set<uint64_t> seen;
  for (uint64_t i = 0; i < valid_mags.size(); ++i) {
    const uint64_t mc = f.nth_magnitude(i);
    EXPECT_TRUE(f.is_valid_magnitude(mc)) << "index " << i << " -> " << hex(mc);
    EXPECT_EQ(f.index_of_magnitude(mc), i) << "magnitude code " << hex(mc);
    seen.insert(mc);
    if (i > 0) {
      EXPECT_LT(*oracle::decode_ld(f, f.nth_magnitude(i - 1)), *oracle::decode_ld(f, mc)) << "index " << i;
      EXPECT_LT(f.nth_magnitude(i - 1), mc) << "index " << i;
    }
  }
  EXPECT_EQ(seen, std::set<uint64_t>(valid_mags.begin(), valid_mags.end()));
  EXPECT_EQ(to_ld(f.max_value()), vmax);
  EXPECT_EQ(to_ld(f.min_positive()), vmin_pos);
  // The oracle's integer grid (used by the rounding tests) agrees with the formula.
  const oracle::Grid g = oracle::make_grid(f);
  ASSERT_EQ(g.mcode, valid_mags);
  for (size_t i = 0; i < g.K.size(); ++i)
    EXPECT_EQ(std::ldexp(g.K[i].convert_to<long double>(), static_cast<int>(g.ulog)), *oracle::decode_ld(f, g.mcode[i]));
}

class ElementDecode : public ::testing::TestWithParam<mls::Minifloat> {};
TEST_P(ElementDecode, EveryCodeMatchesTheSection1Formula) {
  const mls::Minifloat f = GetParam();
  EXPECT_NO_THROW(f.validate(mls::GridRole::element)) << oracle::describe(f);
  check_every_code(f);
}
INSTANTIATE_TEST_SUITE_P(SmallElementFormats, ElementDecode, ::testing::ValuesIn(oracle::small_element_formats()),
                         [](const auto& info) { return oracle::ident(info.param); });

class GroupScaleDecode : public ::testing::TestWithParam<mls::Minifloat> {};
TEST_P(GroupScaleDecode, EveryCodeIsATwoPowerShiftTimesOnePlusFraction) {
  const mls::Minifloat f = GetParam();
  SCOPED_TRACE(oracle::describe(f));
  EXPECT_NO_THROW(f.validate(mls::GridRole::group_scale));
  EXPECT_EQ(f, mls::Minifloat::group_scale(f.exp_bits, f.man_bits));
  check_every_code(f);
  // spec 2: values 2^-k (1 + f/2^Mg), k = 0..2^Eg-1; g_max = 2 - 2^-Mg, g_min = 2^-(2^Eg-1).
  const int kmax = (1 << f.exp_bits) - 1;
  for (uint64_t c = 0; c < f.code_count(); ++c) {
    const int k = kmax - static_cast<int>(c >> f.man_bits);
    const long double frac = static_cast<long double>(c & ((1u << f.man_bits) - 1)) / (1 << f.man_bits);
    EXPECT_EQ(to_ld(f.decode(c)), std::ldexp(1.0L + frac, -k)) << "code " << hex(c);
  }
  EXPECT_EQ(to_ld(f.max_value()), 2.0L - std::ldexp(1.0L, -f.man_bits));
  EXPECT_EQ(to_ld(f.magnitude_value(0)), std::ldexp(1.0L, -kmax));
  EXPECT_FALSE(f.has_zero());
}
INSTANTIATE_TEST_SUITE_P(AllGroupScaleFormats, GroupScaleDecode, ::testing::ValuesIn(oracle::small_group_formats()),
                         [](const auto& info) { return oracle::ident(info.param); });

TEST(DecodeInvalid, ZeroOnlyRejectsExponentZeroWithNonZeroMantissa) {
  for (const auto& f : oracle::small_element_formats()) {
    if (f.zero != mls::ZeroMode::zero_only || f.man_bits == 0) continue;
    SCOPED_TRACE(oracle::describe(f));
    for (uint64_t s = 0; s < 2; ++s)
      for (uint64_t fr = 1; fr < (uint64_t(1) << f.man_bits); ++fr) {
        const uint64_t c = (s ? f.sign_bit() : 0) | fr;
        EXPECT_FALSE(f.is_valid_code(c)) << hex(c);
        EXPECT_THROW(f.decode(c), mls::Error) << hex(c);
      }
  }
  const mls::Minifloat z{true, 2, 1, 3, mls::ZeroMode::zero_only, mls::Specials::none, mls::Encoding::sign_magnitude};
  try {
    z.decode(0x9);  // -0 row, f = 1
    ADD_FAILURE() << "no error for code 0x9";
  } catch (const mls::Error& e) {
    EXPECT_NE(std::string(e.what()).find("0x9"), std::string::npos) << e.what();
  }
}

TEST(DecodeInvalid, CodesBeyondTheWidthAreRejected) {
  const auto g = mls::Minifloat::group_scale(4, 1);
  EXPECT_THROW(g.decode(32), mls::Error);
  EXPECT_TRUE(g.is_valid_code(31));
  const auto e = mls::Minifloat::element(2, 1);
  EXPECT_THROW(e.decode(16), mls::Error);
  EXPECT_FALSE(e.is_valid_code(16));
}

TEST(DecodeIeee, Binary32CodesAreTheFloatsAndInfNanAreNotValues) {
  const auto b = mls::Minifloat::binary32();
  std::mt19937 rng(12345);
  for (int i = 0; i < 20000; ++i) {
    const uint32_t bits = i < 16 ? std::vector<uint32_t>{0, 1, 0x7fffff, 0x800000, 0x7f7fffff, 0x80000000u, 0x80000001u,
                                                         0xff7fffffu, 0x3f800000, 0x00400000, 0x7f800000, 0xff800000u,
                                                         0x7fc00000, 0x7f800001, 0xffffffffu, 0x34000000}[i]
                                 : static_cast<uint32_t>(rng());
    const float f = oracle::bitsf(bits);
    if (!std::isfinite(f)) {
      EXPECT_FALSE(b.is_valid_code(bits)) << hex(bits);
      EXPECT_THROW(b.decode(bits), mls::Error) << hex(bits);
    } else {
      EXPECT_EQ(to_ld(b.decode(bits)), static_cast<long double>(f)) << hex(bits);
    }
  }
}

TEST(DecodeIeee, Binary64CodesAreTheDoubles) {
  const auto b = mls::Minifloat::binary64();
  std::mt19937_64 rng(999);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t bits = i == 0 ? 1 : i == 1 ? 0x7fefffffffffffffull : rng();
    double d;
    std::memcpy(&d, &bits, 8);
    if (!std::isfinite(d)) {
      EXPECT_THROW(b.decode(bits), mls::Error) << hex(bits);
      continue;
    }
    const mls::Dyadic v = b.decode(bits);
    EXPECT_EQ(std::ldexp(v.m.convert_to<long double>(), static_cast<int>(v.e)), static_cast<long double>(d)) << hex(bits);
  }
}

}  // namespace
