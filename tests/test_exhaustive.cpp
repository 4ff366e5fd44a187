// Breakpoint tables and exhaustive checks (spec/11-exhaustive.md).
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>

#include "mls/bits.hpp"
#include "mls/breakpoints.hpp"
#include "mls/conformance/campaign.hpp"
#include "mls/conformance/exhaustive.hpp"
#include "mls/format.hpp"
#include "mls/vectors/breakpoints_file.hpp"
#include "mls/vectors/io.hpp"
#include "oracle.hpp"

namespace {

using namespace mls;
using namespace mls::conformance;

BreakpointSpec spec(const std::string& grid, const std::string& rounding, uint32_t word = 0,
                    OverflowPolicy ov = OverflowPolicy::saturate, Dyadic scale = Dyadic::from_int(1)) {
  BreakpointSpec s;
  s.element = parse_minifloat(grid, GridRole::any, "grid");
  s.rounding = parse_rounding(rounding);
  s.word = s.rounding.mode == RoundingMode::sr ? word : 0;
  s.overflow = ov;
  s.scale = scale;
  return s;
}

std::filesystem::path tmpdir() {
  const auto d = std::filesystem::temp_directory_path() / ("mls-exhaustive-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return d;
}

// ---- the tables against an independent oracle ------------------------------------------

// oracle.hpp rounds |x| / S by a brute-force scan of every code in integers;
// it covers sign-magnitude grids without special values under `saturate`.
uint64_t oracle_code(const oracle::Grid& g, const BreakpointSpec& s, uint32_t x) {
  const oracle::Parts p = oracle::float_parts(oracle::bitsf(x));
  const Dyadic sc = s.scale.normalized();
  oracle::BigInt P, Q;
  oracle::ratio(p.m, p.e, oracle::BigInt(sc.m), sc.e, g.ulog, P, Q);
  const bool neg = (x >> 31) != 0;
  return oracle::round(g, neg, P, Q, s.rounding.mode, s.rounding.sr_bits, s.word, false).code;
}

TEST(BreakpointTables, EveryBreakpointSitsWhereTheOracleChangesItsAnswer) {
  const std::vector<Dyadic> scales{Dyadic::from_int(1), Dyadic(1, -3), Dyadic(3, -5), Dyadic(5, 7)};
  int tables = 0, checks = 0;
  for (const std::string grid : {"e2m1", "fp4_e2m1", "fp6_e2m3", "fp6_e3m2", "e3m0", "e2m1z", "e0m3"}) {
    const oracle::Grid g = oracle::make_grid(parse_minifloat(grid, GridRole::any, "grid"));
    for (const std::string r : {"rne", "rna", "rtz", "rup", "rdn", "rto", "sr4", "sr8"}) {
      for (const Dyadic& sc : scales) {
        const BreakpointSpec s = spec(grid, r, 0x9a5c0000u, OverflowPolicy::saturate, sc);
        const BreakpointTable t = compute_breakpoints(s);
        ++tables;
        for (size_t k = 0; k < t.entries.size(); ++k) {
          const uint32_t a = t.entries[k].start, b = t.last(k);
          for (uint32_t x : {a, b, a + (b - a) / 2}) {
            if (!fp32_is_finite(x)) continue;
            ASSERT_EQ(t.entries[k].outcome.code, oracle_code(g, s, x)) << s.label() << " x " << hex32(x);
            ++checks;
          }
          // Just before a breakpoint inside one class, the oracle gives the previous code.
          if (k > 0 && input_class(a - 1) == input_class(a) && fp32_is_finite(a)) {
            ASSERT_EQ(t.entries[k - 1].outcome.code, oracle_code(g, s, a - 1)) << s.label() << " x " << hex32(a - 1);
            ASSERT_NE(oracle_code(g, s, a - 1), oracle_code(g, s, a)) << s.label() << " at " << hex32(a);
          }
        }
      }
    }
  }
  EXPECT_EQ(tables, 7 * 8 * 4);
  EXPECT_GT(checks, 20000);
}

// Lookup == the golden model at class boundaries, near every entry start and at random inputs,
// for the grids with special values and every overflow policy they take.
TEST(BreakpointTables, LookupEqualsTheGoldenModelOnEveryFamilyGrid) {
  struct C {
    std::string grid;
    OverflowPolicy ov;
  };
  const std::vector<C> cases{{"fp8_e4m3", OverflowPolicy::saturate}, {"fp8_e4m3", OverflowPolicy::nan},
                             {"fp8_e5m2", OverflowPolicy::infinity}, {"fp8_e5m2", OverflowPolicy::saturate},
                             {"int8", OverflowPolicy::saturate},     {"e2m1", OverflowPolicy::error},
                             {"e4m3b7i", OverflowPolicy::infinity},  {"e8m0", OverflowPolicy::saturate}};
  std::mt19937 rng(11);
  for (const auto& c : cases)
    for (const std::string r : {"rne", "rdn", "sr8"}) {
      const BreakpointSpec s = spec(c.grid, r, 0x40000000u, c.ov, Dyadic(3, -4));
      const BreakpointTable t = compute_breakpoints(s);
      std::vector<uint32_t> xs;
      for (uint32_t a : class_starts()) xs.insert(xs.end(), {a - 1, a, a + 1});
      for (const auto& e : t.entries) xs.insert(xs.end(), {e.start - 1, e.start, e.start + 1});
      for (int i = 0; i < 20000; ++i) xs.push_back(rng());
      for (uint32_t x : xs) ASSERT_EQ(t.lookup(x), breakpoint_outcome(s, x)) << s.label() << " x " << hex32(x);
    }
}

TEST(BreakpointTables, SpecialInputsHaveTheirOwnEntries) {
  const BreakpointTable t = compute_breakpoints(spec("e2m1", "rne"));
  EXPECT_EQ(t.lookup(0x7fc00000u).status, kBreakpointError);  // NaN: e2m1 has no NaN code (3.10)
  EXPECT_EQ(t.lookup(0x7f800000u), (BreakpointOutcome{7, 0}));  // +Inf saturates
  EXPECT_EQ(t.lookup(0xff800000u), (BreakpointOutcome{15, 0}));
  EXPECT_EQ(t.lookup(0x80000000u), (BreakpointOutcome{8, 0}));  // -0
  for (uint32_t a : class_starts()) EXPECT_EQ(t.entries[t.find(a)].start, a) << hex32(a);
  const BreakpointTable e4 = compute_breakpoints(spec("fp8_e4m3", "rne", 0, OverflowPolicy::nan));
  EXPECT_EQ(e4.lookup(0xffc00001u), (BreakpointOutcome{0xff, 0}));
  EXPECT_EQ(e4.lookup(float_bits(464.0f)), (BreakpointOutcome{0x7e, 0}));  // the tie with the NaN position goes to 448
  EXPECT_EQ(e4.lookup(float_bits(465.0f)), (BreakpointOutcome{0x7f, 0}));
}

TEST(BreakpointTables, BadSpecsAreClearErrors) {
  BreakpointSpec s = spec("e2m1", "rne");
  s.word = 5;
  EXPECT_THROW(s.validate(), Error);
  s = spec("e2m1", "rne");
  s.scale = Dyadic::from_int(0);
  EXPECT_THROW(compute_breakpoints(s), Error);
  s = spec("e2m1", "rne", 0, OverflowPolicy::nan);
  try {
    compute_breakpoints(s);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("overflow = nan"), std::string::npos) << e.what();
  }
  EXPECT_THROW(compute_breakpoints(spec("e8m23b127i", "rne")), Error);  // too many magnitudes
}

// ---- file forms ------------------------------------------------------------------------

TEST(BreakpointFiles, EveryFormReadsBackToTheSameTable) {
  const auto d = tmpdir();
  const BreakpointTable t = compute_breakpoints(spec("fp8_e4m3", "sr8", 0x12345678u, OverflowPolicy::nan, Dyadic(1, -2)));
  for (const char* ext : {".h5", ".json", ".hex"}) {
    const std::string p = (d / (std::string("t") + ext)).string();
    vectors::write_breakpoints(p, t);
    const BreakpointTable back = vectors::read_breakpoints(p);
    EXPECT_EQ(back.spec, t.spec) << ext;
    EXPECT_EQ(first_difference(back, t), -1) << ext;
    EXPECT_NO_THROW(vectors::verify_breakpoints(back, p));
  }
  EXPECT_THROW(vectors::write_breakpoints((d / "t.txt").string(), t), Error);
}

void expect_error(const std::string& path, const std::string& needle) {
  try {
    vectors::read_breakpoints(path);
    ADD_FAILURE() << path << " was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void spit(const std::string& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

TEST(BreakpointFiles, DamagedOrMislabelledTablesAreRefused) {
  const auto d = tmpdir();
  const BreakpointTable t = compute_breakpoints(spec("fp4_e2m1", "rne"));
  // JSON: a code edited, the digest left alone.
  const std::string js = (d / "a.json").string();
  vectors::write_breakpoints(js, t);
  nlohmann::json j = nlohmann::json::parse(slurp(js));
  j["entries"]["code"][5] = 6;
  spit(js, j.dump());
  expect_error(js, "table_sha256 mismatch");
  // JSON: the rounding relabelled with a fresh digest: the structure and digest agree,
  // but the table is not the golden table of the spec it claims (11.6).
  BreakpointTable lie = t;
  lie.spec.rounding = parse_rounding("rna");
  vectors::write_breakpoints(js, lie);
  const BreakpointTable back = vectors::read_breakpoints(js);
  try {
    vectors::verify_breakpoints(back, js);
    ADD_FAILURE() << "a mislabelled table was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match the spec it claims"), std::string::npos) << e.what();
  }
  // HDF5: one byte flipped after the user block.
  const std::string h5 = (d / "a.h5").string();
  vectors::write_breakpoints(h5, t);
  std::string bytes = slurp(h5);
  bytes[bytes.size() - 40] ^= 0x5a;
  spit(h5, bytes);
  expect_error(h5, "file checksum mismatch");
  // HDF5 without mls's checksum (another writer) whose attribute disagrees with its spec.
  vectors::write_breakpoints(h5, t);
  vectors::Tree tree = vectors::read_tree(h5);
  tree.attrs["element_man_bits"] = int64_t(3);
  vectors::write_tree(h5, tree);
  bytes = slurp(h5);
  std::fill(bytes.begin(), bytes.begin() + 512, '\0');  // no user-block line: read in the isolated child
  spit(h5, bytes);
  expect_error(h5, "attribute \"element_man_bits\" = 3 disagrees");
  // Hex: a data line edited.
  const std::string hx = (d / "a.hex").string();
  vectors::write_breakpoints(hx, t);
  std::string text = slurp(hx);
  text[text.size() - 2] = text[text.size() - 2] == '0' ? '1' : '0';
  spit(hx, text);
  expect_error(hx, "sha256 of the data lines");
}

// ---- the engine, through the C ABI fixtures ---------------------------------------------

ExhaustiveOptions opts(PatternRange r) {
  ExhaustiveOptions o;
  o.range = r;
  o.batch = 1 << 14;
  o.baseline = false;
  return o;
}

nlohmann::json result_part(const ExhaustiveReport& r) {
  nlohmann::json j = r.to_json();
  j.erase("run");
  return j;
}

const PatternRange kAroundOne{0x3f900000u, 0x3fa7ffffu};  // 1.125 .. 1.3125: holds 0x3f9d70a4

TEST(Exhaustive, TheGoldenModelPassesAndEveryInputIsCounted) {
  const BreakpointTable t = compute_breakpoints(spec("fp4_e2m1", "rne"));
  const ExhaustiveReport r = run_exhaustive(t, MLS_TEST_GOLDEN_ABI_LIB, std::nullopt, opts(kAroundOne));
  EXPECT_EQ(r.result(), "pass");
  EXPECT_EQ(r.checked, kAroundOne.size());
  EXPECT_EQ(r.matched, kAroundOne.size());
  EXPECT_TRUE(r.complete());
  // Inputs the spec makes errors (NaN on a grid without NaN) are checked one by one.
  const ExhaustiveReport n = run_exhaustive(t, MLS_TEST_GOLDEN_ABI_LIB, std::nullopt, opts({0x7f7ffff0u, 0x7f80ffffu}));
  EXPECT_EQ(n.result(), "pass");
  EXPECT_EQ(n.checked, 0x10010u);
}

TEST(Exhaustive, ASingleWrongInputIsFoundWithItsBitPatternAndDiagnosed) {
  const BreakpointTable t = compute_breakpoints(spec("fp4_e2m1", "rne"));
  const ExhaustiveReport r = run_exhaustive(t, MLS_TEST_GOLDEN_ABI_BUG_LIB, std::nullopt, opts(kAroundOne));
  ASSERT_EQ(r.result(), "mismatch");
  EXPECT_EQ(r.mismatched, 1u);
  ASSERT_EQ(r.classes.size(), 1u);
  EXPECT_EQ(r.classes[0].first, std::vector<uint32_t>{0x3f9d70a4u});
  EXPECT_EQ(r.classes[0].expected.code, 2u);  // 1.23 -> 1.0
  EXPECT_EQ(r.classes[0].got_code, 3u);
  EXPECT_FALSE(r.classes[0].cause_id.empty());
  EXPECT_EQ(r.classes[0].detail.value("x", ""), "0x3f9d70a4");
  EXPECT_EQ(r.exit_code(), 1);
  // The same bug behind the shim, wrapped around the golden fixture.
  ::setenv("MLS_SHIM_TARGET", MLS_TEST_GOLDEN_ABI_LIB, 1);
  const ExhaustiveReport s = run_exhaustive(t, MLS_TEST_SINGLE_INPUT_BUG_LIB, std::nullopt, opts(kAroundOne));
  ASSERT_EQ(s.classes.size(), 1u);
  EXPECT_EQ(s.classes[0].first, std::vector<uint32_t>{0x3f9d70a4u});
}

TEST(Exhaustive, TheRandomCampaignDoesNotDrawTheOneWrongInput) {
  // What sampling gives on the same bug: 400 random round cases pass.
  auto b = make_library_backend(MLS_TEST_GOLDEN_ABI_BUG_LIB);
  CampaignOptions o;
  o.cases = 400;
  o.ops = {"round"};
  std::ostringstream log;
  const CampaignReport rep = run_random_campaign(*b, o, [](const std::string&, const Case&, const CaseResult&) {}, log);
  EXPECT_EQ(rep.per_op.at("round").mismatched, 0) << log.str();
  EXPECT_GT(rep.per_op.at("round").passed, 0);
}

TEST(Exhaustive, ShardsMergeIntoTheUnshardedReport) {
  const BreakpointTable t = compute_breakpoints(spec("fp4_e2m1", "rna"));
  const ExhaustiveReport whole = run_exhaustive(t, MLS_TEST_GOLDEN_ABI_BUG_LIB, std::nullopt, opts(kAroundOne));
  std::vector<ExhaustiveReport> parts;
  for (int i = 0; i < 4; ++i) {
    ExhaustiveOptions o = opts(kAroundOne);
    o.shard = std::make_pair(i, 4);
    parts.push_back(run_exhaustive(t, MLS_TEST_GOLDEN_ABI_BUG_LIB, std::nullopt, o));
    // A report survives its JSON form.
    parts.back() = ExhaustiveReport::from_json(parts.back().to_json(), "shard");
  }
  std::swap(parts[0], parts[3]);  // any order
  const ExhaustiveReport m = merge_exhaustive(parts, {}, true);
  EXPECT_EQ(result_part(m), result_part(whole));
  // A missing shard, a shard given twice: clear errors.
  try {
    merge_exhaustive({parts[0], parts[1], parts[3]}, {"a", "b", "c"}, true);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("are in none of them"), std::string::npos) << e.what();
  }
  try {
    merge_exhaustive({parts[0], parts[1], parts[2], parts[3], parts[1]}, {}, true);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("are in both"), std::string::npos) << e.what();
  }
}

