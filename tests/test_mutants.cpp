// Proof that the checks check: every seeded-bug variant of mls-fast
// (conformance/backends/fast/mutant.hpp) is caught by a random campaign within
// a bounded number of cases, and the diagnosis names the right cause.
#include <gtest/gtest.h>

#include <sstream>

#include "mls/conformance/campaign.hpp"

using namespace mls::conformance;

namespace {

struct Expect {
  const char* mutant;
  const char* cause_id;
  std::vector<std::string> ops;
};

const std::vector<Expect> kCatalogue = {
    {"tie_away", "tie_rule", {"quantize"}},
    {"rna_even", "tie_rule", {"quantize"}},
    {"truncate", "truncation", {"quantize"}},
    {"fp32_reciprocal", "fp32_reciprocal", {"quantize"}},
    {"sr_off_by_one", "sr_threshold", {"quantize"}},
    {"sr_low_bits", "sr_bits", {"quantize"}},
    {"flush_subnormals", "flush_subnormals", {"quantize"}},
    {"gscale_floor", "scale_floor", {"quantize"}},
    {"gscale_nearest", "scale_nearest", {"quantize"}},
    {"tscale_nearest", "tensor_scale_nearest", {"quantize"}},
    {"zero_sign_lost", "signed_zero", {"quantize"}},
    {"amax_signed", "amax_signed", {"quantize"}},
    {"dequant_rtz", "truncation", {"dequantize"}},
    {"acc_wrap", "accumulator_overflow", {"conv2d", "gemm"}},
    {"fp32_sum", "summation_order", {"conv2d", "gemm"}},
};

constexpr int64_t kCaseBudget = 300;  // cases per op within which each bug must be caught

}  // namespace

class MutantCatalogue : public ::testing::TestWithParam<Expect> {};

TEST_P(MutantCatalogue, CaughtAndDiagnosed) {
  const Expect& e = GetParam();
  const std::string lib = std::string(MLS_FAST_LIB_DIR) + "/libmls_fast_mutant_" + e.mutant + ".so";
  for (uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("mutant " + std::string(e.mutant) + " seed " + std::to_string(seed));
    auto b = make_library_backend(lib);
    CampaignOptions o;
    o.ops = e.ops;
    o.cases = kCaseBudget;
    o.seed = seed;
    o.save_dir = "";
    std::ostringstream log;
    const CampaignReport rep = run_random_campaign(*b, o, {}, log);
    EXPECT_EQ(rep.exit_code(), 1) << log.str();
    bool caught = false;
    for (const auto& [op, t] : rep.per_op) {
      EXPECT_EQ(t.backend_failures, 0) << op;
      for (const auto& f : t.failures) {
        caught = true;
        EXPECT_EQ(f.value("cause_id", ""), e.cause_id) << op << ": " << f.dump();
        EXPECT_LT(f.value("case_index", int64_t(kCaseBudget)), kCaseBudget);
      }
    }
    EXPECT_TRUE(caught) << "not caught within " << kCaseBudget << " cases per op\n" << log.str();
  }
}

INSTANTIATE_TEST_SUITE_P(SeededBugs, MutantCatalogue, ::testing::ValuesIn(kCatalogue),
                         [](const ::testing::TestParamInfo<Expect>& i) { return std::string(i.param.mutant); });

TEST(MutantCatalogue, TheUnmutatedBackendPassesTheSameCampaigns) {
  auto b = make_library_backend(MLS_FAST_BACKEND_LIB);
  CampaignOptions o;
  o.cases = kCaseBudget;
  o.seed = 1;
  o.save_dir = "";
  std::ostringstream log;
  const CampaignReport rep = run_random_campaign(*b, o, {}, log);
  EXPECT_EQ(rep.exit_code(), 0) << log.str();
  for (const auto& [op, t] : rep.per_op) EXPECT_EQ(t.passed, kCaseBudget) << op;
}
