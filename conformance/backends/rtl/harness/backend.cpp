// mls-rtl: the C ABI (conformance/include/mls_backend.h) in front of the
// Verilated RTL units. Every element code comes from the RTL quantizer
// (rtl/mls_quantizer.sv) clocked in the Verilator model; every GEMM and
// conv2d output from the RTL dot-product unit (rtl/mls_dot.sv). The host
// side does what the units take as inputs: argument checks (the shared host
// kit, ../hostkit), the tensor maximum, the tensor scale (4.3) and the
// group-scale codes (4.4) by this host's own exact search (scales.cpp), and
// the walk of every output into terms and segments (reduce.cpp, 6.6). The
// round (cast) entry runs the same quantizer with the cast's scale as S_t S_g.
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

// A quantizer model's element grid is this one (sign-magnitude, its E, M, bias, zero mode, specials).
bool same_element(const QuantUnit& u, const mlshost::ElementDesc& e) {
  return e.encoding == MLS_ENCODING_SIGN_MAGNITUDE && u.E == e.E && u.M == e.M && u.bias == e.bias &&
         u.zero_only == int(e.zero_only()) && u.specials == e.specials;
}

// ... and its scale grid (unsigned, no zero, no subnormals: MLS scales, E8M0).
bool same_scale(const QuantUnit& u, const mlshost::ScaleDesc& g) {
  return !g.is_signed && g.zero == MLS_ZERO_NONE && g.encoding == MLS_ENCODING_SIGN_MAGNITUDE && u.Eg == g.E &&
         u.Mg == g.M && u.biasg == g.bias && u.gspecials == g.specials;
}

QuantUnit* find_quant(const FormatDesc& f) {
  for (auto* u : quant_units())
    if (same_element(*u, f.el) && same_scale(*u, f.gs)) return u;
  mlshost::unsupported("mls-rtl has no quantizer model for " + f.name() + " (models: " + unit_names() + ")");
}

// Any model with this element grid (round: the scale grid only carries the cast's scale).
QuantUnit* find_quant_element(const mlshost::ElementDesc& e) {
  for (auto* u : quant_units())
    if (same_element(*u, e)) return u;
  mlshost::unsupported("mls-rtl has no quantizer model for the element grid " + e.name() + " (models: " + unit_names() +
                       ")");
}

// The quantizer flags |v| > q_max and saturates; the Inf/NaN overflow policies are not built.
void check_overflow(int32_t overflow, const std::string& field) {
  if (overflow > MLS_OVERFLOW_ERROR)
    mlshost::unsupported(field + " = " + num(overflow) + ": the RTL quantizer saturates (or flags an error), it has no Inf/NaN output");
}

bool nonfinite(uint32_t b) { return (b & 0x7f800000u) == 0x7f800000u; }

// 4.1 (3.10 for round): the RTL takes finite inputs. Under `nonfinite = error`
// a NaN or Inf is the spec's error (the first index named); otherwise (OCP MX
// propagation, a cast of a NaN) the RTL has nothing to compute it with.
void check_finite(const uint32_t* x, uint64_t n, bool error_policy) {
  for (uint64_t i = 0; i < n; ++i)
    if (nonfinite(x[i])) {
      const std::string what = "x[" + std::to_string(i) + "] is " + ((x[i] & 0x7fffffu) ? "NaN" : "Inf");
      if (error_policy) bad(what + ": MLS quantization needs finite input (4.1)");
      mlshost::unsupported(what + ": mls-rtl quantizes finite inputs only (NaN/Inf propagation is not built)");
    }
}

