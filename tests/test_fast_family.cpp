// mls-fast on the format family (MLS, OCP MX, NVFP4 and their variations)
// against the golden model, bit for bit: every named profile under every
// rounding mode and every quantizer arithmetic profile, NaN and Inf inputs
// (4.1.2, 3.10), zero group scales (4.5.1), special codes in dequantize
// (4.7.1) and conv operands (6.11), the round entry (3, 3.10), and torchao's
// RCEIL shared exponent at every binade. The harness (C ABI, cases,
// generators) is tests/fast_backend_harness.hpp.
#include "fast_backend_harness.hpp"

namespace {

// Values for a family case: ordinary ones, block edges, and NaN/Inf where the
// format propagates them.
std::vector<uint32_t> family_values(Rng& g, const Format& f, int64_t n) {
  std::vector<uint32_t> x;
  const int base = uni(g, -12, 12);
  for (int64_t i = 0; i < n; ++i) x.push_back(chance(g, 0.2) ? edge_value(g, f) : fbits(random_float(g, base, 12)));
  return x;
}

QCase bits_case(std::string label, const Format& f, Shape shape, std::vector<uint32_t> x, mls::Rounding r,
                mls::QuantArith a, Rng& g) {
  QCase c;
  c.label = std::move(label);
  c.in.format = f;
  c.in.shape = std::move(shape);
  c.in.x = std::move(x);
  c.in.rounding = r;
  c.in.arith = a;
  if (r.mode == mls::RoundingMode::sr) c.in.rand = random_words(g, c.in.x.size());
  return c;
}

}  // namespace

TEST(FastFamily, EveryNamedProfileModeAndArithmeticProfile) {
  Rng g(21);
  int judged = 0, rejected = 0;
  for (const auto& p : mls::named_profiles()) {
    for (int m = 0; m <= 6; ++m) {
      const mls::Rounding r{static_cast<mls::RoundingMode>(m), m == 6 ? uni(g, 1, 12) : 8};
      for (auto a : mls::enum_values<mls::QuantArith>()) {
        QCase c = bits_case(p.name, p.format, {3, 70}, family_values(g, p.format, 210), r, a, g);
        c.solve();
        SCOPED_TRACE(c.describe());
        (c.ref_error ? rejected : judged)++;
        EXPECT_EQ(run_quantize(fast(), c), "");
        if (!c.ref_error) {
          EXPECT_EQ(run_dequantize(fast(), dcase(c.ref)), "");
        }
      }
    }
  }
  // Each profile applies to some of the named profiles and not to others.
  EXPECT_GT(judged, 300);
  EXPECT_GT(rejected, 100);
}

TEST(FastFamily, PipelinesAndScaleRulesOnLargeTensors) {
  // Many elements per scale code: the table routes (per scale code for the
  // exact profile, once with S = 1 for the fp32 pipelines) and every thread.
  Rng g(22);
  struct Run {
    const char* format;
    mls::QuantArith arith;
  };
  const Run runs[] = {{"mxfp4", mls::QuantArith::exact},         {"mxfp4", mls::QuantArith::torchao_mx},
                      {"mxfp4:ocp_even", mls::QuantArith::torchao_mx}, {"mxfp4:ceil", mls::QuantArith::torchao_mx_rceil},
                      {"mxfp8-e4m3:ceil", mls::QuantArith::te_mxfp8}, {"nvfp4", mls::QuantArith::exact},
                      {"nvfp4", mls::QuantArith::torchao_nvfp4},    {"nvfp4", mls::QuantArith::te_nvfp4},
                      {"nvfp4", mls::QuantArith::fp32_div},         {"mxint8:ocp_ceil", mls::QuantArith::fp32_reciprocal},
                      {"mxfp6-e2m3", mls::QuantArith::exact},       {"mxfp8-e5m2:ovf_infinity", mls::QuantArith::exact}};
  for (const Run& run : runs)
    for (int m : {0, 6}) {
      const Format f = mls::parse_format(run.format);
      QCase c = bits_case("large", f, {2, 8, 16, 64}, family_values(g, f, 2 * 8 * 16 * 64), mls::Rounding{static_cast<mls::RoundingMode>(m), 8},
                          run.arith, g);
      c.solve();
      SCOPED_TRACE(c.describe());
      ASSERT_FALSE(c.ref_error);
      EXPECT_EQ(run_quantize(fast(), c), "");
    }
}

