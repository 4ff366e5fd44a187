// mls-fast (conformance/backends/fast) against the golden model on the same
// inputs, and its exact conv against a naive fp32 direct conv:
//   quantize: 64x64x32x32 activations, E2M1 and E2M4 elements with g4m1 group
//     scales per (n, c) map, rne and sr8 -- elements/s, and x_golden = the
//     ratio to the golden quantizer (target >= 50);
//   conv: the ResNet-20-style layer N=8, C=16, H=W=32, O=16, 3x3, pad 1,
//     forward, exact profile -- MAC/s (multiply-accumulates in range), and
//     x_naive = the ratio to a naive fp32 direct conv on the dequantized
//     operands (target >= 1/3), x_golden = the ratio to the golden conv.
// Golden runs take one iteration each (they are slow by design). Every figure
// and ratio is wall-clock time; mls-fast uses MLS_FAST_THREADS threads
// (default: all). Run e.g.
//   build/bench/bench_fast --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <string>

#include "mls/conv.hpp"
#include "mls/philox.hpp"
#include "mls/tensor.hpp"
#include "mls_backend.h"
#include "mls/conformance/abi.hpp"

namespace {

const mls_backend_v2& fast() {
  static const mls_backend_v2* api = mls_backend_get(MLS_BACKEND_ABI_VERSION);
  return *api;
}

using mls::conformance::AbiFormat;
using mls::conformance::AbiTensor;

// Activation-like data: normal values whose scale varies by channel.
std::vector<float> activations(const mls::Shape& s, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(mls::element_count(s)));
  const int64_t map = s[2] * s[3];
  for (size_t i = 0; i < x.size(); ++i) {
    const int64_t c = (static_cast<int64_t>(i) / map) % s[1];
    x[i] = nd(g) * std::ldexp(1.0f, static_cast<int>(c % 7) - 3);
  }
  return x;
}

const mls::Shape kQShape{64, 64, 32, 32};

struct QInput {
  std::vector<float> x;
  std::vector<uint32_t> xbits, words;
};
const QInput& qinput() {
  static const QInput in = [] {
    QInput q;
    q.x = activations(kQShape, 1);
    for (float v : q.x) q.xbits.push_back(mls::float_bits(v));
    q.words = mls::random_words(42, mls::kStreamActivation, q.x.size());
    return q;
  }();
  return in;
}

std::map<std::string, double>& golden_rate() {  // items/s of the golden runs, by configuration
  static std::map<std::string, double> m;
  return m;
}

mls::Rounding rounding(int sr) { return sr ? mls::Rounding{mls::RoundingMode::sr, 8} : mls::Rounding{}; }
std::string qkey(const char* fmt, int sr) { return std::string(fmt) + (sr ? "/sr8" : "/rne"); }

void golden_quantize(benchmark::State& st, const char* fmt) {
  const int sr = static_cast<int>(st.range(0));
  const mls::Format f = mls::parse_format(fmt);
  const QInput& in = qinput();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : st) benchmark::DoNotOptimize(mls::quantize(f, kQShape, in.x, rounding(sr), in.words));
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double n = static_cast<double>(in.x.size()) * static_cast<double>(st.iterations());
  golden_rate()[qkey(fmt, sr)] = n / sec;
  st.SetItemsProcessed(static_cast<int64_t>(n));
  st.SetLabel(qkey(fmt, sr));
}

void fast_quantize(benchmark::State& st, const char* fmt) {
  const int sr = static_cast<int>(st.range(0));
  const mls::Format f = mls::parse_format(fmt);
  const AbiFormat af(f, kQShape);
  const mls_format_v2& cf = af.f;
  const mls_rounding_v2 cr{sr ? MLS_SR : MLS_RNE, 8};
  const QInput& in = qinput();
  uint64_t groups = 0;
  fast().group_count(&cf, 4, kQShape.data(), &groups);
  std::vector<uint32_t> gs(groups), el(in.xbits.size());
  uint32_t ts = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : st) {
    const int32_t status =
        fast().quantize(&cf, 4, kQShape.data(), in.xbits.data(), in.xbits.size(), &cr, MLS_QARITH_EXACT, in.words.data(), in.words.size(),
                        nullptr, &ts, gs.data(), gs.size(), el.data(), el.size());
    if (status != MLS_OK) st.SkipWithError(fast().last_error());
    benchmark::DoNotOptimize(el.data());
  }
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double n = static_cast<double>(in.x.size()) * static_cast<double>(st.iterations());
  st.SetItemsProcessed(static_cast<int64_t>(n));
  st.SetLabel(qkey(fmt, sr));
  if (auto it = golden_rate().find(qkey(fmt, sr)); it != golden_rate().end())
    st.counters["x_golden"] = n / sec / it->second;
}

// ---- conv -------------------------------------------------------------------

