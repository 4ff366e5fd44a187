// Golden exact convolution throughput (multiply-accumulates per second) on the
// ResNet-20-style layer N=8, C=16, H=W=32, O=16, 3x3, pad 1, next to a naive
// fp64 direct convolution of the same dequantized operands in the same run
// (issue 3's target: golden within 10x of naive fp64).
//   BM_GoldenConv/<pass>        conv2d(): exact values and the fp32 rounding of every output (6.8)
//   BM_GoldenConvExact/<pass>   conv2d_exact(): the exact values alone (6.7, fixed-width engine 6.16)
//   BM_GoldenConvGeneric        conv2d_exact(generic): the plain Dyadic loop, for scale
//   BM_NaiveFp64                direct fp64 loops over the dequantized tensors
// Run: build/bench/bench_conv
#include <benchmark/benchmark.h>

#include <cmath>

#include "mls/conv.hpp"
#include "mls/philox.hpp"

namespace {

struct Layer {
  mls::MlsTensor A, W, dY;
  mls::Conv2dParams params(mls::ConvPass pass) const {
    mls::Conv2dParams p;
    p.pass = pass;
    p.padding = {1, 1};
    if (pass == mls::ConvPass::bwd_data) p.out_shape = A.shape;
    if (pass == mls::ConvPass::bwd_weight) p.out_shape = W.shape;
    return p;
  }
  int64_t macs() const {
    return mls::ConvGeometry::resolve(params(mls::ConvPass::fwd), A.shape, W.shape).mac_count();
  }
};

mls::MlsTensor operand(const mls::Shape& shape, uint32_t stream) {
  const int64_t n = mls::element_count(shape);
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i)
    x[i] = std::ldexp(static_cast<float>(static_cast<int32_t>(mls::random_word(1, stream, i)) >> 8), -23);
  return mls::quantize(mls::parse_format("mls-e2m1"), shape, x, mls::Rounding{}, {});
}

const Layer& layer() {
  static const Layer l{operand({8, 16, 32, 32}, mls::kStreamActivation), operand({16, 16, 3, 3}, mls::kStreamWeight),
                       operand({8, 16, 32, 32}, mls::kStreamError)};
  return l;
}

std::pair<const mls::MlsTensor*, const mls::MlsTensor*> operands(mls::ConvPass pass) {
  const Layer& l = layer();
  switch (pass) {
    case mls::ConvPass::fwd: return {&l.A, &l.W};
    case mls::ConvPass::bwd_data: return {&l.dY, &l.W};
    case mls::ConvPass::bwd_weight: return {&l.A, &l.dY};
  }
  return {nullptr, nullptr};
}

void BM_GoldenConv(benchmark::State& st) {
  const auto pass = static_cast<mls::ConvPass>(st.range(0));
  const auto [a, b] = operands(pass);
  const auto p = layer().params(pass);
  for (auto _ : st) benchmark::DoNotOptimize(mls::conv2d(*a, *b, p).y.data());
  st.SetItemsProcessed(st.iterations() * layer().macs());
  st.SetLabel(mls::to_string(pass) + " exact + fp32 rounding, MACs/s");
}

void BM_GoldenConvExact(benchmark::State& st) {
  const auto pass = static_cast<mls::ConvPass>(st.range(0));
  const auto [a, b] = operands(pass);
  const auto p = layer().params(pass);
  for (auto _ : st) benchmark::DoNotOptimize(mls::conv2d_exact(*a, *b, p).data());
  st.SetItemsProcessed(st.iterations() * layer().macs());
  st.SetLabel(mls::to_string(pass) + " exact values, MACs/s");
}

void BM_GoldenConvGeneric(benchmark::State& st) {
  const auto p = layer().params(mls::ConvPass::fwd);
  for (auto _ : st)
    benchmark::DoNotOptimize(mls::conv2d_exact(layer().A, layer().W, p, mls::ExactEngine::generic).data());
  st.SetItemsProcessed(st.iterations() * layer().macs());
  st.SetLabel("fwd generic Dyadic engine, MACs/s");
}

// Naive direct convolution in double: what a quick prototype does.
void BM_NaiveFp64(benchmark::State& st) {
  const auto a = mls::dequantize_fp64(layer().A), w = mls::dequantize_fp64(layer().W);
  const int N = 8, C = 16, H = 32, W = 32, O = 16, K = 3, P = 1;
  std::vector<double> y(static_cast<size_t>(N) * O * H * W);
  for (auto _ : st) {
    for (int n = 0; n < N; ++n)
      for (int o = 0; o < O; ++o)
        for (int oh = 0; oh < H; ++oh)
          for (int ow = 0; ow < W; ++ow) {
            double s = 0;
            for (int c = 0; c < C; ++c)
              for (int kh = 0; kh < K; ++kh) {
                const int ih = oh - P + kh;
                if (ih < 0 || ih >= H) continue;
                for (int kw = 0; kw < K; ++kw) {
                  const int iw = ow - P + kw;
                  if (iw < 0 || iw >= W) continue;
                  s += a[((n * C + c) * H + ih) * W + iw] * w[((o * C + c) * K + kh) * K + kw];
                }
              }
            y[((n * O + o) * H + oh) * W + ow] = s;
          }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(st.iterations() * layer().macs());
  st.SetLabel("fwd naive fp64, MACs/s");
}

}  // namespace

BENCHMARK(BM_NaiveFp64)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GoldenConvExact)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GoldenConv)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GoldenConvGeneric)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
