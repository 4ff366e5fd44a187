// mls_rtl_bench: simulated cases per second of the Verilated RTL units behind
// the C ABI, and their latency and throughput in clocks (a benchmark, not a
// test). Usage: mls_rtl_bench [LIB] [elements per quantize call]
#include <dlfcn.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "mls_backend.h"

using Clock = std::chrono::steady_clock;
typedef int (*stats_fn)(char*, uint64_t);

static mls_format_v1 fmt(int E, int M) {
  mls_format_v1 f{};
  f.elem_exp_bits = E;
  f.elem_man_bits = M;
  f.elem_bias = (1 << E) - 1;
  f.scale_exp_bits = 4;
  f.scale_man_bits = 1;
  return f;
}

int main(int argc, char** argv) {
  const std::string lib = argc > 1 ? argv[1] : MLS_RTL_BACKEND_LIB;
  const int64_t n = argc > 2 ? std::atoll(argv[2]) : 1 << 16;
  void* h = dlopen(lib.c_str(), RTLD_NOW);
  if (!h) {
    std::fprintf(stderr, "dlopen %s: %s\n", lib.c_str(), dlerror());
    return 2;
  }
  auto get = reinterpret_cast<mls_backend_get_fn>(dlsym(h, MLS_BACKEND_ENTRY));
  auto stats = reinterpret_cast<stats_fn>(dlsym(h, "mls_rtl_stats"));
  const mls_backend_v1* api = get ? get(MLS_BACKEND_ABI_VERSION) : nullptr;
  if (!api || !stats) {
    std::fprintf(stderr, "%s: not an mls-rtl library\n", lib.c_str());
    return 2;
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::printf("%s\n", api->name());
  const int fmts[3][2] = {{2, 1}, {2, 4}, {3, 3}};
  for (const auto& em : fmts) {
    const mls_format_v1 f = fmt(em[0], em[1]);
    for (int mode : {MLS_RNE, MLS_SR}) {
      std::vector<uint32_t> x(n), w(n), el(n), gs(n);
      for (int64_t i = 0; i < n; ++i) {
        const float v = nd(rng);
        std::memcpy(&x[i], &v, 4);
        w[i] = static_cast<uint32_t>(rng());
      }
      const int64_t shape[1] = {n};
      // per-element groups: shape (n/16, 16) with tile 1x16
      const int64_t shape2[2] = {n / 16, 16};
      const int64_t tile[2] = {1, 16};
      mls_format_v1 fg = f;
      fg.group_rank = 2;
      fg.group_shape = tile;
      (void)shape;
      const mls_rounding_v1 r{mode, 8};
      uint32_t ts;
      const auto t0 = Clock::now();
      const int rc = api->quantize(&fg, 2, shape2, x.data(), n, &r, w.data(), n, nullptr, &ts, gs.data(), n,
                                   el.data(), n);
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      if (rc != MLS_OK) {
        std::fprintf(stderr, "quantize: %s\n", api->last_error());
        return 1;
      }
      std::printf("quantize e%dm%d.g4m1 %-3s: %lld elements in %.3f s = %.0f elements/s (host + simulation)\n", em[0],
                  em[1], mode == MLS_SR ? "sr8" : "rne", static_cast<long long>(n), s, n / s);
    }
  }
  // GEMM: (M, K, N) with tiles 1x16 / 16x1 (segments of 16 terms).
  for (const auto& em : fmts) {
    const int64_t Mr = 16, K = 256, N = 16;
    mls_format_v1 fa = fmt(em[0], em[1]), fb = fa;
    const int64_t ta[2] = {1, 16}, tb[2] = {16, 1};
    fa.group_rank = 2, fa.group_shape = ta;
    fb.group_rank = 2, fb.group_shape = tb;
    const int64_t sa[2] = {Mr, K}, sb[2] = {K, N};
    const uint32_t mask = (1u << (1 + em[0] + em[1])) - 1;
    std::vector<uint32_t> ea(Mr * K), eb(K * N), ga(Mr * K / 16), gb(K * N / 16), y(Mr * N);
    for (auto& c : ea) c = static_cast<uint32_t>(rng()) & mask;
    for (auto& c : eb) c = static_cast<uint32_t>(rng()) & mask;
    for (auto& c : ga) c = 24 + static_cast<uint32_t>(rng()) % 8;
    for (auto& c : gb) c = 24 + static_cast<uint32_t>(rng()) % 8;
    mls_tensor_v1 A{fa, 2, sa, 0x3f800000u, ga.size(), ga.data(), ea.size(), ea.data()};
    mls_tensor_v1 B{fb, 2, sb, 0x3fc00000u, gb.size(), gb.data(), eb.size(), eb.data()};
    const auto t0 = Clock::now();
    int reps = 0;
    double s = 0;
    do {
      if (api->gemm(&A, &B, nullptr, y.data(), y.size()) != MLS_OK) {
        std::fprintf(stderr, "gemm: %s\n", api->last_error());
        return 1;
      }
      ++reps;
      s = std::chrono::duration<double>(Clock::now() - t0).count();
    } while (s < 1.0);
    const double terms = double(reps) * Mr * K * N;
    std::printf("gemm e%dm%d.g4m1 exact %lldx%lldx%lld: %.0f terms/s, %.0f outputs/s (host + simulation)\n", em[0],
                em[1], (long long)Mr, (long long)K, (long long)N, terms / s, reps * double(Mr * N) / s);
  }
  std::vector<char> buf(1 << 16);
  stats(buf.data(), buf.size());
  std::printf("%s", buf.data());
  return 0;
}
