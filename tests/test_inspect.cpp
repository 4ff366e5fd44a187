// `mls inspect` statistics (tools/inspect_stats.hpp) against values computed by
// hand on small tensors where the quantization is exact or its errors are known,
// the sweep's coverage, sr averaging checked against the sr rule applied by hand
// to Philox words, and bad input. Expected values are derived in the comments,
// not by calling the code under test.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "inspect_stats.hpp"
#include "io.hpp"
#include "mls/error.hpp"
#include "mls/philox.hpp"

using namespace mls;
using namespace mls::inspect;

namespace {

Case rne_case(const std::string& f) { return Case{parse_format(f), parse_rounding("rne")}; }

std::map<uint32_t, uint64_t> hist(std::initializer_list<std::pair<const uint32_t, uint64_t>> l) { return l; }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

// mls-e2m1 on shape [6] (one group). a = 2.25 = q_max * g_max, so S_t = RU_fp32(1) = 1.0 and
// rho = 2.25 / (1 * 1.5) = 1.5 = g_max: group code 31, S_t * S_g = 1.5. Every x below is 1.5 times
// an E2M1 value (0, 0.125, 0.25, 0.375, 0.5, 0.75, 1, 1.5), so quantization is exact.
TEST(InspectStats, ExactQuantizationHasZeroErrorAndInfiniteSqnr) {
  const std::vector<float> x = {2.25f, -1.125f, 0.1875f, 0.0f, 0.75f, -0.375f};
  const Stats s = inspect_tensor({6}, x, rne_case("mls-e2m1"), Options{});
  EXPECT_TRUE(s.exact);
  EXPECT_TRUE(std::isinf(s.sqnr_db) && s.sqnr_db > 0);
  EXPECT_EQ(s.mse, 0.0);
  EXPECT_EQ(s.max_abs_error, 0.0);
  EXPECT_EQ(s.max_rel_error, 0.0);
  EXPECT_EQ(s.mean_error, 0.0);
  EXPECT_EQ(s.frac_flushed_to_zero, 0.0);
  // 2.25 -> 1.5 = q_max (code 7); 0.1875 -> 0.125, code 1 (e = 0, f = 1: subnormal).
  EXPECT_DOUBLE_EQ(s.frac_at_qmax, 1.0 / 6);
  EXPECT_DOUBLE_EQ(s.frac_subnormal, 1.0 / 6);
  // codes: 2.25 -> 7; -1.125 -> -0.75 = 8|5 = 13; 0.1875 -> 1; 0 -> 0; 0.75 -> 0.5 = 4; -0.375 -> -0.25 = 8|2 = 10.
  EXPECT_EQ(s.element_hist, hist({{0, 1}, {1, 1}, {4, 1}, {7, 1}, {10, 1}, {13, 1}}));
  EXPECT_EQ(s.group_scale_hist, hist({{31, 1}}));
  EXPECT_EQ(s.groups, 1);
  EXPECT_DOUBLE_EQ(s.bits_per_element, 4 + 5.0 / 6 + 32.0 / 6);  // 2.11
  EXPECT_EQ(s.error_hist.samples, 5u);                            // the five x != 0
  EXPECT_EQ(s.error_hist.exact, 5u);
  EXPECT_EQ(s.seeds, 1);
  EXPECT_TRUE(s.averaging.empty());
}

// Same scale (S_t * S_g = 1.5), known roundings (rne):
//   2.25    -> 1.5 exact                                  e = 0
//   1.6875  -> v = 1.125 in (1, 1.5), t = 0.25 -> 1      q = 1.5,     e = -0.1875
//   0.09375 -> v = 0.0625, tie of 0 (code 0) and 0.125 (code 1) -> code 0: flushed, e = -0.09375
//   -0.28125 -> v = -0.1875, tie of 0.125 (code 1) and 0.25 (code 2) -> code 2: q = -0.375, e = -0.09375
TEST(InspectStats, KnownErrorsGiveHandComputedStatistics) {
  const std::vector<float> x = {2.25f, 1.6875f, 0.09375f, -0.28125f};
  Options o;
  o.bins = 4;
  const Stats s = inspect_tensor({4}, x, rne_case("mls-e2m1"), o);
  SCOPED_TRACE("format e2m1.g4m1 rne, x = 0x40100000 0x3fd80000 0x3dc00000 0xbe900000");
  // sum x^2 = 5.0625 + 2.84765625 + 0.0087890625 + 0.0791015625 = (5184 + 2916 + 9 + 81)/1024 = 8190/1024
  // sum e^2 = 0.03515625 + 0.0087890625 * 2 = 0.052734375 = 54/1024
  EXPECT_EQ(s.signal_energy, 8190.0 / 1024);
  EXPECT_EQ(s.error_energy, 54.0 / 1024);
  EXPECT_EQ(s.mse, 54.0 / 1024 / 4);
  EXPECT_FALSE(s.exact);
  EXPECT_NEAR(s.sqnr_db, 10 * std::log10(8190.0 / 54.0), 1e-12);  // 10 log10(151.67) = 21.8089 dB
  EXPECT_NEAR(s.sqnr_db, 21.8089, 1e-4);
  EXPECT_EQ(s.max_abs_error, 0.1875);
  EXPECT_EQ(s.max_rel_error, 1.0);      // the flushed 0.09375
  EXPECT_EQ(s.mean_error, -0.09375);    // -0.375 / 4
  EXPECT_EQ(s.frac_flushed_to_zero, 0.25);
  EXPECT_EQ(s.frac_at_qmax, 0.25);
  EXPECT_EQ(s.frac_subnormal, 0.0);
  EXPECT_EQ(s.element_hist, hist({{0, 1}, {6, 1}, {7, 1}, {10, 1}}));
  // error histogram over [-0.1875, 0.1875] in 4 bins of 0.09375:
  // -0.1875 -> bin 0, -0.09375 (twice) -> bin 1, 0 -> bin 2.
  EXPECT_EQ(s.error_hist.lo, -0.1875);
  EXPECT_EQ(s.error_hist.hi, 0.1875);
  EXPECT_EQ(s.error_hist.counts, (std::vector<uint64_t>{1, 2, 1, 0}));
  EXPECT_EQ(s.error_hist.exact, 1u);
  EXPECT_EQ(s.error_hist.samples, 4u);
}

// Group structure and storage cost: shape [2, 1, 3], default group shape (1, 1, 0): two groups of 3.
// Row 0 = [1.5, 0.75, 0] -> a = 1.5 is the tensor max, S_t = RU(1.5/2.25 = 2/3); row 1 is all zero:
// group code 0 (g_min), zeros exact. bits = 4 + 5 * 2/6 + 32/6.
TEST(InspectStats, GroupCountAndBitsPerElement) {
  const std::vector<float> x = {1.5f, 0.75f, 0.0f, 0.0f, -0.0f, 0.0f};
  const Stats s = inspect_tensor({2, 1, 3}, x, rne_case("mls-e2m1"), Options{});
  EXPECT_EQ(s.groups, 2);
  EXPECT_DOUBLE_EQ(s.bits_per_element, 4 + 10.0 / 6 + 32.0 / 6);
  EXPECT_EQ(s.group_scale_hist.at(0), 1u);  // the all-zero group: g_min, code 0
  EXPECT_EQ(s.element_hist.at(0), 3u);      // the three +0
  EXPECT_EQ(s.element_hist.at(8), 1u);      // -0 keeps its sign (preserve)
  // E0M3 (fixed point): every non-zero code is in the e = 0 row, so it counts as subnormal.
  const Stats f = inspect_tensor({2, 1, 3}, x, rne_case("e0m3.g4m1"), Options{});
  EXPECT_DOUBLE_EQ(f.frac_subnormal, 2.0 / 6);
  EXPECT_DOUBLE_EQ(f.bits_per_element, 4 + 10.0 / 6 + 32.0 / 6);
}

// The family at equal bits: MX has no tensor scale (no 32/n), NVFP4 has one; blocks of 32 / 16
// along the last axis; the label names the profile (an MLS format keeps its short name).
TEST(InspectStats, FamilyBitsPerElementAndLabels) {
  std::vector<float> x(64);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f * static_cast<float>(i) - 7.0f;
  const Stats mx = inspect_tensor({64}, x, rne_case("mxfp4"), Options{});
  EXPECT_EQ(mx.groups, 2);
  EXPECT_DOUBLE_EQ(mx.bits_per_element, 4 + 8.0 * 2 / 64);
  const Stats nv = inspect_tensor({64}, x, rne_case("nvfp4"), Options{});
  EXPECT_EQ(nv.groups, 4);
  EXPECT_DOUBLE_EQ(nv.bits_per_element, 4 + 8.0 * 4 / 64 + 32.0 / 64);
  const Stats mls = inspect_tensor({64}, x, rne_case("e2m1.g5m3/blk16"), Options{});
  EXPECT_DOUBLE_EQ(mls.bits_per_element, nv.bits_per_element);  // equal bits: same block, 8-bit scale, fp32 tensor scale
  EXPECT_EQ(rne_case("mxfp4").label(), "mxfp4 rne");
  EXPECT_EQ(rne_case("nvfp4").label(), "nvfp4 rne");
  EXPECT_EQ(rne_case("e2m1.g5m3/blk16").label(), "e2m1.g5m3/blk16 rne");
}

// sr8 on x = [2.25, 1.6875] (S_t * S_g = 1.5 as above): element 1 has v = 1.125, t = 0.25, T = 64;
// by 3.4 it goes away (to 1.5, q = 2.25) iff 64 + (w >> 24) >= 256, i.e. r >= 192, else q = 1.5.
// Element 0 is exact. The expected per-seed bias and averaging come from the Philox words (5.4) and
// this rule, applied here by hand.
TEST(InspectStats, StochasticRoundingSeedsAndAveragingMatchTheRuleByHand) {
  const std::vector<float> x = {2.25f, 1.6875f};
  Options o;
  o.seeds = 12;
  o.seed = 100;
  o.stream = 2;
  const Stats s = inspect_tensor({2}, x, Case{parse_format("mls-e2m1"), parse_rounding("sr8")}, o);
  ASSERT_EQ(s.seeds, 12);
  ASSERT_EQ(s.seed_mean_errors.size(), 12u);
  std::vector<double> q;
  double se2 = 0;
  for (int j = 0; j < 12; ++j) {
    const uint32_t w = random_word(100 + j, 2, 1);
    q.push_back((w >> 24) >= 192 ? 2.25 : 1.5);
    SCOPED_TRACE("seed " + std::to_string(100 + j) + " word " + hex32(w));
    EXPECT_EQ(s.seed_mean_errors[j], (q.back() - 1.6875) / 2);
    se2 += (q.back() - 1.6875) * (q.back() - 1.6875);
  }
  EXPECT_DOUBLE_EQ(s.mse, se2 / 24);  // pooled over 12 seeds x 2 elements
  // averaging at k = 1, 2, 4, 8 and the last, 12
  ASSERT_EQ(s.averaging.size(), 5u);
  const int ks[] = {1, 2, 4, 8, 12};
  for (int i = 0; i < 5; ++i) {
    const int k = ks[i];
    double m = 0;
    for (int j = 0; j < k; ++j) m += q[j];
    m /= k;
    EXPECT_EQ(s.averaging[i].k, k);
    EXPECT_NEAR(s.averaging[i].mean_error, (m - 1.6875) / 2, 1e-15);
    EXPECT_NEAR(s.averaging[i].rms_error, std::fabs(m - 1.6875) / std::sqrt(2.0), 1e-15);
  }
}

// On a larger tensor, sr is unbiased up to its 2^-8 threshold granularity: the error of the
// mean of k quantizations shrinks like 1/sqrt(k); rne's error does not average away.
TEST(InspectStats, StochasticRoundingErrorOfTheMeanShrinks) {
  std::vector<float> x(2048);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.37 * i) * (1 + (i % 7)));
  Options o;
  o.seeds = 64;
  const Stats s = inspect_tensor({2048}, x, Case{parse_format("mls-e2m1"), parse_rounding("sr8")}, o);
  ASSERT_EQ(s.averaging.size(), 7u);  // k = 1, 2, 4, ..., 64
  EXPECT_EQ(s.averaging.back().k, 64);
  // rms of the mean: expected factor 1/8 from k = 1 to 64; allow 1/4 (deterministic seeds).
  EXPECT_LT(s.averaging.back().rms_error, s.averaging.front().rms_error / 4);
  EXPECT_LT(std::fabs(s.averaging.back().mean_error), 0.1 * s.averaging.front().rms_error);
  EXPECT_GT(s.averaging.back().sqnr_db, s.averaging.front().sqnr_db + 12);  // ~3 dB per doubling
}

