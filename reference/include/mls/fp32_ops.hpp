// IEEE 754 binary32 arithmetic with round-to-nearest-even, defined exactly:
// the exact result of the operation on the operands' values, rounded once by
// round_to_grid on the binary32 grid (3.7); Inf, NaN and signed zeros as IEEE
// 754 says. The fp32 pipelines of the quantizer arithmetic profiles (4.12)
// and the fp32 inter-group accumulation (6.9.3) are written with these.
#pragma once
#include <cstdint>

namespace mls::fp32 {

constexpr uint32_t kQuietNaN = 0x7fc00000u;
uint32_t add(uint32_t a, uint32_t b);
uint32_t mul(uint32_t a, uint32_t b);
uint32_t div(uint32_t a, uint32_t b);

}  // namespace mls::fp32
