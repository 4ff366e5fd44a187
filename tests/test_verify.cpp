// `mls verify` (offline conformance from a results file, spec/08-vectors.md
// 8.5) and the one-case vector files a campaign saves for a failure.
//
// The oracle here is the vector file itself: a results file that copies its
// outputs must pass, and each deliberate change (one element, one status, a
// missing group) must be reported as exactly that, at that HDF5 path.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "mls/conformance/vectors_bridge.hpp"
#include "mls/vectors/generate.hpp"
#include "mls/vectors/io.hpp"

namespace mv = mls::vectors;
using namespace mls::conformance;

namespace {

const mv::Suite& small_suite() {
  static const mv::Suite s = [] {
    mv::GenOptions o;
    o.ops = {mv::Op::round, mv::Op::quantize, mv::Op::dequantize, mv::Op::philox, mv::Op::gemm, mv::Op::conv};
    o.formats = {"mls-e2m1"};
    o.roundings = {"rne", "sr8"};
    o.ariths = {"exact"};
    return mv::generate(o);
  }();
  return s;
}

// A results suite holding exactly the vector file's outputs.
mv::Suite copy_results(const mv::Suite& vec) {
  mv::Suite res = mv::make_results(vec, "copy-of-the-vectors 1.0");
  for (auto& g : res.groups)
    for (auto& [name, arr] : g.data) arr = vec.find(g.path)->at(name);
  return res;
}

CampaignReport verify(const mv::Suite& vec, const mv::Suite& res, std::string* log_out = nullptr) {
  std::ostringstream log;
  CampaignReport rep = verify_results(vec, res, TierRequirement{mls::Tier::exact}, Limits{}, {}, log);
  if (log_out) *log_out = log.str();
  return rep;
}

int64_t cases_of(const mv::Suite& s, mv::Op op) {
  int64_t n = 0;
  for (const auto& g : s.groups)
    if (g.op == op) n += static_cast<int64_t>(g.count());
  return n;
}

mv::CaseGroup& first_group(mv::Suite& s, mv::Op op) {
  for (auto& g : s.groups)
    if (g.op == op) return g;
  throw std::runtime_error("no group of op " + mv::to_string(op));
}

}  // namespace

TEST(Verify, ACopyOfTheExpectedOutputsPassesEveryCase) {
  const mv::Suite& vec = small_suite();
  const CampaignReport rep = verify(vec, copy_results(vec));
  EXPECT_EQ(rep.exit_code(), 0);
  EXPECT_FALSE(rep.aborted);
  for (mv::Op op : {mv::Op::round, mv::Op::quantize, mv::Op::dequantize, mv::Op::philox, mv::Op::gemm, mv::Op::conv}) {
    const std::string name = op == mv::Op::conv ? "conv2d" : mv::to_string(op);
    ASSERT_TRUE(rep.per_op.count(name)) << name;
    EXPECT_EQ(rep.per_op.at(name).passed, cases_of(vec, op)) << name;
    EXPECT_EQ(rep.per_op.at(name).mismatched + rep.per_op.at(name).skipped, 0) << name;
  }
}

TEST(Verify, OneChangedElementIsOneMismatchNamedByPathCaseAndField) {
  const mv::Suite& vec = small_suite();
  mv::Suite res = copy_results(vec);
  mv::CaseGroup& g = first_group(res, mv::Op::quantize);
  mv::Array& el = g.at("outputs/elements");
  const uint64_t n = el.row_size(), k = 2, i = 1;
  ASSERT_GT(g.count(), k);
  el.ints[k * n + i] ^= 1;  // another valid code: the last mantissa bit
  std::string log;
  const CampaignReport rep = verify(vec, res, &log);
  EXPECT_EQ(rep.exit_code(), 1);
  EXPECT_EQ(rep.per_op.at("quantize").mismatched, 1);
  EXPECT_EQ(rep.per_op.at("quantize").passed, cases_of(vec, mv::Op::quantize) - 1);
  EXPECT_NE(log.find("MISMATCH " + g.path + " case 2"), std::string::npos) << log;
  EXPECT_NE(log.find("elements[1]"), std::string::npos) << log;
  ASSERT_EQ(rep.per_op.at("quantize").failures.size(), 1u);
  EXPECT_EQ(rep.per_op.at("quantize").failures[0].value("where", ""), g.path + " case 2");
}

