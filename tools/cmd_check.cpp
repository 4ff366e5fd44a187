// `mls check`: conformance of an implementation under test against the golden
// model -- random campaigns and replays, over the process protocol, the C ABI
// or in process (spec/10-conformance.md).
#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "exhaustive_cli.hpp"
#include "io.hpp"
#include "mls/conformance/campaign.hpp"
#include "mls/conformance/vectors_bridge.hpp"
#include "mls/vectors/io.hpp"
#include "mls/vectors/safe_read.hpp"
#include "mls/error.hpp"
#include "mls/interrupt.hpp"
#include "mls/progress.hpp"
#include "replay_sources.hpp"

namespace mls::cli {

using namespace mls::conformance;

namespace {

struct CheckOptions {
  std::string backend_cmd, backend_lib;
  bool golden = false;
  int timeout_ms = 10000;
  bool random = false;
  std::vector<std::string> replay;
  CampaignOptions campaign;
  std::string tier = "exact", bound_model = "fp32_sum";
  std::string report_json, junit, log_path;
  bool quiet = false;
};

std::unique_ptr<Backend> open_backend(const CheckOptions& o) {
  const int n = !o.backend_cmd.empty() + !o.backend_lib.empty() + (o.golden ? 1 : 0);
  if (n != 1) throw CLI::ValidationError("backend", "give exactly one of --backend-cmd, --backend-lib, --golden");
  if (o.golden) return make_golden_backend();
  if (!o.backend_cmd.empty()) return make_process_backend(o.backend_cmd, o.timeout_ms);
  try {
    return make_library_backend(o.backend_lib);
  } catch (const Error& e) {
    std::cerr << "mls check: backend failure: " << e.what() << "\n";
    throw CLI::RuntimeError(kBackendFailure);
  }
}

// The tiers a run may require (10.3): every tier but `none`.
std::vector<std::string> required_tiers() {
  std::vector<std::string> v;
  for (const auto& t : enum_names<Tier>())
    if (t != "none") v.push_back(t);
  return v;
}

TierRequirement tier_requirement(const std::string& tier, const std::string& model) {
  return {enum_from_name<Tier>(tier, "--tier"), enum_from_name<BoundModel>(model, "--bound-model")};
}

void add_tier_options(CLI::App* sub, std::string& tier, std::string& model) {
  sub->add_option("--tier", tier, "tier conv/gemm outputs must reach")->check(CLI::IsMember(required_tiers()))->capture_default_str();
  sub->add_option("--bound-model", model, "declared fp32 accumulation model whose bound `bounded` uses (6.13)")
      ->check(CLI::IsMember(enum_names<BoundModel>()))
      ->capture_default_str();
}

// Reports, and the exit code of a finished run (0 pass, 1 mismatch, 2 backend
// failure, 130/143 interrupted: the reports then hold the cases judged so far).
void finish(const CampaignReport& rep, const std::string& report_json, const std::string& junit) {
  rep.print_summary(std::cout);
  if (!report_json.empty()) io::write_text_atomic(report_json, rep.to_json().dump(2) + "\n");
  if (!junit.empty()) io::write_text_atomic(junit, rep.junit_xml());
  const int rc = rep.exit_code();
  if (rc != 0) throw CLI::RuntimeError(rc);
}

// `mls verify VECTORS.h5 RESULTS.h5`: the offline way in (spec/08-vectors.md
// 8.5, spec/10-conformance.md): an implementation wrote its outputs into a
// results file; every case is judged like a replay, without running anything.
void register_verify(CLI::App& app) {
  auto* sub = app.add_subcommand("verify", "judge a results file (outputs an implementation wrote) against its vector file");
  struct Opts {
    std::string vectors, results, tier = "exact", bound_model = "fp32_sum", report_json, junit, log_path;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("vectors", o->vectors, "the vector file (mls gen)")->required();
  sub->add_option("results", o->results, "the results file (spec/08-vectors.md 8.5)")->required();
  add_tier_options(sub, o->tier, o->bound_model);
  sub->add_option("--report-json", o->report_json, "write the report as JSON");
  sub->add_option("--junit", o->junit, "write the report as JUnit XML");
  sub->add_option("--log", o->log_path, "append one JSON line per case");
  auto quiet = std::make_shared<bool>(false);
  sub->add_flag("-q,--quiet", *quiet, "no progress line on stderr");
  sub->callback([o, quiet] {
    const TierRequirement tier = tier_requirement(o->tier, o->bound_model);
    interrupt::install();
    const vectors::Suite vec = vectors::safe_read_suite(o->vectors);
    const vectors::Suite res = vectors::safe_read_results(o->results, vec);
    std::ofstream log;
    if (!o->log_path.empty()) {
      log.open(o->log_path, std::ios::app);
      if (!log) throw Error("cannot open --log " + o->log_path);
    }
    int64_t n = 0;
    const CaseSink sink = [&](const std::string& op, const Case&, const CaseResult& r) {
      if (!log.is_open()) return;
      nlohmann::json j = r.to_json();
      j["op"] = op;
      j["n"] = ++n;
      log << j.dump() << "\n" << std::flush;
    };
    const auto meter = progress::stderr_meter("verify", 0, *quiet);
    const CampaignReport rep = verify_results(vec, res, tier, Limits{}, sink, meter->log(), meter.get());
    meter->finish();
    finish(rep, o->report_json, o->junit);
  });
}

}  // namespace

void register_check(CLI::App& app) {
  register_verify(app);
  auto* sub = app.add_subcommand("check", "run conformance of an implementation: random campaign (--random) or replay (--replay)");
  auto o = std::make_shared<CheckOptions>();
  sub->add_option("--backend-cmd", o->backend_cmd, "backend process speaking protocol v1 on stdin/stdout (run by /bin/sh -c)");
  sub->add_option("--backend-lib", o->backend_lib, "backend shared library exporting mls_backend_get (C ABI v2)");
  sub->add_flag("--golden", o->golden, "check the golden model itself (in process)");
  sub->add_option("--timeout", o->timeout_ms, "per-request timeout for --backend-cmd, ms")->capture_default_str();
  sub->add_flag("--random", o->random, "random campaign (RapidCheck generators biased to edge cases)");
  sub->add_option("--replay", o->replay, "replay vector files (.h5) or saved failing cases (.json)");
  sub->add_option("--cases", o->campaign.cases, "random cases per op")->capture_default_str();
  sub->add_option("--seed", o->campaign.seed, "campaign seed")->capture_default_str();
  sub->add_option("--ops", o->campaign.ops, "ops (random campaign; default quantize,dequantize,conv2d,gemm)")
      ->delimiter(',')
      ->check(CLI::IsMember(enum_names<Op>()));
  sub->add_option("--formats", o->campaign.formats, "restrict to these formats (profile/short names)")->delimiter(',');
  sub->add_option("--modes", o->campaign.modes, "restrict to these rounding modes")
      ->delimiter(',')
      ->check(CLI::IsMember(enum_names<RoundingMode>()));
  sub->add_option("--arith", o->campaign.arith, "random quantize cases: quantizer arithmetic profiles (4.12), one drawn per case")
      ->delimiter(',')
      ->check(CLI::IsMember(enum_names<QuantArith>()));
  add_tier_options(sub, o->tier, o->bound_model);
  sub->add_option("--max-failures", o->campaign.limits.max_failures, "stop an op after N mismatches (0 = never)")->capture_default_str();
  sub->add_option("--max-shrinks", o->campaign.limits.max_shrinks, "backend calls spent shrinking one failure")->capture_default_str();
  sub->add_option("--max-backend-failures", o->campaign.limits.max_backend_failures,
                  "abort after N consecutive backend failures (0 = never)")->capture_default_str();
  o->campaign.save_dir = "mls-failures";
  sub->add_option("--save-failures", o->campaign.save_dir, "directory for minimal failing cases (replay files)")->capture_default_str();
  sub->add_option("--report-json", o->report_json, "write the report as JSON");
  sub->add_option("--junit", o->junit, "write the report as JUnit XML");
  sub->add_option("--log", o->log_path, "append one JSON line per case as results come");
  sub->add_flag("-q,--quiet", o->quiet, "no progress line on stderr");
  auto ex = add_exhaustive_check_options(sub);  // --exhaustive, --merge-exhaustive (spec 11)
  sub->callback([o, ex] {
    if (exhaustive_requested(*ex))
      return run_exhaustive_check(*ex, o->backend_lib, !o->backend_cmd.empty() || o->golden, o->report_json,
                                  o->quiet);
    if (o->random == !o->replay.empty()) throw CLI::ValidationError("mode", "give exactly one of --random or --replay FILE...");
    const TierRequirement tier = tier_requirement(o->tier, o->bound_model);
    o->campaign.tier = tier;
    interrupt::install();  // Ctrl-C: stop at the next case, write the partial report (10.8)
    auto backend = open_backend(*o);
    std::ofstream log;
    if (!o->log_path.empty()) {
      log.open(o->log_path, std::ios::app);
      if (!log) throw Error("cannot open --log " + o->log_path);
    }
    int64_t n = 0;
    const CaseSink sink = [&](const std::string& op, const Case& c, const CaseResult& r) {
      ++n;
      if (log.is_open()) {
        nlohmann::json j = r.to_json();
        j["op"] = op;
        j["n"] = n;
        j["summary"] = c.summary();
        log << j.dump() << "\n" << std::flush;
      }
    };
    CampaignReport rep;
    std::unique_ptr<progress::Meter> meter;
    if (o->random) {
      meter = progress::stderr_meter("check", 0, o->quiet);
      o->campaign.progress = meter.get();
      rep = run_random_campaign(*backend, o->campaign, sink, meter->log());
    } else {
      std::vector<Case> cases;
      for (const auto& f : o->replay) {
        auto more = load_replay_cases(f);
        cases.insert(cases.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
      }
      std::string label = o->replay.size() == 1 ? o->replay[0] : std::to_string(o->replay.size()) + " files";
      meter = progress::stderr_meter("replay", 0, o->quiet);
      rep = run_replay(*backend, cases, tier, o->campaign.limits, sink, meter->log(), label, meter.get());
    }
    meter->finish();
    finish(rep, o->report_json, o->junit);
  });
}

}  // namespace mls::cli
