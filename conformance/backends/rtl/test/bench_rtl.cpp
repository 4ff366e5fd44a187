// mls_rtl_bench: simulated cases per second of the Verilated RTL units behind
// the C ABI, and their latency and throughput in clocks (a benchmark, not a
// test), including the simulated clocks per output of the three conv2d
// passes lowered onto the dot unit. Usage: mls_rtl_bench [LIB] [elements per quantize call]
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
typedef int (*counters_fn)(const char*, uint64_t*);

static mls_format_v2 fmt(int E, int M) {
  mls_format_v2 f{};
  f.element = {1, E, M, (1 << E) - 1, MLS_ZERO_SUBNORMAL, MLS_SPECIALS_NONE, MLS_ENCODING_SIGN_MAGNITUDE};
  f.scale = {0, 4, 1, 15, MLS_ZERO_NONE, MLS_SPECIALS_NONE, MLS_ENCODING_SIGN_MAGNITUDE};
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
  auto counters = reinterpret_cast<counters_fn>(dlsym(h, "mls_rtl_counters"));
  const mls_backend_v2* api = get ? get(MLS_BACKEND_ABI_VERSION) : nullptr;
  if (!api || !stats || !counters) {
    std::fprintf(stderr, "%s: not an mls-rtl library\n", lib.c_str());
    return 2;
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::printf("%s\n", api->name());
  const int fmts[3][2] = {{2, 1}, {2, 4}, {3, 3}};
  for (const auto& em : fmts) {
    const mls_format_v2 f = fmt(em[0], em[1]);
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
      mls_format_v2 fg = f;
      fg.group_rank = 2;
      fg.group_shape = tile;
      (void)shape;
      const mls_rounding_v2 r{mode, 8};
      uint32_t ts;
      const auto t0 = Clock::now();
      const int rc = api->quantize(&fg, 2, shape2, x.data(), n, &r, MLS_QARITH_EXACT, w.data(), n, nullptr, &ts, gs.data(), n,
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
    mls_format_v2 fa = fmt(em[0], em[1]), fb = fa;
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
    mls_tensor_v2 A{fa, 2, sa, 0x3f800000u, ga.size(), ga.data(), ea.size(), ea.data()};
    mls_tensor_v2 B{fb, 2, sb, 0x3fc00000u, gb.size(), gb.data(), eb.size(), eb.data()};
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
  // conv2d, exact profile, default layouts (one group per (n, c) and per (o, cg)):
  // A (1, 8, 8, 8), W (8, 8, 3, 3), padding 1 -- a walk of 72 terms inside,
  // 32-48 at the border. The dot unit takes one term per clock, so the clocks
  // per output are the mean walk length plus the pipeline's gaps.
  for (const auto& em : fmts) {
    const mls_format_v2 f = fmt(em[0], em[1]);
    const std::string unit = "e" + std::to_string(em[0]) + "m" + std::to_string(em[1]) + ".g4m1/exact";
    const uint32_t mask = (1u << (1 + em[0] + em[1])) - 1;
    const int64_t sx[4] = {1, 8, 8, 8}, sw[4] = {8, 8, 3, 3}, sy[4] = {1, 8, 8, 8};
    std::vector<uint32_t> ex(512), ew(576), ey(512), gx(8), gw(64), gy(8), out(576);
    for (auto* v : {&ex, &ew, &ey})
      for (auto& c : *v) c = static_cast<uint32_t>(rng()) & mask;
    for (auto* v : {&gx, &gw, &gy})
      for (auto& c : *v) c = 24 + static_cast<uint32_t>(rng()) % 8;
    const mls_tensor_v2 X{f, 4, sx, 0x3f800000u, gx.size(), gx.data(), ex.size(), ex.data()};
    const mls_tensor_v2 Wt{f, 4, sw, 0x3f400000u, gw.size(), gw.data(), ew.size(), ew.data()};
    const mls_tensor_v2 dY{f, 4, sy, 0x3fc00000u, gy.size(), gy.data(), ey.size(), ey.data()};
    const char* names[3] = {"fwd", "bwd_data", "bwd_weight"};
    for (int pass = MLS_PASS_FWD; pass <= MLS_PASS_BWD_WEIGHT; ++pass) {
      const mls_conv2d_v2 p{pass, {1, 1}, {1, 1}, {1, 1}, 1};
      const mls_tensor_v2* a = pass == MLS_PASS_BWD_DATA ? &dY : &X;
      const mls_tensor_v2* b = pass == MLS_PASS_BWD_WEIGHT ? &dY : &Wt;
      const int64_t* os = pass == MLS_PASS_FWD ? sy : (pass == MLS_PASS_BWD_DATA ? sx : sw);
      uint64_t c0[3], c1[3];
      counters(unit.c_str(), c0);
      const auto t0 = Clock::now();
      if (api->conv2d(&p, a, b, nullptr, 4, os, out.data(), out.size()) != MLS_OK) {
        std::fprintf(stderr, "conv2d %s: %s\n", names[pass], api->last_error());
        return 1;
      }
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      counters(unit.c_str(), c1);
      const double clocks = double(c1[0] - c0[0]), terms = double(c1[1] - c0[1]), outs = double(c1[2] - c0[2]);
      std::printf("conv2d %-10s e%dm%d.g4m1 exact A(1,8,8,8) W(8,8,3,3) pad 1: %.0f outputs, %.1f terms/output, "
                  "%.1f simulated clocks/output, %.0f outputs/s (host + simulation)\n",
                  names[pass], em[0], em[1], outs, terms / outs, clocks / outs, outs / s);
    }
  }
  std::vector<char> buf(1 << 16);
  stats(buf.data(), buf.size());
  std::printf("%s", buf.data());
  return 0;
}
