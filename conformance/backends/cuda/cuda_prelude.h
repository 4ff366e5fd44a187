/* CUDA spelling of the dialect macros used by ../opencl/mls_kernels.cl. */
#pragma once
#include <stdint.h>
typedef unsigned long long mls_u64;
typedef long long mls_i64;
typedef unsigned int mls_u32;
#define MLS_INLINE static __device__ __forceinline__
#define MLS_KERNEL extern "C" __global__
#define MLS_GPTR
#define MLS_GID ((mls_u64)blockIdx.x * (mls_u64)blockDim.x + (mls_u64)threadIdx.x)
#define MLS_MULHI(a, b) __umul64hi((mls_u64)(a), (mls_u64)(b))
#define MLS_CLZ64(x) __clzll((long long)(x))
#define MLS_ATOMIC_MAX(p, v) atomicMax((unsigned int*)(p), (unsigned int)(v))
#define MLS_ATOMIC_MIN(p, v) atomicMin((unsigned int*)(p), (unsigned int)(v))
#define MLS_AS_FLOAT(u) __uint_as_float((unsigned int)(u))
#define MLS_AS_UINT(f) __float_as_uint((float)(f))
#define MLS_LDEXPF(x, e) ldexpf((float)(x), (int)(e))
