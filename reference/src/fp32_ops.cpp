#include "mls/fp32_ops.hpp"

#include "mls/bits.hpp"
#include "mls/dyadic.hpp"
#include "mls/rounding.hpp"

namespace mls::fp32 {

namespace {
bool is_nan(uint32_t b) { return fp32_is_nan(b); }
bool is_inf(uint32_t b) { return (b & 0x7fffffffu) == 0x7f800000u; }
bool is_zero(uint32_t b) { return (b & 0x7fffffffu) == 0; }
uint32_t sign(uint32_t b) { return b & 0x80000000u; }
Dyadic value(uint32_t b) { return Dyadic::from_float(bits_float(b)); }
// The exact non-zero value v rounded to binary32 (a result that underflows to 0 keeps v's sign).
uint32_t rounded(const Dyadic& v) { return round_to_fp32_bits(v, RoundingMode::rne, OverflowPolicy::infinity); }
}  // namespace

uint32_t add(uint32_t a, uint32_t b) {
  if (is_nan(a) || is_nan(b)) return kQuietNaN;
  if (is_inf(a) || is_inf(b)) {
    if (is_inf(a) && is_inf(b) && sign(a) != sign(b)) return kQuietNaN;
    return is_inf(a) ? a : b;
  }
  const Dyadic s = value(a) + value(b);
  if (s.is_zero()) return (sign(a) && sign(b)) ? 0x80000000u : 0u;  // an exact zero sum is +0 unless both are -0
  return rounded(s);
}

uint32_t mul(uint32_t a, uint32_t b) {
  const uint32_t sg = sign(a) ^ sign(b);
  if (is_nan(a) || is_nan(b)) return kQuietNaN;
  if (is_inf(a) || is_inf(b)) return (is_zero(a) || is_zero(b)) ? kQuietNaN : sg | 0x7f800000u;
  const Dyadic p = value(a) * value(b);
  if (p.is_zero()) return sg;
  return rounded(p);
}

uint32_t div(uint32_t a, uint32_t b) {
  const uint32_t sg = sign(a) ^ sign(b);
  if (is_nan(a) || is_nan(b)) return kQuietNaN;
  if (is_inf(a)) return is_inf(b) ? kQuietNaN : sg | 0x7f800000u;
  if (is_inf(b)) return sg;
  if (is_zero(b)) return is_zero(a) ? kQuietNaN : sg | 0x7f800000u;
  if (is_zero(a)) return sg;
  const RoundResult r = round_to_grid(Minifloat::binary32(), RoundInput{sg != 0, value(a).abs(), value(b).abs()},
                                      Rounding{RoundingMode::rne, 8}, 0, OverflowPolicy::infinity);
  return static_cast<uint32_t>(r.code);
}

}  // namespace mls::fp32