void run_unit(QuantUnit* unit, const uint32_t* x, uint64_t n, uint32_t st, const uint32_t* gs_of, uint32_t gs_one,
              const mls_rounding_v2& r, const uint32_t* rand, bool poszero, bool ovf_error, const std::string& grid,
              uint32_t* out_codes) {
  const bool sr = r.mode == MLS_SR;
  std::vector<QuantIn> in(n);
  std::vector<QuantOut> out(n);
  for (uint64_t i = 0; i < n; ++i) {
    QuantIn& q = in[i];
    q.x = x[i];
    q.st = st;
    q.gs = gs_of ? gs_of[i] : gs_one;
    q.mode = static_cast<uint32_t>(r.mode);
    q.rbits = sr ? static_cast<uint32_t>(r.sr_bits) : 8u;
    q.word = sr ? rand[i] : 0u;
    q.poszero = poszero;
  }
  unit->run(in.data(), n, out.data());
  for (uint64_t i = 0; i < n; ++i) {
    if (out[i].ovf && ovf_error)
      bad("x[" + std::to_string(i) + "]: magnitude above the largest value of " + grid + " (overflow policy error)");
    out_codes[i] = out[i].code;
  }
}

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
  check_overflow(f.overflow, "format.overflow");
  check_finite(x, n, f.nonfinite == MLS_NONFINITE_ERROR);
  // 4.2-4.3 (or 4.6): the tensor scale. For non-negative fp32 bit patterns,
  // integer order is value order: the maxima are integer maxima.
  uint32_t amax = 0;
  for (uint64_t i = 0; i < n; ++i) amax = std::max(amax, x[i] & 0x7fffffffu);
  uint32_t st = 0x3f800000u;  // 4.2: an all-zero tensor; the rule `one`
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
  std::vector<uint32_t> gmax(static_cast<size_t>(L.groups), 0), gs_el(n);
  for (uint64_t i = 0; i < n; ++i) gmax[gi[i]] = std::max(gmax[gi[i]], x[i] & 0x7fffffffu);
  for (int64_t g = 0; g < L.groups; ++g) gs_out[g] = group_scale_code(f, st, gmax[g]);
  for (uint64_t i = 0; i < n; ++i) gs_el[i] = gs_out[gi[i]];
  // 4.5: every element code from the RTL quantizer.
  run_unit(unit, x, n, st, gs_el.data(), 0, *rounding, rand, f.poszero, f.ovf_error(), f.el.name(), el_out);
}

// fp32 bits of m 2^e (m >= 1), or false when it is not exactly an fp32.
bool fp32_of(uint64_t m, int64_t e, uint32_t* bits) {
  while (!(m & 1)) m >>= 1, ++e;
  int b = 0;
  while (b < 64 && (m >> b) > 1) ++b;  // b = bit length - 1
  if (b > 23) return false;
  const int64_t p = e + b;  // 2^p <= value < 2^(p+1)
  if (p > 127) return false;
  if (p >= -126) {
    *bits = static_cast<uint32_t>(((p + 127) << 23) | ((m << (23 - b)) & 0x7fffffu));
    return true;
  }
  if (e < -149) return false;  // below the subnormal ulp
  *bits = static_cast<uint32_t>(m << (e + 149));
  return true;
}

// round (3, 4.5): code = round(x / s), s = mant 2^exp, on a quantizer model with
// this element grid: S_t S_g = s with S_g a power of two of its scale grid
// (1 when possible) and S_t an fp32.
void round_impl(const mls_cast_v2* cast, const uint32_t* x, uint64_t n, const uint32_t* rand, uint64_t n_rand,
                uint32_t* codes, uint64_t capacity) {
  const mlshost::CastDesc c = mlshost::read_cast(cast);
  const bool sr = c.rounding.mode == MLS_SR;
  if (n) mlshost::need_pointer(x, "x");
  if (sr && n_rand != n)
    bad("rand has " + std::to_string(n_rand) + " words but sr needs one per value (" + std::to_string(n) + ")");
  if (sr && n) mlshost::need_pointer(rand, "rand");
  mlshost::need_pointer(codes, "codes_out");
  mlshost::need_capacity(capacity, static_cast<int64_t>(n), "codes_out");
  QuantUnit* unit = find_quant_element(c.el);
  check_overflow(c.overflow, "cast.overflow");
  check_finite(x, n, false);
  // Power-of-two codes of the scale grid (mantissa field 0), 2^0 first.
  const uint32_t top = (1u << (unit->Eg + unit->Mg)) - 1 - (unit->gspecials == MLS_SPECIALS_NAN_ALL_ONES ? 1 : 0);
  uint32_t st = 0, gs = 0;
  bool found = false;
  for (int64_t k = 0; k <= int64_t(top >> unit->Mg) && !found; ++k) {
    const int64_t ef = k == 0 ? unit->biasg : (k <= unit->biasg ? unit->biasg - k : k);  // bias, then outward
    if (ef < 0 || (uint64_t(ef) << unit->Mg) > top) continue;
    found = fp32_of(static_cast<uint64_t>(c.scale_mant), int64_t(c.scale_exp) - (ef - unit->biasg), &st);
    gs = static_cast<uint32_t>(ef) << unit->Mg;
  }
  if (!found)
    mlshost::unsupported("the cast's scale " + std::to_string(c.scale_mant) + " * 2^" + num(c.scale_exp) +
                         " is not an fp32 times a power of two of " + unit->name + "'s scale grid");
  run_unit(unit, x, n, st, nullptr, gs, c.rounding, rand, c.poszero, c.overflow == MLS_OVERFLOW_ERROR, c.el.name(),
           codes);
}