TEST(Verify, RoundPhiloxAndDequantizeFp64AreComparedBitForBit) {
  const mv::Suite& vec = small_suite();
  for (const auto& [op, dataset, cause] : std::vector<std::tuple<mv::Op, std::string, std::string>>{
           {mv::Op::round, "outputs/code", ""}, {mv::Op::philox, "", "philox"}, {mv::Op::dequantize, "outputs/fp64", "fp64_rounding"}}) {
    mv::Suite res = copy_results(vec);
    mv::CaseGroup& g = first_group(res, op);
    const std::string ds = !dataset.empty() ? dataset : (g.has("outputs/word") ? "outputs/word" : "outputs/block");
    g.at(ds).ints[0] ^= 1;
    std::string log;
    const CampaignReport rep = verify(vec, res, &log);
    const std::string name = mv::to_string(op);
    SCOPED_TRACE(name + " " + ds);
    EXPECT_EQ(rep.exit_code(), 1);
    EXPECT_EQ(rep.per_op.at(name).mismatched, 1) << log;
    if (!cause.empty()) {
      EXPECT_EQ(rep.per_op.at(name).failures.at(0).value("cause_id", ""), cause);
    }
  }
}

TEST(Verify, UnsupportedNotRunAndMissingGroupsAreSkippedNeverPassed) {
  const mv::Suite& vec = small_suite();
  mv::Suite res = copy_results(vec);
  mv::CaseGroup& q = first_group(res, mv::Op::quantize);
  q.at("outputs/status").ints[0] = mv::kStatusUnsupported;
  q.at("outputs/status").ints[1] = mv::kStatusNotRun;
  const mv::CaseGroup& d = first_group(res, mv::Op::dequantize);
  const int64_t dropped = static_cast<int64_t>(d.count());
  const std::string dpath = d.path;
  res.groups.erase(std::find_if(res.groups.begin(), res.groups.end(), [&](const mv::CaseGroup& x) { return x.path == dpath; }));
  const CampaignReport rep = verify(vec, res);
  EXPECT_EQ(rep.exit_code(), 0);
  EXPECT_EQ(rep.per_op.at("quantize").skipped, 2);
  EXPECT_EQ(rep.per_op.at("quantize").not_run, 1);
  EXPECT_EQ(rep.per_op.at("quantize").passed, cases_of(vec, mv::Op::quantize) - 2);
  EXPECT_EQ(rep.per_op.at("dequantize").skipped, dropped);
  EXPECT_EQ(rep.per_op.at("dequantize").not_run, dropped);
  EXPECT_EQ(rep.per_op.at("dequantize").passed, cases_of(vec, mv::Op::dequantize) - dropped);
  EXPECT_EQ(rep.to_json()["ops"]["dequantize"].value("not_run", int64_t(0)), dropped) << rep.to_json().dump();
}

TEST(Verify, ErrorStatusMustMatchTheSpec) {
  mv::Suite vec = small_suite();
  // The implementation reports an error where the spec gives a result.
  {
    mv::Suite res = copy_results(vec);
    first_group(res, mv::Op::quantize).at("outputs/status").ints[0] = mv::kStatusError;
    first_group(res, mv::Op::round).at("outputs/status").ints[0] = mv::kStatusError;
    const CampaignReport rep = verify(vec, res);
    EXPECT_EQ(rep.exit_code(), 1);
    EXPECT_EQ(rep.per_op.at("quantize").failures.at(0).value("cause_id", ""), "rejected_valid");
    EXPECT_EQ(rep.per_op.at("round").failures.at(0).value("cause_id", ""), "rejected_valid");
  }
  // The spec makes a case an error: outputs are a mismatch, status 1 a pass.
  mv::CaseGroup& vr = first_group(vec, mv::Op::round);
  vr.at("outputs/status").ints[0] = mv::kStatusError;
  {
    const CampaignReport rep = verify(vec, copy_results(vec));
    EXPECT_EQ(rep.exit_code(), 0) << rep.to_json().dump();
  }
  {
    mv::Suite res = copy_results(vec);
    first_group(res, mv::Op::round).at("outputs/status").ints[0] = mv::kStatusOk;
    const CampaignReport rep = verify(vec, res);
    EXPECT_EQ(rep.exit_code(), 1);
    EXPECT_EQ(rep.per_op.at("round").failures.at(0).value("cause_id", ""), "accepted_invalid");
  }
}

TEST(Verify, AResultsFileWithNothingToCompareIsNotAPass) {
  const mv::Suite& vec = small_suite();
  mv::Suite res = copy_results(vec);
  res.groups.clear();
  const CampaignReport rep = verify(vec, res);
  EXPECT_TRUE(rep.aborted);
  EXPECT_EQ(rep.exit_code(), 2);
}

