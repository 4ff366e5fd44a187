// mls-rtl host side shared by backend.cpp and gemm.cpp.
#pragma once
#include "mls_backend.h"

namespace mlsrtl {
// Throws mlsfast::Failure (MLS_ERR_UNSUPPORTED / MLS_ERR_INPUT) unless the
// dot-product unit computes GEMM for this format (NULL: any) and arith.
void dot_supports(const mls_format_v1* format, const char* arith);
void gemm_impl(const mls_tensor_v1* a, const mls_tensor_v1* b, const char* arith, uint32_t* y, uint64_t capacity);
}  // namespace mlsrtl
