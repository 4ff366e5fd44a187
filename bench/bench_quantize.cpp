// Golden quantizer throughput (elements/s per core; the golden model is
// single-threaded) for issue 11's speed target: >= 1 M elements/s per core in
// every configuration -- e2m1/e2m4 with g4m1 scales, the family's mxfp4 and
// nvfp4, each under rne and sr8. Measured in the same run:
//   generic:   the same quantizer on the plain Dyadic (unbounded integer)
//              engine, the baseline (ExactEngine::generic);
//   automatic: the default engine (checked fixed-width integers, Dyadic
//              when a bound fails), with x_generic = its rate / generic's;
//   naive double: a quick numpy-style quantizer, for scale.
// Both engines' tensors are compared once per configuration (a mismatch
// aborts the benchmark). Run: build/bench/bench_quantize
// (--benchmark_counters_tabular=true for a table).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <string>

#include "mls/format.hpp"
#include "mls/philox.hpp"
#include "mls/tensor.hpp"

namespace {

const mls::Shape kShape{64, 64, 32, 32};

const std::vector<float>& input() {
  static const std::vector<float> x = [] {
    std::mt19937 g(1);
    std::normal_distribution<float> n(0.f, 1.f);
    std::vector<float> v(64 * 64 * 32 * 32);
    for (auto& e : v) e = n(g);
    return v;
  }();
  return x;
}

struct Config {
  const char* format;  // a short name or profile name (parse_format)
  bool sr;
};

mls::QuantizeInput request(const Config& c) {
  const auto& x = input();
  mls::QuantizeInput in;
  in.format = mls::parse_format(c.format);
  in.rounding = mls::Rounding{c.sr ? mls::RoundingMode::sr : mls::RoundingMode::rne, 8};
  in.shape = kShape;
  for (float v : x) in.x.push_back(mls::float_bits(v));
  if (c.sr) in.rand = mls::random_words(1, 0, x.size());
  return in;
}

std::string key(const Config& c) { return std::string(c.format) + (c.sr ? " sr8" : " rne"); }
std::map<std::string, double>& generic_rate() {
  static std::map<std::string, double> m;
  return m;
}
std::map<std::string, mls::MlsTensor>& generic_result() {
  static std::map<std::string, mls::MlsTensor> m;
  return m;
}

void golden(benchmark::State& st, Config c, mls::ExactEngine engine) {
  const mls::QuantizeInput in = request(c);
  mls::MlsTensor out;
  double sec = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    out = mls::quantize(in, engine);
    sec += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(out.elements.data());
  }
  const double n = static_cast<double>(in.x.size()) * static_cast<double>(st.iterations());
  st.SetItemsProcessed(static_cast<int64_t>(n));
  st.SetLabel(key(c) + (engine == mls::ExactEngine::generic ? " generic" : " automatic"));
  if (engine == mls::ExactEngine::generic) {
    generic_rate()[key(c)] = n / sec;
    generic_result()[key(c)] = out;
    return;
  }
  if (auto it = generic_result().find(key(c)); it != generic_result().end() && !(it->second.elements == out.elements &&
      it->second.group_scales == out.group_scales && it->second.tensor_scale == out.tensor_scale)) {
    st.SkipWithError("the engines disagree");
    return;
  }
  if (auto it = generic_rate().find(key(c)); it != generic_rate().end()) st.counters["x_generic"] = n / sec / it->second;
}

// Naive baseline: per-channel max scaling in double, nearest rounding with
// std::nearbyint on a uniform grid -- what a quick numpy prototype does.
void BM_NaiveDouble(benchmark::State& st) {
  const auto& x = input();
  const int m = static_cast<int>(st.range(0));
  std::vector<double> y(x.size());
  const size_t plane = 32 * 32;
  for (auto _ : st) {
    for (size_t p = 0; p < x.size() / plane; ++p) {
      double a = 0;
      for (size_t i = 0; i < plane; ++i) a = std::max(a, std::fabs(double(x[p * plane + i])));
      const double s = a > 0 ? a / 1.5 : 1.0;
      for (size_t i = 0; i < plane; ++i) {
        const double v = x[p * plane + i] / s;
        int e;
        std::frexp(v, &e);
        const double q = std::ldexp(1.0, std::max(e - 1 - m, -2 - m));
        y[p * plane + i] = std::nearbyint(v / q) * q * s;
      }
    }
    benchmark::DoNotOptimize(y.data());
  }
  st.SetItemsProcessed(st.iterations() * static_cast<int64_t>(x.size()));
  st.SetLabel("naive double, e2m" + std::to_string(m));
}

using E = mls::ExactEngine;
constexpr auto kMs = benchmark::kMillisecond;

}  // namespace

// Registration order is run order: each generic run precedes its automatic run.
#define MLS_GOLDEN(name, fmt, sr)                                                                    \
  BENCHMARK_CAPTURE(golden, name##_generic, Config{fmt, sr}, E::generic)->Iterations(1)->Unit(kMs); \
  BENCHMARK_CAPTURE(golden, name, Config{fmt, sr}, E::automatic)->Iterations(1)->Unit(kMs)
MLS_GOLDEN(e2m1_rne, "e2m1.g4m1", false);
MLS_GOLDEN(e2m1_sr8, "e2m1.g4m1", true);
MLS_GOLDEN(e2m4_rne, "e2m4.g4m1", false);
MLS_GOLDEN(e2m4_sr8, "e2m4.g4m1", true);
MLS_GOLDEN(mxfp4_rne, "mxfp4", false);
MLS_GOLDEN(mxfp4_sr8, "mxfp4", true);
MLS_GOLDEN(nvfp4_rne, "nvfp4", false);
MLS_GOLDEN(nvfp4_sr8, "nvfp4", true);
BENCHMARK(BM_NaiveDouble)->Arg(1)->Arg(4)->Unit(kMs);
BENCHMARK_MAIN();