TEST(InspectSweep, ElementSweepIsEAtMost4TimesMAtMost7) {
  const auto els = sweep_elements();
  ASSERT_EQ(els.size(), 39u);  // 5 x 8 minus E0M0
  std::set<std::string> want;
  for (int e = 0; e <= 4; ++e)
    for (int m = 0; m <= 7; ++m)
      if (e || m) want.insert("e" + std::to_string(e) + "m" + std::to_string(m));
  EXPECT_EQ(std::set<std::string>(els.begin(), els.end()), want);
  EXPECT_EQ(els.front(), "e0m1");
  EXPECT_EQ(els.back(), "e4m7");
}

TEST(InspectSweep, CasesAreTheFullProductWithoutDuplicates) {
  SweepSpec sp;
  sp.sweep_elements = true;
  sp.group_scales = {"g4m1", "g8m0"};
  sp.modes = {"rne", "sr8"};
  const auto cases = build_cases(sp);
  ASSERT_EQ(cases.size(), 39u * 2 * 2);
  std::set<std::tuple<int, int, int, int, std::string>> got;
  for (const auto& c : cases)
    got.insert({c.format.element.exp_bits, c.format.element.man_bits, c.format.group_scale.exp_bits,
                c.format.group_scale.man_bits, rounding_name(c.rounding)});
  EXPECT_EQ(got.size(), cases.size());
  for (int e = 0; e <= 4; ++e)
    for (int m = 0; m <= 7; ++m)
      for (auto [ge, gm] : {std::pair{4, 1}, std::pair{8, 0}})
        for (const char* r : {"rne", "sr8"})
          if (e || m) {
            EXPECT_TRUE(got.count({e, m, ge, gm, r})) << "e" << e << "m" << m << " g" << ge << "m" << gm << " " << r;
          }
  for (const auto& c : cases) {
    EXPECT_TRUE(c.format.group_shape.empty());
    EXPECT_EQ(c.format.element.bias, c.format.element.exp_bits ? (1 << c.format.element.exp_bits) - 1 : 0);
  }
}

