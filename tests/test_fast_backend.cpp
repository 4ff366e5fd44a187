// mls-fast (conformance/backends/fast), the independent optimised
// implementation, against the golden model: bit-exact equality of round,
// quantize, dequantize, conv2d (three passes) and gemm on random and edge
// cases of the whole family; every bad-input path of its C ABI; and proof that
// each seeded-bug variant departs from the spec on the same battery of cases,
// in its own operation only, with the catalogue (mutants.def) built, tested
// and documented exactly. The reference is the oracle here; the backend is
// reached only through dlopen and the C ABI (tests/fast_backend_harness.hpp).
// The family's own batteries are in test_fast_family.cpp.
#include <fstream>
#include <set>

#include "fast_backend_harness.hpp"

#ifndef MLS_FAST_CATALOGUE
#error "MLS_FAST_CATALOGUE (path of mutants.def) is defined by conformance/backends/fast/tests.cmake"
#endif

namespace {

// ---- the catalogue of seeded bugs (its one definition: mutants.def) -------------

struct CatalogueEntry {
  std::string name;
  std::vector<std::string> ops;
  std::string cause_id;
  std::string departure;
};

const std::vector<CatalogueEntry>& catalogue() {
  static const std::vector<CatalogueEntry> c = {
#define MLS_FAST_SEEDED_BUG(name, ops, cause, formats, departure) {#name, split_list(ops), #cause, departure},
#include MLS_FAST_CATALOGUE
#undef MLS_FAST_SEEDED_BUG
  };
  return c;
}

// The variants CMake built (conformance/backends/fast/CMakeLists.txt).
std::vector<std::string> built_variants() { return split_list(MLS_FAST_MUTANTS); }

}  // namespace

// ---- equality with the reference -------------------------------------------------

TEST(FastBackend, LoadsThroughTheCAbi) {
  const Lib& l = load(MLS_FAST_BACKEND_LIB);
  ASSERT_NE(l.api, nullptr) << l.error;
  EXPECT_EQ(l.api->abi_version, MLS_BACKEND_ABI_VERSION);
  EXPECT_EQ(l.api->struct_size, sizeof(mls_backend_v2));
  EXPECT_STREQ(l.api->name(), "mls-fast 0.2");
  EXPECT_EQ(l.mutant, "");
  auto get = reinterpret_cast<mls_backend_get_fn>(dlsym(l.handle, MLS_BACKEND_ENTRY));
  EXPECT_EQ(get(MLS_BACKEND_ABI_VERSION + 1), nullptr);
  EXPECT_EQ(get(0), nullptr);
}

TEST(FastBackend, BatteryMatchesReferenceBitForBit) {
  const Battery& b = battery();
  // The battery reaches what it is meant to: errors, static scales, every mode,
  // every named profile, every arithmetic profile, NaN blocks, Inf inputs.
  int errors = 0, statics = 0, modes[7] = {}, nan_blocks = 0, infs = 0;
  std::map<mls::QuantArith, int> arith;
  std::set<std::string> elements;
  for (const auto& c : b.q) {
    errors += c.ref_error;
    statics += c.in.static_tensor_scale.has_value();
    ++modes[static_cast<int>(c.in.rounding.mode)];
    if (!c.ref_error) ++arith[c.in.arith];
    elements.insert(c.in.format.element.name());
    if (c.ref_error || c.in.format.nonfinite != mls::NonFiniteInput::propagate) continue;
    for (uint32_t v : c.in.x) infs += (v & 0x7fffffffu) == 0x7f800000u;
    for (uint32_t s : c.ref.group_scales) nan_blocks += c.in.format.group_scale.is_nan_code(s);
  }
  EXPECT_GT(errors, 5);
  EXPECT_GT(statics, 50);
  for (int m : modes) EXPECT_GT(m, 50);
  for (auto a : mls::enum_values<mls::QuantArith>()) EXPECT_GT(arith[a], 5) << mls::to_string(a);
  for (const auto& p : mls::named_profiles()) EXPECT_EQ(elements.count(p.format.element.name()), 1u) << p.name;
  EXPECT_GT(nan_blocks, 20);
  EXPECT_GT(infs, 20);
  int round_errors = 0;
  for (const auto& c : b.r) round_errors += c.ref_error;
  EXPECT_GT(round_errors, 10);
  EXPECT_LT(round_errors, static_cast<int>(b.r.size()) / 2);
  EXPECT_EQ(run_battery(fast(), true).total(), 0);
}

TEST(FastBackend, QuantizeMatchesReferenceOnMoreRandomCases) {
  Rng g(7);
  int bad = 0;
  for (int i = 0; i < 1500 && bad < 10; ++i) {
    QCase c = i % 3 == 0 ? tie_qcase(g) : i % 3 == 1 ? random_qcase(g) : family_qcase(g);
    c.solve();
    if (std::string d = run_quantize(fast(), c); !d.empty()) {
      ++bad;
      ADD_FAILURE() << "case " << i << " " << c.describe() << ": " << d;
    }
  }
}

