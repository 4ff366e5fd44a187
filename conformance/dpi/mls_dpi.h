/* mls_dpi.h -- the MLS golden model (reference/, exact) as plain DPI-C
 * functions, for SystemVerilog testbenches and scoreboards (IEEE 1800-2017
 * Annex H). The matching `import "DPI-C"` declarations are in mls_pkg.sv;
 * README.md beside this file shows how to build and load the library under
 * Verilator, Xcelium, Questa and VCS.
 *
 * Types are those of the SystemVerilog side: `string` is const char*,
 * `int`/`int unsigned` are 32-bit integers, `longint` is int64, `bit` is
 * svBit, open arrays (`x[]`) are svOpenArrayHandle of caller-owned storage.
 * fp32 values travel as their bit patterns (spec 9.1). Formats are text, read
 * as the golden model reads them (spec 2.7): a profile name ("mls-e2m1"), a
 * short name ("e2m1.g4m1/1x16:nearest") or the JSON object.
 *
 * Every function returns a status: MLS_DPI_OK 0, MLS_DPI_ERR_INPUT 1 (the
 * request is invalid or the specification makes it an error), MLS_DPI_ERR_BUFFER 3
 * (an output array is too small), MLS_DPI_ERR_INTERNAL 4; on anything but 0
 * mls_dpi_last_error() names the field or index at fault, and outputs hold
 * nothing usable. Nothing throws across the boundary and nothing aborts.
 * Exactness is the golden model's: this layer only converts types.
 */
#ifndef MLS_DPI_H
#define MLS_DPI_H

#include <stdint.h>

#include "svdpi.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define MLS_DPI_EXPORT __declspec(dllexport)
#else
#define MLS_DPI_EXPORT __attribute__((visibility("default")))
#endif

#define MLS_DPI_OK 0
#define MLS_DPI_ERR_INPUT 1
#define MLS_DPI_ERR_BUFFER 3
#define MLS_DPI_ERR_INTERNAL 4

/* Rounding modes: the C ABI's values (conformance/include/mls_backend.h). */
#define MLS_DPI_RNE 0
#define MLS_DPI_RNA 1
#define MLS_DPI_RTZ 2
#define MLS_DPI_RUP 3
#define MLS_DPI_RDN 4
#define MLS_DPI_RTO 5
#define MLS_DPI_SR 6

/* "mls-dpi <version> (spec <version>)", static storage. */
MLS_DPI_EXPORT const char* mls_dpi_version(void);
/* The calling thread's last error message ("" after success). */
MLS_DPI_EXPORT const char* mls_dpi_last_error(void);

/* One element (4.5): code = round(x / (S_t S_g)) on the format's element grid
 * with `mode` (sr: R = sr_bits, the element's random word `word`), the
 * format's overflow and signed-zero policies. `group_scale` is a group-scale
 * code of the format. *saturated is 1 when |x / (S_t S_g)| was above q_max
 * and the code is the saturated one (3.5); an `overflow = error` format makes
 * that MLS_DPI_ERR_INPUT instead. */
MLS_DPI_EXPORT int mls_dpi_round_element(const char* format, uint32_t x, uint32_t tensor_scale, uint32_t group_scale,
                                         int mode, int sr_bits, uint32_t word, uint32_t* code, svBit* saturated);

/* The decision rule of the calling thread's last successful
 * mls_dpi_round_element (spec 3.3-3.5): "exact", "nearest_lower",
 * "nearest_upper", "tie_even", "tie_zero", "tie_away", "toward_zero",
 * "away_directed", "odd", "sr_away", "sr_keep", "saturated", ...; for coverage. */
MLS_DPI_EXPORT const char* mls_dpi_last_rule(void);

/* 4.3: S_t = RU_fp32(amax / (q_max g_max)), 1.0 for amax = 0; amax is the
 * fp32 bit pattern of max |x| (its sign bit is ignored). */
MLS_DPI_EXPORT int mls_dpi_tensor_scale(const char* format, uint32_t amax, uint32_t* tensor_scale);
/* 4.4: the group-scale code for group maximum `group_amax` under S_t and the
 * format's scale policy (ceil, nearest, floor). */
MLS_DPI_EXPORT int mls_dpi_group_scale(const char* format, uint32_t tensor_scale, uint32_t group_amax, uint32_t* code);

/* The number of groups of the format's layout over a tensor of this shape (2.4). */
MLS_DPI_EXPORT int mls_dpi_group_count(const char* format, const svOpenArrayHandle shape, int64_t* count);

/* Whole-tensor quantization (4.1-4.6) into caller-owned arrays: shape (longint
 * array, rank >= 1), x (one fp32 pattern per element, row-major), words (one
 * random word per element for sr, else ignored and may be empty), static_tensor_scale
 * (0: dynamic, 4.3; else the fp32 bits of S_t, 4.6). group_scales must hold
 * at least mls_dpi_group_count() codes and elements exactly one code per element. */
MLS_DPI_EXPORT int mls_dpi_quantize(const char* format, const svOpenArrayHandle shape, const svOpenArrayHandle x,
                                    int mode, int sr_bits, const svOpenArrayHandle words, uint32_t static_tensor_scale,
                                    uint32_t* tensor_scale, const svOpenArrayHandle group_scales,
                                    const svOpenArrayHandle elements);

/* One dot product (6.4-6.10): A (1, K) times B (K, 1), K the size of
 * a_elements, each operand an MLS tensor of its format (the format's group
 * shape tiles the (1, K) and (K, 1) tensors; the rank-2 default is one group
 * per element) with its tensor scale and group-scale codes; `arith` is the
 * arithmetic profile ("" or "exact", or the JSON object of 6.10). *y is the
 * fp32 result. mls_dpi_last_exact() then gives the exact value. */
MLS_DPI_EXPORT int mls_dpi_dot(const char* a_format, const char* b_format, const char* arith, uint32_t a_tensor_scale,
                               const svOpenArrayHandle a_elements, const svOpenArrayHandle a_group_scales,
                               uint32_t b_tensor_scale, const svOpenArrayHandle b_elements,
                               const svOpenArrayHandle b_group_scales, uint32_t* y);
/* The exact value of the calling thread's last mls_dpi_dot, "m*2^e" (m odd, or 0). */
MLS_DPI_EXPORT const char* mls_dpi_last_exact(void);

#ifdef __cplusplus
}
#endif

#endif /* MLS_DPI_H */
