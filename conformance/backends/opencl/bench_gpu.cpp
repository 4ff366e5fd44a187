// mls_gpu_bench: quantize elements/s and conv MAC/s of backends behind the
// C ABI against the golden model, in one run, on the same inputs (a
// benchmark, not a test; README.md "Speed"). Each figure is the best of
// --reps timed calls after one warm-up call (which, for OpenCL, builds the
// kernels), end to end through the C ABI: argument checks, transfers and the
// kernels. Results are compared with the golden model's bits.
//
//   mls_gpu_bench --lib libmls_opencl_backend.so --lib libmls_fast_backend.so
//                 [--format mls-e2m1] [--elements 1048576] [--conv 1,64,16,16,64,3] [--reps 3] [--no-golden]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "mls/conformance/backend.hpp"
#include "mls/format.hpp"
#include "mls/rounding.hpp"
#include "mls/tensor.hpp"

using namespace mls;
using namespace mls::conformance;

namespace {

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <class Fn>
double best_time(int reps, Fn&& fn) {
  fn();  // warm-up (kernel build, caches)
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const double t0 = seconds_now();
    fn();
    best = std::min(best, seconds_now() - t0);
  }
  return best;
}

struct Row {
  std::string name;
  double q_rate = 0, c_rate = 0;
  bool q_same = true, c_same = true;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> libs;
  int64_t elements = 1 << 20;
  int64_t N = 1, C = 64, H = 16, W = 16, O = 64, K = 3;
  int reps = 3;
  bool golden = true;
  std::string format = "mls-e2m1";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "mls_gpu_bench: %s needs a value\n", a.c_str());
        std::exit(64);
      }
      return argv[++i];
    };
    if (a == "--lib") libs.push_back(next());
    else if (a == "--elements") elements = std::stoll(next());
    else if (a == "--reps") reps = std::stoi(next());
    else if (a == "--no-golden") golden = false;
    else if (a == "--format") format = next();
    else if (a == "--conv") {
      const std::string v = next();
      if (std::sscanf(v.c_str(), "%ld,%ld,%ld,%ld,%ld,%ld", &N, &C, &H, &W, &O, &K) != 6) {
        std::fprintf(stderr, "mls_gpu_bench: --conv N,C,H,W,O,K\n");
        return 64;
      }
    } else {
      std::fprintf(stderr,
                   "usage: mls_gpu_bench --lib X.so [--lib Y.so ...] [--format F] [--elements N] [--conv N,C,H,W,O,K] "
                   "[--reps R] [--no-golden]\n");
      return 64;
    }
  }
  try {
    const Format fmt = parse_format(format);
    std::mt19937 rng(42);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    QuantizeCase q;
    q.format = fmt;
    q.rounding = parse_rounding("rne");
    q.shape = {elements / 256, 256};
    q.x.resize(static_cast<size_t>(q.shape[0] * 256));
    for (auto& v : q.x) v = float_bits(nd(rng));
    // conv operands: A (N,C,H,W), W (O,C,K,K), stride 1, padding K/2.
    auto make = [&](const Shape& s) {
      int64_t n = 1;
      for (int64_t d : s) n *= d;
      std::vector<float> x(static_cast<size_t>(n));
      for (auto& v : x) v = nd(rng);
      return mls::quantize(fmt, s, x, parse_rounding("rne"), {}, std::nullopt);
    };
    ConvCase c;
    c.a = make({N, C, H, W});
    c.b = make({O, C, K, K});
    c.params.padding = {K / 2, K / 2};
    const int64_t OH = H + 2 * (K / 2) - K + 1, OW = W + 2 * (K / 2) - K + 1;
    c.out_shape = {N, O, OH, OW};
    const double macs = double(N) * O * OH * OW * C * K * K;  // incl. padding taps (the usual count)

    std::vector<std::pair<std::string, std::unique_ptr<Backend>>> backends;
    if (golden) backends.emplace_back("golden", make_golden_backend());
    for (const auto& l : libs) backends.emplace_back(l, make_library_backend(l));
    std::vector<Row> rows;
    QuantizeResult q_ref;
    TensorResult c_ref;
    bool have_ref = false;
    for (auto& [label, be] : backends) {
      Row r;
      r.name = be->capabilities().name;
      Outcome<QuantizeResult> qo;
      const double tq = best_time(reps, [&] { qo = be->quantize(q); });
      if (qo.status != Status::ok) throw std::runtime_error(label + ": quantize: " + qo.message);
      Outcome<TensorResult> co;
      const double tc = best_time(reps, [&] { co = be->conv(c); });
      if (co.status != Status::ok) throw std::runtime_error(label + ": conv: " + co.message);
      if (!have_ref) {
        q_ref = qo.value;
        c_ref = co.value;
        have_ref = true;
      } else {
        r.q_same = qo.value.elements == q_ref.elements && qo.value.group_scales == q_ref.group_scales &&
                   qo.value.tensor_scale == q_ref.tensor_scale;
        r.c_same = co.value.y == c_ref.y;
      }
      r.q_rate = double(q.x.size()) / tq;
      r.c_rate = macs / tc;
      rows.push_back(r);
    }
    std::printf("quantize: %s rne, %zu elements; conv2d fwd exact: A(%ld,%ld,%ld,%ld) W(%ld,%ld,%ld,%ld) pad %ld, "
                "%.0f MACs; best of %d after a warm-up\n",
                format.c_str(), q.x.size(), N, C, H, W, O, C, K, K, K / 2, macs, reps);
    std::printf("%-72s %14s %8s %14s %8s  %s\n", "backend", "quantize el/s", "ratio", "conv MAC/s", "ratio",
                "bits vs first row");
    for (const auto& r : rows)
      std::printf("%-72s %14.4g %8.3g %14.4g %8.3g  %s\n", r.name.c_str(), r.q_rate, r.q_rate / rows[0].q_rate,
                  r.c_rate, r.c_rate / rows[0].c_rate, (r.q_same && r.c_same) ? "same" : "DIFFERENT");
    for (const auto& r : rows)
      if (!r.q_same || !r.c_same) return 1;
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mls_gpu_bench: %s\n", e.what());
    return 2;
  }
}
