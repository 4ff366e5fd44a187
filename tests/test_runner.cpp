// The conformance runner's own behaviour: backends that crash, hang, lie or
// speak the wrong protocol are backend failures (never passes); unsupported
// cases are skips; the golden model served over the protocol passes.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>

#include "mls/conformance/campaign.hpp"
#include "mls/conformance/generate.hpp"
#include "mls/error.hpp"

using namespace mls;
using namespace mls::conformance;

namespace {

const std::string kFake = std::string(MLS_SOURCE_DIR) + "/tests/fixtures/fake_backend.sh";
const std::string kMls = std::string(MLS_BINARY_DIR) + "/tools/mls";

Case small_quantize_case() {
  Case c;
  c.op = Op::quantize;
  c.q.format = parse_format("mls-e2m1");
  c.q.shape = {1, 1, 2, 2};
  c.q.x = {0x3f800000u, 0xbf400000u, 0x3e99999au, 0x00000000u};
  return c;
}

CampaignOptions quick(std::vector<std::string> ops, int64_t cases) {
  CampaignOptions o;
  o.ops = std::move(ops);
  o.cases = cases;
  o.seed = 7;
  o.save_dir = "";
  return o;
}

}  // namespace

TEST(RunnerProcess, GoldenServedOverProtocolPassesRandomCampaign) {
  auto b = make_process_backend(kMls + " serve", 20000);
  std::ostringstream log;
  const auto rep = run_random_campaign(*b, quick({"quantize", "dequantize"}, 40), {}, log);
  SCOPED_TRACE(log.str());
  EXPECT_EQ(rep.exit_code(), 0);
  EXPECT_EQ(rep.per_op.at("quantize").passed, 40);
  EXPECT_EQ(rep.per_op.at("dequantize").passed, 40);
  EXPECT_EQ(b->restarts(), 0);
}

TEST(RunnerProcess, CrashIsBackendFailureAndProcessIsRestarted) {
  auto b = make_process_backend(kFake + " crash", 5000);
  const auto r1 = run_case(*b, small_quantize_case(), TierRequirement{});
  EXPECT_EQ(r1.status, Status::failure);
  EXPECT_NE(r1.message.find("signal"), std::string::npos) << r1.message;
  EXPECT_FALSE(r1.passed());
  const auto r2 = run_case(*b, small_quantize_case(), TierRequirement{});
  EXPECT_EQ(r2.status, Status::failure);
  EXPECT_GE(b->restarts(), 1);
}

TEST(RunnerProcess, HangIsKilledAfterTheTimeout) {
  auto b = make_process_backend(kFake + " hang", 300);
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run_case(*b, small_quantize_case(), TierRequirement{});
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.status, Status::failure);
  EXPECT_NE(r.message.find("no reply within 300 ms"), std::string::npos) << r.message;
  EXPECT_LT(s, 10.0);
}

TEST(RunnerProcess, MalformedJsonReplyIsBackendFailure) {
  auto b = make_process_backend(kFake + " garbage", 5000);
  const auto r = run_case(*b, small_quantize_case(), TierRequirement{});
  EXPECT_EQ(r.status, Status::failure);
  EXPECT_NE(r.message.find("malformed reply"), std::string::npos) << r.message;
}

TEST(RunnerProcess, WrongReplyIdIsBackendFailure) {
  auto b = make_process_backend(kFake + " wrongid", 5000);
  const auto r = run_case(*b, small_quantize_case(), TierRequirement{});
  EXPECT_EQ(r.status, Status::failure);
  EXPECT_NE(r.message.find("expected id"), std::string::npos) << r.message;
}

TEST(RunnerProcess, WrongProtocolVersionFailsTheHandshake) {
  auto b = make_process_backend(kFake + " badproto", 5000);
  try {
    b->capabilities();
    FAIL() << "handshake with protocol 2 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("protocol 1"), std::string::npos) << e.what();
  }
}

TEST(RunnerProcess, WrongLengthsAreABackendFailure) {
  auto b = make_process_backend(kFake + " short", 5000);
  const auto r = run_case(*b, small_quantize_case(), TierRequirement{});
  EXPECT_EQ(r.status, Status::failure);
  EXPECT_FALSE(r.passed());
  EXPECT_NE(r.message.find("wrong number"), std::string::npos) << r.message;
}

TEST(RunnerProcess, UnsupportedCasesAreSkippedNeverPassed) {
  auto b = make_process_backend(kFake + " unsupported", 5000);
  std::ostringstream log;
  const auto rep = run_random_campaign(*b, quick({"quantize"}, 10), {}, log);
  EXPECT_EQ(rep.per_op.at("quantize").skipped, 10);
  EXPECT_EQ(rep.per_op.at("quantize").passed, 0);
}

TEST(RunnerProcess, UndeclaredOpsAreSkipped) {
  auto b = make_process_backend(kFake + " unsupported", 5000);
  std::ostringstream log;
  const auto rep = run_random_campaign(*b, quick({"gemm"}, 3), {}, log);
  EXPECT_EQ(rep.per_op.at("gemm").skipped, 3);
  EXPECT_EQ(rep.per_op.at("gemm").passed, 0);
}

TEST(RunnerProcess, RepeatedCrashesAbortTheCampaignWithBackendFailure) {
  auto b = make_process_backend(kFake + " crash", 5000);
  std::ostringstream log;
  const auto rep = run_random_campaign(*b, quick({"quantize"}, 50), {}, log);
  EXPECT_TRUE(rep.aborted);
  EXPECT_EQ(rep.exit_code(), 2);
  EXPECT_EQ(rep.per_op.at("quantize").backend_failures, 5);
}

