// `mls conv` and `mls gemm` (spec/06-conv.md): the low-bit convolution passes
// and the matrix product on MLS tensors, exact, with fp32 outputs and exact
// values written to files and a summary on stdout.
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <sstream>
#include <sys/stat.h>

#include "commands.hpp"
#include "io.hpp"
#include "mls/conv.hpp"
#include "mls/error.hpp"
#include "mls/philox.hpp"
#include "mls/tiers.hpp"

namespace mls::cli {

namespace {

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// Options shared by conv and gemm: formats and rounding for fp32 operands,
// seeds, the arithmetic profile, outputs.
struct Common {
  std::string format = "mls-e2m1";
  std::string rounding = "rne";
  uint64_t seed = 0;        // Philox seed of the sr words (streams: 0 activation/a, 1 weight/b, 2 error)
  uint64_t data_seed = 0;   // Philox seed of --random-shape data
  std::string arith = "exact";
  std::string out_dir;
  bool json = false;

  void add(CLI::App* sub) {
    sub->add_option("-f,--format", format, "format for fp32 operands: profile, short name or JSON")->capture_default_str();
    sub->add_option("-r,--rounding", rounding, "rounding for fp32 operands: rne rna rtz rup rdn rto sr<R>")
        ->capture_default_str();
    sub->add_option("--seed", seed, "Philox seed of the sr random words (spec 5)")->capture_default_str();
    sub->add_option("--data-seed", data_seed, "Philox seed of the --random-shape data")->capture_default_str();
    sub->add_option("--arith", arith, "arithmetic profile: exact, or the arith JSON object (spec 6.10)")
        ->capture_default_str();
    sub->add_option("-o,--out", out_dir,
                    "directory for <pass>.json (shape, y as fp32 bits, exact values), <pass>.npy (fp32) and the "
                    "operands as MLS tensor JSON");
    sub->add_flag("--json", json, "print the summary as JSON");
  }
};

// One operand: an MLS tensor file (.json, or .h5 from mls quantize), an fp32
// tensor (.npy, FILE.h5:/dataset, - for stdin, or inline numbers "1,-0.5,..."),
// quantized with the operand's format.
struct OperandSource {
  std::string source;
  std::vector<int64_t> shape;
  std::string format;  // overrides Common::format