TEST(InspectSweep, GroupShapesPoliciesAndExplicitFormats) {
  SweepSpec sp;
  sp.elements = {"e2m1", "e2m4"};
  sp.group_shapes = {"default", "1x16x0x0"};
  sp.scale_policies = {"ceil", "floor"};
  sp.formats = {"mls-e3m3", "e2m1.g4m1"};  // the second duplicates a swept format
  const auto cases = build_cases(sp);
  ASSERT_EQ(cases.size(), 1u + 2 * 2 * 2);
  EXPECT_EQ(cases[0].format.short_name(), "e3m3.g4m1");
  std::set<std::string> names;
  for (const auto& c : cases) names.insert(c.format.short_name());
  for (const char* n : {"e2m1.g4m1", "e2m1.g4m1:floor", "e2m1.g4m1/1x16x0x0", "e2m1.g4m1/1x16x0x0:floor", "e2m4.g4m1",
                        "e2m4.g4m1:floor", "e2m4.g4m1/1x16x0x0", "e2m4.g4m1/1x16x0x0:floor", "e3m3.g4m1"})
    EXPECT_TRUE(names.count(n)) << n;
  // nothing given: the profile mls-e2m1 with rne
  const auto d = build_cases(SweepSpec{});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].label(), "e2m1.g4m1 rne");
}

