// mls-rtl under the conformance runner: the RTL passes random campaigns, and
// every seeded RTL bug (README.md, "Mutants") is caught within a bounded
// number of cases with the right diagnosis (cause id of the judge,
// conformance/runner/include/mls/conformance/judge.hpp).
#include <gtest/gtest.h>

#include <sstream>

#include "mls/conformance/campaign.hpp"

using namespace mls::conformance;

namespace {

struct Expect {
  const char* mutant;
  const char* cause_id;
  const char* op;
  std::vector<std::string> modes;
  const char* format = "mls-e2m1";
};

const std::vector<Expect> kCatalogue = {
    {"tie", "tie_rule", "quantize", {"rne"}},
    {"sr_carry", "sr_threshold", "quantize", {"sr"}},
    {"sr_lowbits", "sr_bits", "quantize", {"sr"}},
    {"acc_narrow", "accumulator_overflow", "gemm", {}},
    {"acc_narrow", "accumulator_overflow", "conv2d", {}},  // the same unit under the conv lowering
    {"mx_nan", "overflow_nan", "quantize", {"rne"}, "mxfp8-e4m3"},  // the MX E4M3 quantizer (rne: under the directed modes
                                                                    // the bug is no policy of 3.5)
};

// Test names and failure messages show the mutant, not the struct's bytes.
void PrintTo(const Expect& e, std::ostream* os) { *os << e.mutant << " (" << e.op << ")"; }

constexpr int64_t kCaseBudget = 200;  // cases within which each bug must be caught

CampaignReport campaign(const std::string& lib, const std::vector<std::string>& ops,
                        const std::vector<std::string>& modes, const std::string& format, uint64_t seed,
                        int64_t cases, std::ostringstream& log) {
  auto b = make_library_backend(lib);
  CampaignOptions o;
  o.ops = ops;
  o.formats = {format};
  o.modes = modes;
  o.cases = cases;
  o.seed = seed;
  o.save_dir = "";
  return run_random_campaign(*b, o, {}, log);
}

}  // namespace

class RtlMutant : public ::testing::TestWithParam<Expect> {};

TEST_P(RtlMutant, CaughtAndDiagnosed) {
  const Expect& e = GetParam();
  const std::string lib = std::string(MLS_RTL_LIB_DIR) + "/libmls_rtl_mutant_" + e.mutant + ".so";
  for (uint64_t seed : {1u, 2u}) {
    SCOPED_TRACE("mutant " + std::string(e.mutant) + " seed " + std::to_string(seed));
    std::ostringstream log;
    const CampaignReport rep = campaign(lib, {e.op}, e.modes, e.format, seed, kCaseBudget, log);
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
    EXPECT_TRUE(caught) << "not caught within " << kCaseBudget << " cases\n" << log.str();
  }
}

INSTANTIATE_TEST_SUITE_P(SeededBugs, RtlMutant, ::testing::ValuesIn(kCatalogue),
                         [](const ::testing::TestParamInfo<Expect>& i) {
                           return std::string(i.param.mutant) + "_" + i.param.op;
                         });

// The unmutated RTL passes the same campaigns (every mode, both units, the
// three conv2d passes lowered onto the dot unit), and actually runs them: no
// case may be skipped for the named profiles it builds.
TEST(RtlBackend, PassesTheSameCampaigns) {
  for (const char* fmt : {"mls-e2m1", "mls-e2m4", "mls-e3m3"}) {
    SCOPED_TRACE(fmt);
    auto b = make_library_backend(MLS_RTL_BACKEND_LIB);
    CampaignOptions o;
    o.ops = {"quantize", "gemm", "conv2d"};
    o.formats = {fmt};
    o.cases = kCaseBudget;
    o.seed = 1;
    o.save_dir = "";
    std::ostringstream log;
    const CampaignReport rep = run_random_campaign(*b, o, {}, log);
    EXPECT_EQ(rep.exit_code(), 0) << log.str();
    for (const auto& [op, t] : rep.per_op) {
      EXPECT_EQ(t.passed, kCaseBudget) << op << "\n" << log.str();
      EXPECT_EQ(t.skipped, 0) << op;
    }
  }
}

// The host-side policies around the RTL quantizer: nearest and floor group
// scales (saturating elements), the overflow error, positive zeros.
TEST(RtlBackend, PassesCampaignsUnderEveryPolicy) {
  for (const char* fmt : {"e2m1.g4m1:nearest", "e2m1.g4m1:floor:ovf_error", "e2m4.g4m1:poszero", "e2m1.g3m0:nearest"}) {
    SCOPED_TRACE(fmt);
    auto b = make_library_backend(MLS_RTL_BACKEND_LIB);
    CampaignOptions o;
    o.ops = {"quantize"};
    o.formats = {fmt};
    o.cases = kCaseBudget;
    o.seed = 3;
    o.save_dir = "";
    std::ostringstream log;
    const CampaignReport rep = run_random_campaign(*b, o, {}, log);
    EXPECT_EQ(rep.exit_code(), 0) << log.str();
    EXPECT_EQ(rep.per_op.at("quantize").passed, kCaseBudget) << log.str();
  }
}

// Formats without an RTL model are declared unsupported (a skip, never a pass).
TEST(RtlBackend, UnbuiltFormatsAreSkipped) {
  auto b = make_library_backend(MLS_RTL_BACKEND_LIB);
  CampaignOptions o;
  o.ops = {"quantize", "dequantize"};
  o.formats = {"e4m3.g4m1"};
  o.cases = 20;
  o.seed = 1;
  o.save_dir = "";
  std::ostringstream log;
  const CampaignReport rep = run_random_campaign(*b, o, {}, log);
  EXPECT_EQ(rep.exit_code(), 0) << log.str();
  for (const auto& [op, t] : rep.per_op) {
    EXPECT_EQ(t.passed, 0) << op;
    EXPECT_EQ(t.skipped, 20) << op;
  }
}

// The OCP MX configurations of the quantizer (E4M3, E5M2, E2M3, E3M2, E2M1
// elements with an E8M0 scale, host-side OCP scale rule, no tensor scale)
// pass the runner's campaigns of the MX profiles, and most cases are judged:
// the skips are the inputs with NaN or Inf, which the RTL does not compute.
TEST(RtlBackend, PassesMxProfileCampaigns) {
  for (const char* fmt : {"mxfp8-e4m3", "mxfp8-e5m2", "mxfp6-e2m3", "mxfp6-e3m2", "mxfp4"}) {
    SCOPED_TRACE(fmt);
    auto b = make_library_backend(MLS_RTL_BACKEND_LIB);
    CampaignOptions o;
    o.ops = {"quantize"};
    o.formats = {fmt};
    o.cases = kCaseBudget;
    o.seed = 4;
    o.save_dir = "";
    std::ostringstream log;
    const CampaignReport rep = run_random_campaign(*b, o, {}, log);
    EXPECT_EQ(rep.exit_code(), 0) << log.str();
    const Tally& t = rep.per_op.at("quantize");
    EXPECT_EQ(t.mismatched, 0) << log.str();
    EXPECT_GE(t.passed, kCaseBudget * 3 / 4) << log.str();
  }
}
