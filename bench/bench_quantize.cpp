// Golden quantizer throughput (elements/s) next to a naive double-precision
// quantizer measured in the same run (issue 2's speed target: >= 1 M elements/s
// per core for the golden model). Run: build/bench/bench_quantize
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

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

mls::Format format(int m) {
  mls::Format f;
  f.element = mls::Minifloat::element(2, m);
  f.group_scale = mls::Minifloat::group_scale(4, 1);
  return f;
}

void BM_Golden(benchmark::State& st) {
  const auto f = format(static_cast<int>(st.range(0)));
  const bool sr = st.range(1) != 0;
  const mls::Rounding r{sr ? mls::RoundingMode::sr : mls::RoundingMode::rne, 8};
  const auto& x = input();
  const auto rand = sr ? mls::random_words(1, 0, x.size()) : std::vector<uint32_t>{};
  for (auto _ : st) benchmark::DoNotOptimize(mls::quantize(f, kShape, x, r, rand).elements.data());
  st.SetItemsProcessed(st.iterations() * static_cast<int64_t>(x.size()));
  st.SetLabel(std::string("e2m") + std::to_string(st.range(0)) + ".g4m1 " + (sr ? "sr8" : "rne"));
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

}  // namespace

BENCHMARK(BM_Golden)->Args({1, 0})->Args({1, 1})->Args({4, 0})->Args({4, 1})->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_NaiveDouble)->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
