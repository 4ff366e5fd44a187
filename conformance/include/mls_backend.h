/* mls_backend.h -- the in-process C ABI, version 2, for implementations of
 * the MLS format family (MLS, OCP MX, NVFP4) under test (spec/09-protocol.md,
 * section 9.3 "C ABI").
 *
 * A backend is a shared library that exports one function,
 *     const struct mls_backend_v2* mls_backend_get(uint32_t abi_version);
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
 * Meaning of every result: spec/03-rounding.md (round), spec/04-quantize.md
 * (quantize, dequantize) and spec/06-conv.md (conv2d, gemm). This header fixes
 * the layout only. The numeric values of every enumeration below are also the
 * values the golden model uses (reference/include/mls/enums.hpp ties them with
 * static_asserts) and the codes stored in vector files (spec/08-vectors.md).
 *
 * Version 2 (spec 1.1) replaced version 1: full minifloat descriptors for the
 * element and the group scale (bias, zero mode, special values, encoding), the
 * tensor-scale and group-scale rules of the family, the non-finite input
 * policy, the quantizer arithmetic profile, and the scalar `round` (cast)
 * operation. A version-1 library is refused with a message naming the version.
 */
#ifndef MLS_BACKEND_H
#define MLS_BACKEND_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MLS_BACKEND_ABI_VERSION 2u
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
/* Minifloat zero mode (1.5): what exponent field 0 encodes. */
#define MLS_ZERO_SUBNORMAL 0 /* zero and subnormals */
#define MLS_ZERO_ONLY 1      /* only f = 0 (zero) is a valid code */
#define MLS_ZERO_NONE 2      /* an ordinary binade: no zero (MLS group scales, E8M0) */

/* Minifloat special values (1.6). */
#define MLS_SPECIALS_NONE 0         /* every code is finite (FP6, FP4, INT8, MLS) */
#define MLS_SPECIALS_IEEE 1         /* exponent field all ones: Inf (f = 0) and NaN (E5M2, binary32) */
#define MLS_SPECIALS_NAN_ALL_ONES 2 /* the all-ones magnitude is NaN, no Inf (OCP E4M3, E8M0 0xFF) */

/* Minifloat code encoding (1.2). */
#define MLS_ENCODING_SIGN_MAGNITUDE 0 /* sign bit, exponent field, mantissa field */
#define MLS_ENCODING_TWOS_COMPLEMENT 1 /* E = 0 only: the code is a two's complement integer (MXINT8) */

/* Tensor-scale rule (4.3). */
#define MLS_TSCALE_AMAX 0 /* S_t = RU_fp32(amax / (q_max * g_max)), 1.0 for an all-zero tensor (MLS, NVFP4) */
#define MLS_TSCALE_ONE 1  /* S_t = 1.0 (OCP MX: no tensor scale) */

/* Group-scale rule (4.4), on r = a_G / (S_t * D). */
#define MLS_SCALE_CEIL 0    /* D = q_max, smallest grid value >= r (MLS default; MX "round the scale up") */
#define MLS_SCALE_NEAREST 1 /* D = q_max, nearest grid value, ties to the even code (NVFP4) */
#define MLS_SCALE_FLOOR 2   /* D = q_max, largest grid value <= r */
#define MLS_SCALE_OCP 3     /* D = 2^emax_elem, largest grid value <= r (OCP MX v1.0 section 6.3; torchao FLOOR) */
#define MLS_SCALE_OCP_CEIL 4 /* D = 2^emax_elem, smallest grid value >= r (torchao CEIL) */
#define MLS_SCALE_OCP_EVEN 5 /* a_G rounded to M_elem + 1 bits, ties away, then as OCP (torchao EVEN) */

#define MLS_SIGNED_ZERO_PRESERVE 0 /* a zero result keeps the sign of its input (default) */
#define MLS_SIGNED_ZERO_POSITIVE 1

/* Element overflow (3.5): a magnitude beyond the largest finite value. */
#define MLS_OVERFLOW_SATURATE 0 /* the largest finite value (default) */
#define MLS_OVERFLOW_ERROR 1    /* MLS_ERR_INPUT */
#define MLS_OVERFLOW_INFINITY 2 /* Inf (MLS_SPECIALS_IEEE only): IEEE 754 overflow */
#define MLS_OVERFLOW_NAN 3      /* NaN (a format with a NaN code): values that round past the largest finite */

/* Non-finite inputs to quantize (4.1). */
#define MLS_NONFINITE_ERROR 0     /* NaN or Inf anywhere is an input error (MLS, NVFP4) */
#define MLS_NONFINITE_PROPAGATE 1 /* a NaN makes its group's scale NaN; Inf as in 4.1.2 (OCP MX) */

#define MLS_RNE 0 /* nearest, ties to the code ending in 0 */
#define MLS_RNA 1 /* nearest, ties away from zero */
#define MLS_RTZ 2
#define MLS_RUP 3 /* toward +inf */
#define MLS_RDN 4 /* toward -inf */
#define MLS_RTO 5 /* round to odd */
#define MLS_SR 6  /* stochastic: away iff t + r/2^R >= 1, r = top R bits of the element's word */

