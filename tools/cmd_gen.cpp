// `mls gen`, `mls merge`, `mls export`, `mls vinfo`: HDF5 test vectors
// (spec/08-vectors.md). The work is done by the mls_vectors library.
#include <chrono>
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "exhaustive_cli.hpp"
#include "mls/error.hpp"
#include "mls/interrupt.hpp"
#include "mls/progress.hpp"
#include "mls/vectors/export.hpp"
#include "mls/vectors/generate.hpp"
#include "mls/vectors/io.hpp"
#include "mls/vectors/safe_read.hpp"

namespace mls::cli {

namespace {
using namespace mls::vectors;

// The names --ops accepts, from the one list of vector-file ops (8.4).
std::vector<std::string> vector_op_names() {
  std::vector<std::string> v;
  for (Op op : all_ops()) v.push_back(to_string(op));
  return v;
}

// Splits "a,b,{"x":1,"y":2}" at the commas outside braces (JSON formats and
// arithmetic profiles contain commas); repeated options are concatenated.
std::vector<std::string> split_list(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& s : items) {
    int depth = 0;
    std::string cur;
    for (char ch : s) {
      if (ch == '{' || ch == '[') ++depth;
      if (ch == '}' || ch == ']') --depth;
      if (ch == ',' && depth == 0) {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else {
        cur += ch;
      }
    }
    if (!cur.empty()) out.push_back(cur);
  }
  return out;
}

std::pair<int, int> parse_pair(const std::string& s, char sep, const std::string& what) {
  const size_t p = s.find(sep);
  try {
    if (p == std::string::npos) throw std::invalid_argument("");
    size_t used = 0;
    const int a = std::stoi(s.substr(0, p), &used);
    if (used != p) throw std::invalid_argument("");
    const std::string rest = s.substr(p + 1);
    const int b = std::stoi(rest, &used);
    if (used != rest.size()) throw std::invalid_argument("");
    return {a, b};
  } catch (const std::exception&) {
    throw Error(what + " \"" + s + "\" is not of the form A" + sep + "B");
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void print_summary(const Suite& s, bool groups) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> per;
  for (const auto& g : s.groups) {
    per[to_string(g.op)].first += 1;
    per[to_string(g.op)].second += g.count();
  }
  for (const auto& [op, v] : per)
    std::cout << "  " << std::left << std::setw(11) << op << std::right << std::setw(6) << v.first << " groups "
              << std::setw(10) << v.second << " cases\n";
  if (groups)
    for (const auto& g : s.groups)
      std::cout << "  " << g.path << "  " << g.count() << " cases  " << g.label() << "\n";
}
}  // namespace

void register_gen(CLI::App& app) {
  auto* sub = app.add_subcommand("gen", "generate a test-vector suite as an HDF5 file (spec/08-vectors.md)");
  struct Args {
    std::string out, shard, binades;
    std::vector<std::string> ops, formats, roundings, ariths;
    GenOptions o;
    bool list = false, quiet = false;
    uint64_t max_mib = 3072;
  };
  auto a = std::make_shared<Args>();
  sub->add_option("-o,--output", a->out, "the HDF5 file to write (written under a temporary name, then renamed)");
  sub->add_option("--ops", a->ops, "ops: round, quantize, dequantize, philox, conv, gemm (default: all)")
      ->delimiter(',')
      ->check(CLI::IsMember(vector_op_names()));
  sub->add_option("-f,--formats", a->formats,
                  "formats: profile names, short names, JSON, or the words profiles and variants (default: profiles)");
  sub->add_option("-r,--rounding", a->roundings, "rounding modes, e.g. rne,sr8 (default: rne,rna,rtz,rup,rdn,rto,sr8)");
  sub->add_option("--arith", a->ariths, "conv/gemm arithmetic: exact, acc24, acc12wrap or JSON (default: all three)");
  sub->add_option("-s,--seed", a->o.seed, "seed of the random cases")->capture_default_str();
  sub->add_option("-l,--level", a->o.level, "1: seconds, 2: minutes (counts in spec/08-vectors.md)")->capture_default_str();
  sub->add_flag("--exhaustive", a->o.exhaustive, "add the exhaustive tables where the space is small");
  sub->add_option("--binades", a->binades, "round: every fp32 input with exponent in LO:HI (-127 = subnormals)");
  sub->add_option("--shard", a->shard, "write part i of N (i/N, 0-based); join the parts with `mls merge`");
  sub->add_option("-j,--jobs", a->o.jobs, "worker threads (0 = all cores; the output does not depend on it)")->capture_default_str();
  sub->add_option("--max-mib", a->max_mib, "refuse outputs needing more memory than this (MiB)")->capture_default_str();
  sub->add_flag("--list", a->list, "print the planned case groups and counts; write nothing");
  sub->add_flag("-q,--quiet", a->quiet, "print nothing on success (and no progress line)");
  auto bp = add_breakpoint_gen_options(sub);  // --breakpoints (spec 11)
  sub->callback([a, bp] {
    if (bp->enabled) return gen_breakpoints(split_list(a->formats), split_list(a->roundings), *bp, a->out, a->quiet);
    GenOptions o = a->o;
    for (const auto& s : split_list(a->ops)) o.ops.push_back(op_from_string(s, "--ops"));
    o.formats = split_list(a->formats);
    o.roundings = split_list(a->roundings);
    o.ariths = split_list(a->ariths);
    if (!a->binades.empty()) o.binades = parse_pair(a->binades, ':', "--binades");
    if (!a->shard.empty()) std::tie(o.shard_index, o.shard_count) = parse_pair(a->shard, '/', "--shard");
    o.max_bytes = a->max_mib << 20;
    o.validate();
    if (a->list) {
      uint64_t total = 0;
      const auto plan = plan_suite(o);
      for (const auto& g : plan) {
        std::cout << g.path << "  " << g.total << " cases  " << g.label << "\n";
        total += g.total;
      }
      std::cout << plan.size() << " groups, " << total << " cases\n";
      return;
    }
    if (a->out.empty()) throw Error("gen: --output FILE is required (or --list)");
    interrupt::install();  // Ctrl-C: stop after the chunk in hand, write nothing (7.6)
    const auto t0 = std::chrono::steady_clock::now();
    const auto meter = progress::stderr_meter("gen", 0, a->quiet, "cases", false);
    o.progress = meter.get();
    const Suite s = generate(o);
    meter->finish();
    const double t_gen = seconds_since(t0);
    write_suite(a->out, s);
    if (!a->quiet) {
      std::cout << a->out << ": " << s.groups.size() << " groups, " << s.case_count() << " cases";
      if (o.shard_count > 1) std::cout << " (shard " << o.shard_index << "/" << o.shard_count << ")";
      std::cout << ", generated in " << std::fixed << std::setprecision(2) << t_gen << " s, written in "
                << seconds_since(t0) - t_gen << " s\n";
      print_summary(s, false);
      std::cout << "  content_sha256 " << attr_str(s.attrs, "content_sha256", "/") << "\n";
    }
  });
}

void register_merge(CLI::App& app) {
  auto* sub = app.add_subcommand("merge", "join the shards of one `mls gen --shard i/N` command into the unsharded file");
  auto out = std::make_shared<std::string>();
  auto in = std::make_shared<std::vector<std::string>>();
  sub->add_option("-o,--output", *out, "the merged HDF5 file")->required();
  sub->add_option("shards", *in, "the N shard files, in any order")->required();
  auto quiet = std::make_shared<bool>(false);
  sub->add_flag("-q,--quiet", *quiet, "no progress line");
  sub->callback([out, in, quiet] {
    interrupt::install();
    std::vector<Suite> shards;
    {
      const auto meter = progress::stderr_meter("merge: reading", in->size(), *quiet, "files", false);
      for (const auto& p : *in) {
        if (interrupt::requested()) throw interrupt::Interrupted("merge: interrupted (" + interrupt::signal_name() + "); nothing written");
        shards.push_back(safe_read_suite(p));
        meter->add();
      }
    }
    Suite m;
    try {
      m = merge_shards(shards);
    } catch (const Error& e) {
      // Name the files: shards are numbered in command-line order.
      std::string names;
      for (size_t i = 0; i < in->size(); ++i)
        names += (i ? ", " : "") + std::string("input ") + std::to_string(i + 1) + " " + (*in)[i] + " = shard " +
                 std::to_string(attr_int(shards[i].attrs, "shard_index", (*in)[i])) + "/" +
                 std::to_string(attr_int(shards[i].attrs, "shard_count", (*in)[i]));
      throw Error(std::string(e.what()) + " [" + names + "]");
    }
    write_suite(*out, m);
    std::cout << *out << ": " << m.groups.size() << " groups, " << m.case_count() << " cases from " << in->size()
              << " shards\n  content_sha256 " << attr_str(m.attrs, "content_sha256", "/") << "\n";
  });
}

void register_export(CLI::App& app) {
  auto* sub = app.add_subcommand("export", "write a vector file as hex lines ($readmemh) or JSON lines, one file per case group");
  auto file = std::make_shared<std::string>();
  auto o = std::make_shared<ExportOptions>();
  auto ops = std::make_shared<std::vector<std::string>>();
  auto jsonl = std::make_shared<bool>(false);
  sub->add_option("file", *file, "the vector file")->required();
  sub->add_option("-o,--output-dir", o->dir, "directory for the exported files")->required();
  sub->add_flag("--jsonl", *jsonl, "JSON lines instead of hex");
  sub->add_option("--ops", *ops, "only these ops")->delimiter(',')->check(CLI::IsMember(vector_op_names()));
  sub->add_option("--max-cases", o->max_jsonl_cases, "JSON lines: the most cases per group")->capture_default_str();
  auto quiet = std::make_shared<bool>(false);
  sub->add_flag("-q,--quiet", *quiet, "no progress line");
  sub->callback([file, o, ops, jsonl, quiet] {
    interrupt::install();
    ExportOptions opt = *o;
    opt.format = *jsonl ? ExportFormat::jsonl : ExportFormat::hex;
    for (const auto& s : split_list(*ops)) opt.ops.push_back(op_from_string(s, "--ops"));
    const Suite s = safe_read_suite(*file);
    const auto meter = progress::stderr_meter("export", 0, *quiet, "cases", false);
    opt.progress = meter.get();
    const auto files = export_suite(s, *file, opt);
    meter->finish();
    uint64_t cases = 0;
    for (const auto& f : files) {
      std::cout << f.path << "  " << f.cases << " cases";
      if (opt.format == ExportFormat::hex) std::cout << "  " << f.width_bits << " bits";
      std::cout << "  sha256 " << f.sha256 << "\n";
      cases += f.cases;
    }
    std::cout << files.size() << " files, " << cases << " cases\n";
  });
}

void register_vinfo(CLI::App& app) {
  auto* sub = app.add_subcommand("vinfo", "check a vector or results file against the schema and summarise it");
  auto file = std::make_shared<std::string>();
  auto vectors_file = std::make_shared<std::string>();
  auto groups = std::make_shared<bool>(false);
  auto no_verify = std::make_shared<bool>(false);
  sub->add_option("file", *file, "the HDF5 file")->required();
  sub->add_option("--vectors", *vectors_file, "for a results file: the vector file it answers (checks the shapes)");
  sub->add_flag("-g,--groups", *groups, "list every case group");
  sub->add_flag("--no-verify", *no_verify, "skip recomputing the SHA-256 digests");
  sub->callback([file, vectors_file, groups, no_verify] {
    ReadOptions ro;
    ro.verify_digests = !*no_verify;
    Suite s = safe_read_suite(*file, ro);
    if (!vectors_file->empty()) s = safe_read_results(*file, safe_read_suite(*vectors_file, ro), ro);
    std::cout << *file << ": " << attr_str(s.attrs, "schema", "/") << " version " << attr_int(s.attrs, "schema_version", "/")
              << ", " << to_string(s.kind()) << ", " << s.groups.size() << " groups, " << s.case_count() << " cases"
              << (ro.verify_digests && s.attrs.count("content_sha256") ? ", digests verified" : "") << "\n";
    for (const auto& [k, v] : s.attrs) {
      if (k == "schema" || k == "schema_version" || k == "kind") continue;
      std::cout << "  " << k << ": ";
      std::visit(
          [](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::vector<int64_t>>) std::cout << shape_string(x);
            else std::cout << x;
          },
          v);
      std::cout << "\n";
    }
    print_summary(s, *groups);
  });
}

}  // namespace mls::cli
