// mls-fast operations (compiled once per seeded-bug variant).
#pragma once
#include <atomic>

#include "fast.hpp"
#include "mutant.hpp"

namespace mlsfast {

uint32_t round_element_mag(const ElemFmt& el, const Exact& y, bool neg, int mode, int R, uint32_t word, bool* ovf);
void quantize_op(const Fmt& f, const std::vector<int64_t>& shape, const uint32_t* x, const mls_rounding_v2& r,
                 const uint32_t* rand, const uint32_t* static_ts, uint32_t* ts_out, uint32_t* gs_out, uint32_t* el_out);
void dequantize_op(const Tensor& t, uint32_t* y);
void conv2d_op(const ConvGeom& g, const Tensor& a, const Tensor& b, uint32_t* y);
void gemm_op(const Tensor& a, const Tensor& b, uint32_t* y);

}  // namespace mlsfast