TEST(InspectBadInput, NonFiniteIsNamedWithItsIndex) {
  std::vector<float> x(6, 1.0f);
  x[5] = std::nanf("");
  EXPECT_EQ(error_of([&] { check_tensor("t.npy", {2, 3}, x); }),
            "t.npy: element 5 (1,2) is NaN; MLS quantization needs finite input (spec 4.1)");
  x[5] = 1;
  x[3] = -INFINITY;
  const std::string e = error_of([&] { run({TensorInfo{"a.h5:/w", {2, 3}, "", "", "", x}}, {rne_case("mls-e2m1")}, Options{}); });
  EXPECT_NE(e.find("a.h5:/w: element 3 (1,0) is Inf"), std::string::npos) << e;
}

TEST(InspectBadInput, EmptyTensorUnknownDatasetAndImpossibleFormats) {
  EXPECT_NE(error_of([] { check_tensor("e.npy", {0}, {}); }).find("e.npy: empty tensor"), std::string::npos);
  const std::string data = std::string(MLS_SOURCE_DIR) + "/data/cnn_digits.h5";
  const std::string e = error_of([&] { io::read_float_tensor(data + ":/final/conv9/error"); });
  EXPECT_NE(e.find("dataset /final/conv9/error does not exist"), std::string::npos) << e;
  // A group shape of rank 2 on a rank-4 tensor, and a bias that overflows the tensor scale (4.3).
  std::vector<float> x(16, 0.5f);
  SweepSpec sp;
  sp.elements = {"e2m1"};
  sp.group_shapes = {"1x16"};
  const std::string g = error_of([&] { run({TensorInfo{"x", {1, 1, 4, 4}, "", "", "", x}}, build_cases(sp), Options{}); });
  EXPECT_NE(g.find("tensor x [1,1,4,4], format e2m1.g4m1/1x16"), std::string::npos) << g;
  EXPECT_NE(g.find("rank"), std::string::npos) << g;
  const std::string b = error_of([&] { run({TensorInfo{"x", {16}, "", "", "", x}}, {rne_case("e2m1b200.g4m1")}, Options{}); });
  EXPECT_NE(b.find("overflows fp32"), std::string::npos) << b;
  // Names that are not formats or modes.
  SweepSpec bad;
  bad.elements = {"e2m1"};
  bad.group_scales = {"g9m1"};
  EXPECT_NE(error_of([&] { build_cases(bad); }).find("e2m1.g9m1"), std::string::npos);
  SweepSpec badm;
  badm.modes = {"nearest"};
  EXPECT_NE(error_of([&] { build_cases(badm); }).find("--modes \"nearest\""), std::string::npos);
  SweepSpec badp;
  badp.elements = {"e2m1"};
  badp.scale_policies = {"up"};
  EXPECT_NE(error_of([&] { build_cases(badp); }).find("--scale-policies"), std::string::npos);
}