/* Quantizer arithmetic profiles (4.12): how the implementation computes.
 * EXACT is the definition; the others are named fp32 pipelines that real
 * libraries run, each step one stated rounding. */
#define MLS_QARITH_EXACT 0
#define MLS_QARITH_FP32_DIV 1         /* element quotient fl(x / fl(S_t S_g)), then rounded to the element grid */
#define MLS_QARITH_FP32_RECIPROCAL 2  /* element quotient fl(x * fl(1 / fl(S_t S_g))), then rounded */
#define MLS_QARITH_TORCHAO_MX 3       /* torchao 0.18 to_mx FLOOR/CEIL/EVEN (spec 4.12.3) */
#define MLS_QARITH_TORCHAO_MX_RCEIL 4 /* torchao 0.18 to_mx RCEIL, eager path (spec 4.12.4) */
#define MLS_QARITH_TORCHAO_NVFP4 5    /* torchao 0.18 nvfp4_quantize (spec 4.12.5) */
#define MLS_QARITH_TE_MXFP8 6         /* Transformer Engine MXFP8 (spec 4.12.6) */
#define MLS_QARITH_TE_NVFP4 7         /* Transformer Engine NVFP4 (spec 4.12.7) */

#define MLS_OP_QUANTIZE 1
#define MLS_OP_DEQUANTIZE 2
#define MLS_OP_CONV2D_FWD 3
#define MLS_OP_CONV2D_BWD_DATA 4
#define MLS_OP_CONV2D_BWD_WEIGHT 5
#define MLS_OP_GEMM 6
#define MLS_OP_ROUND 7

#define MLS_PASS_FWD 0        /* a = X (N,C,H,W),  b = W (O,C/G,KH,KW) -> Y  (N,O,OH,OW) */
#define MLS_PASS_BWD_DATA 1   /* a = dY (N,O,OH,OW), b = W (O,C/G,KH,KW) -> dX (N,C,H,W)  */
#define MLS_PASS_BWD_WEIGHT 2 /* a = X (N,C,H,W),  b = dY (N,O,OH,OW) -> dW (O,C/G,KH,KW) */

/* ---- descriptors ---------------------------------------------------------- */

/* A minifloat (spec/01-minifloat.md): elements, group scales. */
typedef struct mls_minifloat_v2 {
  int32_t is_signed; /* 0 or 1 */
  int32_t exp_bits;  /* E, 0..8 */
  int32_t man_bits;  /* M, 0..23 */
  int32_t bias;      /* b */
  int32_t zero;      /* MLS_ZERO_* */
  int32_t specials;  /* MLS_SPECIALS_* */
  int32_t encoding;  /* MLS_ENCODING_* */
} mls_minifloat_v2;

/* A format of the family (spec/02-format.md). group_shape is always given
 * explicitly by the runner (block and default layouts are resolved for the
 * tensor's rank before the call); group_rank 0 means the default layout
 * (1,1,0,... ; 0 for rank 1). */
typedef struct mls_format_v2 {
  mls_minifloat_v2 element;
  mls_minifloat_v2 scale;     /* the group scale */
  int32_t tensor_scale;       /* MLS_TSCALE_* */
  int32_t scale_policy;       /* MLS_SCALE_* */
  int32_t signed_zero;        /* MLS_SIGNED_ZERO_* */
  int32_t overflow;           /* MLS_OVERFLOW_* (elements) */
  int32_t nonfinite;          /* MLS_NONFINITE_* */
  int32_t group_rank;         /* entries in group_shape */
  const int64_t* group_shape; /* 0 (or an entry above the axis length) = the whole axis */
} mls_format_v2;

typedef struct mls_rounding_v2 {
  int32_t mode;    /* MLS_RNE .. MLS_SR */
  int32_t sr_bits; /* R, 1..32; read only for MLS_SR */
} mls_rounding_v2;

/* A scalar rounding (cast) to an element grid (3, 4.5): code = round(x / s)
 * with s = scale_mant * 2^scale_exp (scale_mant >= 1; 1 * 2^0 for a plain
 * cast). */
typedef struct mls_cast_v2 {
  mls_minifloat_v2 element;
  mls_rounding_v2 rounding;
  int32_t overflow;    /* MLS_OVERFLOW_* */
  int32_t signed_zero; /* MLS_SIGNED_ZERO_* */
  int64_t scale_mant;
  int32_t scale_exp;
} mls_cast_v2;

/* A tensor of the family (spec/02-format.md): elements row-major, group
 * scales in the row-major order of the tile grid. */
typedef struct mls_tensor_v2 {
  mls_format_v2 format;
  int32_t rank;
  const int64_t* shape;
  uint32_t tensor_scale; /* fp32 bit pattern, positive and finite */
  uint64_t group_count;
  const uint32_t* group_scales;
  uint64_t element_count;
  const uint32_t* elements;
} mls_tensor_v2;

