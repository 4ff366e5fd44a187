// mls-fast: an independent, optimised implementation of the format family
// (MLS, OCP MX, NVFP4) behind the C ABI (conformance/include/mls_backend.h).
// It shares no code with reference/: integers and bit manipulation only,
// every value an integer significand times a power of two, every rounding
// decided from the exact remainder; the quantizer arithmetic profiles that
// model fp32 library pipelines (4.12) run their fp32 steps natively.
// Internal declarations.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
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
inline float bits_float(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
inline uint32_t float_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
inline bool fp32_nonfinite(uint32_t b) { return (b & 0x7f800000u) == 0x7f800000u; }

// |x| of a finite fp32 as m * 2^e (m < 2^24; m = 0 for a zero).
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

// Normalise a divisor significand (!= 0) into [2^63, 2^64).
inline void normalise64(uint64_t& m, int64_t& e) {
  const int s = 64 - bitlen64(m);
  m <<= s;
  e -= s;
}
// x / D for x = xm 2^xe (0 < xm < 2^24) and D = dm 2^de with dm normalised
// into [2^63, 2^64): q in (2^62, 2^64), the exact remainder folded into sticky.
Exact divide(uint64_t xm, int64_t xe, uint64_t dm, int64_t de);
// An exact value m 2^e (0 < m < 2^64) with q left-aligned to 64 bits.
inline Exact exact_of(uint64_t m, int64_t e) {
  const int s = 64 - bitlen64(m);
  return Exact{u128(m << s), e - s, false};
}

// Round an exact positive value to binary32. dir: 0 nearest even, 1 up
// (toward +inf on the magnitude), 2 toward zero. Returns the magnitude bits;
// *overflow is set when the result is beyond the largest finite value (the
// bits are then Inf for nearest/up and the largest finite for toward zero).
uint32_t round_fp32(const Exact& v, int dir, bool* overflow);
// RN_fp32 of m 2^e (m < 2^64; 0 for m = 0), overflow to +Inf.
uint32_t fp32_nearest(uint64_t m, int64_t e);

// ---- grids --------------------------------------------------------------------
// One minifloat descriptor (spec/01-minifloat.md) for elements and group
// scales alike: widths, bias, zero mode, special values, encoding.
struct Grid {
  int E = 2, M = 1, bias = 3;
  int32_t zero = MLS_ZERO_SUBNORMAL;
  int32_t specials = MLS_SPECIALS_NONE;
  bool is_signed = true;
  bool twos = false;      // two's complement (E = 0 only)
  int emaxf = 3;          // the all-ones exponent field (0 for E = 0)
  int64_t u0 = 0;         // 1 - b - M: the step of the subnormal row
  uint32_t sign_bit = 0;  // 0 for an unsigned grid
  uint32_t mag_mask = 0;  // 2^(E+M) - 1
  uint32_t max_mag = 0;   // the largest finite magnitude code
  uint32_t over_mag = 0;  // max_mag + 1: the special position above it (1.6)
  uint32_t nan_mag = 0, inf_mag = 0;  // where the grid has them
  uint64_t code_count = 0;
  uint64_t max_m = 0;  // the largest finite value = max_m 2^max_e
  int64_t max_e = 0;

  bool has_zero() const { return zero != MLS_ZERO_NONE; }
  bool has_nan() const { return specials != MLS_SPECIALS_NONE; }
  bool has_inf() const { return specials == MLS_SPECIALS_IEEE; }
  // Magnitude codes with a finite value (1.7).
  bool finite_mag(uint32_t mag) const {
    if (mag > max_mag) return false;
    return !(zero == MLS_ZERO_ONLY && mag != 0 && (mag >> M) == 0);
  }
  // |value| of a magnitude code = m 2^e (m = 0 for the zero), by the 1.3
  // formula (also for the special positions above the largest finite value).
  void decode(uint32_t mag, uint64_t& m, int64_t& e) const {
    const uint32_t ef = mag >> M, f = mag & ((1u << M) - 1);
    if (ef == 0 && has_zero()) {
      m = f;
      e = u0;
    } else {
      m = f | (uint64_t(1) << M);
      e = static_cast<int64_t>(ef) - bias - M;
    }
  }
  // 1.2: sign and magnitude of a code, and back (two's complement: the
  // magnitude of the most negative code is 2^M; zero has one code).
  void split(uint32_t code, bool& neg, uint32_t& mag) const {
    neg = (code & sign_bit) != 0;
    if (twos)
      mag = neg ? static_cast<uint32_t>(code_count - code) : code;
    else
      mag = code & mag_mask;
  }
  uint32_t encode(bool neg, uint32_t mag) const {
    if (!neg || !is_signed) return mag;
    if (twos) return mag == 0 ? 0 : static_cast<uint32_t>(code_count - mag);
    return mag | sign_bit;
  }
  bool is_nan_code(uint32_t code) const {
    if (specials == MLS_SPECIALS_NONE || code >= code_count) return false;
    const uint32_t mag = code & mag_mask;
    if (specials == MLS_SPECIALS_NAN_ALL_ONES) return mag == mag_mask;
    return (mag >> M) == static_cast<uint32_t>(emaxf) && (mag & ((1u << M) - 1)) != 0;
  }
  bool is_inf_code(uint32_t code) const {
    return specials == MLS_SPECIALS_IEEE && code < code_count && (code & mag_mask) == inf_mag;
  }
  // A code with a finite value.
  bool is_finite_code(uint32_t code) const {
    if (code >= code_count) return false;
    if (twos) return true;
    return finite_mag(code & mag_mask);
  }
  // Finite, NaN or Inf: a code a tensor may hold.
  bool is_code(uint32_t code) const { return is_finite_code(code) || is_nan_code(code) || is_inf_code(code); }
  std::string name() const;  // 1.10, e.g. e2m1, e4m3b7n, g8m0b127n, i8
};

struct Fmt {
  Grid el, gs;
  int32_t tensor_scale = MLS_TSCALE_AMAX;
  int32_t policy = MLS_SCALE_CEIL;
  bool poszero = false;
  int32_t overflow = MLS_OVERFLOW_SATURATE;
  int32_t nonfinite = MLS_NONFINITE_ERROR;
  std::vector<int64_t> group_shape;  // as given (empty = default)
  bool ocp_divisor() const {
    return policy == MLS_SCALE_OCP || policy == MLS_SCALE_OCP_CEIL || policy == MLS_SCALE_OCP_EVEN;
  }
};
// Validates; errors name `what`.field.
Fmt make_format(const mls_format_v2* f, const std::string& what);
// The grid of a cast (3.10): valid as an element or as a group-scale format
// (1.9); errors name `what`.
Grid make_cast_grid(const mls_minifloat_v2& m, const std::string& what);
void check_rounding(const mls_rounding_v2* r);
// The overflow policy against the element grid (3.5: infinity needs Inf, nan a NaN code).
void check_overflow(int32_t overflow, const Grid& el, const std::string& what);

// ---- quantizer arithmetic profiles (4.12) -----------------------------------
// The name of an MLS_QARITH_* value ("" when this build does not know it).
const char* qarith_name(int32_t qarith);
// MLS_ERR_UNSUPPORTED for a profile this build does not know, MLS_ERR_INPUT
// when the profile does not apply to the format (4.12).
void check_qarith(int32_t qarith, const Fmt& f);

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
  if (r == 1) {  // one run per group
    const int64_t o = g * gsz[0];
    fn(o, std::min(gsz[0], shape[0] - o));
    return;
  }
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
// A validated tensor of the family passed in through the ABI (codes, counts,
// scale): element codes may be NaN/Inf codes, group scales NaN (4.7.1).
struct Tensor {
  Fmt fmt;
  std::vector<int64_t> shape;
  Layout layout;
  uint32_t tensor_scale;
  const uint32_t* group_scales;
  const uint32_t* elements;
  std::string what;
  Tensor(const mls_tensor_v2* t, const std::string& what);
  // 6.11: conv and GEMM operands have no NaN scale and no NaN/Inf element.
  void require_finite() const;
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
// The smallest index at which fn(i) is true over [0, n), or n: searched in parallel.
int64_t first_index(int64_t n, double cost_per_item, const std::function<bool(int64_t)>& fn);

}  // namespace mlsfast