TEST(FastBackend, LargeTensorsMatchReference) {
  // Big enough that every operation splits its work among threads.
  Rng g(11);
  for (const char* name : {"mls-e2m4", "e3m3.g4m1/1x4x8x8", "e5m10.g8m3/1x1x1x0", "mxfp4", "nvfp4", "mxfp8-e4m3"}) {
    const Shape shape{2, 8, 32, 32};
    std::vector<float> x;
    for (int64_t i = 0; i < mls::element_count(shape); ++i) x.push_back(random_float(g, 0, 20));
    const mls::Rounding r{mls::RoundingMode::sr, 8};
    QCase c = qcase("large", mls::parse_format(name), shape, x, r, random_words(g, x.size()));
    c.solve();
    SCOPED_TRACE(c.describe());
    ASSERT_FALSE(c.ref_error);
    EXPECT_EQ(run_quantize(fast(), c), "");
    EXPECT_EQ(run_dequantize(fast(), dcase(c.ref)), "");
  }
  CCase c;
  c.label = "large";
  c.a = quantized_tensor(g, mls::parse_format("mls-e2m4"), {2, 8, 12, 12});
  c.b = quantized_tensor(g, mls::parse_format("mls-e2m4"), {8, 8, 3, 3});
  c.p.padding = {1, 1};
  for (auto pass : {mls::ConvPass::fwd, mls::ConvPass::bwd_data, mls::ConvPass::bwd_weight}) {
    CCase k = c;
    k.p.pass = pass;
    if (pass == mls::ConvPass::bwd_data) {
      k.a = quantized_tensor(g, mls::parse_format("mls-e2m4"), {2, 8, 12, 12});
      k.p.out_shape = {2, 8, 12, 12};
    }
    if (pass == mls::ConvPass::bwd_weight) {
      k.b = quantized_tensor(g, mls::parse_format("mls-e2m4"), {2, 8, 12, 12});
      k.p.out_shape = {8, 8, 3, 3};
    }
    k.solve();
    SCOPED_TRACE(k.describe());
    ASSERT_FALSE(k.ref_error);
    EXPECT_EQ(run_conv(fast(), k), "");
  }
}

TEST(FastBackend, ConvReachesEveryAccumulatorWidth) {
  // The same products through the int64, int128 and multi-limb accumulators:
  // operands whose exponent ranges need each one.
  Rng g(5);
  for (const char* f : {"mls-e2m1", "e5m10.g5m3", "e8m23.g8m23"}) {
    for (int i = 0; i < 6; ++i) {
      CCase c;
      c.label = f;
      c.a = random_tensor(g, mls::parse_format(f), {1, 3, 5, 5}, std::string(f) == "e8m23.g8m23");
      c.b = random_tensor(g, mls::parse_format(f), {2, 3, 3, 3}, std::string(f) == "e8m23.g8m23");
      c.p.padding = {1, 1};
      c.solve();
      SCOPED_TRACE(c.describe());
      ASSERT_FALSE(c.ref_error);
      EXPECT_EQ(run_conv(fast(), c), "");
    }
  }
}

TEST(FastBackend, ExtremeScalesOverflowAndUnderflowLikeReference) {
  // Conv outputs and dequantized values beyond fp32 (Inf), subnormal and zero.
  Rng g(3);
  for (uint32_t ts : {0x7f7fffffu, 0x7e800000u, 0x00000001u, 0x00800000u, 0x0f000000u}) {
    MlsTensor t = random_tensor(g, mls::parse_format("e8m23.g8m23/0x0"), {6, 7}, false);
    t.tensor_scale = ts;
    SCOPED_TRACE(hex(ts));
    EXPECT_EQ(run_dequantize(fast(), dcase(t)), "");
    CCase c;
    c.label = "extreme";
    c.gemm = true;
    c.a = t;
    c.b = random_tensor(g, mls::parse_format("e8m23.g8m23/0x0"), {7, 3}, false);
    c.b.tensor_scale = ts;
    c.solve();
    EXPECT_EQ(run_conv(fast(), c), "");
  }
}

TEST(FastBackend, OverflowErrorStartsJustAboveQmax) {
  // overflow = error with a saturated group scale (static S_t = 1, g_max = 1.5):
  // S_t g_max q_max = 2.25 is the largest value that quantizes; the next fp32
  // up is an error naming its index. Long enough for the table route.
  Rng g(4);
  for (float v : {2.25f, std::nextafter(2.25f, 3.0f)}) {
    Format f = mls::parse_format("e2m1.g4m1:ovf_error");
    f.group_shape = {0, 0};
    std::vector<float> x;
    for (int i = 0; i < 4096; ++i) x.push_back(std::uniform_real_distribution<float>(-2.0f, 2.0f)(g));
    x[700] = -v;
    for (int m = 0; m <= 6; ++m) {
      const mls::Rounding r{static_cast<mls::RoundingMode>(m), 4};
      QCase c = qcase("overflow error", f, {4, 1024}, x, r, m == 6 ? random_words(g, x.size()) : std::vector<uint32_t>{},
                      0x3f800000u);
      c.solve();
      SCOPED_TRACE(c.describe() + " x[700] = " + hex(c.in.x[700]));
      EXPECT_EQ(c.ref_error, v != 2.25f);
      EXPECT_EQ(run_quantize(fast(), c), "");
      if (c.ref_error) {
        EXPECT_NE(std::string(fast()->last_error()).find("x[700]"), std::string::npos) << fast()->last_error();
      }
    }
  }
}