TEST(Verify, ConvOutputsAreJudgedByTier) {
  const mv::Suite& vec = small_suite();
  mv::Suite res = copy_results(vec);
  // Change one output of a conv case by one ulp (away from zero) where the
  // exact value is not an fp32 number: no longer exact, still faithful.
  bool changed = false;
  for (auto& g : res.groups) {
    if (g.op != mv::Op::conv || changed) continue;
    const mv::CaseGroup& vg = *vec.find(g.path);
    const mv::Array& y = g.at("outputs/y");
    for (uint64_t k = 0; k < g.count() && !changed; ++k) {
      if (vg.at("outputs/status").ints[k] != mv::kStatusOk) continue;
      const auto exact = mv::reduction_exact(vg, k);
      for (uint64_t i = 0; i < exact.size() && !changed; ++i) {
        const uint64_t bits = y.ints[k * y.row_size() + i];
        if ((bits & 0x7f800000u) == 0x7f800000u || (bits & 0x7fffffffu) == 0) continue;
        if (mls::Dyadic::from_float(mls::bits_float(static_cast<uint32_t>(bits))) == exact[i]) continue;
        // The neighbour on the other side of the exact value.
        const bool above = mls::Dyadic::from_float(mls::bits_float(static_cast<uint32_t>(bits))) > exact[i];
        const bool neg = bits & 0x80000000u;
        g.at("outputs/y").ints[k * y.row_size() + i] = (above != neg) ? bits - 1 : bits + 1;
        changed = true;
      }
    }
  }
  ASSERT_TRUE(changed) << "no inexact conv output in the suite";
  std::ostringstream log;
  const CampaignReport exact = verify_results(vec, res, TierRequirement{mls::Tier::exact}, Limits{}, {}, log);
  EXPECT_EQ(exact.exit_code(), 1) << log.str();
  EXPECT_EQ(exact.per_op.at("conv2d").mismatched, 1);
  EXPECT_EQ(exact.per_op.at("conv2d").worst_tier, mls::Tier::faithful);
  const CampaignReport faithful = verify_results(vec, res, TierRequirement{mls::Tier::faithful}, Limits{}, {}, log);
  EXPECT_EQ(faithful.exit_code(), 0) << log.str();
}

TEST(FailureFiles, ACampaignFailureIsSavedAsAOneCaseVectorFileThatReplays) {
  const std::string dir = std::string(MLS_BINARY_DIR) + "/test-failure-files";
  std::filesystem::remove_all(dir);
  auto mutant = make_library_backend(std::string(MLS_FAST_LIB_DIR) + "/libmls_fast_mutant_tie_away.so");
  CampaignOptions o;
  o.ops = {"quantize"};
  o.cases = 300;
  o.seed = 1;
  o.save_dir = dir;
  std::ostringstream log;
  const CampaignReport rep = run_random_campaign(*mutant, o, {}, log);
  ASSERT_EQ(rep.exit_code(), 1) << log.str();
  const auto& f = rep.per_op.at("quantize").failures.at(0);
  const std::string h5 = f.value("replay_file", "");
  ASSERT_EQ(std::filesystem::path(h5).extension(), ".h5") << f.dump();
  ASSERT_TRUE(std::filesystem::exists(f.value("case_file", ""))) << f.dump();
  const mv::Suite s = mv::read_suite(h5);  // schema, checksum and digests
  ASSERT_EQ(s.groups.size(), 1u);
  EXPECT_EQ(s.groups[0].count(), 1u);
  const auto cases = cases_from_suite(s);
  ASSERT_EQ(cases.size(), 1u);
  // Still fails on the mutant, with the same cause; passes on the real backend.
  const CaseResult again = run_case(*mutant, cases[0], TierRequirement{});
  EXPECT_FALSE(again.passed());
  EXPECT_EQ(again.verdict.cause_id, "tie_rule");
  auto fast = make_library_backend(MLS_FAST_BACKEND_LIB);
  EXPECT_TRUE(run_case(*fast, cases[0], TierRequirement{}).passed());
  // The file's expected outputs are what the golden model gives.
  const mv::QuantizeOutput expected = mv::quantize_output(s.groups[0], 0);
  const QuantizeResult golden = golden_quantize(cases[0].q);
  EXPECT_EQ(expected.tensor_scale, golden.tensor_scale);
  EXPECT_EQ(expected.group_scales, golden.group_scales);
  EXPECT_EQ(expected.elements, golden.elements);
  std::filesystem::remove_all(dir);
}