TEST(FastFamily, NonFiniteInputsFollowTheRules) {
  // 4.1.2: a NaN makes its block's scale NaN and every element of the block 0;
  // an Inf saturates the block's scale and is an element input (3.10): Inf or
  // NaN by the overflow policy, else the largest value of its sign.
  Rng g(23);
  for (const char* name : {"mxfp8-e4m3", "mxfp8-e4m3:ovf_nan", "mxfp8-e5m2", "mxfp8-e5m2:ovf_infinity", "mxfp8-e5m2:ovf_nan",
                           "mxfp4", "mxint8", "mxfp6-e3m2:ceil"}) {
    const Format f = mls::parse_format(name);
    std::vector<uint32_t> x = family_values(g, f, 96);
    for (auto& v : x)
      if ((v & 0x7fffffffu) >= 0x7f800000u) v = 0x3f800000u;
    x[5] = 0x7fc00000u;   // block 0: NaN
    x[40] = 0xff800000u;  // block 1: -Inf
    x[70] = 0x7f800000u;  // block 2: +Inf
    x[71] = 0xffc00000u;  // and a NaN of the other sign
    for (int m = 0; m <= 6; ++m) {
      QCase c = bits_case("non-finite", f, {96}, x, mls::Rounding{static_cast<mls::RoundingMode>(m), 8},
                          mls::QuantArith::exact, g);
      c.solve();
      SCOPED_TRACE(c.describe());
      ASSERT_FALSE(c.ref_error);
      EXPECT_EQ(run_quantize(fast(), c), "");
      EXPECT_TRUE(f.group_scale.is_nan_code(c.ref.group_scales[0]));
      EXPECT_EQ(c.ref.elements[4], 0u);
      EXPECT_EQ(c.ref.group_scales[1], f.group_scale.max_magnitude_code());
      const bool finite_result = f.overflow == mls::OverflowPolicy::saturate;
      EXPECT_EQ(f.element.is_valid_code(c.ref.elements[40]), finite_result) << hex(c.ref.elements[40]);
    }
  }
  // Under the error policy for non-finite input, the first bad index is named.
  const Format nv = mls::parse_format("nvfp4");
  std::vector<uint32_t> x(32, 0x3f800000u);
  x[9] = 0xff800000u;
  x[17] = 0x7fc00000u;
  QCase c = bits_case("non-finite error", nv, {32}, x, mls::Rounding{}, mls::QuantArith::exact, g);
  c.solve();
  ASSERT_TRUE(c.ref_error);
  EXPECT_EQ(run_quantize(fast(), c), "");
  EXPECT_NE(std::string(fast()->last_error()).find("x[9] is Inf"), std::string::npos) << fast()->last_error();
}

TEST(FastFamily, ZeroGroupScalesGiveZerosOfTheInputsSign) {
  // 4.5.1: NVFP4's E4M3 scale has a zero; a block whose ratio rounds to it (a
  // static tensor scale, tiny values) or an all-zero block quantizes to zeros
  // with the input's sign (+0 under poszero); the fp32 pipelines divide by
  // their own factor instead (4.12).
  Rng g(24);
  for (const char* name : {"nvfp4", "nvfp4:poszero", "e2m3.fp8_e4m3/blk8:nearest", "fp8_e5m2.fp8_e5m2/blk4:floor"}) {
    const Format f = mls::parse_format(name);
    std::vector<uint32_t> x;
    for (int i = 0; i < 64; ++i) {
      const int blk = i / 16;
      float v = blk == 0 ? 0.0f : blk == 1 ? std::ldexp(1.0f, -40) * (1 + i % 5) : random_float(g, 0, 6);
      if (blk == 3 && i % 3 == 0) v = std::ldexp(1.0f, -20);
      x.push_back(fbits(v) ^ (i % 2 ? 0x80000000u : 0u));
    }
    for (auto a : mls::enum_values<mls::QuantArith>())
      for (int m : {0, 2, 6}) {
        QCase c = bits_case("zero scales", f, {64}, x, mls::Rounding{static_cast<mls::RoundingMode>(m), 6}, a, g);
        c.in.static_tensor_scale = 0x3f800000u;
        c.solve();
        SCOPED_TRACE(c.describe());
        EXPECT_EQ(run_quantize(fast(), c), "");
        if (c.ref_error || a != mls::QuantArith::exact || f.block_size != 16) continue;
        EXPECT_EQ(c.ref.group_scales[0], 0u);
        EXPECT_EQ(c.ref.group_scales[1], 0u);
        EXPECT_EQ(c.ref.elements[1], f.signed_zero == mls::SignedZero::positive ? 0u : 0x8u);
      }
  }
}