// ---- the C ABI's error paths -------------------------------------------------------

namespace {

struct QuantizeCall {
  Format f = mls::parse_format("mls-e2m1");
  Shape shape{1, 2, 2, 2};
  std::vector<uint32_t> x = std::vector<uint32_t>(8, 0x3f800000u);
  mls_rounding_v2 r{MLS_RNE, 8};
  int32_t qarith = MLS_QARITH_EXACT;
  std::vector<uint32_t> rand;
  uint64_t gcap = 2, ecap = 8;
  int32_t operator()() {
    const AbiFormat a(f, shape);
    return (*this)(a.f);
  }
  int32_t operator()(const mls_format_v2& c) {
    uint32_t ts;
    std::vector<uint32_t> gs(16), el(64);
    return fast()->quantize(&c, static_cast<int32_t>(shape.size()), shape.data(), x.data(), x.size(), &r, qarith,
                            rand.empty() ? nullptr : rand.data(), rand.size(), nullptr, &ts, gs.data(), gcap, el.data(),
                            ecap);
  }
};

void expect_error(int32_t status, int32_t want, const std::string& mentions) {
  EXPECT_EQ(status, want);
  const std::string msg = fast()->last_error();
  EXPECT_NE(msg.find(mentions), std::string::npos) << "message \"" << msg << "\" should mention \"" << mentions << "\"";
}

}  // namespace

