// The hostile-backend gauntlet (spec/10-conformance.md 10.5): a protocol-v1
// backend that answers out of order, repeats replies, sends partial lines,
// floods its stdout or stderr, writes to stderr only, exits between
// requests, answers with huge arrays or sleeps past the timeout on every
// second request. Each misbehaviour is a backend failure with a message that
// says which; the runner restarts the backend and goes on, or stops after
// five consecutive failures; and every case judged before stays in the report.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <sstream>

#include "mls/conformance/campaign.hpp"
#include "mls/conformance/reply.hpp"
#include "mls/error.hpp"

using namespace mls;
using namespace mls::conformance;

namespace {

const std::string kHostile = std::string(MLS_SOURCE_DIR) + "/tests/fixtures/hostile_backend.py";
const std::string kMls = std::string(MLS_BINARY_DIR) + "/tools/mls";

struct HostileRun {
  CampaignReport rep;
  std::vector<CaseResult> seen;  // what the sink got, in order
  std::string log;
  double seconds = 0;
};

HostileRun campaign(const std::string& mode, int64_t cases, int timeout_ms) {
  const auto dir = std::filesystem::temp_directory_path() / ("mls-hostile-" + mode + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string counter = (dir / "count").string();
  std::filesystem::remove(counter);
  auto b = make_process_backend("/usr/bin/python3 " + kHostile + " " + mode + " " + kMls + " " + counter, timeout_ms);
  CampaignOptions o;
  o.ops = {"quantize"};
  o.cases = cases;
  o.seed = 7;
  o.save_dir = "";
  HostileRun r;
  std::ostringstream log;
  const auto t0 = std::chrono::steady_clock::now();
  r.rep = run_random_campaign(*b, o, [&](const std::string&, const Case&, const CaseResult& c) { r.seen.push_back(c); }, log);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.log = log.str();
  std::filesystem::remove_all(dir);
  return r;
}

int count(const HostileRun& r, Status s) {
  int n = 0;
  for (const auto& c : r.seen) n += c.status == s;
  return n;
}

// Misbehaving on every second request of each process: failures and passes
// alternate, the campaign runs to the end, nothing judged is lost.
void expect_alternating(const HostileRun& r, int64_t cases, const std::string& message_part) {
  SCOPED_TRACE(r.log);
  const Tally& t = r.rep.per_op.at("quantize");
  EXPECT_FALSE(r.rep.aborted) << r.rep.abort_reason;
  EXPECT_EQ(r.rep.exit_code(), 2);  // a backend failure never reads as a pass or a mere mismatch
  EXPECT_EQ(static_cast<int64_t>(r.seen.size()), cases);
  EXPECT_EQ(t.passed + t.backend_failures, cases);
  EXPECT_GE(t.passed, cases / 2 - 1);
  EXPECT_GE(t.backend_failures, 1);
  EXPECT_EQ(t.mismatched, 0);
  EXPECT_EQ(count(r, Status::failure), t.backend_failures);
  for (const auto& c : r.seen)
    if (c.status == Status::failure) {
      EXPECT_NE(c.message.find(message_part), std::string::npos) << c.message;
      EXPECT_EQ(printable(c.message, 100000), c.message) << "a message must be printable ASCII for the reports";
    }
  EXPECT_NO_THROW((void)r.rep.to_json().dump());
  EXPECT_NO_THROW((void)r.rep.junit_xml());
}

// Misbehaving on every request from the third on: two passes, then five
// consecutive failures abort the campaign (10.5), the two passes kept.
void expect_abort_after_two(const HostileRun& r, const std::string& message_part) {
  SCOPED_TRACE(r.log);
  const Tally& t = r.rep.per_op.at("quantize");
  EXPECT_TRUE(r.rep.aborted);
  EXPECT_NE(r.rep.abort_reason.find("5 consecutive backend failures"), std::string::npos) << r.rep.abort_reason;
  EXPECT_NE(r.rep.abort_reason.find(message_part), std::string::npos) << r.rep.abort_reason;
  EXPECT_EQ(r.rep.exit_code(), 2);
  EXPECT_EQ(t.passed, 2);
  EXPECT_EQ(t.backend_failures, 5);
  ASSERT_EQ(r.seen.size(), 7u);
  EXPECT_TRUE(r.seen[0].passed());
  EXPECT_TRUE(r.seen[1].passed());
  for (size_t i = 2; i < r.seen.size(); ++i) EXPECT_NE(r.seen[i].message.find(message_part), std::string::npos) << r.seen[i].message;
  EXPECT_EQ(r.rep.to_json()["result"], "backend_failure");
}

}  // namespace

TEST(HostileBackend, RepeatedRepliesPutTheStreamOutOfStep) {
  expect_alternating(campaign("duplicate", 6, 5000), 6, "repeated");  // seen before the next request is sent, or as its reply
}

TEST(HostileBackend, PartialLineThenHangIsKilledAtTheTimeout) {
  const HostileRun r = campaign("partial", 6, 1500);
  expect_alternating(r, 6, "partial line of");
  EXPECT_LT(r.seconds, 60);
}

TEST(HostileBackend, StdoutFloodWithoutNewlineIsCutAt64MiB) {
  expect_alternating(campaign("flood", 4, 20000), 4, "longer than 64 MiB");
}

TEST(HostileBackend, ExitBetweenRequestsIsRestarted) {
  expect_alternating(campaign("exitbetween", 6, 5000), 6, "closed its stdout (exited with status 0)");
}

TEST(HostileBackend, SleepingPastTheTimeoutOnEverySecondRequest) {
  const HostileRun r = campaign("slowsecond", 6, 1500);
  expect_alternating(r, 6, "no reply within 1500 ms");
  EXPECT_LT(r.seconds, 60);
}

TEST(HostileBackend, OutOfOrderRepliesAreNamed) {
  expect_abort_after_two(campaign("outoforder", 20, 5000), "out of order");
}

TEST(HostileBackend, AnswersOnStderrOnlyTimeOutAndTheMessageQuotesStderr) {
  const HostileRun r = campaign("stderronly", 20, 1500);
  expect_abort_after_two(r, "no reply within 1500 ms");
  for (size_t i = 2; i < r.seen.size(); ++i)
    EXPECT_NE(r.seen[i].message.find("the backend's stderr ends: {\"elements\""), std::string::npos) << r.seen[i].message;
}

TEST(HostileBackend, HugeArraysAreMalformedAnswersNotMismatches) {
  expect_abort_after_two(campaign("huge", 20, 20000), "wrong number");
}

TEST(HostileBackend, StderrFloodDoesNotBlockTheBackend) {
  const HostileRun r = campaign("stderrflood", 4, 20000);
  SCOPED_TRACE(r.log);
  EXPECT_EQ(r.rep.exit_code(), 0);
  EXPECT_EQ(r.rep.per_op.at("quantize").passed, 4);
}

TEST(HostileReplies, MessagesNameWhatIsWrongAndStayPrintable) {
  EXPECT_NE(parse_reply_line("{\"id\":3}", 4).message.find("repeated or late reply"), std::string::npos);
  EXPECT_NE(parse_reply_line("{\"id\":5}", 4).message.find("out of order"), std::string::npos);
  EXPECT_NE(parse_reply_line("{\"id\":4.0}", 4).message.find("not a request id"), std::string::npos);
  EXPECT_NE(parse_reply_line("{\"x\":1}", 4).message.find("no \"id\""), std::string::npos);
  EXPECT_NE(parse_reply_line("[1,2]", 4).message.find("not a JSON object"), std::string::npos);
  const ReplyLine bad = parse_reply_line("\xff\xfe not json \x01", 4);
  EXPECT_EQ(bad.status, Status::failure);
  EXPECT_NE(bad.message.find("\\xff\\xfe not json \\x01"), std::string::npos) << bad.message;
  EXPECT_NO_THROW((void)nlohmann::json(bad.message).dump());
  EXPECT_EQ(parse_reply_line("{\"id\":4,\"unsupported\":\"sr\"}", 4).status, Status::unsupported);
  EXPECT_EQ(parse_reply_line("{\"id\":4,\"error\":\"x[2] is NaN\"}", 4).status, Status::rejected);
  const ReplyLine ok = parse_reply_line("{\"id\":4,\"tensor_scale\":1,\"group_scales\":[2],\"elements\":[3,4]}", 4);
  ASSERT_EQ(ok.status, Status::ok);
  const auto q = read_quantize_reply(ok.body);
  ASSERT_EQ(q.status, Status::ok);
  EXPECT_EQ(q.value.elements, (std::vector<uint32_t>{3, 4}));
  EXPECT_NE(read_quantize_reply(nlohmann::json::parse("{\"tensor_scale\":1,\"group_scales\":[-1],\"elements\":[]}")).message.find("group_scales[0]"),
            std::string::npos);
  EXPECT_NE(read_tensor_reply(nlohmann::json::parse("{\"y\":[1],\"shape\":[1.5]}")).message.find("shape[0]"), std::string::npos);
}