TEST(FastFamily, DequantizeSpecialCodesAndScales) {
  // 4.7.1: NaN scales and NaN element codes give the quiet NaN 0x7fc00000, Inf
  // codes +-Inf, an Inf code times a zero scale NaN, a zero the code's sign.
  Rng g(25);
  for (const char* name : {"mxfp8-e5m2", "mxfp8-e4m3", "nvfp4", "fp8_e5m2.fp8_e4m3/blk4", "mxint8", "mxfp4"}) {
    const Format f = mls::parse_format(name);
    for (int rep = 0; rep < 20; ++rep) {
      MlsTensor t = random_tensor(g, f, {3, 40}, rep % 4 == 0, true);
      if (f.group_scale.has_zero()) t.group_scales[0] = 0;
      if (f.element.has_inf()) t.elements[1] = static_cast<uint32_t>(f.element.inf_code(true));
      const DCase d = dcase(t);
      SCOPED_TRACE(std::string(name) + " rep " + std::to_string(rep));
      EXPECT_EQ(run_dequantize(fast(), d), "");
      if (f.group_scale.has_zero() && f.element.has_inf()) {
        EXPECT_EQ(d.ref[1], 0x7fc00000u);
      }
    }
  }
}

TEST(FastFamily, ConvOperandsMustBeFiniteAndNamed) {
  // 6.11: conv and GEMM take finite operands; the error names the field.
  Rng g(26);
  const Format f = mls::parse_format("mxfp8-e5m2");
  Format fc = f;
  fc.block_axis = 1;
  MlsTensor A = random_tensor(g, f, {3, 64}, false), B = random_tensor(g, fc, {64, 2}, false);
  std::vector<uint32_t> y(64);
  auto gemm = [&] {
    const AbiTensor a(A), b(B);
    return fast()->gemm(&a.t, &b.t, nullptr, y.data(), y.size());
  };
  ASSERT_EQ(gemm(), MLS_OK) << fast()->last_error();
  {
    CCase c;
    c.label = "finite";
    c.gemm = true;
    c.a = A, c.b = B;
    c.solve();
    EXPECT_EQ(run_conv(fast(), c), "");
  }
  A.elements[5] = static_cast<uint32_t>(f.element.nan_code(false));
  EXPECT_EQ(gemm(), MLS_ERR_INPUT);
  EXPECT_NE(std::string(fast()->last_error()).find("a.elements[5] is NaN"), std::string::npos) << fast()->last_error();
  A.elements[5] = 0;
  B.elements[7] = static_cast<uint32_t>(f.element.inf_code(true));
  EXPECT_EQ(gemm(), MLS_ERR_INPUT);
  EXPECT_NE(std::string(fast()->last_error()).find("b.elements[7] is Inf"), std::string::npos) << fast()->last_error();
  B.elements[7] = 0;
  A.group_scales[1] = static_cast<uint32_t>(f.group_scale.nan_code(false));
  EXPECT_EQ(gemm(), MLS_ERR_INPUT);
  EXPECT_NE(std::string(fast()->last_error()).find("a.group_scales[1] is NaN"), std::string::npos) << fast()->last_error();
  // The reference says the same (both reject).
  CCase c;
  c.label = "nan scale";
  c.gemm = true;
  c.a = A, c.b = B;
  c.solve();
  EXPECT_TRUE(c.ref_error);
  EXPECT_EQ(run_conv(fast(), c), "");
}