TEST(FastBackendErrors, QuantizeRejectsBadInputNamingTheField) {
  QuantizeCall ok;
  EXPECT_EQ(ok(), MLS_OK) << fast()->last_error();
  EXPECT_STREQ(fast()->last_error(), "");
  {
    QuantizeCall c;
    c.x[5] = 0x7fc00000u;
    c.x[6] = 0x7f800000u;
    expect_error(c(), MLS_ERR_INPUT, "x[5] is NaN");
    c.x[5] = 0;
    expect_error(c(), MLS_ERR_INPUT, "x[6] is Inf");
  }
  {
    QuantizeCall c;
    c.x.pop_back();
    expect_error(c(), MLS_ERR_INPUT, "x has 7 values");
  }
  {
    QuantizeCall c;
    c.r = {MLS_SR, 8};
    c.rand.assign(7, 0);
    expect_error(c(), MLS_ERR_INPUT, "rand has 7 words");
  }
  struct FieldCase {
    const char* mentions;
    void (*edit)(mls_format_v2&);
  };
  const FieldCase fields[] = {
      {"format.element.exp_bits = 9", [](mls_format_v2& f) { f.element.exp_bits = 9; }},
      {"format.element.man_bits = 24", [](mls_format_v2& f) { f.element.man_bits = 24; }},
      {"format.element.bias", [](mls_format_v2& f) { f.element.bias = 100001; }},
      {"format.element.zero", [](mls_format_v2& f) { f.element.zero = 3; }},
      {"format.element.zero = none", [](mls_format_v2& f) { f.element.zero = MLS_ZERO_NONE; }},
      {"format.element.specials = 3", [](mls_format_v2& f) { f.element.specials = 3; }},
      {"format.element.encoding = 2", [](mls_format_v2& f) { f.element.encoding = 2; }},
      {"format.element.signed", [](mls_format_v2& f) { f.element.is_signed = 0; }},
      {"format.group_scale.exp_bits = 0", [](mls_format_v2& f) { f.scale.exp_bits = 0; }},
      {"format.group_scale.man_bits = 24", [](mls_format_v2& f) { f.scale.man_bits = 24; }},
      {"format.group_scale.encoding = twos_complement", [](mls_format_v2& f) { f.scale.encoding = 1; }},
      {"format.scale_policy", [](mls_format_v2& f) { f.scale_policy = 6; }},
      {"format.signed_zero", [](mls_format_v2& f) { f.signed_zero = -1; }},
      {"format.overflow", [](mls_format_v2& f) { f.overflow = 4; }},
      {"format.tensor_scale", [](mls_format_v2& f) { f.tensor_scale = 2; }},
      {"format.nonfinite", [](mls_format_v2& f) { f.nonfinite = 2; }},
      {"zero_only needs exp_bits >= 1", [](mls_format_v2& f) { f.element.exp_bits = 0, f.element.zero = MLS_ZERO_ONLY; }},
      {"leaves only the value zero", [](mls_format_v2& f) { f.element.exp_bits = 0, f.element.man_bits = 0; }},
      {"nan_all_ones needs exp_bits >= 1",
       [](mls_format_v2& f) { f.element.exp_bits = 0, f.element.specials = MLS_SPECIALS_NAN_ALL_ONES; }},
      {"ieee needs exp_bits >= 2", [](mls_format_v2& f) { f.element.specials = MLS_SPECIALS_IEEE, f.element.man_bits = 0; }},
      {"twos_complement needs exp_bits = 0", [](mls_format_v2& f) { f.element.encoding = MLS_ENCODING_TWOS_COMPLEMENT; }},
      {"format.overflow = infinity needs an element format with Inf",
       [](mls_format_v2& f) { f.overflow = MLS_OVERFLOW_INFINITY; }},
      {"format.overflow = nan needs an element format with a NaN code",
       [](mls_format_v2& f) { f.overflow = MLS_OVERFLOW_NAN; }},
      {"nonfinite = propagate needs tensor_scale = one", [](mls_format_v2& f) { f.nonfinite = MLS_NONFINITE_PROPAGATE; }},
      {"nonfinite = propagate needs a group-scale format with a NaN code",
       [](mls_format_v2& f) { f.nonfinite = MLS_NONFINITE_PROPAGATE, f.tensor_scale = MLS_TSCALE_ONE; }},
      {"format.group_shape has 2 entries",
       [](mls_format_v2& f) {
         static const int64_t gs[2] = {1, 1};
         f.group_rank = 2, f.group_shape = gs;
       }},
      {"format.group_shape[1] = -1",
       [](mls_format_v2& f) {
         static const int64_t gs[4] = {1, -1, 0, 0};
         f.group_rank = 4, f.group_shape = gs;
       }},
  };
  for (const auto& fc : fields) {
    QuantizeCall c;
    const AbiFormat a(c.f, c.shape);
    mls_format_v2 cf = a.f;
    fc.edit(cf);
    expect_error(c(cf), MLS_ERR_INPUT, fc.mentions);
    // The capability query rejects the same descriptor (it has no shape to check the layout against).
    if (std::string(fc.mentions).find("group_shape") == std::string::npos) {
      EXPECT_EQ(fast()->supports(MLS_OP_QUANTIZE, &cf, nullptr, MLS_QARITH_EXACT, nullptr), MLS_ERR_INPUT) << fc.mentions;
    }
  }
  {
    QuantizeCall c;
    c.r = {7, 8};
    expect_error(c(), MLS_ERR_INPUT, "rounding.mode = 7");
    c.r = {MLS_SR, 33};
    c.rand.assign(8, 0);
    expect_error(c(), MLS_ERR_INPUT, "rounding.bits = 33");
  }
  {
    QuantizeCall c;
    c.shape = {1, 0, 2, 2};
    const AbiFormat a(c.f, Shape{1, 1, 2, 2});
    expect_error(c(a.f), MLS_ERR_INPUT, "shape[1] = 0");
  }
  {
    QuantizeCall c;
    c.gcap = 1;
    expect_error(c(), MLS_ERR_BUFFER, "group_scales_out");
    c.gcap = 2;
    c.ecap = 7;
    expect_error(c(), MLS_ERR_BUFFER, "elements_out");
  }
  {
    // Arithmetic profiles: unknown ones are not computed (a skip), library
    // pipelines on a format they do not model are an input error (4.12).
    QuantizeCall c;
    c.qarith = 8;
    expect_error(c(), MLS_ERR_UNSUPPORTED, "qarith = 8");
    c.qarith = -1;
    expect_error(c(), MLS_ERR_UNSUPPORTED, "qarith = -1");
    c.qarith = MLS_QARITH_TORCHAO_MX;
    expect_error(c(), MLS_ERR_INPUT, "qarith = torchao_mx applies to MX formats");
    c.qarith = MLS_QARITH_TE_NVFP4;
    expect_error(c(), MLS_ERR_INPUT, "qarith = te_nvfp4 applies to NVFP4 formats");
    c.qarith = MLS_QARITH_FP32_DIV;
    EXPECT_EQ(c(), MLS_OK) << fast()->last_error();
  }
  {
    // overflow = error: an element beyond q_max under a static tensor scale.
    const Format f = mls::parse_format("e2m1.g4m1:floor:ovf_error");
    const AbiFormat cf(f, Shape{3});
    const int64_t shape[1] = {3};
    const uint32_t x[3] = {0x3f800000u, 0x40400000u, 0x3f000000u};  // 1, 3, 0.5
    const uint32_t st = 0x3f000000u;                                // 0.5: 3 / 0.5 = 6 > q_max * g_max
    const mls_rounding_v2 r{MLS_RNE, 8};
    uint32_t ts, gs[1], el[3];
    expect_error(fast()->quantize(&cf.f, 1, shape, x, 3, &r, MLS_QARITH_EXACT, nullptr, 0, &st, &ts, gs, 1, el, 3),
                 MLS_ERR_INPUT, "x[1]");
  }
  {
    // An Inf input under overflow = error (a propagating MX format) names its index.
    QuantizeCall c;
    c.f = mls::parse_format("mxfp8-e4m3:ovf_error");
    c.shape = {8};
    c.gcap = 1;
    c.x[3] = 0xff800000u;
    expect_error(c(), MLS_ERR_INPUT, "x[3] is -Inf");
  }
}