TEST(RunnerProcess, ResultsSoFarAreKeptWhenTheBackendFails) {
  // The sink sees every case as it completes, including the failing ones.
  auto b = make_process_backend(kFake + " crash", 5000);
  std::ostringstream log;
  int seen = 0;
  const auto rep = run_random_campaign(*b, quick({"quantize"}, 50), [&](const std::string&, const Case&, const CaseResult& r) {
    ++seen;
    EXPECT_EQ(r.status, Status::failure);
  }, log);
  EXPECT_EQ(seen, 5);
}

TEST(RunnerLibrary, MissingLibraryIsAnError) {
  EXPECT_THROW(make_library_backend("/nonexistent/libnothing.so"), Error);
}

TEST(RunnerLibrary, MissingEntryPointIsNamed) {
  try {
    make_library_backend(MLS_TEST_NO_SYMBOL_LIB);
    FAIL() << "library without mls_backend_get accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing symbol mls_backend_get"), std::string::npos) << e.what();
  }
}

TEST(RunnerLibrary, DeclinedAbiVersionIsNamed) {
  try {
    make_library_backend(MLS_TEST_NULL_TABLE_LIB);
    FAIL() << "library returning NULL accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("C ABI version 2 not supported"), std::string::npos) << e.what();
  }
}

TEST(RunnerGolden, GoldenInProcessPassesEveryOp) {
  auto b = make_golden_backend();
  std::ostringstream log;
  const auto rep = run_random_campaign(*b, quick({"quantize", "dequantize", "conv2d", "gemm"}, 25), {}, log);
  SCOPED_TRACE(log.str());
  EXPECT_EQ(rep.exit_code(), 0);
  for (const auto& [op, t] : rep.per_op) {
    EXPECT_EQ(t.passed, 25) << op;
    EXPECT_EQ(t.worst_tier, Tier::exact) << op;
  }
}

TEST(RunnerCases, JsonRoundTripReproducesTheCase) {
  const GeneratorOptions o;
  for (Op op : enum_values<Op>()) {
    for (int i = 0; i < 8; ++i) {
      const Case c = generate_case(op, 3, i, o);
      const Case d = case_from_json(nlohmann::json::parse(to_json(c).dump()));
      EXPECT_EQ(to_json(d), to_json(c)) << to_string(op) << " " << i;
    }
  }
}

TEST(RunnerCases, GenerationIsDeterministic) {
  const GeneratorOptions o;
  for (Op op : {Op::round, Op::quantize, Op::conv2d})
    for (int i = 0; i < 5; ++i) EXPECT_EQ(to_json(generate_case(op, 11, i, o)), to_json(generate_case(op, 11, i, o)));
}

TEST(RunnerReports, ARowWithNoJudgedCaseShowsNoTier) {
  // Issue 11 item 10: the RTL's conv2d row (0 passed, 900 skipped) printed
  // "exact (0 ulp)". Only a row that judged a case says a tier.
  CampaignReport rep;
  rep.backend = "x";
  rep.per_op["conv2d"].skipped = 900;
  rep.per_op["gemm"].passed = 2;
  const nlohmann::json j = rep.to_json();
  EXPECT_FALSE(j["ops"]["conv2d"].contains("tier")) << j.dump();
  EXPECT_FALSE(j["ops"]["conv2d"].contains("worst_ulps")) << j.dump();
  EXPECT_EQ(j["ops"]["gemm"]["tier"], "exact");
  std::ostringstream os;
  rep.print_summary(os);
  const std::string text = os.str();
  const size_t conv_row = text.find("\nconv2d"), gemm_row = text.find("\ngemm");
  ASSERT_NE(conv_row, std::string::npos) << text;
  ASSERT_NE(gemm_row, std::string::npos) << text;
  const std::string conv_line = text.substr(conv_row + 1, text.find('\n', conv_row + 1) - conv_row - 1);
  const std::string gemm_line = text.substr(gemm_row + 1, text.find('\n', gemm_row + 1) - gemm_row - 1);
  EXPECT_EQ(conv_line.find("exact"), std::string::npos) << text;
  EXPECT_NE(gemm_line.find("exact"), std::string::npos) << text;
}

TEST(RunnerReports, JunitCountsMismatchesFailuresAndSkips) {
  CampaignReport rep;
  rep.backend = "x";
  rep.per_op["quantize"].passed = 3;
  rep.per_op["quantize"].mismatched = 1;
  rep.per_op["quantize"].failures.push_back({{"summary", "q <1>"}, {"cause", "tie & rule"}});
  rep.per_op["gemm"].skipped = 2;
  rep.per_op["conv2d"].backend_failures = 1;
  const std::string x = rep.junit_xml();
  EXPECT_NE(x.find("tests=\"7\" failures=\"1\" errors=\"1\" skipped=\"2\""), std::string::npos) << x;
  EXPECT_NE(x.find("tie &amp; rule"), std::string::npos);
  EXPECT_NE(x.find("q &lt;1&gt;"), std::string::npos);
  EXPECT_EQ(rep.exit_code(), 2);
  rep.per_op["conv2d"].backend_failures = 0;
  EXPECT_EQ(rep.exit_code(), 1);
  EXPECT_EQ(rep.to_json()["result"], "mismatch");
}
