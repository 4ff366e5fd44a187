// mls-rtl host side of quantize: the tensor scale (4.3) and the group-scale
// codes (4.4) that the RTL quantizer takes as inputs, computed by the RTL's
// own host code (not mls-fast's, not the golden model's): every grid value
// is an integer times a power of two, and each rule is a search over the
// codes of its grid by exact comparison of products (no division, no
// rounding step):
//   S_t = RU_fp32(a / (q_max g_max)) : the smallest positive fp32 s with s q_max g_max >= a
//                                      (rule amax; rule one: S_t = 1)
//   ceil    : the smallest code c with S_g(c) S_t D >= a_G (none: the largest finite code)
//   floor   : the largest code c with S_g(c) S_t D <= a_G (none: code 0)
//   nearest : floor's code or the next, by 2 a_G against (S_g(lo) + S_g(hi)) S_t D; a tie
//             takes the even code; above g_max the largest code, below g_min code 0
//   ocp     : floor with D = 2^emax (emax the exponent of q_max's binade, OCP MX 6.3)
// with D = q_max for ceil, nearest and floor. The scale grid has no zero and
// no subnormals (MLS scales, E8M0); its NaN code is never chosen.
#pragma once
#include <cstdint>

#include "hostkit.hpp"

namespace mlsrtl {

// fp32 bits of S_t by the format's rule for the positive finite fp32 `amax`
// (its bits); false when the quotient is above the largest finite fp32 (the 4.3 error).
bool tensor_scale(const mlshost::FormatDesc& f, uint32_t amax, uint32_t* st);
// The group-scale code for the group maximum `gmax` (fp32 bits, >= 0) under S_t.
uint32_t group_scale_code(const mlshost::FormatDesc& f, uint32_t st, uint32_t gmax);

}  // namespace mlsrtl