TEST(Exhaustive, AnInterruptedRunResumesToTheSameReport) {
  const BreakpointTable t = compute_breakpoints(spec("fp6_e3m2", "sr8", 0xc0000000u));
  const ExhaustiveReport whole = run_exhaustive(t, MLS_TEST_GOLDEN_ABI_BUG_LIB, std::nullopt, opts(kAroundOne));
  std::atomic<bool> stop{false};
  ExhaustiveOptions o = opts(kAroundOne);
  o.threads = 1;
  o.stop = &stop;
  o.after_batch = [&](uint64_t done) {
    if (done > 0) stop = true;  // after the first batch: the rest stays unchecked
  };
  const ExhaustiveReport part = run_exhaustive(t, MLS_TEST_GOLDEN_ABI_BUG_LIB, std::nullopt, o);
  ASSERT_FALSE(part.complete());
  EXPECT_EQ(part.result(), part.mismatched ? "mismatch" : "incomplete");
  const ExhaustiveReport saved = ExhaustiveReport::from_json(part.to_json(), "state");
  ExhaustiveOptions r = opts(kAroundOne);
  r.resume = &saved;
  const ExhaustiveReport done = run_exhaustive(t, MLS_TEST_GOLDEN_ABI_BUG_LIB, std::nullopt, r);
  EXPECT_EQ(result_part(done), result_part(whole));
}

