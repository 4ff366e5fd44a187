// mls-rtl host side shared by backend.cpp and reduce.cpp.
#pragma once
#include "mls_backend.h"

namespace mlsrtl {
// Throws mlshost::Failure (MLS_ERR_UNSUPPORTED / MLS_ERR_INPUT) unless the
// dot-product unit computes GEMM and conv2d for this format (NULL: any) and arith.
void dot_supports(const mls_format_v2* format, const char* arith);
void gemm_impl(const mls_tensor_v2* a, const mls_tensor_v2* b, const char* arith, uint32_t* y, uint64_t capacity);
void conv2d_impl(const mls_conv2d_v2* params, const mls_tensor_v2* a, const mls_tensor_v2* b, const char* arith,
                 int32_t out_rank, const int64_t* out_shape, uint32_t* y, uint64_t capacity);
}  // namespace mlsrtl