TEST(FastBackendErrors, RoundRejectsBadCastsNamingTheField) {
  mls_cast_v2 cast{};
  cast.element = mls::conformance::abi_minifloat(named_grid("fp4_e2m1"));
  cast.rounding = {MLS_RNE, 8};
  cast.scale_mant = 1;
  const uint32_t x[3] = {0x3f800000u, 0x7fc00000u, 0x40e00000u};  // 1, NaN, 7
  const uint32_t ok[1] = {0x40e00000u};
  uint32_t out[3];
  EXPECT_EQ(fast()->round(&cast, ok, 1, nullptr, 0, out, 1), MLS_OK) << fast()->last_error();
  EXPECT_EQ(out[0], 7u);  // saturated to 6
  expect_error(fast()->round(&cast, x, 3, nullptr, 0, out, 3), MLS_ERR_INPUT, "x[1]: the input is NaN");
  expect_error(fast()->round(&cast, ok, 1, nullptr, 0, out, 0), MLS_ERR_BUFFER, "codes_out");
  expect_error(fast()->round(nullptr, ok, 1, nullptr, 0, out, 1), MLS_ERR_INPUT, "cast is NULL");
  mls_cast_v2 c = cast;
  c.overflow = MLS_OVERFLOW_ERROR;
  expect_error(fast()->round(&c, ok, 1, nullptr, 0, out, 1), MLS_ERR_INPUT, "x[0]: magnitude above");
  c = cast;
  c.overflow = MLS_OVERFLOW_NAN;
  expect_error(fast()->round(&c, ok, 1, nullptr, 0, out, 1), MLS_ERR_INPUT, "cast.overflow = nan needs");
  c = cast;
  c.scale_mant = 0;
  expect_error(fast()->round(&c, ok, 1, nullptr, 0, out, 1), MLS_ERR_INPUT, "cast.scale_mant = 0");
  c = cast;
  c.rounding = {MLS_SR, 4};
  expect_error(fast()->round(&c, ok, 1, nullptr, 0, out, 1), MLS_ERR_INPUT, "rand has 0 words");
  c = cast;
  c.element.man_bits = 30;
  expect_error(fast()->round(&c, ok, 1, nullptr, 0, out, 1), MLS_ERR_INPUT, "cast.element.man_bits = 30");
  c = cast;
  c.signed_zero = 2;
  expect_error(fast()->round(&c, ok, 1, nullptr, 0, out, 1), MLS_ERR_INPUT, "cast.signed_zero = 2");
  // A group-scale grid is a cast's target too (E8M0: 3.10); one valid in neither role names both rules.
  c = cast;
  c.element = mls::conformance::abi_minifloat(named_grid("e8m0"));
  const uint32_t e8[4] = {0x3fc00000u, 0x40400000u, 0x00000000u, 0x80000000u};  // 1.5, 3, +0, -0
  ASSERT_EQ(fast()->round(&c, e8, 4, nullptr, 0, out, 4), MLS_OK) << fast()->last_error();
  EXPECT_EQ(out[0], 128u);  // ties to the even code: 2
  EXPECT_EQ(out[1], 128u);  // 2, not 4 (code 129)
  EXPECT_EQ(out[2], 0u);    // 2^-127, the smallest value (3.5)
  const uint32_t neg[2] = {0x3f800000u, 0xbf800000u};
  expect_error(fast()->round(&c, neg, 2, nullptr, 0, out, 2), MLS_ERR_INPUT,
               "x[1]: a negative value cannot be rounded to the unsigned format g8m0b127n");
  const uint32_t minf[1] = {0xff800000u};
  expect_error(fast()->round(&c, minf, 1, nullptr, 0, out, 1), MLS_ERR_INPUT, "x[0]: the input is -Inf");
  c.element.exp_bits = 0;
  c.element.specials = MLS_SPECIALS_NONE;
  expect_error(fast()->round(&c, ok, 1, nullptr, 0, out, 1), MLS_ERR_INPUT,
               "cast.element is neither an element format (cast.element.man_bits = 0 with exp_bits = 0");
  expect_error(fast()->round(&c, ok, 1, nullptr, 0, out, 1), MLS_ERR_INPUT,
               "nor a group-scale format (cast.element.exp_bits = 0 is outside 1..8)");
}

