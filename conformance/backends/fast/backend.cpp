// mls-fast: the C ABI entry point (conformance/include/mls_backend.h). Checks
// arguments, runs the operation, turns failures into a status and a
// thread-local message; no exception crosses the boundary.
#include <new>

#include "ops.hpp"

namespace mlsfast {
namespace {

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

void need_capacity(uint64_t have, int64_t need, const char* what) {
  if (have < static_cast<uint64_t>(need))
    fail(MLS_ERR_BUFFER, std::string(what) + " has room for " + std::to_string(have) + " values but the result has " +
                             std::to_string(need));
}

const char* name() {
  if constexpr (kMutant == Mutant::none)
    return "mls-fast 0.2";
  else
    return "mls-fast 0.2 (seeded-bug variant)";
}

int32_t supports(int32_t op, const mls_format_v2* format, const mls_rounding_v2* rounding, int32_t qarith,
                 const char* arith) {
  return guarded([&] {
    if (op < MLS_OP_QUANTIZE || op > MLS_OP_ROUND)
      fail(MLS_ERR_UNSUPPORTED, "op " + std::to_string(op) + " is not computed by mls-fast 0.2");
    if (rounding) check_rounding(rounding);
    if (op == MLS_OP_ROUND) {  // only the element, the overflow policy and the sign of zero are read
      if (!format) return;
      const Grid el = make_cast_grid(format->element, "format.element");
      check_overflow(format->overflow, el, "format.overflow");
      if (format->signed_zero < 0 || format->signed_zero > 1)
        bad("format.signed_zero = " + std::to_string(format->signed_zero) + " is outside 0..1");
      return;
    }
    if (format) {
      const Fmt f = make_format(format, "format");
      if (op == MLS_OP_QUANTIZE) check_qarith(qarith, f);
    } else if (op == MLS_OP_QUANTIZE && qarith_name(qarith)[0] == '\0') {
      fail(MLS_ERR_UNSUPPORTED, "qarith = " + std::to_string(qarith) + " is not a quantizer arithmetic profile mls-fast 0.2 knows");
    }
    if (op >= MLS_OP_CONV2D_FWD && op <= MLS_OP_GEMM) check_arith(arith);
  });
}

int32_t group_count(const mls_format_v2* format, int32_t rank, const int64_t* shape, uint64_t* count) {
  return guarded([&] {
    if (!count) bad("count is NULL");
    const Fmt f = make_format(format, "format");
    *count = static_cast<uint64_t>(Layout(f, read_shape(rank, shape, "shape"), "format").groups);
  });
}

int32_t round_values(const mls_cast_v2* cast, const uint32_t* x, uint64_t n, const uint32_t* rand, uint64_t n_rand,
                     uint32_t* codes_out, uint64_t capacity) {
  return guarded([&] { round_op(cast, x, n, rand, n_rand, codes_out, capacity); });
}

int32_t quantize(const mls_format_v2* format, int32_t rank, const int64_t* shape, const uint32_t* x, uint64_t n,
                 const mls_rounding_v2* rounding, int32_t qarith, const uint32_t* rand, uint64_t n_rand,
                 const uint32_t* static_tensor_scale, uint32_t* tensor_scale_out, uint32_t* group_scales_out,
                 uint64_t group_capacity, uint32_t* elements_out, uint64_t element_capacity) {
  return guarded([&] {
    const Fmt f = make_format(format, "format");
    check_qarith(qarith, f);
    check_rounding(rounding);
    const std::vector<int64_t> s = read_shape(rank, shape, "shape");
    const Layout L(f, s, "format");
    if (n != static_cast<uint64_t>(L.count))
      bad("x has " + std::to_string(n) + " values but the shape has " + std::to_string(L.count) + " elements");
    if (!x) bad("x is NULL");
    if (rounding->mode == MLS_SR) {
      if (n_rand != n)
        bad("rand has " + std::to_string(n_rand) + " words but sr needs one per element (" + std::to_string(n) + ")");
      if (!rand) bad("rand is NULL");
    }
    if (!tensor_scale_out || !group_scales_out || !elements_out) bad("an output buffer is NULL");
    need_capacity(group_capacity, L.groups, "group_scales_out");
    need_capacity(element_capacity, L.count, "elements_out");
    quantize_op(f, s, x, *rounding, qarith, rounding->mode == MLS_SR ? rand : nullptr, static_tensor_scale,
                tensor_scale_out, group_scales_out, elements_out);
  });
}

int32_t dequantize(const mls_tensor_v2* t, uint32_t* y_out, uint64_t capacity) {
  return guarded([&] {
    const Tensor tt(t, "tensor");
    if (!y_out) bad("y_out is NULL");
    need_capacity(capacity, tt.layout.count, "y_out");
    dequantize_op(tt, y_out);
  });
}

int32_t conv2d(const mls_conv2d_v2* params, const mls_tensor_v2* a, const mls_tensor_v2* b, const char* arith,
               int32_t out_rank, const int64_t* out_shape, uint32_t* y_out, uint64_t capacity) {
  return guarded([&] {
    check_arith(arith);
    const Tensor ta(a, "a"), tb(b, "b");
    ta.require_finite();
    tb.require_finite();
    const ConvGeom g = conv_geometry(params, ta.shape, tb.shape, out_rank, out_shape);
    if (!y_out) bad("y_out is NULL");
    need_capacity(capacity, g.out_count(), "y_out");
    conv2d_op(g, ta, tb, y_out);
  });
}

int32_t gemm(const mls_tensor_v2* a, const mls_tensor_v2* b, const char* arith, uint32_t* y_out, uint64_t capacity) {
  return guarded([&] {
    check_arith(arith);
    const Tensor ta(a, "a"), tb(b, "b");
    ta.require_finite();
    tb.require_finite();
    if (!y_out) bad("y_out is NULL");
    if (ta.shape.size() == 2 && tb.shape.size() == 2) need_capacity(capacity, ta.shape[0] * tb.shape[1], "y_out");
    gemm_op(ta, tb, y_out);
  });
}

const char* last_error() { return g_error.c_str(); }

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
}  // namespace mlsfast

extern "C" MLS_BACKEND_EXPORT const mls_backend_v2* mls_backend_get(uint32_t abi_version) {
  return abi_version == MLS_BACKEND_ABI_VERSION ? &mlsfast::kTable : nullptr;
}

// Which seeded bug this build carries ("" for the real implementation); for
// the tests that prove each variant differs from the spec. Not part of the ABI.
extern "C" MLS_BACKEND_EXPORT const char* mls_fast_mutant(void) { return mlsfast::kMutantName; }
