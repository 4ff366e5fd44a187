// mls-fast: the scales of a quantization (spec/04 4.2-4.4) and the fp32
// pipelines of the quantizer arithmetic profiles (4.12), in parts that the
// quantize operation (quantize.cpp) puts together. Compiled once.
#pragma once
#include "fast.hpp"

namespace mlsfast {

// 4.1-4.2: per group the largest |x| over its non-NaN values (fp32 magnitude
// bits: their order is the values' order; Inf is 0x7f800000) and whether it
// holds a NaN.
struct GroupScan {
  std::vector<uint32_t> amax;
  std::vector<uint8_t> nan;
  uint32_t tensor_amax = 0;  // over every non-NaN value
  bool any_nonfinite = false;
};
GroupScan scan_groups(const Layout& L, const uint32_t* x);

// 4.3: S_t = RU_fp32(amax / (q_max g_max)) (dir 1; the tscale_nearest seeded
// bug passes 0), 1.0 for amax = 0 or the rule `one`; the error of 4.3 when
// the quotient overflows fp32.
uint32_t dynamic_tensor_scale(const Fmt& f, uint32_t amax, int dir);
// 4.6: a static tensor scale, checked.
uint32_t static_tensor_scale(uint32_t bits);

// 4.4: the group-scale code for a group maximum a (fp32 magnitude bits, not
// NaN) under scale rule `policy` with tensor scale S_t.
uint32_t exact_group_scale(const Fmt& f, int32_t policy, uint32_t a, uint32_t st_bits);
// floor(log2 a) of a positive finite fp32 (magnitude bits), exactly.
inline int64_t ilog2_fp32(uint32_t a) {
  const Unpacked u = unpack_fp32(a);
  return bitlen64(u.m) - 1 + u.e;
}

// 4.12: the fp32 factor each group's elements are divided by (multiply =
// false) or multiplied with: q = RN_fp32(|x| / v) or RN_fp32(|x| * v).
struct Factors {
  bool multiply = false;
  std::vector<uint32_t> value;  // fp32 bits per group (unused for NaN groups)
};
// The profile's steps after the exact scales: its own tensor scale and group
// scale codes (library pipelines) and every group's factor. `qarith` is not
// exact; check_qarith() has accepted it for the format.
void run_pipeline(int32_t qarith, const Fmt& f, const GroupScan& scan, bool static_scale, uint32_t* ts,
                  uint32_t* gs, Factors& out);

// ceil(RN_fp32(log2 d)) for a positive finite fp32 d (bits): the shared
// exponent of torchao's RCEIL (4.12.4), from the bits of d alone.
int64_t ceil_log2_rn_fp32(uint32_t d);

}  // namespace mlsfast