TEST(Exhaustive, ABackendWithoutRoundIsRefusedBeforeAnythingRuns) {
  const BreakpointTable t = compute_breakpoints(spec("fp4_e2m1", "rne"));
  try {
    run_exhaustive(t, MLS_TEST_GOLDEN_ABI_NOROUND_LIB, std::nullopt, opts(kAroundOne));
    FAIL();
  } catch (const BackendUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find("MLS_ERR_UNSUPPORTED"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nothing checked"), std::string::npos) << e.what();
  }
  EXPECT_THROW(run_exhaustive(t, MLS_TEST_NO_SYMBOL_LIB, std::nullopt, opts(kAroundOne)), BackendUnavailable);
}

TEST(Exhaustive, RangesAndShardsOutsideTheSpaceAreErrors) {
  EXPECT_THROW(parse_pattern_range("0x0:0x100000000"), Error);
  EXPECT_THROW(parse_pattern_range("0x10:0x0f"), Error);
  EXPECT_THROW(parse_pattern_range("12"), Error);
  EXPECT_EQ(parse_pattern_range("0x3f800000:1065353217"), (PatternRange{0x3f800000u, 0x3f800001u}));
  EXPECT_THROW(shard_part(kAllPatterns, 4, 4), Error);
  EXPECT_THROW(shard_part({5, 6}, 0, 3), Error);
  uint64_t next = 0;
  for (int i = 0; i < 7; ++i) {
    const PatternRange p = shard_part(kAllPatterns, i, 7);
    EXPECT_EQ(p.first, next);
    next = p.last + 1;
  }
  EXPECT_EQ(next, uint64_t(1) << 32);
}

TEST(Exhaustive, TheElementStageOfAQuantizer) {
  // mxfp4 with S_t = 1 and the E8M0 group scale 2^-1 (code 126): groups [anchor, x...].
  const Format f = parse_format("mxfp4");
  const QuantizeStage st = make_quantize_stage(f, 0x3f800000u, 126);
  EXPECT_EQ(st.group_elems, 32);
  EXPECT_EQ(select_group_scale(f, Dyadic::from_int(1), bits_float(st.anchor)).code, 126u);
  EXPECT_NE(select_group_scale(f, Dyadic::from_int(1), bits_float(st.anchor + 1)).code, 126u);
  const BreakpointTable t = compute_breakpoints(quantize_stage_spec(st, parse_rounding("rne"), 0, QuantArith::exact));
  const PatternRange r{0x3f900000u, 0x3f9fffffu};
  const ExhaustiveReport ok = run_exhaustive(t, MLS_TEST_GOLDEN_ABI_LIB, st, opts(r));
  EXPECT_EQ(ok.result(), "pass");
  EXPECT_EQ(ok.checked + ok.out_of_reach, r.size());
  const ExhaustiveReport bad = run_exhaustive(t, MLS_TEST_GOLDEN_ABI_BUG_LIB, st, opts(r));
  ASSERT_EQ(bad.classes.size(), 1u);
  EXPECT_EQ(bad.classes[0].first, std::vector<uint32_t>{0x3f9d70a4u});
  EXPECT_EQ(bad.mismatched, 1u);
  // A table of another scale is refused for this stage.
  const BreakpointTable other = compute_breakpoints(spec("fp4_e2m1", "rne"));
  EXPECT_THROW(run_exhaustive(other, MLS_TEST_GOLDEN_ABI_LIB, st, opts(r)), Error);
  EXPECT_THROW(make_quantize_stage(f, 0x3f800000u, 255), Error);  // the NaN code is no scale
}

}  // namespace
