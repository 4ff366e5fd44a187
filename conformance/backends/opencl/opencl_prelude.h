/* OpenCL C 1.2 spelling of the dialect macros used by mls_kernels.cl. */
typedef ulong mls_u64;
typedef long mls_i64;
typedef uint mls_u32;
#define MLS_INLINE static inline
#define MLS_KERNEL __kernel
#define MLS_GPTR __global
#define MLS_GID ((mls_u64)get_global_id(0))
#define MLS_MULHI(a, b) mul_hi((mls_u64)(a), (mls_u64)(b))
#define MLS_CLZ64(x) clz((mls_u64)(x))
#define MLS_ATOMIC_MAX(p, v) atomic_max((volatile __global uint*)(p), (uint)(v))
#define MLS_ATOMIC_MIN(p, v) atomic_min((volatile __global uint*)(p), (uint)(v))
#define MLS_AS_FLOAT(u) as_float((uint)(u))
#define MLS_AS_UINT(f) as_uint((float)(f))
#define MLS_LDEXPF(x, e) ldexp((float)(x), (int)(e))
