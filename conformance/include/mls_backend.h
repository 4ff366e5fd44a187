/* mls_backend.h -- the in-process C ABI, version 1, for MLS implementations
 * under test (spec/09-protocol.md, section "C ABI").
 *
 * A backend is a shared library that exports one function,
 *     const struct mls_backend_v1* mls_backend_get(uint32_t abi_version);
 * The runner loads it with dlopen/dlsym, asks for MLS_BACKEND_ABI_VERSION and
 * gets a table of function pointers, or NULL when the library does not speak
 * that version. Everything crossing the boundary is a plain C type: fixed-width
 * integers, fp32 values as uint32_t bit patterns, codes as uint32_t. Every
 * buffer is owned by the caller; a backend never allocates memory the caller
 * must free, and never keeps a pointer after a call returns.
 *
 * Every operation returns an mls_status. On anything other than MLS_OK the
 * output buffers hold unspecified data and last_error() returns a message
 * naming the field or index at fault. Operations must be safe to call from
 * several threads at once; last_error() reports the calling thread's last
 * failure.
 *
 * Meaning of every result: spec/04-quantize.md (quantize, dequantize) and
 * spec/06-conv.md (conv2d, gemm). This header fixes the layout only.
 */
#ifndef MLS_BACKEND_H
#define MLS_BACKEND_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MLS_BACKEND_ABI_VERSION 1u
#define MLS_BACKEND_ENTRY "mls_backend_get" /* the one exported symbol */

#if defined(_WIN32)
#define MLS_BACKEND_EXPORT __declspec(dllexport)
#else
#define MLS_BACKEND_EXPORT __attribute__((visibility("default")))
#endif

/* ---- status codes (int32_t) ---------------------------------------------- */
#define MLS_OK 0
#define MLS_ERR_INPUT 1       /* invalid request, or the spec makes it an error (NaN input, overflow policy error) */
#define MLS_ERR_UNSUPPORTED 2 /* valid request this backend does not implement (a skip, never a pass) */
#define MLS_ERR_BUFFER 3      /* an output buffer is smaller than the result */
#define MLS_ERR_INTERNAL 4    /* anything else (out of memory, a bug in the backend) */

/* ---- enumerations (stored in int32_t fields) ---------------------------- */
#define MLS_ZERO_SUBNORMAL 0 /* element exponent field 0: zero and subnormals */
#define MLS_ZERO_ONLY 1      /* element exponent field 0: only f = 0 (zero) is a valid code */

#define MLS_SCALE_CEIL 0 /* group scale = smallest value >= a_G / (S_t q_max) (default) */
#define MLS_SCALE_NEAREST 1
#define MLS_SCALE_FLOOR 2

#define MLS_SIGNED_ZERO_PRESERVE 0 /* a zero result keeps the sign of its input (default) */
#define MLS_SIGNED_ZERO_POSITIVE 1

#define MLS_OVERFLOW_SATURATE 0 /* element magnitude above q_max: q_max (default) */
#define MLS_OVERFLOW_ERROR 1    /* ... : MLS_ERR_INPUT */

#define MLS_RNE 0 /* nearest, ties to the code ending in 0 */
#define MLS_RNA 1 /* nearest, ties away from zero */
#define MLS_RTZ 2
#define MLS_RUP 3 /* toward +inf */
#define MLS_RDN 4 /* toward -inf */
#define MLS_RTO 5 /* round to odd */
#define MLS_SR 6  /* stochastic: away iff t + r/2^R >= 1, r = top R bits of the element's word */

#define MLS_OP_QUANTIZE 1
#define MLS_OP_DEQUANTIZE 2
#define MLS_OP_CONV2D_FWD 3
#define MLS_OP_CONV2D_BWD_DATA 4
#define MLS_OP_CONV2D_BWD_WEIGHT 5
#define MLS_OP_GEMM 6

#define MLS_PASS_FWD 0        /* a = X (N,C,H,W),  b = W (O,C/G,KH,KW) -> Y  (N,O,OH,OW) */
#define MLS_PASS_BWD_DATA 1   /* a = dY (N,O,OH,OW), b = W (O,C/G,KH,KW) -> dX (N,C,H,W)  */
#define MLS_PASS_BWD_WEIGHT 2 /* a = X (N,C,H,W),  b = dY (N,O,OH,OW) -> dW (O,C/G,KH,KW) */

/* ---- descriptors ---------------------------------------------------------- */

/* An MLS format (spec/02-format.md). The element is a signed minifloat; the
 * group scale an unsigned one with bias 2^Eg - 1 and no zero. */
typedef struct mls_format_v1 {
  int32_t elem_exp_bits;      /* E, 0..8 */
  int32_t elem_man_bits;      /* M, 0..23 */
  int32_t elem_bias;          /* b (the default is 2^E - 1, and 0 for E = 0) */
  int32_t elem_zero;          /* MLS_ZERO_* */
  int32_t scale_exp_bits;     /* Eg, 1..8 */
  int32_t scale_man_bits;     /* Mg, 0..23 */
  int32_t scale_policy;       /* MLS_SCALE_* */
  int32_t signed_zero;        /* MLS_SIGNED_ZERO_* */
  int32_t overflow;           /* MLS_OVERFLOW_* */
  int32_t group_rank;         /* entries in group_shape; 0 = the default layout (1,1,0,... ; 0 for rank 1) */
  const int64_t* group_shape; /* 0 (or an entry above the axis length) = the whole axis */
} mls_format_v1;

