// `mls gen --breakpoints` and `mls check --exhaustive` / `--merge-exhaustive`
// (spec/11-exhaustive.md). The tables come from reference/ (breakpoints.hpp),
// their files from vectors/ (breakpoints_file.hpp), the checking engine from
// conformance/runner (exhaustive.hpp).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "exhaustive_cli.hpp"
#include "io.hpp"
#include "mls/bits.hpp"
#include "mls/breakpoints.hpp"
#include "mls/conformance/exhaustive.hpp"
#include "mls/error.hpp"
#include "mls/format.hpp"
#include "mls/interrupt.hpp"
#include "mls/progress.hpp"
#include "mls/json_read.hpp"
#include "mls/vectors/breakpoints_file.hpp"

namespace mls::cli {

using namespace mls::conformance;

namespace {

// A grid and its policies: a format (profile, short name, JSON) gives its
// element and its overflow and signed-zero policies; a grid name (named grid,
// e2m1, e4m3b7n, JSON) the defaults saturate and preserve.
struct Grid {
  Minifloat element;
  OverflowPolicy overflow = OverflowPolicy::saturate;
  SignedZero signed_zero = SignedZero::preserve;
  std::optional<Format> format;
  std::string text;
};

Grid pick_grid(const std::string& text) {
  std::string as_format;
  try {
    const Format f = parse_format(text);
    return {f.element, f.overflow, f.signed_zero, f, text};
  } catch (const Error& e) {
    as_format = e.what();
  }
  try {
    Minifloat g = parse_minifloat(text, GridRole::any, "grid");
    return {g, OverflowPolicy::saturate, SignedZero::preserve, std::nullopt, text};
  } catch (const Error& e) {
    throw Error("\"" + text + "\" is neither a format (" + as_format + ") nor a grid (" + e.what() + ")");
  }
}

uint32_t parse_u32(const std::string& s, const std::string& field) {
  const bool hex = s.rfind("0x", 0) == 0 || s.rfind("0X", 0) == 0;
  const std::string d = hex ? s.substr(2) : s;
  if (d.empty() || d.size() > (hex ? 8u : 10u) ||
      d.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") != std::string::npos)
    throw Error(field + " \"" + s + "\" is not a 32-bit value (hex with 0x, or decimal)");
  const uint64_t v = std::stoull(d, nullptr, hex ? 16 : 10);
  if (v > 0xffffffffu) throw Error(field + " \"" + s + "\" does not fit 32 bits");
  return static_cast<uint32_t>(v);
}

// "1", "3", "2^-3", "3*2^-5": a positive dyadic scale.
Dyadic parse_scale(const std::string& s) {
  auto integer = [&](const std::string& t, bool allow_minus) {
    const size_t start = allow_minus && !t.empty() && t[0] == '-' ? 1 : 0;
    if (t.size() <= start || t.size() > 12 || t.find_first_not_of("0123456789", start) != std::string::npos)
      throw Error("--scale \"" + s + "\" is not a scale like 1, 3, 2^-3 or 3*2^-5");
    return std::stoll(t);
  };
  const size_t caret = s.find("2^");
  Dyadic d;
  if (caret == std::string::npos) {
    d = Dyadic(BigInt(integer(s, false)), 0);
  } else {
    int64_t m = 1;
    if (caret > 0) {
      if (caret < 2 || s[caret - 1] != '*') throw Error("--scale \"" + s + "\" is not a scale like 1, 3, 2^-3 or 3*2^-5");
      m = integer(s.substr(0, caret - 1), false);
    }
    const int64_t e = integer(s.substr(caret + 2), true);
    if (e < INT32_MIN || e > INT32_MAX) throw Error("--scale \"" + s + "\": the exponent does not fit int32");
    d = Dyadic(BigInt(m), e);
  }
  if (d.sign() <= 0) throw Error("--scale \"" + s + "\" must be positive");
  return d.normalized();
}

std::string file_name_part(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  return s;
}

// Every (grid, rounding, scale, word) the options name.
struct Planned {
  BreakpointSpec spec;
  std::string name;  // a file name without extension
};

std::vector<Planned> plan_tables(const std::vector<std::string>& grids, const std::vector<std::string>& roundings,
                                 const BreakpointArgs& a) {
  if (grids.empty()) throw Error("breakpoints: give the grids with -f/--formats (a format, profile or grid name)");
  const std::vector<std::string> rs = roundings.empty() ? std::vector<std::string>{"rne"} : roundings;
  const bool staged = !a.tensor_scale.empty() || !a.group_scale.empty();
  if (staged && (a.tensor_scale.empty() || a.group_scale.empty()))
    throw Error("--tensor-scale and --group-scale come together (the element stage of a quantizer: scale S_t * S_g)");
  if (staged && !a.scales.empty()) throw Error("--scale and --tensor-scale/--group-scale exclude each other");
  const QuantArith arith = enum_from_name<QuantArith>(a.quant_arith, "--quant-arith");
  if (!a.words.empty() &&
      std::none_of(rs.begin(), rs.end(), [](const std::string& t) { return parse_rounding(t).mode == RoundingMode::sr; }))
    throw Error("--word is only used by sr (no rounding of " + [&] {
      std::string l;
      for (const auto& t : rs) l += (l.empty() ? "" : ",") + t;
      return l;
    }() + " is sr)");
  std::vector<Planned> out;
  for (const auto& gt : grids) {
    const Grid g = pick_grid(gt);
    for (const auto& rt : rs) {
      const Rounding r = parse_rounding(rt);
      std::vector<uint32_t> words{0};
      if (r.mode == RoundingMode::sr) {
        words.clear();
        for (const auto& w : a.words.empty() ? std::vector<std::string>{"0x80000000"} : a.words)
          words.push_back(parse_u32(w, "--word"));
      }
      for (uint32_t w : words) {
        if (staged) {
          if (!g.format) throw Error("--tensor-scale/--group-scale need a format (profile or short name), not the grid " + gt);
          Format f = *g.format;
          if (!a.overflow.empty()) f.overflow = enum_from_name<OverflowPolicy>(a.overflow, "--overflow");
          if (!a.signed_zero.empty()) f.signed_zero = enum_from_name<SignedZero>(a.signed_zero, "--signed-zero");
          const QuantizeStage st = make_quantize_stage(f, parse_u32(a.tensor_scale, "--tensor-scale"),
                                                       parse_u32(a.group_scale, "--group-scale"), a.group_elems);
          out.push_back({quantize_stage_spec(st, r, w, arith),
                         file_name_part(gt) + "-" + rounding_name(r) + (r.mode == RoundingMode::sr ? "-w" + hex32(w) : "") +
                             "-t" + hex32(st.tensor_scale) + "-g" + std::to_string(st.group_scale)});
          continue;
        }
        for (const auto& sc : a.scales.empty() ? std::vector<std::string>{"1"} : a.scales) {
          BreakpointSpec s;
          s.element = g.element;
          s.rounding = r;
          s.overflow = a.overflow.empty() ? g.overflow : enum_from_name<OverflowPolicy>(a.overflow, "--overflow");
          s.signed_zero = a.signed_zero.empty() ? g.signed_zero : enum_from_name<SignedZero>(a.signed_zero, "--signed-zero");
          s.scale = parse_scale(sc);
          s.word = w;
          s.arith = arith;
          s.validate();
          out.push_back({s, file_name_part(gt) + "-" + rounding_name(r) +
                                (r.mode == RoundingMode::sr ? "-w" + hex32(w) : "") +
                                (sc == "1" ? "" : "-s" + file_name_part(s.scale.to_string()))});
        }
      }
    }
  }
  return out;
}

}  // namespace

// ---- mls gen --breakpoints ----

std::shared_ptr<BreakpointArgs> add_breakpoint_gen_options(CLI::App* gen) {
  auto a = std::make_shared<BreakpointArgs>();
  gen->add_flag("--breakpoints", a->enabled,
                "write breakpoint tables (spec 11) of the -f grids/formats and -r roundings instead of a vector suite");
  gen->add_option("--scale", a->scales, "breakpoints: the scale S (1, 3, 2^-3, 3*2^-5; a list)")->delimiter(',');
  gen->add_option("--word", a->words, "breakpoints, sr: the random word of every input (a list; default 0x80000000)")
      ->delimiter(',');
  gen->add_option("--overflow", a->overflow, "breakpoints: overflow policy (default: the format's, else saturate)")
      ->check(CLI::IsMember(enum_names<OverflowPolicy>()));
  gen->add_option("--signed-zero", a->signed_zero, "breakpoints: signed-zero policy (default: the format's)")
      ->check(CLI::IsMember(enum_names<SignedZero>()));
  gen->add_option("--quant-arith", a->quant_arith, "breakpoints: quantizer arithmetic profile of the element stage (4.12)")
      ->capture_default_str();
  gen->add_option("--tensor-scale", a->tensor_scale, "breakpoints: the element stage of a quantizer: S_t (fp32 bits)");
  gen->add_option("--group-scale", a->group_scale, "breakpoints: ... and the group-scale code S_g");
  gen->add_option("--form", a->form, "breakpoints: h5, json or hex (default: from the -o extension; h5 for a directory)");
  return a;
}

void gen_breakpoints(const std::vector<std::string>& grids, const std::vector<std::string>& roundings,
                     const BreakpointArgs& a, const std::string& out, bool quiet) {
  if (out.empty()) throw Error("gen --breakpoints: --output FILE (or a directory for several tables) is required");
  const std::vector<Planned> plan = plan_tables(grids, roundings, a);
  if (!a.form.empty() && a.form != "h5" && a.form != "json" && a.form != "hex")
    throw Error("--form \"" + a.form + "\" is not one of h5, json, hex");
  std::vector<std::pair<std::string, const Planned*>> files;
  if (plan.size() == 1 && !std::filesystem::is_directory(out)) {
    files.push_back({out, &plan[0]});
  } else {
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (!std::filesystem::is_directory(out)) throw Error(out + ": cannot create the directory for " + std::to_string(plan.size()) + " tables");
    for (const auto& p : plan) files.push_back({(std::filesystem::path(out) / (p.name + "." + (a.form.empty() ? "h5" : a.form))).string(), &p});
  }
  for (const auto& [path, p] : files) {
    vectors::breakpoint_form_of(path);  // a clear error before any work
    const auto t0 = std::chrono::steady_clock::now();
    const BreakpointTable t = compute_breakpoints(p->spec);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    vectors::write_breakpoints(path, t);
    if (!quiet)
      std::cout << path << ": " << p->spec.label() << ", " << t.entries.size() << " entries, computed in " << std::fixed
                << std::setprecision(3) << dt << " s, table_sha256 " << vectors::breakpoint_digest(t) << "\n";
    std::cout.unsetf(std::ios::floatfield);
  }
}

// ---- mls check --exhaustive ----

struct ExhaustiveArgs {
  bool exhaustive = false;
  std::vector<std::string> merge;
  std::string table, grid, rounding, range, shard, stage = "round";
  BreakpointArgs bp;
  int jobs = 0;
  uint64_t batch = uint64_t(1) << 20;
  size_t first_inputs = 8;
  bool resume = false, no_baseline = false, no_progress = false;
  double state_every = 10;
};

std::shared_ptr<ExhaustiveArgs> add_exhaustive_check_options(CLI::App* c) {
  auto a = std::make_shared<ExhaustiveArgs>();
  const std::string g = "Exhaustive (spec 11)";
  c->add_flag("--exhaustive", a->exhaustive, "check every fp32 input (or --range/--shard) against a breakpoint table")->group(g);
  c->add_option("--table", a->table, "the breakpoint table (.h5, .json, .hex from mls gen --breakpoints); else --grid ...")->group(g);
  c->add_option("--grid", a->grid, "the element grid or format (profile, short name, grid name) of the table to compute")->group(g);
  c->add_option("--rounding", a->rounding, "the rounding (rne, rna, rtz, rup, rdn, rto, sr<R>; default rne)")->group(g);
  c->add_option("--scale", a->bp.scales, "the scale S (1, 3, 2^-3, 3*2^-5)")->group(g)->expected(1);
  c->add_option("--word", a->bp.words, "sr: the random word of every input (default 0x80000000)")->group(g)->expected(1);
  c->add_option("--overflow", a->bp.overflow, "overflow policy (default: the format's, else saturate)")
      ->check(CLI::IsMember(enum_names<OverflowPolicy>()))->group(g);
  c->add_option("--signed-zero", a->bp.signed_zero, "signed-zero policy (default: the format's)")
      ->check(CLI::IsMember(enum_names<SignedZero>()))->group(g);
  c->add_option("--quant-arith", a->bp.quant_arith, "quantize stage: arithmetic profile (exact, fp32_div, fp32_reciprocal)")
      ->group(g)->capture_default_str();
  c->add_option("--stage", a->stage, "round (the cast entry) or quantize (the element stage of the quantize entry)")
      ->check(CLI::IsMember({"round", "quantize"}))->group(g)->capture_default_str();
  c->add_option("--tensor-scale", a->bp.tensor_scale, "quantize stage: the static tensor scale S_t (fp32 bits)")->group(g);
  c->add_option("--group-scale", a->bp.group_scale, "quantize stage: the group-scale code every group gets")->group(g);
  c->add_option("--group-elems", a->bp.group_elems, "quantize stage: elements per group for formats without blocks")
      ->group(g)->capture_default_str();
  c->add_option("--range", a->range, "only these bit patterns, FIRST:LAST inclusive (e.g. 0x3f800000:0x3fffffff)")->group(g);
  c->add_option("--shard", a->shard, "part i of N (0-based) of the range; join the reports with --merge-exhaustive")->group(g);
  c->add_option("-j,--jobs", a->jobs, "threads (0 = every core)")->group(g)->capture_default_str();
  c->add_option("--batch", a->batch, "inputs per backend call")->group(g)->capture_default_str();
  c->add_option("--first-inputs", a->first_inputs, "inputs listed per mismatch class")->group(g)->capture_default_str();
  c->add_flag("--resume", a->resume, "continue the partial run recorded in --report-json")->group(g);
  c->add_option("--state-every", a->state_every, "seconds between rewrites of the partial --report-json")->group(g)->capture_default_str();
  c->add_flag("--no-baseline", a->no_baseline, "skip the plain input-reading loop measured for comparison")->group(g);
  c->add_flag("--no-progress", a->no_progress, "no progress line on stderr")->group(g);
  c->add_option("--merge-exhaustive", a->merge, "join exhaustive reports (shards, resumed parts) into one, checking coverage")
      ->group(g);
  return a;
}

bool exhaustive_requested(const ExhaustiveArgs& a) { return a.exhaustive || !a.merge.empty(); }

namespace {

ExhaustiveReport read_report(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": no such file");
  std::stringstream s;
  s << f.rdbuf();
  return ExhaustiveReport::from_json(json_read::parse(s.str(), path), path);
}

void finish(const ExhaustiveReport& r, const std::string& report_json) {
  r.print_summary(std::cout);
  if (!report_json.empty()) vectors::write_text_file_atomic(report_json, r.to_json().dump(1) + "\n");
  if (const int rc = r.exit_code(); rc != 0) throw CLI::RuntimeError(rc);
}

std::string spec_difference(const BreakpointSpec& a, const BreakpointSpec& b) {
  const nlohmann::json ja = a.to_json(), jb = b.to_json();
  for (auto it = ja.begin(); it != ja.end(); ++it)
    if (jb.at(it.key()) != it.value()) return it.key() + " " + it.value().dump() + " vs " + jb.at(it.key()).dump();
  return "";
}

}  // namespace

void run_exhaustive_check(const ExhaustiveArgs& a, const std::string& backend_lib, bool other_backend,
                          const std::string& report_json, bool quiet) {
  if (!a.merge.empty()) {
    if (a.exhaustive) throw CLI::ValidationError("--merge-exhaustive", "joins reports; it runs nothing (drop --exhaustive)");
    std::vector<ExhaustiveReport> parts;
    for (const auto& p : a.merge) parts.push_back(read_report(p));
    finish(merge_exhaustive(parts, a.merge, true), report_json);
    return;
  }
  if (backend_lib.empty())
    throw CLI::ValidationError("--exhaustive", other_backend ? "runs through the C ABI only: give --backend-lib LIB"
                                                             : "needs the implementation: --backend-lib LIB");
  PatternRange range = kAllPatterns;
  std::optional<std::pair<int, int>> shard;
  try {
    if (!a.range.empty()) range = parse_pattern_range(a.range, "--range");
    if (!a.shard.empty()) {
      const size_t s = a.shard.find('/');
      if (s == std::string::npos || a.shard.find_first_not_of("0123456789/") != std::string::npos || s == 0 ||
          s + 1 == a.shard.size() || a.shard.size() > 21)
        throw Error("--shard \"" + a.shard + "\" is not of the form i/N");
      shard = std::make_pair(std::stoi(a.shard.substr(0, s)), std::stoi(a.shard.substr(s + 1)));
      shard_part(range, shard->first, shard->second);
    }
  } catch (const Error& e) {
    throw CLI::ValidationError("range", e.what());
  }
  if (a.resume && report_json.empty()) throw CLI::ValidationError("--resume", "continues the run recorded in --report-json FILE");
  const bool spec_given = !a.grid.empty() || !a.rounding.empty() || !a.bp.scales.empty() || !a.bp.words.empty() ||
                          !a.bp.overflow.empty() || !a.bp.signed_zero.empty() || !a.bp.tensor_scale.empty() ||
                          !a.bp.group_scale.empty();
  std::optional<BreakpointSpec> asked;
  std::optional<QuantizeStage> stage;
  if (a.stage == "quantize" && (a.bp.tensor_scale.empty() || a.bp.group_scale.empty() || a.grid.empty()))
    throw CLI::ValidationError("--stage", "quantize needs --grid FORMAT, --tensor-scale and --group-scale");
  if (a.stage == "round" && (!a.bp.tensor_scale.empty() || !a.bp.group_scale.empty()))
    throw CLI::ValidationError("--tensor-scale", "and --group-scale belong to --stage quantize");
  if (spec_given) {
    if (a.grid.empty()) throw CLI::ValidationError("--grid", "names the grid of the table (or give --table FILE alone)");
    const std::vector<Planned> p = plan_tables({a.grid}, {a.rounding.empty() ? "rne" : a.rounding}, a.bp);
    asked = p.at(0).spec;
    if (a.stage == "quantize") {
      Format f = *pick_grid(a.grid).format;
      if (!a.bp.overflow.empty()) f.overflow = enum_from_name<OverflowPolicy>(a.bp.overflow, "--overflow");
      if (!a.bp.signed_zero.empty()) f.signed_zero = enum_from_name<SignedZero>(a.bp.signed_zero, "--signed-zero");
      stage = make_quantize_stage(f, parse_u32(a.bp.tensor_scale, "--tensor-scale"), parse_u32(a.bp.group_scale, "--group-scale"),
                                  a.bp.group_elems);
    }
  }
  BreakpointTable table;
  if (!a.table.empty()) {
    table = vectors::read_breakpoints(a.table);
    vectors::verify_breakpoints(table, a.table);  // the table is the golden table of the spec it claims (11.6)
    if (asked && !(table.spec == *asked))
      throw Error(a.table + ": the table is for " + table.spec.label() + ", the options ask for " + asked->label() + " (" +
                  spec_difference(table.spec, *asked) + ")");
  } else {
    if (!asked) throw CLI::ValidationError("--exhaustive", "give --table FILE or --grid GRID [--rounding R ...]");
    table = compute_breakpoints(*asked);
  }
  std::optional<ExhaustiveReport> prior;
  if (a.resume && std::filesystem::exists(report_json)) prior = read_report(report_json);

  ExhaustiveOptions o;
  o.range = range;
  o.shard = shard;
  o.threads = a.jobs;
  o.batch = a.batch;
  o.first_inputs = std::max<size_t>(1, a.first_inputs);
  o.state_path = report_json;
  o.state_every_s = a.state_every;
  o.resume = prior ? &*prior : nullptr;
  o.baseline = !a.no_baseline;
  // Ctrl-C / SIGTERM (10.8): the engine's loop calls `progress` every 250 ms; a
  // signal stops it after the batches in flight, and the partial report (the
  // covered ranges: --resume continues it) is printed and written.
  interrupt::install();
  static std::atomic<bool> stop{false};
  o.stop = &stop;
  // The one progress line of every command (mls/progress.hpp): off with -q or --no-progress.
  std::shared_ptr<progress::Meter> meter = progress::stderr_meter("check exhaustive", 0, quiet || a.no_progress, "inputs");
  auto seen_mismatches = std::make_shared<uint64_t>(0);
  o.progress = [meter, seen_mismatches](const ExhaustiveProgress& p) {
    if (interrupt::requested()) stop = true;
    meter->set_total(p.total);
    if (p.mismatched > *seen_mismatches) {
      meter->add_mismatch(static_cast<int64_t>(p.mismatched - *seen_mismatches));
      *seen_mismatches = p.mismatched;
    }
    meter->set_done(p.done);
    if (p.final) meter->finish();
  };
  ExhaustiveReport rep;
  try {
    rep = run_exhaustive(table, backend_lib, stage, o);
  } catch (const BackendUnavailable& e) {
    std::cerr << "mls check: backend failure: " << e.what() << "\n";
    throw CLI::RuntimeError(kBackendFailure);
  }
  if (interrupt::requested()) {
    rep.print_summary(std::cout);
    if (!report_json.empty()) vectors::write_text_file_atomic(report_json, rep.to_json().dump(1) + "\n");
    std::cerr << "mls check: interrupted by " << interrupt::signal_name() << ": the report covers what was checked"
              << (report_json.empty() ? "" : "; continue with --resume --report-json " + report_json) << "\n";
    throw CLI::RuntimeError(interrupt::exit_code());
  }
  finish(rep, report_json);
}

}  // namespace mls::cli
