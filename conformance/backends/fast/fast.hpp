// mls-fast: an independent, optimised implementation of the MLS operations
// behind the C ABI (conformance/include/mls_backend.h). It shares no code with
// reference/: integers and bit manipulation only, every value an integer
// significand times a power of two, every rounding decided from the exact
// remainder. Internal declarations.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mls_backend.h"

namespace mlsfast {

using u128 = unsigned __int128;
using i128 = __int128;

// ---- errors -------------------------------------------------------------------
// Thrown inside the library, turned into a status + last_error at the ABI.
struct Failure {
  int32_t status;
  std::string message;
};
[[noreturn]] void fail(int32_t status, std::string message);
[[noreturn]] inline void bad(std::string message) { fail(MLS_ERR_INPUT, std::move(message)); }
std::string hex32(uint32_t v);

// ---- bits -------------------------------------------------------------------
inline int bitlen64(uint64_t v) { return v ? 64 - __builtin_clzll(v) : 0; }
inline int bitlen128(u128 v) {
  const uint64_t hi = static_cast<uint64_t>(v >> 64);
  return hi ? 64 + bitlen64(hi) : bitlen64(static_cast<uint64_t>(v));
}

// |x| of a finite nonzero-or-zero fp32 as m * 2^e (m < 2^24).
struct Unpacked {
  uint64_t m;
  int64_t e;
};
inline Unpacked unpack_fp32(uint32_t bits) {
  const uint32_t ef = (bits >> 23) & 0xff, f = bits & 0x7fffff;
  if (ef == 0) return {f, -149};
  return {f | 0x800000u, static_cast<int64_t>(ef) - 150};
}

// A positive exact value (q + s) * 2^e with q an integer and s in [0,1),
// s != 0 iff sticky: what every division and product below delivers.
struct Exact {
  u128 q;
  int64_t e;
  bool sticky;
};

// x / D for x = xm 2^xe (xm != 0) and D = dm 2^de with dm normalised into
// [2^47, 2^48): q in (2^62, 2^64), exact remainder folded into sticky.
Exact divide(uint64_t xm, int64_t xe, uint64_t dm, int64_t de);
// Normalise a divisor significand (< 2^48, != 0) into [2^47, 2^48).
inline void normalise48(uint64_t& m, int64_t& e) {
  const int s = 48 - bitlen64(m);
  m <<= s;
  e -= s;
}

// Round an exact positive value to binary32. dir: 0 nearest even, 1 up
// (toward +inf on the magnitude), 2 toward zero. Returns the magnitude bits;
// *overflow is set when the result is beyond the largest finite value (the
// bits are then Inf for nearest/up and the largest finite for toward zero).
uint32_t round_fp32(const Exact& v, int dir, bool* overflow);

// ---- formats ----------------------------------------------------------------
struct ElemFmt {
  int E = 2, M = 1, bias = 3;
  bool zero_only = false;
  int emaxf = 3;   // largest exponent field (0 for E = 0)
  int64_t u0 = 0;  // exponent of the subnormal-row ulp: 1 - b - M
  uint32_t sign_bit = 0, mag_mask = 0, max_mag = 0;
  uint64_t qmax_m = 0;  // q_max = qmax_m * 2^qmax_e
  int64_t qmax_e = 0;
  uint64_t qmax_int = 0;  // q_max in ulps of the top row (the largest integer significand)
  bool valid(uint32_t code) const {
    if (code > (sign_bit | mag_mask)) return false;
    return !(zero_only && (code & mag_mask) != 0 && ((code & mag_mask) >> M) == 0);
  }
  // |value| of a magnitude code = m * 2^e.
  void decode(uint32_t mag, uint64_t& m, int64_t& e) const {
    const uint32_t ef = mag >> M, f = mag & ((1u << M) - 1);
    if (ef == 0) {
      m = f;
      e = u0;
    } else {
      m = f | (uint64_t(1) << M);
      e = static_cast<int64_t>(ef) - bias - M;
    }
  }
};

struct ScaleFmt {
  int Eg = 4, Mg = 1, bias = 15;
  uint32_t max_code = 0;
  void decode(uint32_t code, uint64_t& m, int64_t& e) const {
    m = (code & ((1u << Mg) - 1)) | (uint64_t(1) << Mg);
    e = static_cast<int64_t>(code >> Mg) - bias - Mg;
  }
};

struct Fmt {
  ElemFmt el;
  ScaleFmt gs;
  int32_t policy = MLS_SCALE_CEIL;
  bool poszero = false;
  bool ovf_error = false;
  std::vector<int64_t> group_shape;  // as given (empty = default)
};
// Validates; errors name `what`.field.
Fmt make_format(const mls_format_v2* f, const std::string& what);
void check_rounding(const mls_rounding_v2* r);

// Group layout with adjacent axes merged where the tile spans a whole axis
// (numbering unchanged): runs of the last merged axis are contiguous.
struct Layout {
  std::vector<int64_t> shape;  // merged
  std::vector<int64_t> gsz;    // merged group extents
  std::vector<int64_t> tiles;
  std::vector<int64_t> stride;  // element strides of the merged shape
  int64_t groups = 0, count = 0;
  Layout(const Fmt& f, const std::vector<int64_t>& shape, const std::string& what);
  // Calls fn(start, len) for each contiguous run of group g, in row-major order.
  template <class Fn>
  void for_each_run(int64_t g, Fn&& fn) const;
  std::vector<int64_t> group_index() const;  // group of every element (row-major)
};
std::vector<int64_t> read_shape(int32_t rank, const int64_t* shape, const std::string& what);

template <class Fn>
void Layout::for_each_run(int64_t g, Fn&& fn) const {
  const size_t r = shape.size();
  int64_t origin[16], extent[16], idx[16];
  for (size_t i = r; i-- > 0;) {
    const int64_t t = g % tiles[i];
    g /= tiles[i];
    origin[i] = t * gsz[i];
    extent[i] = std::min(gsz[i], shape[i] - origin[i]);
    idx[i] = 0;
  }
  const int64_t run = extent[r - 1];
  for (;;) {
    int64_t start = origin[r - 1];
    for (size_t i = 0; i + 1 < r; ++i) start += (origin[i] + idx[i]) * stride[i];
    fn(start, run);
    size_t i = r - 1;
    for (;;) {
      if (i == 0) return;
      --i;
      if (++idx[i] < extent[i]) break;
      idx[i] = 0;
    }
  }
}

// ---- validated ABI arguments ------------------------------------------------
// A validated MLS tensor passed in through the ABI (codes, counts, scale).
struct Tensor {
  Fmt fmt;
  std::vector<int64_t> shape;
  Layout layout;
  uint32_t tensor_scale;
  const uint32_t* group_scales;
  const uint32_t* elements;
  Tensor(const mls_tensor_v2* t, const std::string& what);
};

struct ConvGeom {
  int32_t pass = MLS_PASS_FWD;
  int64_t N = 0, C = 0, H = 0, W = 0, O = 0, KH = 0, KW = 0, OH = 0, OW = 0;
  int64_t G = 1, Cg = 0, Og = 0;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  std::vector<int64_t> out_shape;
  int64_t out_count() const { return out_shape[0] * out_shape[1] * out_shape[2] * out_shape[3]; }
};
ConvGeom conv_geometry(const mls_conv2d_v2* p, const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                       int32_t out_rank, const int64_t* out_shape);
// NULL, "", "exact" or {"profile":"exact"}: fine; the accumulator profile:
// MLS_ERR_UNSUPPORTED; anything else: MLS_ERR_INPUT.
void check_arith(const char* arith);

// ---- threads ----------------------------------------------------------------
int thread_count();
// Calls fn(begin, end) over [0, n) split among threads; runs inline when the
// work (n * cost_per_item) is small.
void parallel_for(int64_t n, double cost_per_item, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace mlsfast
