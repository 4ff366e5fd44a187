// mls-fast operations (compiled once per seeded-bug variant, except round_op).
#pragma once
#include "fast.hpp"
#include "mutant.hpp"

namespace mlsfast {

// 4.1-4.6, 4.12: the quantization of x; qarith accepted by check_qarith().
void quantize_op(const Fmt& f, const std::vector<int64_t>& shape, const uint32_t* x, const mls_rounding_v2& r,
                 int32_t qarith, const uint32_t* rand, const uint32_t* static_ts, uint32_t* ts_out, uint32_t* gs_out,
                 uint32_t* el_out);
void dequantize_op(const Tensor& t, uint32_t* y);
void conv2d_op(const ConvGeom& g, const Tensor& a, const Tensor& b, uint32_t* y);
void gemm_op(const Tensor& a, const Tensor& b, uint32_t* y);
// 3, 3.10: the round (cast) entry; checks its descriptor. Compiled once.
void round_op(const mls_cast_v2* cast, const uint32_t* x, uint64_t n, const uint32_t* rand, uint64_t n_rand,
              uint32_t* out, uint64_t capacity);

}  // namespace mlsfast
