// `mls inspect`: quantization error of fp32 tensors under MLS formats, for
// choosing a format (statistics: tools/inspect_stats.hpp; plots:
// scripts/plot_inspect.py reading --json).
#include <hdf5.h>

#include <chrono>
#include <iomanip>
#include <cstring>
#include <iostream>

#include "commands.hpp"
#include "inspect_stats.hpp"
#include "io.hpp"
#include "mls/error.hpp"
#include "mls/interrupt.hpp"
#include "mls/progress.hpp"
#include "mls/vectors/h5handle.hpp"
#include "mls/vectors/safe_read.hpp"

namespace mls::cli {

namespace {

using vectors::H5Handle;  // the one owner of HDF5 identifiers

bool is_h5(const std::string& s) {
  auto ends = [&](const char* suf) {
    const size_t n = std::strlen(suf);
    return s.size() >= n && s.compare(s.size() - n, n, suf) == 0;
  };
  return ends(".h5") || ends(".hdf5");
}

// A string attribute of an object (fixed or variable length, as h5py writes them); "" if absent.
std::string string_attr(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return "";
  H5Handle a{H5Aopen(obj, name, H5P_DEFAULT), H5Aclose};
  H5Handle ty{H5Aget_type(a.get()), H5Tclose};
  if (a.get() < 0 || H5Tget_class(ty.get()) != H5T_STRING) return "";
  if (H5Tis_variable_str(ty.get()) > 0) {
    H5Handle mem{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(ty.get()));
    char* p = nullptr;
    if (H5Aread(a.get(), mem.get(), &p) < 0 || !p) return "";
    std::string s(p);
    H5free_memory(p);
    return s;
  }
  std::string s(H5Tget_size(ty.get()), '\0');
  H5Handle mem{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(mem.get(), s.size());
  if (H5Aread(a.get(), mem.get(), s.data()) < 0) return "";
  s.resize(std::strlen(s.c_str()));
  return s;
}

struct Visit {
  hid_t file;
  std::vector<std::string> paths;
  int skipped = 0;
};

herr_t visit_link(hid_t group, const char* name, const H5L_info_t*, void* data) {
  auto* v = static_cast<Visit*>(data);
  H5Handle o{H5Oopen(group, name, H5P_DEFAULT), H5Oclose};
  if (o.get() < 0 || H5Iget_type(o.get()) != H5I_DATASET) return 0;
  H5Handle ty{H5Dget_type(o.get()), H5Tclose};
  if (H5Tget_class(ty.get()) == H5T_FLOAT && H5Tget_size(ty.get()) == 4)
    v->paths.push_back(std::string("/") + name);
  else
    ++v->skipped;
  return 0;
}

// Every 32-bit float dataset of an HDF5 file, in name order. The file is
// untrusted: HDF5 lists it in a child process (crash-proof, spec 7.8).
std::vector<std::string> float_datasets(const std::string& file) {
  if (!vectors::has_hdf5_signature(file)) throw Error(file + ": cannot open as HDF5 (missing, truncated or corrupt)");
  const std::string bytes = vectors::run_isolated(file, [&] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    vectors::note_reading("/ (superblock)");
    H5Handle f{H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
    if (f.get() < 0) throw Error(file + ": cannot open as HDF5 (missing, truncated or corrupt)");
    Visit v{f.get(), {}, 0};
    vectors::note_reading("/ (members)");
    if (H5Lvisit(f.get(), H5_INDEX_NAME, H5_ITER_INC, visit_link, &v) < 0) throw Error(file + ": cannot list its datasets");
    vectors::ByteWriter w;
    w.u64(static_cast<uint64_t>(v.skipped));
    w.u64(v.paths.size());
    for (const auto& p : v.paths) w.str(p);
    return w.take();
  });
  vectors::ByteReader r(bytes);
  Visit v{-1, {}, static_cast<int>(r.u64())};
  v.paths.resize(r.count(8));
  for (auto& p : v.paths) p = r.str();
  r.end();
  if (v.paths.empty()) throw Error(file + ": has no 32-bit float dataset to inspect");
  if (v.skipped) std::cerr << "mls inspect: " << file << ": skipped " << v.skipped << " dataset(s) that are not fp32\n";
  return v.paths;
}

inspect::TensorInfo load(const std::string& source) {
  inspect::TensorInfo t;
  t.name = source;
  io::FloatTensor x;
  try {
    x = io::read_float_tensor(source);
  } catch (const Error& e) {
    const std::string m = e.what();
    if (m.find(" = 0 is not >= 1") == std::string::npos) throw;
    throw Error(m + " (empty tensor; mls inspect needs at least one value)");
  }
  t.shape = x.shape;
  t.data = std::move(x.data);
  if (const size_t c = source.find(".h5:"); c != std::string::npos || source.find(".hdf5:") != std::string::npos) {
    const size_t colon = source.find(':', source.find(".h"));
    // Untrusted file: the attributes are read in a child process too (spec 7.8).
    const std::string bytes = vectors::run_isolated(source.substr(0, colon), [&] {
      vectors::note_reading(source.substr(colon + 1) + " (attributes)");
      H5Handle f{H5Fopen(source.substr(0, colon).c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
      H5Handle d{H5Dopen2(f.get(), source.substr(colon + 1).c_str(), H5P_DEFAULT), H5Dclose};
      vectors::ByteWriter w;
      w.str(d.get() >= 0 ? string_attr(d.get(), "role") : "");
      w.str(d.get() >= 0 ? string_attr(d.get(), "layer") : "");
      w.str(d.get() >= 0 ? string_attr(d.get(), "phase") : "");
      return w.take();
    });
    vectors::ByteReader r(bytes);
    t.role = r.str();
    t.layer = r.str();
    t.phase = r.str();
    r.end();
  }
  return t;
}

std::vector<std::string> split(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& s : items) {
    if (!s.empty() && s.find_first_not_of(" ") != std::string::npos && s[s.find_first_not_of(" ")] == '{') {
      out.push_back(s);  // JSON format text: commas are its own
      continue;
    }
    std::string cur;
    for (char c : s + ",") {
      if (c == ',') {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else if (c != ' ') {
        cur += c;
      }
    }
  }
  return out;
}

}  // namespace

void register_inspect(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "inspect",
      "quantization error of fp32 tensors under MLS, OCP MX and NVFP4 formats (MSE, SQNR, max/relative error, bias, flushed/saturated/"
      "subnormal fractions, code histograms, bits per element), one format or a sweep; text, --csv, --json");
  struct Args {
    std::vector<std::string> inputs, formats, elements, group_scales, group_shapes, policies, modes;
    bool sweep = false, quiet = false, flatten = false;
    inspect::Options o;
    std::string csv, json;
  };
  auto a = std::make_shared<Args>();
  sub->add_option("inputs", a->inputs,
                  "fp32 tensors: FILE.npy, FILE.h5:/dataset, or FILE.h5 (every fp32 dataset in it)")
      ->required();
  sub->add_option("-f,--format", a->formats, "format(s): profile, short name or JSON; comma-separated or repeated")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_flag("--sweep-elements", a->sweep, "sweep the element formats E 0..4 x M 0..7 (E+M >= 1: 39 formats)");
  sub->add_option("--elements", a->elements, "element formats to sweep, e.g. e2m1,e2m4,e3m3")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--group-scales", a->group_scales, "group-scale formats for the swept elements (default g4m1), e.g. g4m1,g5m2,g8m0")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--group-shapes", a->group_shapes, "group shapes for the swept elements: default,1x16x0x0,...")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--scale-policies", a->policies, "ceil,nearest,floor for the swept elements (default ceil)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("-r,--modes,--rounding", a->modes, "rounding modes: rne,rna,rtz,rup,rdn,rto,sr<R> (default rne)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_flag("--flatten", a->flatten,
                "view every tensor as rank 1 (row-major): blocks (/blkN, MX, NVFP4) are N consecutive elements in memory,"
                " so every tensor has the same bits per element");
  sub->add_option("--seeds", a->o.seeds, "quantizations (Philox seeds) per sr case")->capture_default_str();
  sub->add_option("--seed", a->o.seed, "first Philox seed (sr)")->capture_default_str();
  sub->add_option("--stream", a->o.stream, "Philox stream (0 activation, 1 weight, 2 error)")->capture_default_str();
  sub->add_option("--bins", a->o.bins, "error-histogram bins in the JSON")->capture_default_str();
  sub->add_option("--target-sqnr", a->o.target_db, "SQNR target (dB) for the format choice")->capture_default_str();
  sub->add_option("--threads", a->o.threads, "worker threads (0 = all cores)")->capture_default_str();
  sub->add_option("--csv", a->csv, "write a CSV table (one row per tensor and case) to FILE (- = stdout)");
  sub->add_option("--json", a->json, "write the full JSON report (histograms, sr averaging) to FILE (- = stdout)");
  sub->add_flag("-q,--quiet", a->quiet, "no text table on stdout");
  sub->callback([a] {
    inspect::SweepSpec spec;
    spec.formats = split(a->formats);
    spec.sweep_elements = a->sweep;
    spec.elements = split(a->elements);
    spec.group_scales = split(a->group_scales);
    spec.group_shapes = split(a->group_shapes);
    spec.scale_policies = split(a->policies);
    spec.modes = split(a->modes);
    std::vector<inspect::Case> cases = inspect::build_cases(spec);
    std::vector<inspect::TensorInfo> tensors;
    for (const std::string& in : a->inputs) {
      if (is_h5(in)) {
        for (const std::string& d : float_datasets(in)) tensors.push_back(load(in + ":" + d));
      } else {
        tensors.push_back(load(in));
      }
    }
    if (a->flatten)
      for (auto& t : tensors) t.shape = Shape{static_cast<int64_t>(t.data.size())};
    interrupt::install();  // Ctrl-C: the workers stop, nothing is written
    const auto t0 = std::chrono::steady_clock::now();
    // Progress on stderr (MLS_PROGRESS=off silences it; -q only drops the text table).
    const auto meter = progress::stderr_meter("inspect", 0, false, "cases", false);
    a->o.progress = meter.get();
    const inspect::Report r = inspect::run(std::move(tensors), std::move(cases), a->o);
    meter->finish();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!a->quiet) std::cout << inspect::to_text(r);
    if (!a->csv.empty()) {
      const std::string text = inspect::to_csv(r);
      if (a->csv == "-") std::cout << text; else io::write_text_atomic(a->csv, text);
    }
    if (!a->json.empty()) {
      const std::string text = inspect::to_json(r).dump() + "\n";
      if (a->json == "-") std::cout << text; else io::write_text_atomic(a->json, text);
    }
    std::cout.flush();
    std::cerr << "mls inspect: " << r.tensors.size() << " tensor(s) x " << r.cases.size() << " case(s) in "
              << std::fixed << std::setprecision(1) << secs << " s\n";
  });
}

}  // namespace mls::cli
