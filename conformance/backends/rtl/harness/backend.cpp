// mls-rtl: the C ABI (conformance/include/mls_backend.h) in front of the
// Verilated RTL units. Every element code comes from the RTL quantizer
// (rtl/mls_quantizer.sv) clocked in the Verilator model; every GEMM and
// conv2d output from the RTL dot-product unit (rtl/mls_dot.sv). The host
// side does what the units take as inputs: argument checks (the shared host
// kit, ../hostkit), the tensor maximum, the tensor scale (4.3) and the
// group-scale codes (4.4) by this host's own exact search (scales.cpp), and
// the walk of every output into terms and segments (reduce.cpp, 6.6).
// Formats without an RTL model are MLS_ERR_UNSUPPORTED (a skip, never a pass).
#include <algorithm>

#include "host.hpp"
#include "hostkit.hpp"
#include "rtl_units.hpp"
#include "scales.hpp"

namespace mlsrtl {
namespace {

using mlshost::bad;
using mlshost::FormatDesc;
using mlshost::Layout;
using mlshost::num;

thread_local std::string g_error;

template <class Fn>
int32_t guarded(Fn&& fn) {
  return mlshost::guarded(g_error, std::forward<Fn>(fn));
}

std::string unit_names() {
  std::string s;
  for (auto* u : quant_units()) s += (s.empty() ? "" : ", ") + u->name;
  return s.empty() ? "none" : s;
}

QuantUnit* find_quant(const FormatDesc& f) {
  for (auto* u : quant_units())
    if (u->E == f.el.E && u->M == f.el.M && u->bias == f.el.bias && u->zero_only == int(f.el.zero_only) &&
        u->Eg == f.gs.Eg && u->Mg == f.gs.Mg)
      return u;
  mlshost::unsupported("mls-rtl has no quantizer model for e" + num(f.el.E) + "m" + num(f.el.M) + "b" +
                       num(f.el.bias) + (f.el.zero_only ? "z" : "") + "." + f.gs.name() + " (models: " +
                       unit_names() + ")");
}

bool nonfinite(uint32_t b) { return (b & 0x7f800000u) == 0x7f800000u; }

void quantize_impl(const mls_format_v2* format, int32_t rank, const int64_t* shape, const uint32_t* x, uint64_t n,
                   const mls_rounding_v2* rounding, const uint32_t* rand, uint64_t n_rand, const uint32_t* static_ts,
                   uint32_t* ts_out, uint32_t* gs_out, uint64_t gcap, uint32_t* el_out, uint64_t ecap) {
  const FormatDesc f = mlshost::read_format(format, "format");
  mlshost::check_rounding(rounding);
  const Layout L(f, mlshost::read_shape(rank, shape, "shape"), "format");
  if (n != static_cast<uint64_t>(L.count))
    bad("x has " + std::to_string(n) + " values but the shape has " + num(L.count) + " elements");
  mlshost::need_pointer(x, "x");
  const bool sr = rounding->mode == MLS_SR;
  if (sr && n_rand != n)
    bad("rand has " + std::to_string(n_rand) + " words but sr needs one per element (" + std::to_string(n) + ")");
  if (sr) mlshost::need_pointer(rand, "rand");
  if (!ts_out || !gs_out || !el_out) bad("an output buffer is NULL");
  mlshost::need_capacity(gcap, L.groups, "group_scales_out");
  mlshost::need_capacity(ecap, L.count, "elements_out");
  QuantUnit* unit = find_quant(f);
  // 4.1: finite input, the first bad index named.
  for (uint64_t i = 0; i < n; ++i)
    if (nonfinite(x[i]))
      bad("x[" + std::to_string(i) + "] is " + ((x[i] & 0x7fffffu) ? "NaN" : "Inf") +
          ": MLS quantization needs finite input (4.1)");
  // 4.2-4.3 (or 4.6): the tensor scale. For non-negative fp32 bit patterns,
  // integer order is value order: the maxima are integer maxima.
  uint32_t amax = 0;
  for (uint64_t i = 0; i < n; ++i) amax = std::max(amax, x[i] & 0x7fffffffu);
  uint32_t st = 0x3f800000u;  // 4.2: an all-zero tensor
  if (static_ts) {
    st = *static_ts;
    if ((st >> 31) || st == 0 || nonfinite(st))
      bad("tensor_scale " + mlshost::hex32(st) + " is not a positive finite fp32 (4.6)");
  } else if (amax != 0 && !tensor_scale(f, amax, &st)) {
    bad("tensor_scale: max|x| / (q_max * g_max) overflows fp32 (4.3)");
  }
  *ts_out = st;
  // 4.4: group scales from the group maxima.
  const std::vector<int64_t> gi = L.group_index();
  std::vector<uint32_t> gmax(static_cast<size_t>(L.groups), 0);
  for (uint64_t i = 0; i < n; ++i) gmax[gi[i]] = std::max(gmax[gi[i]], x[i] & 0x7fffffffu);
  for (int64_t g = 0; g < L.groups; ++g) gs_out[g] = group_scale_code(f, st, gmax[g]);
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
      bad("x[" + std::to_string(i) + "]: magnitude above the largest value of " + f.el.name() +
          " (overflow policy error)");
    el_out[i] = out[i].code;
  }
}

// ---- the ABI --------------------------------------------------------------------------

const char* name() {
#ifdef MLS_RTL_MUTANT
  return "mls-rtl 0.2 (seeded-bug variant " MLS_RTL_MUTANT ")";
#else
  return "mls-rtl 0.2";
#endif
}

int32_t supports(int32_t op, const mls_format_v2* format, const mls_rounding_v2* rounding, int32_t qarith,
                 const char* arith) {
  return guarded([&] {
    if (qarith != MLS_QARITH_EXACT) mlshost::unsupported("this host computes the exact quantizer profile only");
    if (op == MLS_OP_ROUND) mlshost::unsupported("round is not offered by this host");
    if (op < MLS_OP_QUANTIZE || op > MLS_OP_GEMM) mlshost::unsupported("op " + num(op) + " is unknown");
    if (op == MLS_OP_QUANTIZE) {
      if (rounding) mlshost::check_rounding(rounding);
      if (format) find_quant(mlshost::read_format(format, "format"));
      if (quant_units().empty()) mlshost::unsupported("this library has no quantizer model");
      return;
    }
    if (op == MLS_OP_DEQUANTIZE) mlshost::unsupported("mls-rtl has no dequantize unit");
    dot_supports(format, arith);  // GEMM and the three conv2d passes run on the dot unit
  });
}

int32_t group_count(const mls_format_v2* format, int32_t rank, const int64_t* shape, uint64_t* count) {
  return guarded([&] {
    mlshost::need_pointer(count, "count");
    const FormatDesc f = mlshost::read_format(format, "format");
    *count = static_cast<uint64_t>(Layout(f, mlshost::read_shape(rank, shape, "shape"), "format").groups);
  });
}

int32_t round_values(const mls_cast_v2*, const uint32_t*, uint64_t, const uint32_t*, uint64_t, uint32_t*, uint64_t) {
  return guarded([&] { mlshost::unsupported("round is not offered by this host"); });
}

int32_t quantize(const mls_format_v2* format, int32_t rank, const int64_t* shape, const uint32_t* x, uint64_t n,
                 const mls_rounding_v2* rounding, int32_t qarith, const uint32_t* rand, uint64_t n_rand,
                 const uint32_t* static_tensor_scale, uint32_t* tensor_scale_out, uint32_t* group_scales_out,
                 uint64_t group_capacity, uint32_t* elements_out, uint64_t element_capacity) {
  return guarded([&] {
    if (qarith != MLS_QARITH_EXACT) mlshost::unsupported("this host computes the exact quantizer profile only");
    quantize_impl(format, rank, shape, x, n, rounding, rand, n_rand, static_tensor_scale, tensor_scale_out,
                  group_scales_out, group_capacity, elements_out, element_capacity);
  });
}

int32_t dequantize(const mls_tensor_v2*, uint32_t*, uint64_t) {
  return guarded([&] { mlshost::unsupported("mls-rtl has no dequantize unit"); });
}

int32_t conv2d(const mls_conv2d_v2* params, const mls_tensor_v2* a, const mls_tensor_v2* b, const char* arith,
               int32_t out_rank, const int64_t* out_shape, uint32_t* y, uint64_t capacity) {
  return guarded([&] { conv2d_impl(params, a, b, arith, out_rank, out_shape, y, capacity); });
}

int32_t gemm(const mls_tensor_v2* a, const mls_tensor_v2* b, const char* arith, uint32_t* y, uint64_t capacity) {
  return guarded([&] { gemm_impl(a, b, arith, y, capacity); });
}

const char* last_error() { return g_error.c_str(); }

const mls_backend_v2 kTable = {MLS_BACKEND_ABI_VERSION, sizeof(mls_backend_v2), name, supports, group_count, round_values, quantize,
                               dequantize, conv2d, gemm, last_error};

}  // namespace
}  // namespace mlsrtl

extern "C" MLS_BACKEND_EXPORT const mls_backend_v2* mls_backend_get(uint32_t abi_version) {
  return abi_version == MLS_BACKEND_ABI_VERSION ? &mlsrtl::kTable : nullptr;
}
