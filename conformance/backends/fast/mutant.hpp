// The seeded-bug switch of mls-fast. -DMLS_FAST_MUTANT=<name> builds a
// variant with one deliberate departure from the spec (CMakeLists.txt builds
// one library per name), so that the conformance runner can be shown to catch
// and diagnose it. Included only by the files compiled once per variant.
#pragma once

namespace mlsfast {

// ---- seeded bugs (compile-time; see CMakeLists.txt) --------------------------
enum class Mutant {
  none,
  tie_away,          // element rne: ties away from zero
  truncate,          // element rne: truncation
  fp32_reciprocal,   // element quotient as fp32 x * (1 / fp32(S_t S_g)), then rounded
  sr_off_by_one,     // sr: away iff t + r/2^R > 1
  sr_low_bits,       // sr: r = the low R bits of the word
  flush_subnormals,  // element results in the subnormal row flushed to zero
  gscale_floor,      // policy ceil computed as floor
  gscale_nearest,    // policy ceil computed as nearest
  tscale_nearest,    // tensor scale rounded to nearest instead of up
  zero_sign_lost,    // -0 results become +0 under signed_zero = preserve
  acc_wrap,          // conv/gemm: 12-bit wrapping intra-group accumulator of element products
  fp32_sum,          // conv/gemm: fp32 accumulation in device (reverse) order
  rna_even,          // element rna: ties to even
  dequant_rtz,       // dequantize truncates instead of rounding to nearest even
  amax_signed,       // tensor max taken over x instead of |x|
};
#ifdef MLS_FAST_MUTANT
inline constexpr Mutant kMutant = Mutant::MLS_FAST_MUTANT;
#define MLS_FAST_STR2(x) #x
#define MLS_FAST_STR(x) MLS_FAST_STR2(x)
inline constexpr const char* kMutantName = MLS_FAST_STR(MLS_FAST_MUTANT);
#else
inline constexpr Mutant kMutant = Mutant::none;
inline constexpr const char* kMutantName = "";
#endif

}  // namespace mlsfast