  bool given() const { return !source.empty(); }
};

bool is_mls_tensor_file(const std::string& s) {
  return ends_with(s, ".json") || ((ends_with(s, ".h5") || ends_with(s, ".hdf5")) && s.find(':') == std::string::npos);
}

std::vector<float> inline_numbers(const std::string& text, const std::string& what) {
  std::vector<float> v;
  std::string tok;
  std::istringstream in(text);
  while (std::getline(in, tok, ',')) {
    const size_t b = tok.find_first_not_of(" \t"), e = tok.find_last_not_of(" \t");
    if (b == std::string::npos) throw Error(what + ": empty number in \"" + text + "\"");
    v.push_back(bits_float(io::parse_fp32(tok.substr(b, e - b + 1), what + "[" + std::to_string(v.size()) + "]")));
  }
  if (v.empty()) throw Error(what + ": no numbers");
  return v;
}

MlsTensor load_operand(const OperandSource& src, const std::string& what, const Common& c, uint32_t stream) {
  if (is_mls_tensor_file(src.source)) {
    MlsTensor t = io::read_quantized(src.source);
    if (!src.shape.empty() && src.shape != t.shape)
      throw Error(what + ": --" + what + "-shape " + shape_string(src.shape) + " does not match the MLS tensor's shape " +
                  shape_string(t.shape));
    return t;
  }
  io::FloatTensor x;
  const bool file = src.source == "-" || ends_with(src.source, ".npy") || src.source.find(".h5:") != std::string::npos ||
                    src.source.find(".hdf5:") != std::string::npos;
  if (file) {
    x = io::read_float_tensor(src.source, src.shape);
  } else {
    x.data = inline_numbers(src.source, what);
    if (src.shape.empty()) throw Error(what + ": inline numbers need --" + what + "-shape");
    if (element_count(src.shape, "--" + what + "-shape") != static_cast<int64_t>(x.data.size()))
      throw Error(what + ": " + std::to_string(x.data.size()) + " numbers do not fill --" + what + "-shape " +
                  shape_string(src.shape));
    x.shape = src.shape;
  }
  const Format f = parse_format(src.format.empty() ? c.format : src.format);
  const Rounding r = parse_rounding(c.rounding);
  std::vector<uint32_t> words;
  if (r.mode == RoundingMode::sr) words = random_words(c.seed, stream, x.data.size());
  try {
    return quantize(f, x.shape, x.data, r, words);
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
}

// Deterministic demo data: x_i = (int32(word_i) >> 8) * 2^-23 in [-1, 1),
// word_i = Philox word i of `stream` under the data seed; then quantized.
MlsTensor random_operand(const Shape& shape, uint32_t stream, const std::string& format, const Common& c) {
  const int64_t n = element_count(shape, "--random-shape");
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i)
    x[i] = std::ldexp(static_cast<float>(static_cast<int32_t>(random_word(c.data_seed, stream, i)) >> 8), -23);
  const Rounding r = parse_rounding(c.rounding);
  std::vector<uint32_t> words;
  if (r.mode == RoundingMode::sr) words = random_words(c.seed, stream, n);
  return quantize(parse_format(format.empty() ? c.format : format), shape, x, r, words);
}

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& what) {
  std::vector<int64_t> v;
  std::string tok;
  std::istringstream in(text);
  while (std::getline(in, tok, ',')) {
    try {
      size_t used = 0;
      v.push_back(std::stoll(tok, &used));
      if (used != tok.size()) throw std::invalid_argument(tok);
    } catch (const std::exception&) {
      throw Error(what + ": \"" + tok + "\" is not an integer");
    }
  }
  return v;
}

std::array<int64_t, 2> pair_option(const std::vector<int64_t>& v, const std::string& what) {
  if (v.size() == 1) return {v[0], v[0]};
  if (v.size() == 2) return {v[0], v[1]};
  throw Error(what + " takes one value or two (height,width), got " + std::to_string(v.size()));
}

uint64_t fnv1a(const std::vector<uint32_t>& y) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint32_t w : y)
    for (int k = 0; k < 4; ++k) {
      h ^= (w >> (8 * k)) & 0xffu;
      h *= 0x100000001b3ull;
    }
  return h;
}

std::string hex64(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%016llx", static_cast<unsigned long long>(v));
  return b;
}

void ensure_dir(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw Error("--out " + dir + " exists and is not a directory");
    return;
  }
  if (mkdir(dir.c_str(), 0777) != 0) throw Error("--out: cannot create directory " + dir);
}

void write_operand(const Common& c, const std::string& name, const MlsTensor& t) {
  if (c.out_dir.empty()) return;
  io::write_text_atomic(c.out_dir + "/" + name + ".json", t.to_json().dump() + "\n");
}

// Writes the result files and returns the summary of one product.
nlohmann::json report(const Common& c, const std::string& name, const nlohmann::json& params, const MlsTensor& a,
                      const MlsTensor& b, const ReductionResult& r, int64_t macs, double seconds,
                      const ArithProfile& arith) {
  nlohmann::json s{{"pass", name},
                   {"a", {{"shape", a.shape}, {"format", a.format.short_name()}}},
                   {"b", {{"shape", b.shape}, {"format", b.format.short_name()}}},
                   {"shape", r.shape},
                   {"macs", macs},
                   {"seconds", seconds},
                   {"mac_per_s", seconds > 0 ? static_cast<double>(macs) / seconds : 0.0},
                   {"y_fnv1a", hex64(fnv1a(r.y))}};
  double amax = 0;
  int64_t nonzero = 0;
  for (uint32_t y : r.y) {
    const float f = bits_float(y);
    amax = std::max(amax, static_cast<double>(std::fabs(f)));
    nonzero += (f != 0);
  }
  s["max_abs_y"] = amax;
  s["nonzero"] = nonzero;
  if (r.y.size() <= 16) {  // small results are printed in full: bits and exact values
    s["y"] = r.y;
    nlohmann::json exact = nlohmann::json::array();
    for (const Dyadic& d : r.exact) exact.push_back(d.to_decimal());
    s["exact"] = exact;
  }
  if (arith.profile != ArithKind::exact) {
    // 6.12: how the profile's outputs compare with the exact value.
    int64_t tiers[4] = {0, 0, 0, 0};
    double worst = 0;
    for (size_t i = 0; i < r.y.size(); ++i) {
      const Classification k = classify_fp32(r.exact[i], r.y[i]);
      ++tiers[static_cast<int>(k.tier)];
      worst = std::max(worst, k.err_ulps);
    }
    s["vs_exact"] = {{"exact", tiers[0]}, {"faithful", tiers[1]}, {"none", tiers[3]}, {"max_err_ulps", worst}};
  }
  if (!c.out_dir.empty()) {
    nlohmann::json exact = nlohmann::json::array();
    for (const Dyadic& d : r.exact) exact.push_back(dyadic_to_json(d));
    nlohmann::json j{{"pass", name}, {"params", params}, {"arith", arith.to_json()}, {"shape", r.shape},
                     {"y", r.y},     {"exact", exact}};
    io::write_text_atomic(c.out_dir + "/" + name + ".json", j.dump() + "\n");
    std::vector<float> y(r.y.size());
    for (size_t i = 0; i < y.size(); ++i) y[i] = bits_float(r.y[i]);
    io::write_npy_f32(c.out_dir + "/" + name + ".npy", r.shape, y);
    s["files"] = {c.out_dir + "/" + name + ".json", c.out_dir + "/" + name + ".npy"};
  }
  return s;
}

