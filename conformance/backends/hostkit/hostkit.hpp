// mls-hostkit: what the hosts of the implementations under test share --
// C ABI plumbing (status + thread-local message at the boundary, buffer
// capacities) and the checks of the arguments that arrive through the ABI
// (conformance/include/mls_backend.h): formats, rounding, shapes, the group
// layout (2.4), MLS tensors, conv geometry (6.3) and the arithmetic profile
// (6.10). Every error names the field or index at fault (spec/07-errors.md).
//
// It holds no arithmetic of the MLS operations: no scale selection, no
// rounding, no division, no sums. Each implementation that uses it (the RTL
// host, conformance/backends/rtl/harness/, and the OpenCL/CUDA host,
// conformance/backends/opencl/gpu_host.cpp) computes its own results; see
// conformance/backends/README.md for who shares what. It is not mls-fast
// (conformance/backends/fast/), which keeps its own checks, and it never
// includes reference/.
#pragma once
#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "mls_backend.h"

namespace mlshost {

// ---- errors at the C ABI -----------------------------------------------------
// Thrown inside a backend; guarded() turns it into a status and a message.
struct Failure {
  int32_t status;
  std::string message;
};
[[noreturn]] void fail(int32_t status, std::string message);
[[noreturn]] inline void bad(std::string message) { fail(MLS_ERR_INPUT, std::move(message)); }
[[noreturn]] inline void unsupported(std::string message) { fail(MLS_ERR_UNSUPPORTED, std::move(message)); }
std::string hex32(uint32_t v);
std::string num(int64_t v);
std::string shape_text(const std::vector<int64_t>& s);

// Runs fn and returns its status: MLS_OK, or the Failure's status with its
// message in `error` (bad_alloc and any other exception: MLS_ERR_INTERNAL).
// No exception crosses the boundary.
template <class Fn>
int32_t guarded(std::string& error, Fn&& fn) noexcept {
  try {
    error.clear();
    fn();
    return MLS_OK;
  } catch (const Failure& f) {
    error = f.message;
    return f.status;
  } catch (const std::bad_alloc&) {
    error = "out of host memory";
    return MLS_ERR_INTERNAL;
  } catch (const std::exception& e) {
    try {
      error = std::string("internal error: ") + e.what();
    } catch (...) {
    }
    return MLS_ERR_INTERNAL;
  } catch (...) {
    return MLS_ERR_INTERNAL;
  }
}

// MLS_ERR_BUFFER unless a buffer of `have` values holds `need`.
void need_capacity(uint64_t have, int64_t need, const std::string& what);
// MLS_ERR_INPUT naming `what` when a pointer the call needs is NULL.
void need_pointer(const void* p, const std::string& what);

// ---- formats of the family (spec/01, 02), as descriptors only --------------
// The checked fields of mls_minifloat_v2 / mls_format_v2 / mls_cast_v2. No
// derived value (q_max, g_max, a decoding, emax): each implementation derives
// what it needs itself.
struct GridDesc {
  bool is_signed = true;
  int E = 2, M = 1, bias = 3;
  int32_t zero = MLS_ZERO_SUBNORMAL;            // MLS_ZERO_*
  int32_t specials = MLS_SPECIALS_NONE;         // MLS_SPECIALS_*
  int32_t encoding = MLS_ENCODING_SIGN_MAGNITUDE;  // MLS_ENCODING_*
  bool zero_only() const { return zero == MLS_ZERO_ONLY; }
  int bits() const { return (is_signed ? 1 : 0) + E + M; }
  uint32_t sign_bit() const { return is_signed ? uint32_t(1) << (E + M) : 0; }
  uint32_t mag_mask() const { return uint32_t((uint64_t(1) << (E + M)) - 1); }
  // The largest magnitude code with a finite value (1.3, 1.6).
  uint32_t max_code() const;
  // A code of this grid (2.10): in range, no exponent-0 mantissa under
  // zero_only; NaN and Inf codes count as codes (where the grid has them).
  bool valid_code(uint32_t code) const;
  bool is_special(uint32_t code) const;  // a NaN or Inf code
  std::string name() const;               // e2m1, e2m1b2, e3m2z, e4m3b7n (n: NaN at all ones, i: IEEE), ue8m0b127
};
using ElementDesc = GridDesc;
using ScaleDesc = GridDesc;

struct FormatDesc {
  ElementDesc el;
  ScaleDesc gs;
  int32_t tensor_scale = MLS_TSCALE_AMAX;      // MLS_TSCALE_*
  int32_t policy = MLS_SCALE_CEIL;             // MLS_SCALE_*
  bool poszero = false;                        // signed_zero = positive
  int32_t overflow = MLS_OVERFLOW_SATURATE;    // MLS_OVERFLOW_*
  int32_t nonfinite = MLS_NONFINITE_ERROR;     // MLS_NONFINITE_*
  std::vector<int64_t> group_shape;            // as given; empty = the default layout
  bool ovf_error() const { return overflow == MLS_OVERFLOW_ERROR; }
  std::string name() const;  // element and scale grids, e.g. e2m1.g4m1 or e4m3b7n.ue8m0b127n
};
// Checks every field (MLS_ERR_INPUT naming it, as the golden model would).
// An enumeration value beyond the ones this header names is MLS_ERR_UNSUPPORTED.
FormatDesc read_format(const mls_format_v2* f, const std::string& what);
// The element grid alone (MLS_OP_ROUND reads only format->element, overflow, signed_zero).
ElementDesc read_element(const mls_minifloat_v2& m, const std::string& what);
void check_rounding(const mls_rounding_v2* r);  // errors name rounding.mode / rounding.bits
// MLS_ERR_UNSUPPORTED (message naming `who`) unless the format is a member of
// the spec-1.0 MLS family: plain sign-magnitude elements without specials, an
// unsigned 2^Eg - 1 biased group scale without zero or specials, the amax
// tensor scale, ceil/nearest/floor, saturate/error, NaN/Inf inputs as errors.
void require_mls(const FormatDesc& f, const std::string& what, const std::string& who);

// A scalar rounding (cast, 3 and 4.5): code = round(x / s), s = scale_mant 2^scale_exp.
struct CastDesc {
  ElementDesc el;
  mls_rounding_v2 rounding{};
  int32_t overflow = MLS_OVERFLOW_SATURATE;
  bool poszero = false;
  int64_t scale_mant = 1;
  int32_t scale_exp = 0;
};
CastDesc read_cast(const mls_cast_v2* c);

// A shape of rank 1..max_rank, every extent >= 1, at most 2^40 elements.
std::vector<int64_t> read_shape(int32_t rank, const int64_t* shape, const std::string& what, int max_rank = 16);

// ---- group layout (2.4) --------------------------------------------------------
// Groups are the tiles of the resolved group shape (0, or an extent above
// the axis, is the whole axis), numbered row-major over the tile grid.
// Adjacent axes are merged where the tile spans the whole axis after them;
// that changes no numbering and makes every run of a group's last axis
// contiguous.
class Layout {
 public:
  Layout(const FormatDesc& f, const std::vector<int64_t>& shape, const std::string& what);
  std::vector<int64_t> shape;   // merged axes
  std::vector<int64_t> tile;    // merged tile extents
  std::vector<int64_t> tiles;   // tiles per merged axis
  int64_t groups = 0, count = 0;
  std::vector<int64_t> group_index() const;  // the group of every element, row-major
};

// ---- MLS tensors through the ABI (2.10) ----------------------------------------
// Sizes, codes and the tensor scale checked; pointers are the caller's.
struct TensorView {
  FormatDesc fmt;
  std::vector<int64_t> shape;
  Layout layout;
  uint32_t tensor_scale;
  const uint32_t* group_scales;
  const uint32_t* elements;
  TensorView(const mls_tensor_v2* t, const std::string& what);
};

// ---- conv2d geometry (6.2-6.3) -------------------------------------------------------
struct ConvGeom {
  int32_t pass = MLS_PASS_FWD;
  int64_t N = 0, C = 0, H = 0, W = 0, O = 0, KH = 0, KW = 0, OH = 0, OW = 0;
  int64_t G = 1, Cg = 0, Og = 0;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  std::vector<int64_t> out_shape;
  int64_t out_count() const { return out_shape[0] * out_shape[1] * out_shape[2] * out_shape[3]; }
  // The reduction length of one output (padding positions included, 6.16).
  int64_t reduction() const;
};
ConvGeom read_conv(const mls_conv2d_v2* p, const std::vector<int64_t>& a_shape, const std::vector<int64_t>& b_shape,
                   int32_t out_rank, const int64_t* out_shape);

// ---- the arithmetic profile (6.9, 6.10) ------------------------------------------------
// NULL, "", "exact" or {"profile":"exact"}: the exact profile; otherwise the
// accumulator profile with every member. Errors name arith.<member>.
struct Arith {
  bool exact = true;
  int64_t frac_bits = 0, width = 0;  // F, W
  int32_t alignment = MLS_RTZ;       // MLS_RNE, MLS_RNA, MLS_RTZ, MLS_RUP, MLS_RDN
  int32_t overflow = 0;              // 0 saturate, 1 wrap, 2 error
  bool inter_group_fp32 = false;     // inter_group = fp32 (else exact)
  int32_t final_rounding = MLS_RNE;  // MLS_RNE .. MLS_RDN
};
Arith read_arith(const char* arith);

}  // namespace mlshost