TEST(FastBackendErrors, DequantizeRejectsInvalidTensors) {
  Rng g(1);
  const MlsTensor good = random_tensor(g, mls::parse_format("e2m1z.g4m1"), {1, 2, 2, 2}, false);
  std::vector<uint32_t> y(8);
  auto call = [&](const MlsTensor& t, uint64_t cap) {
    const AbiTensor a(t);
    return fast()->dequantize(&a.t, y.data(), cap);
  };
  EXPECT_EQ(call(good, 8), MLS_OK) << fast()->last_error();
  expect_error(call(good, 7), MLS_ERR_BUFFER, "y_out");
  expect_error(fast()->dequantize(nullptr, y.data(), 8), MLS_ERR_INPUT, "tensor is NULL");
  {
    MlsTensor t = good;
    t.elements[3] = 0x1;  // exponent field 0, mantissa 1: not a code of a zero_only format
    expect_error(call(t, 8), MLS_ERR_INPUT, "tensor.elements[3] = 1 is not a valid code of e2m1z");
  }
  {
    MlsTensor t = good;
    t.elements[7] = 16;  // beyond 4 bits
    expect_error(call(t, 8), MLS_ERR_INPUT, "tensor.elements[7]");
  }
  {
    MlsTensor t = good;
    t.group_scales[1] = 32;
    expect_error(call(t, 8), MLS_ERR_INPUT, "tensor.group_scales[1] = 32");
  }
  for (uint32_t ts : {0u, 0x80000000u, 0xbf800000u, 0x7f800000u, 0x7fc00000u}) {
    MlsTensor t = good;
    t.tensor_scale = ts;
    expect_error(call(t, 8), MLS_ERR_INPUT, "tensor.tensor_scale " + hex(ts));
  }
  {
    const AbiTensor a(good);
    mls_tensor_v2 c = a.t;
    c.element_count = 7;
    expect_error(fast()->dequantize(&c, y.data(), 8), MLS_ERR_INPUT, "tensor.elements has 7 codes");
    c = a.t;
    c.group_count = 3;
    expect_error(fast()->dequantize(&c, y.data(), 8), MLS_ERR_INPUT, "tensor.group_scales has 3 codes");
  }
  {
    // A signed group-scale grid (NVFP4's E4M3 byte): the sign must be 0 (2.3); Inf
    // is no scale; E5M2 elements may be NaN or Inf (4.7.1).
    MlsTensor t = random_tensor(g, mls::parse_format("nvfp4"), {2, 16}, false);
    t.group_scales[1] = 0x80 | 0x38;
    expect_error(call(t, 32), MLS_ERR_INPUT, "tensor.group_scales[1] = 184 is negative");
    MlsTensor u = random_tensor(g, mls::parse_format("fp8_e5m2.fp8_e5m2/blk16"), {2, 16}, false);
    u.group_scales[0] = 0x7c;  // +Inf
    expect_error(call(u, 32), MLS_ERR_INPUT, "tensor.group_scales[0] = 124 is not a valid code");
  }
}

TEST(FastBackendErrors, ConvAndGemmRejectBadGeometryAndProfiles) {
  Rng g(2);
  const Format f = mls::parse_format("mls-e2m1");
  const MlsTensor X = random_tensor(g, f, {1, 4, 5, 5}, false), Wt = random_tensor(g, f, {2, 2, 3, 3}, false);
  const AbiTensor ax(X), bw(Wt);
  const mls_tensor_v2 &a = ax.t, &b = bw.t;
  std::vector<uint32_t> y(1024);
  mls_conv2d_v2 p{MLS_PASS_FWD, {1, 1}, {0, 0}, {1, 1}, 2};
  EXPECT_EQ(fast()->conv2d(&p, &a, &b, nullptr, 0, nullptr, y.data(), y.size()), MLS_OK) << fast()->last_error();
  EXPECT_EQ(fast()->conv2d(&p, &a, &b, "exact", 0, nullptr, y.data(), y.size()), MLS_OK);
  expect_error(fast()->conv2d(&p, &a, &b, nullptr, 0, nullptr, y.data(), 10), MLS_ERR_BUFFER, "y_out");
  const char* acc =
      R"({"profile":"accumulator","frac_bits":8,"width":24,"alignment":"rtz","overflow":"wrap","inter_group":"exact","final_rounding":"rne"})";
  expect_error(fast()->conv2d(&p, &a, &b, acc, 0, nullptr, y.data(), y.size()), MLS_ERR_UNSUPPORTED, "accumulator");
  expect_error(fast()->conv2d(&p, &a, &b, "{nope", 0, nullptr, y.data(), y.size()), MLS_ERR_INPUT,
               "arith is not valid JSON");
  expect_error(fast()->conv2d(&p, &a, &b, R"({"profile":"exact","width":3})", 0, nullptr, y.data(), y.size()),
               MLS_ERR_INPUT, "arith.width");
  mls_conv2d_v2 q = p;
  q.groups = 3;
  expect_error(fast()->conv2d(&q, &a, &b, nullptr, 0, nullptr, y.data(), y.size()), MLS_ERR_INPUT,
               "not divisible by groups = 3");
  q = p;
  q.stride[1] = 0;
  expect_error(fast()->conv2d(&q, &a, &b, nullptr, 0, nullptr, y.data(), y.size()), MLS_ERR_INPUT, "stride[1] = 0");
  q = p;
  q.dilation[0] = 3;
  expect_error(fast()->conv2d(&q, &a, &b, nullptr, 0, nullptr, y.data(), y.size()), MLS_ERR_INPUT, "no output height");
  q = p;
  q.pass = MLS_PASS_BWD_DATA;
  expect_error(fast()->conv2d(&q, &a, &b, nullptr, 0, nullptr, y.data(), y.size()), MLS_ERR_INPUT,
               "out_shape is required");
  const int64_t wrong[4] = {1, 2, 3, 4};
  expect_error(fast()->conv2d(&p, &a, &b, nullptr, 4, wrong, y.data(), y.size()), MLS_ERR_INPUT,
               "does not match the forward output shape");
  q = p;
  q.pass = MLS_PASS_BWD_WEIGHT;
  const int64_t wshape[4] = {2, 2, 3, 3};
  expect_error(fast()->conv2d(&q, &a, &b, nullptr, 4, wshape, y.data(), y.size()), MLS_ERR_INPUT,
               "b.shape[0] = 2 (dY N)");
  const MlsTensor v = random_tensor(g, f, {5}, false);
  const AbiTensor cv(v);
  expect_error(fast()->conv2d(&p, &cv.t, &b, nullptr, 0, nullptr, y.data(), y.size()), MLS_ERR_INPUT,
               "a.shape has rank 1");
  const MlsTensor A = random_tensor(g, f, {3, 4}, false), B = random_tensor(g, f, {5, 2}, false);
  const AbiTensor ca(A), cb(B);
  expect_error(fast()->gemm(&ca.t, &cb.t, nullptr, y.data(), y.size()), MLS_ERR_INPUT, "b.shape[0] = 5 (K)");
  expect_error(fast()->gemm(&ca.t, &a, nullptr, y.data(), y.size()), MLS_ERR_INPUT, "b.shape has rank 4");
}