// The bundled real tensors: 2 phases x 2 conv layers x 4 roles, fp32, finite, with their role attribute.
TEST(InspectData, BundledCnnTensorsAreThere) {
  const std::string data = std::string(MLS_SOURCE_DIR) + "/data/cnn_digits.h5";
  ASSERT_LT(std::filesystem::file_size(data), 5u << 20);
  for (const char* phase : {"early", "final"})
    for (const char* layer : {"conv1", "conv2"})
      for (const char* role : {"activation", "weight", "error", "weight_grad"}) {
        const std::string src = data + ":/" + phase + "/" + layer + "/" + role;
        SCOPED_TRACE(src);
        const auto t = io::read_float_tensor(src);
        EXPECT_EQ(t.shape.size(), 4u);
        EXPECT_NO_THROW(check_tensor(src, t.shape, t.data));
      }
}

// The `mls inspect` verb end to end: JSON report, and exit 65 with the message for bad input.
TEST(InspectCli, JsonReportAndBadInputExitCode) {
  const std::filesystem::path dir = std::filesystem::path(MLS_BINARY_DIR) / "test-inspect-tmp";
  std::filesystem::create_directories(dir);
  const std::string npy = (dir / "x.npy").string(), json = (dir / "r.json").string();
  io::write_npy_f32(npy, {4}, {2.25f, 1.6875f, 0.09375f, -0.28125f});
  const std::string mls = std::string(MLS_BINARY_DIR) + "/tools/mls";
  const std::string cmd = mls + " inspect " + npy + " -f mls-e2m1,e2m4.g4m1 -r rne,sr8 --seeds 4 -q --json " + json + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(json);
  const auto j = nlohmann::json::parse(in);
  ASSERT_EQ(j["results"].size(), 4u);
  const auto& r0 = j["results"][0];
  EXPECT_EQ(r0["format"], "e2m1.g4m1");
  EXPECT_EQ(r0["rounding"], "rne");
  EXPECT_EQ(r0["mse"].get<double>(), 54.0 / 1024 / 4);
  EXPECT_EQ(r0["element_hist"], nlohmann::json::parse("[[0,1],[6,1],[7,1],[10,1]]"));
  EXPECT_EQ(j["results"][1]["rounding"], "sr8");
  EXPECT_EQ(j["results"][1]["sr"]["averaging"].size(), 3u);  // k = 1, 2, 4
  // SQNR is null in the JSON exactly when the quantization is exact.
  for (const auto& r : j["results"]) EXPECT_EQ(r["sqnr_db"].is_null(), r["exact"].get<bool>());
  FILE* p = popen((mls + " inspect " + std::string(MLS_SOURCE_DIR) + "/data/cnn_digits.h5:/nope 2>&1; echo rc=$?").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof buf, p)) out += buf;
  pclose(p);
  EXPECT_NE(out.find("dataset /nope does not exist"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=65"), std::string::npos) << out;
  // --flatten: the [2,4,4] tensor as [32]: one MXFP4 block of 32 (8 bits of scale over 32 elements).
  const std::string npy3 = (dir / "x3.npy").string(), json3 = (dir / "r3.json").string();
  std::vector<float> x3(32);
  for (size_t i = 0; i < x3.size(); ++i) x3[i] = static_cast<float>(i) / 8 - 2;
  io::write_npy_f32(npy3, {2, 4, 4}, x3);
  for (const bool flat : {false, true}) {
    const std::string c3 = mls + " inspect " + npy3 + (flat ? " --flatten" : "") + " -f mxfp4 -q --json " + json3 + " 2>&1";
    ASSERT_EQ(std::system(c3.c_str()), 0) << c3;
    std::ifstream in3(json3);
    const auto j3 = nlohmann::json::parse(in3);
    EXPECT_EQ(j3["results"][0]["label"], "mxfp4 rne");
    EXPECT_EQ(j3["results"][0]["groups"], flat ? 1 : 8);  // blocks along the last axis: 8 rows of 4
    EXPECT_EQ(j3["results"][0]["bits_per_element"].get<double>(), flat ? 4.25 : 6.0);
  }
  const std::string empty = (dir / "empty.npy").string();
  io::write_npy_f32(empty, {0}, {});
  p = popen((mls + " inspect " + empty + " 2>&1; echo rc=$?").c_str(), "r");
  ASSERT_NE(p, nullptr);
  out.clear();
  while (fgets(buf, sizeof buf, p)) out += buf;
  pclose(p);
  EXPECT_NE(out.find("shape[0] = 0 is not >= 1 (empty tensor"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=65"), std::string::npos) << out;
}