typedef struct mls_rounding_v1 {
  int32_t mode;    /* MLS_RNE .. MLS_SR */
  int32_t sr_bits; /* R, 1..32; read only for MLS_SR */
} mls_rounding_v1;

/* An MLS tensor (spec/02-format.md): elements row-major, group scales in the
 * row-major order of the tile grid. */
typedef struct mls_tensor_v1 {
  mls_format_v1 format;
  int32_t rank;
  const int64_t* shape;
  uint32_t tensor_scale; /* fp32 bit pattern, positive and finite */
  uint64_t group_count;
  const uint32_t* group_scales;
  uint64_t element_count;
  const uint32_t* elements;
} mls_tensor_v1;

typedef struct mls_conv2d_v1 {
  int32_t pass;        /* MLS_PASS_* */
  int64_t stride[2];   /* (h, w), >= 1 */
  int64_t padding[2];  /* zero padding (h, w), >= 0, on both sides */
  int64_t dilation[2]; /* >= 1 */
  int64_t groups;      /* conv groups G >= 1; C and O are multiples of G */
} mls_conv2d_v1;

/* ---- the function table ---------------------------------------------------- */
typedef struct mls_backend_v1 {
  uint32_t abi_version; /* MLS_BACKEND_ABI_VERSION */
  uint32_t struct_size; /* sizeof(mls_backend_v1) as the backend was compiled */

  /* A short human name, e.g. "mls-fast 0.1". Static storage. */
  const char* (*name)(void);

  /* Capability query. MLS_OK when the backend computes `op` for this format
   * and rounding (either may be NULL: "any"), and for conv2d/gemm under the
   * arithmetic profile `arith` (JSON text as in spec/06-conv.md; NULL or ""
   * = {"profile":"exact"}). MLS_ERR_UNSUPPORTED (last_error says why) or
   * MLS_ERR_INPUT for an invalid descriptor. */
  int32_t (*supports)(int32_t op, const mls_format_v1* format, const mls_rounding_v1* rounding, const char* arith);

  /* Number of groups of `format` over a tensor of this shape. */
  int32_t (*group_count)(const mls_format_v1* format, int32_t rank, const int64_t* shape, uint64_t* count);

  /* Quantize (spec/04-quantize.md). x: n fp32 bit patterns, row-major.
   * rand: one 32-bit word per element (n_rand = n) for MLS_SR, else ignored
   * (may be NULL). static_tensor_scale: NULL = dynamic (4.3), else the fp32
   * bits of S_t (4.6). Outputs: the tensor scale, group_count codes, n codes. */
  int32_t (*quantize)(const mls_format_v1* format, int32_t rank, const int64_t* shape, const uint32_t* x, uint64_t n,
                      const mls_rounding_v1* rounding, const uint32_t* rand, uint64_t n_rand,
                      const uint32_t* static_tensor_scale, uint32_t* tensor_scale_out, uint32_t* group_scales_out,
                      uint64_t group_capacity, uint32_t* elements_out, uint64_t element_capacity);

  /* Dequantize to fp32, nearest even (4.7); a zero element gives the zero of
   * its code's sign. y_out: element_count fp32 bit patterns. */
  int32_t (*dequantize)(const mls_tensor_v1* t, uint32_t* y_out, uint64_t capacity);

  /* 2-D convolution, one of three passes (see MLS_PASS_*), NCHW / OIHW.
   * out_shape (rank 4) is the result's shape; it is required for the two
   * backward passes (the operands do not fix it) and checked for the forward
   * one (out_rank 0 and NULL allowed there). y_out: fp32 bit patterns. */
  int32_t (*conv2d)(const mls_conv2d_v1* params, const mls_tensor_v1* a, const mls_tensor_v1* b, const char* arith,
                    int32_t out_rank, const int64_t* out_shape, uint32_t* y_out, uint64_t capacity);

  /* Matrix product C = A B: a is (M,K), b is (K,N), C is (M,N) row-major. */
  int32_t (*gemm)(const mls_tensor_v1* a, const mls_tensor_v1* b, const char* arith, uint32_t* y_out,
                  uint64_t capacity);

  /* Message of the calling thread's last failed call ("" if none). Valid
   * until that thread's next call into the backend. */
  const char* (*last_error)(void);
} mls_backend_v1;

typedef const mls_backend_v1* (*mls_backend_get_fn)(uint32_t abi_version);

/* The entry point: NULL if abi_version is not one the library implements. */
MLS_BACKEND_EXPORT const mls_backend_v1* mls_backend_get(uint32_t abi_version);

#ifdef __cplusplus
}
#endif

#endif /* MLS_BACKEND_H */
