// mls-gpu: the C ABI entry point shared by the OpenCL and CUDA backends.
// Validates arguments on the host (host kit, ../hostkit), moves data to the
// device, runs the kernels of mls_kernels.cl, and turns every failure into a
// status and a thread-local message (no exception crosses the boundary).
#include <algorithm>
#include <mutex>

#include "gpu_host.hpp"

namespace mlsgpu {
namespace {

using mlshost::bad;
using mlshost::need_capacity;
using Fmt = mlshost::FormatDesc;
using mlshost::Layout;
using Tensor = mlshost::TensorView;

thread_local std::string g_error;
std::mutex g_mutex;  // kernels and queues are shared: one operation at a time

template <class Fn>
int32_t guarded(Fn&& fn) {
  return mlshost::guarded(g_error, std::forward<Fn>(fn));
}

// A device buffer, released on scope exit.
struct Buf {
  void* p = nullptr;
  size_t bytes = 0;
  Buf(size_t n, const void* src = nullptr) : bytes(n ? n : 4) {
    p = device().alloc(bytes);
    if (src && n) device().upload(p, src, n);
  }
  ~Buf() { device().release(p); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  template <class T>
  void get(T* dst, size_t count) {
    if (count) device().download(dst, p, count * sizeof(T));
  }
};

// The arithmetic profile (spec 6.10, checked by the host kit): the
// accumulator profile is a skip.
void check_arith(const char* arith) {
  if (!mlshost::read_arith(arith).exact)
    fail(MLS_ERR_UNSUPPORTED,
         std::string(backend_name()) + " computes the exact profile only, not arith.profile = \"accumulator\"");
}

// The merged group layout as the kernels read it: [rank, shape[8], gsz[8], tiles[8]].
void put_layout(std::vector<int64_t>& P, size_t at, const Layout& L) {
  if (L.shape.size() > 8)
    fail(MLS_ERR_UNSUPPORTED, std::string(backend_name()) + " handles group layouts of at most 8 (merged) axes, not " +
                                  std::to_string(L.shape.size()));
  P[at] = static_cast<int64_t>(L.shape.size());
  for (size_t d = 0; d < L.shape.size(); ++d) {
    P[at + 1 + d] = L.shape[d];
    P[at + 9 + d] = L.tile[d];
    P[at + 17 + d] = L.tiles[d];
  }
}

void put_format(std::vector<int64_t>& P, const Fmt& f) {
  P[25] = f.el.E;
  P[26] = f.el.M;
  P[27] = f.el.bias;
  P[28] = f.el.zero;
  P[29] = f.gs.E;
  P[30] = f.gs.M;
  P[31] = f.policy;
  P[32] = f.poszero;
  P[33] = f.overflow;
  P[39] = f.el.specials;
  P[40] = f.gs.bias;
  P[41] = f.gs.zero;
  P[42] = f.gs.specials;
  P[43] = f.tensor_scale;
  P[44] = f.nonfinite;
  P[46] = f.gs.is_signed ? f.gs.E + f.gs.M : 0;  // the scale's sign bit (NVFP4's E4M3), 0: unsigned
}

// What the quantize and dequantize kernels compute (mls_kernels.cl): every
// member of the family with sign-magnitude elements and a sign-magnitude
// unsigned scale grid -- any widths, biases, zero modes and special values,
// both tensor-scale rules, every scale rule (ceil, nearest, floor, ocp,
// ocp_ceil, ocp_even), every overflow and non-finite policy. MXINT8 (two's
// complement) and unsigned elements are skips.
void require_kernels(const Fmt& f, const std::string& what) {
  std::string why;
  if (!f.el.is_signed) why = "an unsigned element grid";
  else if (f.el.encoding != MLS_ENCODING_SIGN_MAGNITUDE) why = "a two's complement element (MXINT8)";
  else if (f.gs.encoding != MLS_ENCODING_SIGN_MAGNITUDE) why = "a two's complement scale grid";
  if (!why.empty())
    mlshost::unsupported(what + ": " + backend_name() +
                         " quantizes sign-magnitude elements and scales, not " + why);
}

// The quantizer arithmetic profiles of the kernels (4.12): exact, and the two
// fp32 pipelines fp32_div and fp32_reciprocal; the library pipelines
// (torchao, Transformer Engine) are skips.
void require_qarith(int32_t qarith) {
  if (qarith < MLS_QARITH_EXACT || qarith > MLS_QARITH_FP32_RECIPROCAL)
    mlshost::unsupported(std::string(backend_name()) +
                         " quantizes under qarith = exact, fp32_div or fp32_reciprocal, not profile " +
                         std::to_string(qarith));
}

const char* name() { return backend_name(); }

int32_t supports(int32_t op, const mls_format_v2* format, const mls_rounding_v2* rounding, int32_t qarith,
                 const char* arith) {
  return guarded([&] {
    if (op == MLS_OP_QUANTIZE) require_qarith(qarith);
    if (op == MLS_OP_ROUND) mlshost::unsupported(std::string(backend_name()) + " has no round (cast) kernel");
    if (op < MLS_OP_QUANTIZE || op > MLS_OP_GEMM) fail(MLS_ERR_UNSUPPORTED, "op " + std::to_string(op) + " is unknown");
    if (format) {
      const Fmt f = mlshost::read_format(format, "format");
      require_kernels(f, "format");
    }
    if (rounding) mlshost::check_rounding(rounding);
    if (op >= MLS_OP_CONV2D_FWD) check_arith(arith);
    std::lock_guard<std::mutex> lock(g_mutex);
    device();  // no device: the initialisation failure, here already
  });
}

int32_t group_count(const mls_format_v2* format, int32_t rank, const int64_t* shape, uint64_t* count) {
  return guarded([&] {
    if (!count) bad("count is NULL");
    const Fmt f = mlshost::read_format(format, "format");
    *count = static_cast<uint64_t>(Layout(f, mlshost::read_shape(rank, shape, "shape"), "format").groups);
  });
}

int32_t round_values(const mls_cast_v2*, const uint32_t*, uint64_t, const uint32_t*, uint64_t, uint32_t*, uint64_t) {
  return guarded([&] { mlshost::unsupported(std::string(backend_name()) + " has no round (cast) kernel"); });
}

int32_t quantize(const mls_format_v2* format, int32_t rank, const int64_t* shape, const uint32_t* x, uint64_t n,
                 const mls_rounding_v2* rounding, int32_t qarith, const uint32_t* rand, uint64_t n_rand,
                 const uint32_t* static_tensor_scale, uint32_t* tensor_scale_out, uint32_t* group_scales_out,
                 uint64_t group_capacity, uint32_t* elements_out, uint64_t element_capacity) {
  return guarded([&] {
    require_qarith(qarith);
    const Fmt f = mlshost::read_format(format, "format");
    require_kernels(f, "format");
    mlshost::check_rounding(rounding);
    const std::vector<int64_t> s = mlshost::read_shape(rank, shape, "shape");
    const Layout L(f, s, "format");
    if (n != static_cast<uint64_t>(L.count))
      bad("x has " + std::to_string(n) + " values but the shape has " + std::to_string(L.count) + " elements");
    if (!x) bad("x is NULL");
    const bool sr = rounding->mode == MLS_SR;
    if (sr) {
      if (n_rand != n)
        bad("rand has " + std::to_string(n_rand) + " words but sr needs one per element (" + std::to_string(n) + ")");
      if (!rand) bad("rand is NULL");
    }
    if (!tensor_scale_out || !group_scales_out || !elements_out) bad("an output buffer is NULL");
    need_capacity(group_capacity, L.groups, "group_scales_out");
    need_capacity(element_capacity, L.count, "elements_out");
    if (n >= 0xffffffffu)
      fail(MLS_ERR_UNSUPPORTED, std::string(backend_name()) + " quantizes at most 2^32 - 2 elements per call");
    if (static_tensor_scale) {
      const uint32_t st = *static_tensor_scale;
      if ((st >> 31) || st == 0 || (st & 0x7f800000u) == 0x7f800000u)
        bad("tensor_scale " + mlshost::hex32(st) + " is not a positive finite fp32 (4.6)");
    }
    std::vector<int64_t> P(48, 0);
    put_layout(P, 0, L);
    put_format(P, f);
    P[45] = qarith;
    P[34] = rounding->mode;
    P[35] = sr ? rounding->sr_bits : 0;
    P[36] = static_tensor_scale ? 1 : 0;
    P[37] = static_tensor_scale ? *static_tensor_scale : 0;
    const size_t groups = static_cast<size_t>(L.groups);
    std::vector<uint32_t> misc = {0u, 0xffffffffu, 0xffffffffu, 0u, 0u, 0xffffffffu, 0u, 0u};
    std::vector<uint32_t> zeros(groups, 0u);

    std::lock_guard<std::mutex> lock(g_mutex);
    Buf bP(P.size() * 8, P.data()), bx(n * 4, x), brand(sr ? n * 4 : 4, sr ? rand : nullptr);
    Buf bgmax(groups * 4, zeros.data()), bmisc(misc.size() * 4, misc.data());
    Buf bgs(groups * 4), bel(n * 4);
    device().launch(kQzMax, {bx.p, bgmax.p, bmisc.p, bP.p}, n);
    bmisc.get(misc.data(), misc.size());
    if (misc[1] != 0xffffffffu) {
      const uint32_t i = misc[1];
      bad("x[" + std::to_string(i) + "] is " + ((x[i] & 0x7fffff) ? "NaN" : "Inf") +
          ": this format needs finite input (4.1)");
    }
    device().launch(kQzScales, {bgmax.p, bmisc.p, bgs.p, bP.p}, groups);
    bmisc.get(misc.data(), misc.size());
    if (misc[4])
      bad("tensor_scale: max|x| = " + mlshost::hex32(misc[0]) + " over q_max * g_max overflows fp32 (4.3)");
    device().launch(kQzElems, {bx.p, brand.p, bgs.p, bmisc.p, bel.p, bP.p}, n);
    bmisc.get(misc.data(), misc.size());
    if (misc[2] != 0xffffffffu)
      bad("x[" + std::to_string(misc[2]) + "] = " + mlshost::hex32(x[misc[2]]) +
          ": magnitude above the largest element value (overflow policy error, 3.5)");
    if (misc[5] != 0xffffffffu) {
      const uint32_t i = misc[5];
      bad("x[" + std::to_string(i) + "] = " + mlshost::hex32(x[i]) + ": the input (or its fp32 quotient) is " +
          ((x[i] & 0x7fffffffu) > 0x7f800000u ? "NaN" : "infinite") + " and cannot be rounded to " + f.el.name() +
          " under this overflow policy (3.10)");
    }
    bgs.get(group_scales_out, groups);
    bel.get(elements_out, n);
    *tensor_scale_out = misc[3];
  });
}

int32_t dequantize(const mls_tensor_v2* t, uint32_t* y_out, uint64_t capacity) {
  return guarded([&] {
    const Tensor tt(t, "tensor");
    require_kernels(tt.fmt, "tensor.format");
    if (!y_out) bad("y_out is NULL");
    need_capacity(capacity, tt.layout.count, "y_out");
    std::vector<int64_t> P(48, 0);
    put_layout(P, 0, tt.layout);
    put_format(P, tt.fmt);
    P[38] = tt.tensor_scale;
    const size_t n = static_cast<size_t>(tt.layout.count), groups = static_cast<size_t>(tt.layout.groups);
    std::lock_guard<std::mutex> lock(g_mutex);
    Buf bP(P.size() * 8, P.data()), bel(n * 4, tt.elements), bgs(groups * 4, tt.group_scales), by(n * 4);
    device().launch(kDequant, {bel.p, bgs.p, by.p, bP.p}, n);
    by.get(y_out, n);
  });
}

// The integers the conv kernel multiplies (mls_code_k in mls_kernels.cl):
// a finite code is k 2^(pmin - M), k = f below pmin, (2^M + f) 2^x above,
// x = ef - efmin. efmin: 1 for a grid with zero, 0 without.
int efmin(const mlshost::GridDesc& g) { return g.zero == MLS_ZERO_NONE ? 0 : 1; }
int code_x(const mlshost::GridDesc& g, uint32_t mag) {
  const int ef = static_cast<int>(mag >> g.M);
  return (ef == 0 && g.zero != MLS_ZERO_NONE) ? 0 : ef - efmin(g);
}
int ulp_exp(const mlshost::GridDesc& g) { return efmin(g) - g.bias - g.M; }  // pmin - M
int elem_bits(const mlshost::GridDesc& e) { return e.E == 0 ? e.M : e.M + 1 + (1 << e.E) - 1 - efmin(e); }
int ceil_log2(uint64_t n) {
  int b = 0;
  while ((uint64_t(1) << b) < n) ++b;
  return b;
}

// 6.11: the sums need finite operands (a NaN or Inf element or a NaN scale
// is an input error); a two's complement element is a skip.
void check_operand(const Tensor& t, const std::string& what) {
  const mlshost::GridDesc &e = t.fmt.el, &g = t.fmt.gs;
  if (!e.is_signed || e.encoding != MLS_ENCODING_SIGN_MAGNITUDE || g.encoding != MLS_ENCODING_SIGN_MAGNITUDE)
    mlshost::unsupported(what + ".format: " + backend_name() + " sums sign-magnitude elements and scales, not " +
                         t.fmt.name());
  for (int64_t i = 0; i < t.layout.groups; ++i)
    if (g.is_special(t.group_scales[i]))
      bad(what + ".group_scales[" + std::to_string(i) + "] is NaN: the operation needs finite operands (6.11)");
  for (int64_t i = 0; i < t.layout.count; ++i)
    if (e.is_special(t.elements[i]))
      bad(what + ".elements[" + std::to_string(i) + "] is a NaN or Inf code: the operation needs finite operands (6.11)");
}

// The smallest and largest shift x among an operand's scale codes.
void scale_x_range(const Tensor& t, int& lo, int& hi) {
  lo = 1 << 30;
  hi = 0;
  for (int64_t i = 0; i < t.layout.groups; ++i) {
    const int x = code_x(t.fmt.gs, t.group_scales[i] & t.fmt.gs.mag_mask());
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  if (lo > hi) lo = hi = 0;
}

// Runs the conv kernel; P[50..68] (pass and geometry) are filled by the caller.
void run_reduction(std::vector<int64_t>& P, const Tensor& a, const Tensor& b, int64_t reduction, int64_t nout,
                   uint32_t* y) {
  int xla, xha, xlb, xhb;
  scale_x_range(a, xla, xha);
  scale_x_range(b, xlb, xhb);
  const int ka = elem_bits(a.fmt.el), kb = elem_bits(b.fmt.el);
  const int ga = a.fmt.gs.M + 1 + xha - xla, gb = b.fmt.gs.M + 1 + xhb - xlb;
  const int need = ka + kb + ga + gb + ceil_log2(static_cast<uint64_t>(reduction) + 1);
  if (ka > 63 || kb > 63 || ga > 63 || gb > 63 || need > 126)
    fail(MLS_ERR_UNSUPPORTED, std::string(backend_name()) + ": exact sums of these operands need " +
                                  std::to_string(need) + " bits (element " + std::to_string(ka) + "+" +
                                  std::to_string(kb) + ", group scales as present " + std::to_string(ga) + "+" +
                                  std::to_string(gb) + "); the kernels accumulate in 126");
  put_layout(P, 0, a.layout);
  put_layout(P, 25, b.layout);
  P[70] = a.fmt.el.E;
  P[71] = a.fmt.el.M;
  P[72] = a.fmt.el.bias;
  P[73] = b.fmt.el.E;
  P[74] = b.fmt.el.M;
  P[75] = b.fmt.el.bias;
  P[76] = a.fmt.gs.M;
  P[77] = b.fmt.gs.M;
  auto unpack = [](uint32_t bits, uint64_t& m, int64_t& e) {
    const uint32_t ef = (bits >> 23) & 0xff, f = bits & 0x7fffff;
    m = ef ? (f | 0x800000u) : f;
    e = ef ? int64_t(ef) - 150 : -149;
  };
  uint64_t ma, mb;
  int64_t ea, eb;
  unpack(a.tensor_scale, ma, ea);
  unpack(b.tensor_scale, mb, eb);
  P[78] = static_cast<int64_t>(ma * mb);
  P[80] = a.fmt.gs.E;
  P[81] = b.fmt.gs.E;
  P[82] = a.tensor_scale;
  P[83] = b.tensor_scale;
  P[84] = a.fmt.el.zero;
  P[85] = b.fmt.el.zero;
  P[86] = a.fmt.gs.zero;
  P[87] = b.fmt.gs.zero;
  P[88] = xla;
  P[89] = xlb;
  P[90] = ulp_exp(a.fmt.el);
  P[91] = ulp_exp(b.fmt.el);
  P[92] = ulp_exp(a.fmt.gs) + xla;
  P[93] = ulp_exp(b.fmt.gs) + xlb;
  P[94] = a.fmt.gs.is_signed ? a.fmt.gs.E + a.fmt.gs.M : 0;
  P[95] = b.fmt.gs.is_signed ? b.fmt.gs.E + b.fmt.gs.M : 0;
  P[79] = ea + eb + P[90] + P[91] + P[92] + P[93];
  const size_t na = static_cast<size_t>(a.layout.count), nb = static_cast<size_t>(b.layout.count);
  std::lock_guard<std::mutex> lock(g_mutex);
  Buf bP(P.size() * 8, P.data());
  Buf ael(na * 4, a.elements), ags(static_cast<size_t>(a.layout.groups) * 4, a.group_scales);
  Buf bel(nb * 4, b.elements), bgs(static_cast<size_t>(b.layout.groups) * 4, b.group_scales);
  Buf by(static_cast<size_t>(nout) * 4);
  device().launch(kConv, {ael.p, ags.p, bel.p, bgs.p, by.p, bP.p}, static_cast<uint64_t>(nout));
  by.get(y, static_cast<size_t>(nout));
}

int32_t conv2d(const mls_conv2d_v2* params, const mls_tensor_v2* a, const mls_tensor_v2* b, const char* arith,
               int32_t out_rank, const int64_t* out_shape, uint32_t* y_out, uint64_t capacity) {
  return guarded([&] {
    check_arith(arith);
    const Tensor ta(a, "a"), tb(b, "b");
    check_operand(ta, "a");
    check_operand(tb, "b");
    const mlshost::ConvGeom g = mlshost::read_conv(params, ta.shape, tb.shape, out_rank, out_shape);
    if (!y_out) bad("y_out is NULL");
    need_capacity(capacity, g.out_count(), "y_out");
    std::vector<int64_t> P(96, 0);
    P[50] = g.pass;
    const int64_t geo[] = {g.N, g.C, g.H, g.W, g.O, g.KH, g.KW, g.OH, g.OW, g.G, g.Cg, g.Og,
                           g.sh, g.sw, g.ph, g.pw, g.dh, g.dw};
    for (int i = 0; i < 18; ++i) P[51 + i] = geo[i];
    run_reduction(P, ta, tb, g.reduction(), g.out_count(), y_out);
  });
}

int32_t gemm(const mls_tensor_v2* a, const mls_tensor_v2* b, const char* arith, uint32_t* y_out, uint64_t capacity) {
  return guarded([&] {
    check_arith(arith);
    const Tensor ta(a, "a"), tb(b, "b");
    check_operand(ta, "a");
    check_operand(tb, "b");
    if (ta.shape.size() != 2) bad("a.shape has rank " + std::to_string(ta.shape.size()) + "; gemm needs (M,K)");
    if (tb.shape.size() != 2) bad("b.shape has rank " + std::to_string(tb.shape.size()) + "; gemm needs (K,N)");
    if (tb.shape[0] != ta.shape[1])
      bad("b.shape[0] = " + std::to_string(tb.shape[0]) + " but a.shape[1] = " + std::to_string(ta.shape[1]) +
          " (gemm needs a (M,K) and b (K,N))");
    if (!y_out) bad("y_out is NULL");
    need_capacity(capacity, ta.shape[0] * tb.shape[1], "y_out");
    std::vector<int64_t> P(96, 0);
    P[50] = 3;
    P[51] = ta.shape[0];
    P[52] = ta.shape[1];
    P[53] = tb.shape[1];
    run_reduction(P, ta, tb, ta.shape[1], ta.shape[0] * tb.shape[1], y_out);
  });
}

const char* last_error() { return g_error.c_str(); }

}  // namespace

void device_error(int32_t status, const std::string& message) { fail(status, message); }

Device& device() {
  static std::unique_ptr<Device> dev;
  static std::string init_error;
  static bool tried = false;
  if (!tried) {
    tried = true;
    try {
      dev = make_device();
    } catch (const Failure& f) {
      init_error = f.message;
    }
  }
  if (!dev) fail(MLS_ERR_INTERNAL, init_error);
  return *dev;
}

namespace {

const mls_backend_v2 kTable = {MLS_BACKEND_ABI_VERSION,
                               sizeof(mls_backend_v2),
                               name,
                               supports,
                               group_count,
                               round_values,
                               quantize,
                               dequantize,
                               conv2d,
                               gemm,
                               last_error};

}  // namespace
}  // namespace mlsgpu

extern "C" MLS_BACKEND_EXPORT const mls_backend_v2* mls_backend_get(uint32_t abi_version) {
  return abi_version == MLS_BACKEND_ABI_VERSION ? &mlsgpu::kTable : nullptr;
}
