// fp32 values as bit patterns (spec/09-protocol.md 9.1: fp32 values travel
// and are stored as their binary32 bit patterns, never as decimals).
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace mls {

inline uint32_t float_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
inline float bits_float(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
inline std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}
inline bool fp32_is_finite(uint32_t b) { return (b & 0x7f800000u) != 0x7f800000u; }
inline bool fp32_is_nan(uint32_t b) { return (b & 0x7f800000u) == 0x7f800000u && (b & 0x007fffffu) != 0; }

}  // namespace mls