TEST(FastFamily, RoundEntryMatchesReference) {
  Rng g(27);
  int bad = 0, errors = 0, cast_only = 0;
  for (int i = 0; i < 3000 && bad < 10; ++i) {
    RCase c = random_rcase(g);
    c.solve();
    errors += c.ref_error;
    cast_only += !c.ref_error && (!c.element.is_signed || !c.element.has_zero());  // valid only as a group scale
    if (std::string d = run_round(fast(), c); !d.empty()) {
      ++bad;
      ADD_FAILURE() << c.describe() << ": " << d;
    }
  }
  EXPECT_GT(errors, 50);
  EXPECT_GT(cast_only, 50);  // 87 with this seed
  // A plain cast of every fp32 exponent onto E4M3, E5M2 and FP4: each binade, both signs.
  for (const char* grid : {"fp8_e4m3", "fp8_e5m2", "fp4_e2m1", "int8"})
    for (int m = 0; m <= 6; ++m) {
      RCase c;
      c.element = named_grid(grid);
      c.r = mls::Rounding{static_cast<mls::RoundingMode>(m), 7};
      for (uint32_t e = 0; e < 255; ++e)
        for (uint32_t f : {0u, 1u, 0x400000u, 0x7fffffu, 0x5a5a5au}) c.x.push_back((e << 23) | f | (e % 2 ? 0x80000000u : 0u));
      if (m == 6) c.rand = random_words(g, c.x.size());
      c.solve();
      SCOPED_TRACE(c.describe());
      EXPECT_EQ(run_round(fast(), c), "");
    }
  // The same onto E8M0 (unsigned, no zero): every positive binade, +-0, NaN;
  // a negative value is an error.
  for (int m = 0; m <= 6; ++m)
    for (auto ovf : {mls::OverflowPolicy::saturate, mls::OverflowPolicy::nan}) {
      RCase c;
      c.element = named_grid("e8m0");
      c.r = mls::Rounding{static_cast<mls::RoundingMode>(m), 7};
      c.overflow = ovf;
      for (uint32_t e = 0; e < 255; ++e)
        for (uint32_t f : {0u, 1u, 0x3fffffu, 0x400000u, 0x400001u, 0x7fffffu, 0x5a5a5au}) c.x.push_back((e << 23) | f);
      for (uint32_t v : {0x80000000u, 0x7fc00000u, 0xffc00000u, 0x7f800000u}) c.x.push_back(v);
      if (m == 6) c.rand = random_words(g, c.x.size());
      c.solve();
      SCOPED_TRACE(c.describe());
      ASSERT_FALSE(c.ref_error);
      EXPECT_EQ(run_round(fast(), c), "");
      c.x.back() = 0xbf800000u;  // -1
      c.solve();
      EXPECT_TRUE(c.ref_error);
      EXPECT_EQ(run_round(fast(), c), "");
    }
}

TEST(FastFamily, RceilSharedExponentAtEveryBinade) {
  // torchao's RCEIL (4.12.4) takes ceil(RN_fp32(log2(a_G / q_max))): one too
  // high wherever log2 rounds up to an integer. With q_max = 16 (E3M0) the
  // quotient is exact; every binade of fp32, mantissas 1 + j 2^-23 around each
  // rounding threshold, against the golden model's correctly rounded log2.
  Rng g(28);
  const Format f = mls::parse_format("e3m0.e8m0/blk4:ceil:tscale_one");
  std::vector<uint32_t> x;
  for (int k = -130; k <= 123; ++k)
    for (uint32_t j : {0u, 1u, 2u, 3u, 5u, 11u, 12u, 21u, 22u, 23u, 24u, 43u, 44u, 45u, 46u, 1000u, 0x400000u, 0x7fffffu}) {
      const float d = std::ldexp(1.0f + static_cast<float>(j) * std::ldexp(1.0f, -23), k);
      const float a = d * 16.0f;
      x.insert(x.end(), {fbits(a), fbits(a / 2), fbits(-a / 4) , 0u});
    }
  for (int m : {0, 6}) {
    QCase c = bits_case("rceil", f, {static_cast<int64_t>(x.size() / 4), 4}, x,
                        mls::Rounding{static_cast<mls::RoundingMode>(m), 8}, mls::QuantArith::torchao_mx_rceil, g);
    c.solve();
    SCOPED_TRACE(c.describe());
    ASSERT_FALSE(c.ref_error);
    EXPECT_EQ(run_quantize(fast(), c), "");
  }
}
