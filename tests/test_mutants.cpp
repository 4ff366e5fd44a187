// Proof that the checks check: every seeded-bug variant of mls-fast (its
// catalogue: conformance/backends/fast/mutants.def) is caught by a random
// campaign within a bounded number of cases, and the diagnosis names the
// catalogue's cause; the unmutated backend passes the same campaigns.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "mls/conformance/campaign.hpp"

#ifndef MLS_FAST_CATALOGUE
#error "MLS_FAST_CATALOGUE (path of mutants.def) is defined by conformance/backends/fast/tests.cmake"
#endif

using namespace mls::conformance;

namespace {

std::vector<std::string> split(const char* text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string n; std::getline(s, n, ',');)
    if (!n.empty()) out.push_back(n);
  return out;
}

struct Expect {
  std::string mutant;
  std::string cause_id;
  std::vector<std::string> ops;
  std::vector<std::string> formats;  // the campaign's --formats; empty: the generated family
};

const std::vector<Expect> kCatalogue = {
#define MLS_FAST_SEEDED_BUG(name, ops, cause, formats, departure) {#name, #cause, split(ops), split(formats)},
#include MLS_FAST_CATALOGUE
#undef MLS_FAST_SEEDED_BUG
};

constexpr int64_t kCaseBudget = 300;  // cases per op within which each bug must be caught

CampaignOptions campaign(const Expect& e, uint64_t seed) {
  CampaignOptions o;
  o.ops = e.ops;
  o.formats = e.formats;
  o.cases = kCaseBudget;
  o.seed = seed;
  o.save_dir = "";
  return o;
}

}  // namespace

class MutantCatalogue : public ::testing::TestWithParam<Expect> {};

TEST_P(MutantCatalogue, CaughtAndDiagnosed) {
  const Expect& e = GetParam();
  const std::string lib = std::string(MLS_FAST_LIB_DIR) + "/libmls_fast_mutant_" + e.mutant + ".so";
  for (uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("mutant " + e.mutant + " seed " + std::to_string(seed));
    auto b = make_library_backend(lib);
    std::ostringstream log;
    const CampaignReport rep = run_random_campaign(*b, campaign(e, seed), {}, log);
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
                         [](const ::testing::TestParamInfo<Expect>& i) { return i.param.mutant; });

TEST(MutantCatalogue, TheUnmutatedBackendPassesTheSameCampaigns) {
  // Every distinct campaign of the catalogue (ops and formats), and the default
  // one over every op including round, with seed 1: nothing skipped, nothing failed.
  std::vector<Expect> runs{{"", "", {"round", "quantize", "dequantize", "conv2d", "gemm"}, {}}};
  std::set<std::pair<std::vector<std::string>, std::vector<std::string>>> seen;
  for (const auto& e : kCatalogue)
    if (!e.formats.empty() && seen.insert({e.ops, e.formats}).second) runs.push_back(e);
  auto b = make_library_backend(MLS_FAST_BACKEND_LIB);
  for (const Expect& e : runs) {
    std::string fmts;
    for (const auto& f : e.formats) fmts += f + " ";
    SCOPED_TRACE("formats " + fmts);
    std::ostringstream log;
    const CampaignReport rep = run_random_campaign(*b, campaign(e, 1), {}, log);
    EXPECT_EQ(rep.exit_code(), 0) << log.str();
    for (const auto& [op, t] : rep.per_op) EXPECT_EQ(t.passed, kCaseBudget) << op << "\n" << log.str();
  }
}