void print_summary(const Common& c, const nlohmann::json& passes) {
  if (c.json) {
    std::cout << nlohmann::json{{"arith", parse_arith(c.arith).to_json()}, {"results", passes}}.dump(2) << "\n";
    return;
  }
  for (const auto& s : passes) {
    char rate[64];
    std::snprintf(rate, sizeof rate, "%.3f s, %.1f MMAC/s", s["seconds"].get<double>(), s["mac_per_s"].get<double>() / 1e6);
    std::cout << s["pass"].get<std::string>() << ": a " << shape_string(s["a"]["shape"].get<Shape>()) << " "
              << s["a"]["format"].get<std::string>() << " x b " << shape_string(s["b"]["shape"].get<Shape>()) << " "
              << s["b"]["format"].get<std::string>() << " -> " << shape_string(s["shape"].get<Shape>()) << ": "
              << s["macs"].get<int64_t>() << " MACs in " << rate << "; y fnv1a " << s["y_fnv1a"].get<std::string>()
              << ", max |y| " << s["max_abs_y"].get<double>() << ", " << s["nonzero"].get<int64_t>() << " nonzero\n";
    if (s.contains("y"))
      for (size_t i = 0; i < s["y"].size(); ++i) {
        const uint32_t y = s["y"][i].get<uint32_t>();
        std::cout << "  y[" << i << "] = " << hex32(y) << " (" << bits_float(y) << "), exact "
                  << s["exact"][i].get<std::string>() << "\n";
      }
    if (s.contains("vs_exact"))
      std::cout << "  vs exact: " << s["vs_exact"]["exact"] << " exact, " << s["vs_exact"]["faithful"]
                << " faithful, " << s["vs_exact"]["none"] << " further; max error " << s["vs_exact"]["max_err_ulps"]
                << " ulps\n";
    if (s.contains("files"))
      std::cout << "  wrote " << s["files"][0].get<std::string>() << ", " << s["files"][1].get<std::string>() << "\n";
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct ConvOptions {
  Common c;
  std::string pass = "all";
  OperandSource x, w, dy;
  std::string stride = "1", padding = "0", dilation = "1";
  int64_t groups = 1;
  std::string random_shape;
  std::string out_shape;
};

void run_conv(const ConvOptions& o) {
  const ArithProfile arith = parse_arith(o.c.arith);
  std::vector<ConvPass> passes;
  if (o.pass == "all") passes = {ConvPass::fwd, ConvPass::bwd_data, ConvPass::bwd_weight};
  else passes = {conv_pass_from_string(o.pass, "--pass")};
  Conv2dParams base;
  base.stride = pair_option(parse_int_list(o.stride, "--stride"), "--stride");
  base.padding = pair_option(parse_int_list(o.padding, "--padding"), "--padding");
  base.dilation = pair_option(parse_int_list(o.dilation, "--dilation"), "--dilation");
  base.groups = o.groups;
  Shape extra_out;
  if (!o.out_shape.empty()) extra_out = parse_int_list(o.out_shape, "--out-shape");

  std::optional<MlsTensor> A, W, dY;
  if (!o.random_shape.empty()) {
    // N,C,H,W:O,KH,KW
    const size_t colon = o.random_shape.find(':');
    if (colon == std::string::npos) throw Error("--random-shape must look like N,C,H,W:O,KH,KW");
    const auto act = parse_int_list(o.random_shape.substr(0, colon), "--random-shape");
    const auto ker = parse_int_list(o.random_shape.substr(colon + 1), "--random-shape");
    if (act.size() != 4 || ker.size() != 3) throw Error("--random-shape must look like N,C,H,W:O,KH,KW");
    if (o.groups < 1 || act[1] % o.groups != 0)
      throw Error("--random-shape: C = " + std::to_string(act[1]) + " is not divisible by --groups " +
                  std::to_string(o.groups));
    const Shape wshape{ker[0], act[1] / o.groups, ker[1], ker[2]};
    Conv2dParams fp = base;
    const ConvGeometry g = ConvGeometry::resolve(fp, act, wshape);
    A = random_operand(act, kStreamActivation, o.x.format, o.c);
    W = random_operand(wshape, kStreamWeight, o.w.format, o.c);
    dY = random_operand(g.out_shape, kStreamError, o.dy.format, o.c);
  }
  if (o.x.given()) A = load_operand(o.x, "x", o.c, kStreamActivation);
  if (o.w.given()) W = load_operand(o.w, "w", o.c, kStreamWeight);
  if (o.dy.given()) dY = load_operand(o.dy, "dy", o.c, kStreamError);

  // Every pass's operands and shapes are checked before any is computed.
  struct Job {
    Conv2dParams p;
    const MlsTensor *a, *b;
    int64_t macs;
  };
  std::vector<Job> jobs;
  for (ConvPass pass : passes) {
    Conv2dParams p = base;
    p.pass = pass;
    const MlsTensor *a = nullptr, *b = nullptr;
    auto need = [&](const std::optional<MlsTensor>& t, const char* opt) -> const MlsTensor* {
      if (!t) throw Error(std::string(opt) + " is required for --pass " + to_string(pass) + " (or use --random-shape)");
      return &*t;
    };
    switch (pass) {
      case ConvPass::fwd:
        a = need(A, "--x"), b = need(W, "--w");
        break;
      case ConvPass::bwd_data:
        a = need(dY, "--dy"), b = need(W, "--w");
        p.out_shape = A ? A->shape : extra_out;
        if (p.out_shape.empty()) throw Error("bwd_data needs the shape of dA: give --x or --out-shape N,C,H,W");
        break;
      case ConvPass::bwd_weight:
        a = need(A, "--x"), b = need(dY, "--dy");
        p.out_shape = W ? W->shape : extra_out;
        if (p.out_shape.empty()) throw Error("bwd_weight needs the shape of dW: give --w or --out-shape O,Cg,KH,KW");
        break;
    }
    jobs.push_back({p, a, b, ConvGeometry::resolve(p, a->shape, b->shape).mac_count()});
  }
  if (!o.c.out_dir.empty()) {
    ensure_dir(o.c.out_dir);
    if (A) write_operand(o.c, "x", *A);
    if (W) write_operand(o.c, "w", *W);
    if (dY) write_operand(o.c, "dy", *dY);
  }
  nlohmann::json results = nlohmann::json::array();
  for (const Job& j : jobs) {
    const auto t0 = std::chrono::steady_clock::now();
    const ReductionResult r = conv2d(*j.a, *j.b, j.p, arith);
    const double secs = seconds_since(t0);
    const nlohmann::json params{{"stride", j.p.stride}, {"padding", j.p.padding}, {"dilation", j.p.dilation},
                                {"groups", j.p.groups}, {"out_shape", r.shape}};
    results.push_back(report(o.c, to_string(j.p.pass), params, *j.a, *j.b, r, j.macs, secs, arith));
  }
  print_summary(o.c, results);
}

struct GemmOptions {
  Common c;
  OperandSource a, b;
  std::string random_shape;
};

void run_gemm(const GemmOptions& o) {
  const ArithProfile arith = parse_arith(o.c.arith);
  std::optional<MlsTensor> A, B;
  if (!o.random_shape.empty()) {
    const auto mkn = parse_int_list(o.random_shape, "--random-shape");
    if (mkn.size() != 3) throw Error("--random-shape must look like M,K,N");
    A = random_operand({mkn[0], mkn[1]}, kStreamActivation, o.a.format, o.c);
    B = random_operand({mkn[1], mkn[2]}, kStreamWeight, o.b.format, o.c);
  }
  if (o.a.given()) A = load_operand(o.a, "a", o.c, kStreamActivation);
  if (o.b.given()) B = load_operand(o.b, "b", o.c, kStreamWeight);
  if (!A) throw Error("--a is required (or use --random-shape M,K,N)");
  if (!B) throw Error("--b is required (or use --random-shape M,K,N)");
  if (!o.c.out_dir.empty()) {
    ensure_dir(o.c.out_dir);
    write_operand(o.c, "a", *A);
    write_operand(o.c, "b", *B);
  }
  const Shape out = gemm_out_shape(A->shape, B->shape);
  const auto t0 = std::chrono::steady_clock::now();
  const ReductionResult r = gemm(*A, *B, arith);
  const double secs = seconds_since(t0);
  nlohmann::json results = nlohmann::json::array();
  results.push_back(report(o.c, "gemm", nlohmann::json::object(), *A, *B, r, out[0] * out[1] * A->shape[1], secs, arith));
  print_summary(o.c, results);
}

void add_operand(CLI::App* sub, OperandSource& s, const std::string& name, const std::string& what) {
  sub->add_option("--" + name, s.source,
                  what + ": MLS tensor (.json or .h5 from mls quantize) or fp32 (.npy, FILE.h5:/dataset, - for stdin, "
                         "or numbers \"1,-0.5,...\")");
  sub->add_option("--" + name + "-shape", s.shape, "shape of --" + name + " (for numbers or stdin)")->delimiter(',');
  sub->add_option("--" + name + "-format", s.format, "format for an fp32 --" + name + " (default: --format)");
}

}  // namespace

void register_conv(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "conv",
      "low-bit conv2d on MLS tensors, exact (spec 6): forward Y = A*W (NCHW x OIHW), backward-data dA, "
      "backward-weight dW; fp32 outputs and exact values");
  auto o = std::make_shared<ConvOptions>();
  sub->add_option("--pass", o->pass, "fwd, bwd_data, bwd_weight or all")->capture_default_str();
  add_operand(sub, o->x, "x", "activation A (N,C,H,W)");
  add_operand(sub, o->w, "w", "weights W (O,C/groups,KH,KW)");
  add_operand(sub, o->dy, "dy", "output gradient dY (N,O,OH,OW)");
  sub->add_option("--stride", o->stride, "stride: s or sh,sw")->capture_default_str();
  sub->add_option("--padding", o->padding, "zero padding on both sides: p or ph,pw")->capture_default_str();
  sub->add_option("--dilation", o->dilation, "dilation: d or dh,dw")->capture_default_str();
  sub->add_option("--groups", o->groups, "conv groups G (C and O divisible by G)")->capture_default_str();
  sub->add_option("--out-shape", o->out_shape,
                  "result shape of bwd_data (N,C,H,W) without --x, or of bwd_weight (O,Cg,KH,KW) without --w");
  sub->add_option("--random-shape", o->random_shape,
                  "demo input N,C,H,W:O,KH,KW: A, W and dY drawn from --data-seed (Philox streams 0, 1, 2; values "
                  "(int32(word) >> 8) * 2^-23) and quantized with --format/--rounding");
  o->c.add(sub);
  sub->callback([o] { run_conv(*o); });
}

void register_gemm(CLI::App& app) {
  auto* sub = app.add_subcommand("gemm", "low-bit matrix product C[M,N] = A[M,K] x B[K,N] on MLS tensors, exact (spec 6.4)");
  auto o = std::make_shared<GemmOptions>();
  add_operand(sub, o->a, "a", "A (M,K)");
  add_operand(sub, o->b, "b", "B (K,N)");
  sub->add_option("--random-shape", o->random_shape,
                  "demo input M,K,N drawn from --data-seed (Philox streams 0, 1) and quantized with --format/--rounding");
  o->c.add(sub);
  sub->callback([o] { run_gemm(*o); });
}

}  // namespace mls::cli