TEST(FastBackendErrors, CapabilityQueryAndGroupCount) {
  const AbiFormat af(mls::parse_format("mls-e2m4"), Shape{1, 1, 2, 2});
  const mls_format_v2& cf = af.f;
  const mls_rounding_v2 sr{MLS_SR, 13};
  for (int32_t op = MLS_OP_QUANTIZE; op <= MLS_OP_ROUND; ++op)
    EXPECT_EQ(fast()->supports(op, &cf, &sr, MLS_QARITH_EXACT, nullptr), MLS_OK) << op << ": " << fast()->last_error();
  EXPECT_EQ(fast()->supports(MLS_OP_QUANTIZE, nullptr, nullptr, MLS_QARITH_EXACT, nullptr), MLS_OK);
  expect_error(fast()->supports(99, &cf, &sr, MLS_QARITH_EXACT, nullptr), MLS_ERR_UNSUPPORTED, "op 99");
  expect_error(fast()->supports(MLS_OP_GEMM, &cf, nullptr, MLS_QARITH_EXACT, R"({"profile":"accumulator"})"),
               MLS_ERR_UNSUPPORTED, "accumulator");
  mls_format_v2 badf = cf;
  badf.scale.exp_bits = 9;
  expect_error(fast()->supports(MLS_OP_QUANTIZE, &badf, nullptr, MLS_QARITH_EXACT, nullptr), MLS_ERR_INPUT,
               "group_scale.exp_bits = 9");
  const mls_rounding_v2 badr{MLS_SR, 0};
  expect_error(fast()->supports(MLS_OP_QUANTIZE, &cf, &badr, MLS_QARITH_EXACT, nullptr), MLS_ERR_INPUT,
               "rounding.bits = 0");
  // Every profile of the golden model's table is computed where it applies, and
  // supports() agrees with the golden model on where that is.
  for (const auto& p : mls::named_profiles()) {
    const Shape s{2, 32};
    const AbiFormat pf(p.format, s);
    for (auto a : mls::enum_values<mls::QuantArith>()) {
      mls::QuantizeInput probe;
      probe.format = p.format;
      probe.arith = a;
      probe.shape = s;
      probe.x.assign(64, 0x3f800000u);
      bool golden_ok = true;
      try {
        mls::quantize_steps(probe);
      } catch (const mls::Error&) {
        golden_ok = false;
      }
      EXPECT_EQ(fast()->supports(MLS_OP_QUANTIZE, &pf.f, nullptr, mls::enum_code(a), nullptr),
                golden_ok ? MLS_OK : MLS_ERR_INPUT)
          << p.name << " " << mls::to_string(a) << ": " << fast()->last_error();
    }
  }
  expect_error(fast()->supports(MLS_OP_QUANTIZE, &cf, nullptr, 99, nullptr), MLS_ERR_UNSUPPORTED, "qarith = 99");
  Rng g(9);
  for (int i = 0; i < 200; ++i) {
    Format f = i % 2 ? random_format(g) : random_family_format(g);
    const Shape s = random_shape(g, 500);
    if (f.block_size == 0) f.group_shape = random_group_shape(g, s);
    const AbiFormat c(f, s);
    uint64_t n = 0;
    ASSERT_EQ(fast()->group_count(&c.f, static_cast<int32_t>(s.size()), s.data(), &n), MLS_OK) << fast()->last_error();
    EXPECT_EQ(n, static_cast<uint64_t>(mls::GroupLayout(f, s).group_count)) << f.short_name() << " " << shape_text(s);
    EXPECT_EQ(fast()->supports(MLS_OP_DEQUANTIZE, &c.f, nullptr, MLS_QARITH_EXACT, nullptr), MLS_OK)
        << f.short_name() << ": " << fast()->last_error();
  }
}

