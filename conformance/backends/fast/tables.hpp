// mls-fast: decision tables for element grids of at most 256 magnitudes
// (4.5 with 3.2-3.5). Every rounding mode is monotone in |x|, so for one
// scale S the element is known from the smallest |x| (as fp32 bits) reaching
// each magnitude index: one threshold per index -- RU_fp32 of an exact
// product S v (or S times a midpoint) -- found from a bucket of |x| and a
// short branch-free search. For sr the floor index comes from the table and
// the decision y >= v_lo + gap (2^R - r)/2^R is one exact integer comparison
// in x space. A grid with special values has one more index past its largest
// finite value, the special position, whose code is the overflow policy's.
// The profiles of 4.12 round an fp32 quotient: their tables have S = 1.
#pragma once
#include "fast.hpp"

namespace mlsfast {

struct Tables {
  // A threshold list t[0..Vt) (t[0] = 0, padded with 0xffffffff) and, per
  // bucket of |x| bits (|x| >> shift; shift 19: 1/16 of an fp32 binade, or
  // 31: one bucket), the largest index whose threshold is at most the
  // bucket's lowest |x|; the answer then lies within 2 span - 1 further indices.
  struct List {
    std::vector<uint32_t> t;
    std::vector<uint16_t> start;
    uint32_t shift = 31, span = 0;
    void index(int V, uint32_t sh);
  };
  int V = 0;   // finite magnitudes
  int Vt = 0;  // indices: V, or V + 1 with the special position at index V
  std::vector<uint32_t> code_pos, code_neg;  // the element code of index j for x >= +0 and x <= -0
  List up, down;               // down = the floor (rtz, sr, the toward-zero side of rup/rdn)
  std::vector<uint64_t> base;  // sr: v_j / gap_j, shifted left by R
  std::vector<int64_t> ex;     // sr: exponent of gap_j, less R
  uint64_t sm = 0;             // S = sm 2^se
  uint32_t sat = 0xffffffffu;  // no special values: the smallest |x| with y > q_max
  bool error_policy = false;   // overflow = error: index V (special values) or |x| >= sat is an error

  // Element grids this route serves (E + M <= 8).
  static bool usable(const Grid& el) { return el.E + el.M <= 8; }
  // S = s_m 2^se (s_m != 0); the element rule's overflow policy and sign of
  // zero; `buckets`: index |x| by 4096 buckets (worth it for many elements).
  void build(const Grid& el, int32_t overflow, bool poszero, uint64_t s_m, int64_t se, int mode, int R, bool buckets);

  // The largest index whose threshold is at most xa.
  static int find(const List& l, uint32_t xa) {
    uint32_t idx = l.start[xa >> l.shift];
    for (uint32_t s = l.span; s > 0; s >>= 1)
      idx += s & (0u - static_cast<uint32_t>(l.t[idx + s] <= xa));  // no branch to mispredict
    return static_cast<int>(idx);
  }
  const List& list(int mode, bool negative) const {
    // rup is ceil for x > 0 and floor for x < 0, rdn the reverse.
    const bool floor_side = mode == MLS_RTZ || mode == MLS_SR || (negative ? mode == MLS_RUP : mode == MLS_RDN);
    return floor_side ? down : up;
  }
  // sr (3.4) from the floor index idx: away iff x 2^R >= S (v_idx 2^R + gap (2^R - r)).
  int sr_step(int idx, uint32_t xa, uint32_t word, int R) const {
    if (idx >= Vt - 1) return idx;
    const uint64_t k = (uint64_t(1) << R) - (R == 32 ? word : word >> (32 - R));
    const u128 P = u128(sm) * (base[static_cast<size_t>(idx)] + k);  // < 2^105
    const Unpacked u = unpack_fp32(xa);
    if (u.m == 0) return idx;  // an exact zero
    const int64_t d = u.e - ex[static_cast<size_t>(idx)];
    bool ge;
    if (d >= 0)
      ge = d + bitlen64(u.m) > 106 || (u128(u.m) << d) >= P;  // floor(x / 2^ex) >= P iff x >= P 2^ex
    else
      ge = (d > -64 ? u128(u.m >> -d) : u128(0)) >= P;
    return idx + (ge ? 1 : 0);
  }
};

}  // namespace mlsfast
