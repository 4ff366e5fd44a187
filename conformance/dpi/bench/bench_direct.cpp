// The baseline of tb_dpi_bench.sv: the same golden model functions the DPI
// layer calls (mls::quantize_element after decoding the scales, mls::quantize),
// called directly from C++ on the SystemVerilog side's inputs, timed here.
#include <chrono>
#include <string>
#include <vector>

#include "mls/format.hpp"
#include "mls/tensor.hpp"
#include "svdpi.h"

namespace {
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
const uint32_t* data(svOpenArrayHandle h) { return static_cast<const uint32_t*>(svGetArrayPtr(h)); }
mls::Rounding rounding(int mode) {
  mls::Rounding r;
  r.mode = mode == 6 ? mls::RoundingMode::sr : mls::RoundingMode::rne;
  r.sr_bits = 8;
  return r;
}
}  // namespace

extern "C" {

long long mls_bench_now_ns() { return now_ns(); }

long long mls_bench_direct_round(const char* format, const svOpenArrayHandle x, const svOpenArrayHandle st,
                                 const svOpenArrayHandle gs, int mode, const svOpenArrayHandle word,
                                 const svOpenArrayHandle codes) {
  const mls::Format f = mls::parse_format(format);
  const mls::Rounding r = rounding(mode);
  const int n = svSize(x, 1);
  const uint32_t *px = data(x), *pst = data(st), *pgs = data(gs), *pw = data(word);
  uint32_t* out = static_cast<uint32_t*>(svGetArrayPtr(codes));
  const int64_t t0 = now_ns();
  for (int i = 0; i < n; ++i) {
    const mls::Dyadic scale = mls::Dyadic::from_float(mls::bits_float(pst[i])) * f.group_scale.decode(pgs[i]);
    out[i] = static_cast<uint32_t>(mls::quantize_element(f, px[i], scale, r, pw[i]).code);
  }
  return now_ns() - t0;
}

long long mls_bench_direct_quantize(const char* format, int reps, const svOpenArrayHandle x, int mode,
                                    const svOpenArrayHandle word, const svOpenArrayHandle elements) {
  const mls::Format f = mls::parse_format(format);
  const mls::Rounding r = rounding(mode);
  const int n = svSize(x, 1);
  std::vector<float> xf(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) xf[static_cast<size_t>(i)] = mls::bits_float(data(x)[i]);
  const std::vector<uint32_t> words(data(word), data(word) + n);
  uint32_t* out = static_cast<uint32_t*>(svGetArrayPtr(elements));
  mls::MlsTensor t;
  const int64_t t0 = now_ns();
  for (int k = 0; k < reps; ++k) t = mls::quantize(f, {64, 16}, xf, r, words);
  const int64_t dt = now_ns() - t0;
  for (int i = 0; i < n; ++i) out[i] = t.elements[static_cast<size_t>(i)];
  return dt;
}

}  // extern "C"