// ---- seeded bugs ------------------------------------------------------------------

TEST(FastBackendMutants, TheBuiltVariantsAreExactlyTheCatalogue) {
  // CMake's list (parsed from mutants.def with a regex) and the C++ view of
  // the same file name the same variants, in the same order.
  std::vector<std::string> names;
  for (const auto& e : catalogue()) names.push_back(e.name);
  EXPECT_EQ(built_variants(), names);
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size()) << "a name appears twice";
  for (const auto& e : catalogue()) {
    EXPECT_FALSE(e.ops.empty()) << e.name;
    for (const auto& op : e.ops) EXPECT_TRUE(op == "quantize" || op == "dequantize" || op == "conv2d" || op == "gemm") << e.name << ": " << op;
  }
}

TEST(FastBackendMutants, ReadmeTableIsTheCatalogue) {
  // conformance/backends/fast/README.md, section "Seeded-bug variants": one
  // row per catalogue entry, in its order, with its departure and operations.
  std::ifstream in(std::string(MLS_SOURCE_DIR) + "/conformance/backends/fast/README.md");
  ASSERT_TRUE(in) << "cannot read the README";
  std::vector<std::vector<std::string>> rows;
  bool section = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## ", 0) == 0) section = line == "## Seeded-bug variants";
    if (!section || line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream s(line.substr(1));
    for (std::string cell; std::getline(s, cell, '|');) {
      while (!cell.empty() && cell.front() == ' ') cell.erase(cell.begin());
      while (!cell.empty() && cell.back() == ' ') cell.pop_back();
      cells.push_back(cell);
    }
    rows.push_back(cells);
  }
  ASSERT_EQ(rows.size(), catalogue().size()) << "the README table and mutants.def list different variants";
  for (size_t i = 0; i < rows.size(); ++i) {
    const CatalogueEntry& e = catalogue()[i];
    ASSERT_GE(rows[i].size(), 4u) << "row " << i;
    EXPECT_EQ(rows[i][0], "`" + e.name + "`");
    EXPECT_EQ(rows[i][1], e.departure) << e.name;
    EXPECT_EQ(split_list(rows[i][2]), e.ops) << e.name;
    EXPECT_EQ(rows[i][3], "`" + e.cause_id + "`") << e.name;
  }
}

TEST(FastBackendMutants, EverySeededBugChangesResultsOfItsOperationOnly) {
  // Which operation each variant breaks: the catalogue's `operations`.
  const std::vector<std::string> names = built_variants();
  ASSERT_EQ(names.size(), catalogue().size());
  for (const CatalogueEntry& e : catalogue()) {
    SCOPED_TRACE(e.name);
    const Lib& l = load(std::string(MLS_FAST_LIB_DIR) + "/libmls_fast_mutant_" + e.name + ".so");
    ASSERT_NE(l.api, nullptr) << l.error;
    EXPECT_EQ(l.mutant, e.name);
    EXPECT_STREQ(l.api->name(), "mls-fast 0.2 (seeded-bug variant)");
    const Mismatches m = run_battery(l.api, false);
    RecordProperty(e.name, std::to_string(m.quantize) + "/" + std::to_string(m.round) + "/" +
                               std::to_string(m.dequantize) + "/" + std::to_string(m.conv));
    const bool q = std::count(e.ops.begin(), e.ops.end(), "quantize") > 0;
    const bool d = std::count(e.ops.begin(), e.ops.end(), "dequantize") > 0;
    const bool c = std::count(e.ops.begin(), e.ops.end(), "conv2d") > 0 || std::count(e.ops.begin(), e.ops.end(), "gemm") > 0;
    EXPECT_EQ(m.quantize > 0, q) << m.quantize << " quantize cases changed";
    EXPECT_EQ(m.dequantize > 0, d) << m.dequantize << " dequantize cases changed";
    EXPECT_EQ(m.conv > 0, c) << m.conv << " conv/gemm cases changed";
    EXPECT_EQ(m.round, 0) << "the round entry changed (no variant seeds a bug there)";
  }
}