// ---- the ABI --------------------------------------------------------------------------

const char* name() {
#ifdef MLS_RTL_MUTANT
  return "mls-rtl 0.3 (seeded-bug variant " MLS_RTL_MUTANT ")";
#else
  return "mls-rtl 0.3";
#endif
}

int32_t supports(int32_t op, const mls_format_v2* format, const mls_rounding_v2* rounding, int32_t qarith,
                 const char* arith) {
  return guarded([&] {
    if (op < MLS_OP_QUANTIZE || op > MLS_OP_ROUND) mlshost::unsupported("op " + num(op) + " is unknown");
    if (rounding) mlshost::check_rounding(rounding);
    if (op == MLS_OP_ROUND) {  // only format->element, overflow and signed_zero are read
      if (quant_units().empty()) mlshost::unsupported("this library has no quantizer model");
      if (format) {
        find_quant_element(mlshost::read_element(format->element, "format.element"));
        check_overflow(format->overflow, "format.overflow");
      }
      return;
    }
    if (op == MLS_OP_QUANTIZE) {
      if (qarith != MLS_QARITH_EXACT)
        mlshost::unsupported("mls-rtl quantizes exactly (qarith = exact), not the fp32 pipeline " + num(qarith));
      if (quant_units().empty()) mlshost::unsupported("this library has no quantizer model");
      if (format) {
        const FormatDesc f = mlshost::read_format(format, "format");
        find_quant(f);
        check_overflow(f.overflow, "format.overflow");
      }
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

int32_t round_values(const mls_cast_v2* cast, const uint32_t* x, uint64_t n, const uint32_t* rand, uint64_t n_rand,
                     uint32_t* codes, uint64_t capacity) {
  return guarded([&] { round_impl(cast, x, n, rand, n_rand, codes, capacity); });
}

int32_t quantize(const mls_format_v2* format, int32_t rank, const int64_t* shape, const uint32_t* x, uint64_t n,
                 const mls_rounding_v2* rounding, int32_t qarith, const uint32_t* rand, uint64_t n_rand,
                 const uint32_t* static_tensor_scale, uint32_t* tensor_scale_out, uint32_t* group_scales_out,
                 uint64_t group_capacity, uint32_t* elements_out, uint64_t element_capacity) {
  return guarded([&] {
    if (qarith != MLS_QARITH_EXACT)
      mlshost::unsupported("mls-rtl quantizes exactly (qarith = exact), not the fp32 pipeline " + num(qarith));
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

const mls_backend_v2 kTable = {MLS_BACKEND_ABI_VERSION, sizeof(mls_backend_v2), name, supports, group_count,
                               round_values, quantize, dequantize, conv2d, gemm, last_error};

}  // namespace
}  // namespace mlsrtl

extern "C" MLS_BACKEND_EXPORT const mls_backend_v2* mls_backend_get(uint32_t abi_version) {
  return abi_version == MLS_BACKEND_ABI_VERSION ? &mlsrtl::kTable : nullptr;
}
