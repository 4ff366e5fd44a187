// mls-fast quantization of the format family (issue 12's speed benchmark):
// a 64x64x32x32 activation tensor to MXFP4 and NVFP4, under the exact profile
// and under one fp32 pipeline each (torchao_mx, torchao_nvfp4), rne and sr8
// -- elements/s, and the ratios measured in the same run to
//   x_golden: the golden model (target >= 50), measured on the first 8 images
//             (524288 elements; its cost per element does not depend on the
//             size) because it is slow by design;
//   x_naive:  a naive fp32 quantizer written the way a numpy script is:
//             block maxima, the shared scale from fp32 log2/exp2 (MXFP4) or
//             fp32 divisions and a mantissa rounding to E4M3 (NVFP4), then one
//             fp32 division per element and a comparison chain to E2M1,
//             single-threaded (target: mls-fast within 2x of it, i.e.
//             x_naive >= 0.5).
// mls-fast uses MLS_FAST_THREADS threads (default: all); compare like with
// like with MLS_FAST_THREADS=1. Run e.g.
//   MLS_FAST_THREADS=1 build/bench/bench_fast_family --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <string>

#include "mls/conformance/abi.hpp"
#include "mls/philox.hpp"
#include "mls/tensor.hpp"
#include "mls_backend.h"

namespace {

const mls_backend_v2& fast() {
  static const mls_backend_v2* api = mls_backend_get(MLS_BACKEND_ABI_VERSION);
  return *api;
}

const mls::Shape kShape{64, 64, 32, 32};
const mls::Shape kGoldenShape{8, 64, 32, 32};  // the golden model's slice

struct Input {
  std::vector<float> x;
  std::vector<uint32_t> bits, words;
};
// Activation-like data: normal values whose scale varies by channel.
const Input& input() {
  static const Input in = [] {
    Input q;
    std::mt19937_64 g(1);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const int64_t n = mls::element_count(kShape), map = kShape[2] * kShape[3];
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = (i / map) % kShape[1];
      q.x.push_back(nd(g) * std::ldexp(1.0f, static_cast<int>(c % 7) - 3));
      q.bits.push_back(mls::float_bits(q.x.back()));
    }
    q.words = mls::random_words(42, mls::kStreamActivation, q.bits.size());
    return q;
  }();
  return in;
}

struct Config {
  const char* format;
  mls::QuantArith arith;
  int sr;
};
std::string key(const Config& c) {
  return std::string(c.format) + "/" + mls::to_string(c.arith) + (c.sr ? "/sr8" : "/rne");
}
std::map<std::string, double>& golden_rate() {
  static std::map<std::string, double> m;
  return m;
}
std::map<std::string, double>& naive_rate() {
  static std::map<std::string, double> m;
  return m;
}

void golden(benchmark::State& st, Config c) {
  const Input& in = input();
  mls::QuantizeInput q;
  q.format = mls::parse_format(c.format);
  q.rounding = c.sr ? mls::Rounding{mls::RoundingMode::sr, 8} : mls::Rounding{};
  q.arith = c.arith;
  q.shape = kGoldenShape;
  const size_t n = static_cast<size_t>(mls::element_count(kGoldenShape));
  q.x.assign(in.bits.begin(), in.bits.begin() + static_cast<std::ptrdiff_t>(n));
  if (c.sr) q.rand.assign(in.words.begin(), in.words.begin() + static_cast<std::ptrdiff_t>(n));
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : st) benchmark::DoNotOptimize(mls::quantize(q));
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  golden_rate()[key(c)] = static_cast<double>(n) * static_cast<double>(st.iterations()) / sec;
  st.SetItemsProcessed(static_cast<int64_t>(n) * st.iterations());
  st.SetLabel(key(c));
}

// ---- the naive fp32 quantizers ------------------------------------------------

// E2M1 by comparisons, ties to even (0.25 -> 0, 0.75 -> 1.0, 1.25 -> 1.0, ...).
inline uint8_t fp4_code(float q) {
  const float a = std::fabs(q);
  const uint8_t m = a <= 0.25f ? 0 : a < 0.75f ? 1 : a <= 1.25f ? 2 : a < 1.75f ? 3 : a <= 2.5f ? 4 : a < 3.5f ? 5 : a <= 5.0f ? 6 : 7;
  return static_cast<uint8_t>(m | (std::signbit(q) ? 8 : 0));
}

// MXFP4: per 32 values, X = 2^(floor(log2 amax) - 2) in fp32, then x / X.
void naive_mxfp4(const std::vector<float>& x, std::vector<uint8_t>& scales, std::vector<uint8_t>& el) {
  const size_t n = x.size();
  for (size_t b = 0; b < n / 32; ++b) {
    const float* p = x.data() + b * 32;
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(p[i]));
    int e = amax == 0 ? -127 : static_cast<int>(std::floor(std::log2(amax))) - 2;
    e = std::clamp(e, -127, 127);
    const float scale = std::exp2(static_cast<float>(e));
    scales[b] = static_cast<uint8_t>(e + 127);
    for (int i = 0; i < 32; ++i) el[b * 32 + i] = fp4_code(p[i] / scale);
  }
}