struct ConvInput {
  mls::MlsTensor a, b;
  std::vector<float> af, bf;
  mls::Conv2dParams p;
  double macs = 0;
};
const ConvInput& conv_input(const char* fmt) {
  static std::map<std::string, ConvInput> cache;
  auto it = cache.find(fmt);
  if (it != cache.end()) return it->second;
  ConvInput c;
  const mls::Format f = mls::parse_format(fmt);
  const mls::Shape X{8, 16, 32, 32}, W{16, 16, 3, 3};
  c.a = mls::quantize(f, X, activations(X, 2), mls::Rounding{}, {});
  c.b = mls::quantize(f, W, activations(W, 3), mls::Rounding{}, {});
  c.af = mls::dequantize_fp32(c.a);
  c.bf = mls::dequantize_fp32(c.b);
  c.p.padding = {1, 1};
  c.macs = static_cast<double>(mls::ConvGeometry::resolve(c.p, X, W).mac_count());
  return cache.emplace(fmt, std::move(c)).first->second;
}

std::map<std::string, double>& naive_rate() {
  static std::map<std::string, double> m;
  return m;
}

// The textbook direct convolution in fp32 (sequential, bounds checks inside).
void naive_conv(const std::vector<float>& x, const std::vector<float>& w, std::vector<float>& y) {
  constexpr int N = 8, C = 16, H = 32, Wd = 32, O = 16, K = 3, P = 1;
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < O; ++o)
      for (int oh = 0; oh < H; ++oh)
        for (int ow = 0; ow < Wd; ++ow) {
          float s = 0;
          for (int c = 0; c < C; ++c)
            for (int kh = 0; kh < K; ++kh)
              for (int kw = 0; kw < K; ++kw) {
                const int ih = oh - P + kh, iw = ow - P + kw;
                if (ih >= 0 && ih < H && iw >= 0 && iw < Wd)
                  s += x[((n * C + c) * H + ih) * Wd + iw] * w[((o * C + c) * K + kh) * K + kw];
              }
          y[((n * O + o) * H + oh) * Wd + ow] = s;
        }
}

void naive_fp32_conv(benchmark::State& st, const char* fmt) {
  const ConvInput& c = conv_input(fmt);
  std::vector<float> y(8 * 16 * 32 * 32);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : st) {
    naive_conv(c.af, c.bf, y);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  naive_rate()[fmt] = c.macs * static_cast<double>(st.iterations()) / sec;
  st.counters["MAC/s"] = benchmark::Counter(c.macs, benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(fmt);
}

void golden_conv(benchmark::State& st, const char* fmt) {
  const ConvInput& c = conv_input(fmt);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : st) benchmark::DoNotOptimize(mls::conv2d(c.a, c.b, c.p));
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  golden_rate()[std::string("conv/") + fmt] = c.macs * static_cast<double>(st.iterations()) / sec;
  st.counters["MAC/s"] = benchmark::Counter(c.macs, benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(fmt);
}

void fast_conv(benchmark::State& st, const char* fmt) {
  const ConvInput& c = conv_input(fmt);
  const AbiTensor at(c.a), bt(c.b);
  const mls_tensor_v2 &a = at.t, &b = bt.t;
  const mls_conv2d_v2 p{MLS_PASS_FWD, {1, 1}, {1, 1}, {1, 1}, 1};
  std::vector<uint32_t> y(8 * 16 * 32 * 32);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : st) {
    if (fast().conv2d(&p, &a, &b, nullptr, 0, nullptr, y.data(), y.size()) != MLS_OK)
      st.SkipWithError(fast().last_error());
    benchmark::DoNotOptimize(y.data());
  }
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double rate = c.macs * static_cast<double>(st.iterations()) / sec;
  st.counters["MAC/s"] = benchmark::Counter(c.macs, benchmark::Counter::kIsIterationInvariantRate);
  if (auto it = naive_rate().find(fmt); it != naive_rate().end()) st.counters["x_naive"] = rate / it->second;
  if (auto it = golden_rate().find(std::string("conv/") + fmt); it != golden_rate().end())
    st.counters["x_golden"] = rate / it->second;
  st.SetLabel(fmt);
}

constexpr benchmark::TimeUnit kMs = benchmark::kMillisecond;

// Registration order is run order: each golden/naive run precedes the fast
// run that reports the ratio to it.
BENCHMARK_CAPTURE(golden_quantize, e2m1, "mls-e2m1")->Arg(0)->Arg(1)->Iterations(1)->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(fast_quantize, e2m1, "mls-e2m1")->Arg(0)->Arg(1)->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(golden_quantize, e2m4, "mls-e2m4")->Arg(0)->Arg(1)->Iterations(1)->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(fast_quantize, e2m4, "mls-e2m4")->Arg(0)->Arg(1)->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(naive_fp32_conv, e2m4, "mls-e2m4")->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(golden_conv, e2m4, "mls-e2m4")->Iterations(1)->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(fast_conv, e2m4, "mls-e2m4")->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(naive_fp32_conv, e2m1, "mls-e2m1")->UseRealTime()->Unit(kMs);
BENCHMARK_CAPTURE(fast_conv, e2m1, "mls-e2m1")->UseRealTime()->Unit(kMs);

}  // namespace

BENCHMARK_MAIN();
