// mls-rtl: the C ABI (conformance/include/mls_backend.h) in front of the
// Verilated RTL units. Every element code comes from the RTL quantizer
// (rtl/mls_quantizer.sv) clocked in the Verilator model; every GEMM output
// from the RTL dot-product unit (rtl/mls_dot.sv). The host side does what the
// units take as inputs: argument checks, the tensor maximum and the tensor
// scale (4.2-4.3), the group maxima and group-scale codes (4.4), in plain
// integer C++ on the exact-division helpers of mls-fast (common.cpp), and the
// walk of a GEMM output into segments (6.6). Formats without an RTL model are
// MLS_ERR_UNSUPPORTED (a skip, never a pass).
#include <algorithm>
#include <new>
#include <sstream>

#include "../../fast/fast.hpp"
#include "host.hpp"
#include "rtl_units.hpp"

namespace mlsrtl {
namespace {

using mlsfast::bad;
using mlsfast::bitlen64;
using mlsfast::Exact;
using mlsfast::fail;
using mlsfast::Failure;
using mlsfast::Fmt;
using mlsfast::hex32;
using mlsfast::Layout;

thread_local std::string g_error;

template <class Fn>
int32_t guarded(Fn&& fn) {
  g_error.clear();
  try {
    fn();
    return MLS_OK;
  } catch (const Failure& f) {
    g_error = f.message;
    return f.status;
  } catch (const std::bad_alloc&) {
    g_error = "out of memory";
    return MLS_ERR_INTERNAL;
  } catch (const std::exception& e) {
    g_error = std::string("internal error: ") + e.what();
    return MLS_ERR_INTERNAL;
  } catch (...) {
    g_error = "internal error";
    return MLS_ERR_INTERNAL;
  }
}

std::string fmt_name(const Fmt& f) {
  std::ostringstream o;
  o << "e" << f.el.E << "m" << f.el.M << "b" << f.el.bias << (f.el.zero_only ? "z" : "") << ".g" << f.gs.Eg << "m"
    << f.gs.Mg;
  return o.str();
}

std::string unit_names(bool quant) {
  std::string s;
  if (quant)
    for (auto* u : quant_units()) s += (s.empty() ? "" : ", ") + u->name;
  else
    for (auto* u : dot_units()) s += (s.empty() ? "" : ", ") + u->name;
  return s.empty() ? "none" : s;
}

QuantUnit* find_quant(const Fmt& f) {
  for (auto* u : quant_units())
    if (u->E == f.el.E && u->M == f.el.M && u->bias == f.el.bias && u->zero_only == int(f.el.zero_only) &&
        u->Eg == f.gs.Eg && u->Mg == f.gs.Mg)
      return u;
  fail(MLS_ERR_UNSUPPORTED, "mls-rtl has no quantizer model for " + fmt_name(f) + " (models: " + unit_names(true) + ")");
}

// ---- host side of quantize: tensor scale and group scales (4.2-4.4) ----------------

bool nonfinite(uint32_t b) { return (b & 0x7f800000u) == 0x7f800000u; }

// |x| of a non-zero fp32 as m 2^e.
void unpack(uint32_t bits, uint64_t& m, int64_t& e) {
  const auto u = mlsfast::unpack_fp32(bits & 0x7fffffffu);
  m = u.m;
  e = u.e;
}

// a / (m_d 2^e_d) for a non-zero fp32 magnitude a and a divisor below 2^48.
Exact quotient(uint32_t a, uint64_t dm, int64_t de) {
  uint64_t xm;
  int64_t xe;
  unpack(a, xm, xe);
  mlsfast::normalise48(dm, de);
  return mlsfast::divide(xm, xe, dm, de);
}

// rho rounded on the group-scale grid by the scale policy (4.4; 3.2 steps 1-2:
// below g_min (and 0) -> code 0, above g_max -> the largest code).
uint32_t scale_code(const mlsfast::ScaleFmt& g, const Exact& v, int32_t policy) {
  const int B = mlsfast::bitlen128(v.q);
  const int64_t le = B - 1 + v.e;  // 2^le <= rho < 2^(le+1)
  const int64_t ef = le + g.bias;
  if (ef < 0) return 0;
  if (ef > (int64_t(1) << g.Eg) - 1) return g.max_code;
  const int drop = B - 1 - g.Mg;  // bits of q below the kept significand (> 0: B >= 62)
  const mlsfast::u128 L = v.q >> drop, rem = v.q & ((mlsfast::u128(1) << drop) - 1);
  const mlsfast::u128 half = mlsfast::u128(1) << (drop - 1);
  const bool inexact = rem != 0 || v.sticky;
  uint32_t code = static_cast<uint32_t>((ef << g.Mg) | static_cast<int64_t>(L - (mlsfast::u128(1) << g.Mg)));
  bool up = false;
  if (policy == MLS_SCALE_CEIL)
    up = inexact;
  else if (policy == MLS_SCALE_NEAREST)
    up = rem > half || (rem == half && (v.sticky || (code & 1u)));
  if (up) ++code;
  return std::min(code, g.max_code);
}

void quantize_impl(const mls_format_v1* format, int32_t rank, const int64_t* shape, const uint32_t* x, uint64_t n,
                   const mls_rounding_v1* rounding, const uint32_t* rand, uint64_t n_rand, const uint32_t* static_ts,
                   uint32_t* ts_out, uint32_t* gs_out, uint64_t gcap, uint32_t* el_out, uint64_t ecap) {
  const Fmt f = mlsfast::make_format(format, "format");
  mlsfast::check_rounding(rounding);
  const std::vector<int64_t> s = mlsfast::read_shape(rank, shape, "shape");
  const Layout L(f, s, "format");
  if (n != static_cast<uint64_t>(L.count))
    bad("x has " + std::to_string(n) + " values but the shape has " + std::to_string(L.count) + " elements");
  if (!x) bad("x is NULL");
  const bool sr = rounding->mode == MLS_SR;
  if (sr && n_rand != n)
    bad("rand has " + std::to_string(n_rand) + " words but sr needs one per element (" + std::to_string(n) + ")");
  if (sr && !rand) bad("rand is NULL");
  if (!ts_out || !gs_out || !el_out) bad("an output buffer is NULL");
  if (gcap < static_cast<uint64_t>(L.groups) || ecap < n)
    fail(MLS_ERR_BUFFER, "output buffers hold " + std::to_string(gcap) + " group scales and " + std::to_string(ecap) +
                             " elements; the result has " + std::to_string(L.groups) + " and " + std::to_string(n));
  QuantUnit* unit = find_quant(f);
  // 4.1: finite input, the first bad index named.
  for (uint64_t i = 0; i < n; ++i)
    if (nonfinite(x[i]))
      bad("x[" + std::to_string(i) + "] is " + ((x[i] & 0x7fffffu) ? "NaN" : "Inf") +
          ": MLS quantization needs finite input (4.1)");
  // 4.2-4.3 (or 4.6): the tensor scale.
  uint32_t amax = 0;
  for (uint64_t i = 0; i < n; ++i) amax = std::max(amax, x[i] & 0x7fffffffu);
  uint32_t st;
  if (static_ts) {
    st = *static_ts;
    if ((st >> 31) || st == 0 || nonfinite(st))
      bad("tensor_scale " + hex32(st) + " is not a positive finite fp32 (4.6)");
  } else if (amax == 0) {
    st = 0x3f800000u;
  } else {
    uint64_t gm;
    int64_t ge;
    f.gs.decode(f.gs.max_code, gm, ge);
    bool ovf = false;
    st = mlsfast::round_fp32(quotient(amax, f.el.qmax_m * gm, f.el.qmax_e + ge), 1, &ovf);
    if (ovf) bad("tensor_scale: max|x| / (q_max * g_max) overflows fp32 (4.3)");
  }
  *ts_out = st;
  // 4.4: group scales from the group maxima, rho = a_G / (S_t q_max).
  const std::vector<int64_t> gi = L.group_index();
  std::vector<uint32_t> gmax(static_cast<size_t>(L.groups), 0);
  for (uint64_t i = 0; i < n; ++i) gmax[gi[i]] = std::max(gmax[gi[i]], x[i] & 0x7fffffffu);
  uint64_t stm;
  int64_t ste;
  unpack(st, stm, ste);
  for (int64_t g = 0; g < L.groups; ++g)
    gs_out[g] = gmax[g] == 0 ? 0u
                             : scale_code(f.gs, quotient(gmax[g], stm * f.el.qmax_m, ste + f.el.qmax_e), f.policy);
  // 4.5: every element code from the RTL quantizer.
  std::vector<QuantIn> in(n);
  std::vector<QuantOut> out(n);
  for (uint64_t i = 0; i < n; ++i) {
    QuantIn& q = in[i];
    q.x = x[i];
    q.st = st;
    q.gs = gs_out[gi[i]];
    q.mode = static_cast<uint32_t>(rounding->mode);
    q.rbits = sr ? static_cast<uint32_t>(rounding->sr_bits) : 8u;
    q.word = sr ? rand[i] : 0u;
    q.poszero = f.poszero;
  }
  unit->run(in.data(), n, out.data());
  for (uint64_t i = 0; i < n; ++i) {
    if (out[i].ovf && f.ovf_error)
      bad("x[" + std::to_string(i) + "]: magnitude above the largest value of e" + std::to_string(f.el.E) + "m" +
          std::to_string(f.el.M) + " (overflow policy error)");
    el_out[i] = out[i].code;
  }
}

// ---- the ABI --------------------------------------------------------------------------

const char* name() {
#ifdef MLS_RTL_MUTANT
  return "mls-rtl 0.1 (seeded-bug variant " MLS_RTL_MUTANT ")";
#else
  return "mls-rtl 0.1";
#endif
}

int32_t supports(int32_t op, const mls_format_v1* format, const mls_rounding_v1* rounding, const char* arith) {
  return guarded([&] {
    if (op < MLS_OP_QUANTIZE || op > MLS_OP_GEMM) fail(MLS_ERR_UNSUPPORTED, "op " + std::to_string(op) + " is unknown");
    if (op == MLS_OP_QUANTIZE) {
      if (rounding) mlsfast::check_rounding(rounding);
      if (format) find_quant(mlsfast::make_format(format, "format"));
      if (quant_units().empty()) fail(MLS_ERR_UNSUPPORTED, "this library has no quantizer model");
      return;
    }
    if (op == MLS_OP_GEMM) {
      dot_supports(format, arith);
      return;
    }
    fail(MLS_ERR_UNSUPPORTED, op == MLS_OP_DEQUANTIZE ? "mls-rtl has no dequantize unit"
                                                      : "mls-rtl runs GEMM on its dot-product unit, not conv2d");
  });
}

int32_t group_count(const mls_format_v1* format, int32_t rank, const int64_t* shape, uint64_t* count) {
  return guarded([&] {
    if (!count) bad("count is NULL");
    const Fmt f = mlsfast::make_format(format, "format");
    *count = static_cast<uint64_t>(Layout(f, mlsfast::read_shape(rank, shape, "shape"), "format").groups);
  });
}

int32_t quantize(const mls_format_v1* format, int32_t rank, const int64_t* shape, const uint32_t* x, uint64_t n,
                 const mls_rounding_v1* rounding, const uint32_t* rand, uint64_t n_rand,
                 const uint32_t* static_tensor_scale, uint32_t* tensor_scale_out, uint32_t* group_scales_out,
                 uint64_t group_capacity, uint32_t* elements_out, uint64_t element_capacity) {
  return guarded([&] {
    quantize_impl(format, rank, shape, x, n, rounding, rand, n_rand, static_tensor_scale, tensor_scale_out,
                  group_scales_out, group_capacity, elements_out, element_capacity);
  });
}

int32_t dequantize(const mls_tensor_v1*, uint32_t*, uint64_t) {
  return guarded([&] { fail(MLS_ERR_UNSUPPORTED, "mls-rtl has no dequantize unit"); });
}

int32_t conv2d(const mls_conv2d_v1*, const mls_tensor_v1*, const mls_tensor_v1*, const char*, int32_t, const int64_t*,
               uint32_t*, uint64_t) {
  return guarded([&] { fail(MLS_ERR_UNSUPPORTED, "mls-rtl runs GEMM on its dot-product unit, not conv2d"); });
}

int32_t gemm(const mls_tensor_v1* a, const mls_tensor_v1* b, const char* arith, uint32_t* y, uint64_t capacity) {
  return guarded([&] { gemm_impl(a, b, arith, y, capacity); });
}

const char* last_error() { return g_error.c_str(); }

const mls_backend_v1 kTable = {MLS_BACKEND_ABI_VERSION, sizeof(mls_backend_v1), name, supports, group_count, quantize,
                               dequantize, conv2d, gemm, last_error};

}  // namespace
}  // namespace mlsrtl

extern "C" MLS_BACKEND_EXPORT const mls_backend_v1* mls_backend_get(uint32_t abi_version) {
  return abi_version == MLS_BACKEND_ABI_VERSION ? &mlsrtl::kTable : nullptr;
}