// fp32 to E4M3 the way a script does it: clamp to 448, 3 mantissa bits by nearbyint.
inline float to_e4m3(float v) {
  if (v >= 448.0f) return 448.0f;
  if (v < std::ldexp(1.0f, -10)) return 0.0f;
  int e;
  std::frexp(v, &e);
  e = std::max(e, -5);
  return std::ldexp(std::nearbyint(std::ldexp(v, 4 - e)), e - 4);
}

// NVFP4: S_t = amax / (6 * 448); per 16 values S_g = E4M3(amax_b / 6 / S_t); x / (S_t S_g).
void naive_nvfp4(const std::vector<float>& x, std::vector<uint8_t>& scales, std::vector<uint8_t>& el) {
  const size_t n = x.size();
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  const float ts = amax == 0 ? 1.0f : amax / (6.0f * 448.0f);
  for (size_t b = 0; b < n / 16; ++b) {
    const float* p = x.data() + b * 16;
    float bmax = 0;
    for (int i = 0; i < 16; ++i) bmax = std::max(bmax, std::fabs(p[i]));
    const float sg = to_e4m3(bmax / 6.0f / ts);
    scales[b] = static_cast<uint8_t>(std::min(255.0f, sg));
    const float s = sg * ts;
    for (int i = 0; i < 16; ++i) el[b * 16 + i] = s == 0 ? 0 : fp4_code(p[i] / s);
  }
}

void naive(benchmark::State& st, const char* fmt) {
  const Input& in = input();
  const bool mx = std::string(fmt) == "mxfp4";
  std::vector<uint8_t> scales(in.x.size() / 16), el(in.x.size());
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : st) {
    mx ? naive_mxfp4(in.x, scales, el) : naive_nvfp4(in.x, scales, el);
    benchmark::DoNotOptimize(el.data());
    benchmark::ClobberMemory();
  }
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  naive_rate()[fmt] = static_cast<double>(in.x.size()) * static_cast<double>(st.iterations()) / sec;
  st.SetItemsProcessed(static_cast<int64_t>(in.x.size()) * st.iterations());
  st.SetLabel(std::string(fmt) + " naive fp32");
}

void fast_quantize(benchmark::State& st, Config c) {
  const Input& in = input();
  const mls::Format f = mls::parse_format(c.format);
  const mls::conformance::AbiFormat af(f, kShape);
  const mls_rounding_v2 cr{c.sr ? MLS_SR : MLS_RNE, 8};
  uint64_t groups = 0;
  fast().group_count(&af.f, 4, kShape.data(), &groups);
  std::vector<uint32_t> gs(groups), el(in.bits.size());
  uint32_t ts = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : st) {
    const int32_t status = fast().quantize(&af.f, 4, kShape.data(), in.bits.data(), in.bits.size(), &cr,
                                           mls::enum_code(c.arith), in.words.data(), in.words.size(), nullptr, &ts,
                                           gs.data(), gs.size(), el.data(), el.size());
    if (status != MLS_OK) st.SkipWithError(fast().last_error());
    benchmark::DoNotOptimize(el.data());
  }
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double n = static_cast<double>(in.bits.size()) * static_cast<double>(st.iterations());
  st.SetItemsProcessed(static_cast<int64_t>(n));
  st.SetLabel(key(c));
  if (auto it = golden_rate().find(key(c)); it != golden_rate().end()) st.counters["x_golden"] = n / sec / it->second;
  if (auto it = naive_rate().find(c.format); it != naive_rate().end()) st.counters["x_naive"] = n / sec / it->second;
}

constexpr benchmark::TimeUnit kMs = benchmark::kMillisecond;
using QA = mls::QuantArith;

// Registration order is run order: each golden/naive run precedes the fast
// run that reports the ratio to it.
BENCHMARK_CAPTURE(naive, mxfp4, "mxfp4")->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(naive, nvfp4, "nvfp4")->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(golden, mxfp4_exact, Config{"mxfp4", QA::exact, 0})->Iterations(1)->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(fast_quantize, mxfp4_exact, Config{"mxfp4", QA::exact, 0})->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(golden, mxfp4_exact_sr8, Config{"mxfp4", QA::exact, 1})->Iterations(1)->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(fast_quantize, mxfp4_exact_sr8, Config{"mxfp4", QA::exact, 1})->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(golden, mxfp4_torchao_mx, Config{"mxfp4", QA::torchao_mx, 0})->Iterations(1)->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(fast_quantize, mxfp4_torchao_mx, Config{"mxfp4", QA::torchao_mx, 0})->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(golden, nvfp4_exact, Config{"nvfp4", QA::exact, 0})->Iterations(1)->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(fast_quantize, nvfp4_exact, Config{"nvfp4", QA::exact, 0})->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(golden, nvfp4_exact_sr8, Config{"nvfp4", QA::exact, 1})->Iterations(1)->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(fast_quantize, nvfp4_exact_sr8, Config{"nvfp4", QA::exact, 1})->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(golden, nvfp4_torchao_nvfp4, Config{"nvfp4", QA::torchao_nvfp4, 0})->Iterations(1)->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(fast_quantize, nvfp4_torchao_nvfp4, Config{"nvfp4", QA::torchao_nvfp4, 0})->UseRealTime()->Unit(kMs);

}  // namespace

BENCHMARK_MAIN();