typedef struct mls_conv2d_v2 {
  int32_t pass;        /* MLS_PASS_* */
  int64_t stride[2];   /* (h, w), >= 1 */
  int64_t padding[2];  /* zero padding (h, w), >= 0, on both sides */
  int64_t dilation[2]; /* >= 1 */
  int64_t groups;      /* conv groups G >= 1; C and O are multiples of G */
} mls_conv2d_v2;

/* ---- the function table ---------------------------------------------------- */
typedef struct mls_backend_v2 {
  uint32_t abi_version; /* MLS_BACKEND_ABI_VERSION */
  uint32_t struct_size; /* sizeof(mls_backend_v2) as the backend was compiled */

  /* A short human name, e.g. "mls-fast 0.2". Static storage. */
  const char* (*name)(void);

  /* Capability query. MLS_OK when the backend computes `op` for this format
   * and rounding (either may be NULL: "any"), under the quantizer arithmetic
   * profile `qarith` (MLS_QARITH_*; quantize only) and, for conv2d/gemm, the
   * arithmetic profile `arith` (JSON text as in spec/06-conv.md; NULL or "" =
   * {"profile":"exact"}). For MLS_OP_ROUND only format->element, overflow and
   * signed_zero are read. MLS_ERR_UNSUPPORTED (last_error says why) or
   * MLS_ERR_INPUT for an invalid descriptor. */
  int32_t (*supports)(int32_t op, const mls_format_v2* format, const mls_rounding_v2* rounding, int32_t qarith,
                      const char* arith);

  /* Number of groups of `format` over a tensor of this shape. */
  int32_t (*group_count)(const mls_format_v2* format, int32_t rank, const int64_t* shape, uint64_t* count);

  /* Scalar rounding of n fp32 values (3, 4.5): codes_out[i] = the element code
   * of x[i] / s. rand: one word per value for MLS_SR (n_rand = n), else
   * ignored (may be NULL). NaN and Inf inputs follow 3.10. */
  int32_t (*round)(const mls_cast_v2* cast, const uint32_t* x, uint64_t n, const uint32_t* rand, uint64_t n_rand,
                   uint32_t* codes_out, uint64_t capacity);

  /* Quantize (spec/04-quantize.md). x: n fp32 bit patterns, row-major.
   * rand: one 32-bit word per element (n_rand = n) for MLS_SR, else ignored
   * (may be NULL). static_tensor_scale: NULL = the format's tensor-scale rule
   * (4.3), else the fp32 bits of S_t (4.6). qarith: MLS_QARITH_*. Outputs: the
   * tensor scale, group_count codes, n codes. */
  int32_t (*quantize)(const mls_format_v2* format, int32_t rank, const int64_t* shape, const uint32_t* x, uint64_t n,
                      const mls_rounding_v2* rounding, int32_t qarith, const uint32_t* rand, uint64_t n_rand,
                      const uint32_t* static_tensor_scale, uint32_t* tensor_scale_out, uint32_t* group_scales_out,
                      uint64_t group_capacity, uint32_t* elements_out, uint64_t element_capacity);

  /* Dequantize to fp32, nearest even (4.7); a zero element gives the zero of
   * its code's sign; NaN scales and NaN/Inf elements give NaN/Inf (4.7.1).
   * y_out: element_count fp32 bit patterns. */
  int32_t (*dequantize)(const mls_tensor_v2* t, uint32_t* y_out, uint64_t capacity);

  /* 2-D convolution, one of three passes (see MLS_PASS_*), NCHW / OIHW.
   * out_shape (rank 4) is the result's shape; it is required for the two
   * backward passes (the operands do not fix it) and checked for the forward
   * one (out_rank 0 and NULL allowed there). y_out: fp32 bit patterns. */
  int32_t (*conv2d)(const mls_conv2d_v2* params, const mls_tensor_v2* a, const mls_tensor_v2* b, const char* arith,
                    int32_t out_rank, const int64_t* out_shape, uint32_t* y_out, uint64_t capacity);

  /* Matrix product C = A B: a is (M,K), b is (K,N), C is (M,N) row-major. */
  int32_t (*gemm)(const mls_tensor_v2* a, const mls_tensor_v2* b, const char* arith, uint32_t* y_out,
                  uint64_t capacity);

  /* Message of the calling thread's last failed call ("" if none). Valid
   * until that thread's next call into the backend. */
  const char* (*last_error)(void);
} mls_backend_v2;

typedef const mls_backend_v2* (*mls_backend_get_fn)(uint32_t abi_version);

/* The entry point: NULL if abi_version is not one the library implements. */
MLS_BACKEND_EXPORT const mls_backend_v2* mls_backend_get(uint32_t abi_version);

#ifdef __cplusplus
}
#endif

#endif /* MLS_BACKEND_H */
