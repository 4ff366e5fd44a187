// mls-rtl: tensor scale and group-scale codes by exact comparison (scales.hpp).
#include "scales.hpp"

namespace mlsrtl {
namespace {

using u128 = unsigned __int128;

// A non-negative value m 2^e.
struct Val {
  u128 m;
  int64_t e;
};

int bits(u128 v) {
  int b = 0;
  while (v) {
    ++b;
    v >>= 1;
  }
  return b;
}

// Exact three-way comparison of two non-negative values (m below 2^100).
int cmp(const Val& a, const Val& b) {
  if (a.m == 0 || b.m == 0) return (a.m != 0) - (b.m != 0);
  const int64_t ta = bits(a.m) + a.e, tb = bits(b.m) + b.e;  // one above the top bit's exponent
  if (ta != tb) return ta < tb ? -1 : 1;
  // Same top position: the one with the larger exponent shifts up to the other's (no overflow).
  const u128 x = a.e >= b.e ? a.m << (a.e - b.e) : a.m, y = b.e >= a.e ? b.m << (b.e - a.e) : b.m;
  return x < y ? -1 : (x > y ? 1 : 0);
}

Val mul(const Val& a, const Val& b) { return {a.m * b.m, a.e + b.e}; }

// |fp32| of non-negative finite bits.
Val fp32(uint32_t b) {
  const uint32_t ef = (b >> 23) & 0xffu, f = b & 0x7fffffu;
  return ef ? Val{f | 0x800000u, int64_t(ef) - 150} : Val{f, -149};
}

// q_max, the largest finite element magnitude (1.3, 1.6).
Val qmax(const mlshost::ElementDesc& el) {
  if (el.E == 0) return {(u128(1) << el.M) - 1, 1 - int64_t(el.bias) - el.M};
  const uint32_t c = el.max_code(), ef = c >> el.M, f = c & ((1u << el.M) - 1);
  return {(u128(1) << el.M) | f, int64_t(ef) - el.bias - el.M};
}

// The value of a code of a scale grid without zero or subnormals (2.3): MLS
// group scales (bias 2^Eg - 1), E8M0 (bias 127).
Val gscale(const mlshost::ScaleDesc& g, uint32_t code) {
  const uint32_t f = code & ((1u << g.M) - 1), ef = code >> g.M;
  return {(u128(1) << g.M) | f, int64_t(ef) - g.bias - g.M};
}

// The divisor D of the group-scale rule: q_max, or 2^emax for ocp.
Val divisor(const mlshost::FormatDesc& f) {
  const Val q = qmax(f.el);
  if (f.policy != MLS_SCALE_OCP) return q;
  return {1, bits(q.m) - 1 + q.e};
}

}  // namespace

bool tensor_scale(const mlshost::FormatDesc& f, uint32_t amax, uint32_t* st) {
  if (f.tensor_scale == MLS_TSCALE_ONE) {
    *st = 0x3f800000u;
    return true;
  }
  const Val a = fp32(amax), d = mul(qmax(f.el), gscale(f.gs, f.gs.max_code()));
  auto enough = [&](uint32_t s) { return cmp(mul(fp32(s), d), a) >= 0; };
  uint32_t lo = 1, hi = 0x7f7fffffu;  // the positive finite fp32 codes, in value order
  if (!enough(hi)) return false;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (enough(mid)) hi = mid;
    else lo = mid + 1;
  }
  *st = lo;
  return true;
}

uint32_t group_scale_code(const mlshost::FormatDesc& f, uint32_t st, uint32_t gmax) {
  const Val a = fp32(gmax), x = mul(fp32(st), divisor(f));
  const uint32_t top = f.gs.max_code();
  if (a.m == 0) return 0;
  auto at = [&](uint32_t c) { return mul(gscale(f.gs, c), x); };
  if (f.policy == MLS_SCALE_CEIL) {
    if (cmp(at(top), a) < 0) return top;
    uint32_t lo = 0, hi = top;
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo) / 2;
      if (cmp(at(mid), a) >= 0) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
  // The largest code whose value is <= the ratio (none: the smallest code).
  if (cmp(at(0), a) > 0) return 0;
  uint32_t lo = 0, hi = top;
  while (lo < hi) {
    const uint32_t mid = hi - (hi - lo) / 2;
    if (cmp(at(mid), a) <= 0) lo = mid;
    else hi = mid - 1;
  }
  if (f.policy != MLS_SCALE_NEAREST || lo == top || cmp(at(lo), a) == 0) return lo;  // floor, ocp
  // nearest: 2 a_G against S_g(lo) + S_g(lo + 1), both times S_t q_max.
  const Val g0 = gscale(f.gs, lo), g1 = gscale(f.gs, lo + 1);  // g1.e is g0.e or g0.e + 1
  const Val sum{g0.m + (g1.m << (g1.e - g0.e)), g0.e};
  const int c = cmp(Val{a.m, a.e + 1}, mul(sum, x));
  if (c < 0) return lo;
  if (c > 0) return lo + 1;
  return (lo & 1u) ? lo + 1 : lo;
}

}  // namespace mlsrtl
