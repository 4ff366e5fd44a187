// mls-fast: building the decision tables of tables.hpp. Compiled once (no
// seeded bug touches the tables: element-rounding variants use the exact route).
#include "tables.hpp"

namespace mlsfast {

namespace {

// The smallest fp32 (as bits) >= m 2^e, or > m 2^e when `exclusive`. Beyond the
// fp32 range: the +Inf pattern, which no finite |x| reaches.
uint32_t fp32_ceil_bits(u128 m, int64_t e, bool exclusive) {
  if (m == 0) return exclusive ? 1u : 0u;
  bool ovf_up, ovf_dn;
  const uint32_t up = round_fp32(Exact{m, e, false}, 1, &ovf_up);
  const uint32_t dn = round_fp32(Exact{m, e, false}, 2, &ovf_dn);
  if (ovf_up) return 0x7f800000u;
  return std::min(up + ((exclusive && up == dn) ? 1u : 0u), 0x7f800000u);  // up == dn: m 2^e is an fp32
}

constexpr uint32_t kNever = 0xffffffffu;  // a threshold no |x| reaches

}  // namespace

void Tables::List::index(int V, uint32_t sh) {
  shift = sh;
  const uint32_t nb = uint32_t(1) << (31 - shift);
  start.resize(nb);
  uint32_t j = 0, most = 0;
  for (uint32_t b = 0; b < nb; ++b) {
    while (j + 1 < static_cast<uint32_t>(V) && t[j + 1] <= (b << shift)) ++j;
    start[b] = static_cast<uint16_t>(j);
  }
  // The reachable indices per bucket: up to the last threshold below the next bucket.
  for (uint32_t b = 0; b < nb; ++b) {
    uint32_t last = start[b];
    const uint64_t end = uint64_t(b + 1) << shift;  // the next bucket's lowest |x|
    while (last + 1 < static_cast<uint32_t>(V) && t[last + 1] < end) ++last;
    most = std::max<uint32_t>(most, last - start[b]);
  }
  span = most ? uint32_t(1) << (bitlen64(most) - 1) : 0;
}

void Tables::build(const Grid& el, int32_t overflow, bool poszero, uint64_t s_m, int64_t se, int mode, int R,
                   bool buckets) {
  const bool specials = el.specials != MLS_SPECIALS_NONE;
  std::vector<uint32_t> code;  // the magnitude code of index j
  for (uint32_t mag = 0; mag <= el.max_mag; ++mag)
    if (el.finite_mag(mag)) code.push_back(mag);
  V = static_cast<int>(code.size());
  if (specials) code.push_back(el.over_mag);
  Vt = static_cast<int>(code.size());
  sm = s_m;
  error_policy = overflow == MLS_OVERFLOW_ERROR;
  const size_t n = static_cast<size_t>(Vt);
  up.t.assign(n + 257, kNever);
  down.t.assign(n + 257, kNever);
  base.assign(n, 0);
  ex.assign(n, 0);
  std::vector<uint64_t> m(n);
  std::vector<int64_t> e(n);
  for (size_t j = 0; j < n; ++j) el.decode(code[j], m[j], e[j]);  // v_j = m_j 2^e_j, e_j the step of v_j's row
  up.t[0] = down.t[0] = 0;
  for (size_t j = 1; j < n; ++j) {
    // Neighbours v_{j-1} < v_j; e_j - e_{j-1} is 0, or 1 where a binade starts.
    const int64_t d = e[j] - e[j - 1];
    const u128 lo = u128(sm) * m[j - 1], hi = u128(sm) * m[j], mid = u128(sm) * (m[j - 1] + (m[j] << d));
    const int64_t elo = se + e[j - 1], ehi = se + e[j], emid = se + e[j - 1] - 1;
    const bool odd = code[j - 1] & 1;
    const bool special = static_cast<int>(j) == V;  // the special position: reached only by rounding away past max
    down.t[j] = special ? kNever : fp32_ceil_bits(hi, ehi, false);  // floor: index j from v_j on
    switch (mode) {
      case MLS_RNE: up.t[j] = fp32_ceil_bits(mid, emid, !odd); break;  // a tie goes to the code ending in 0
      case MLS_RNA: up.t[j] = fp32_ceil_bits(mid, emid, false); break;
      case MLS_RTO:  // inexact: the code ending in 1
        up.t[j] = odd ? down.t[j] : fp32_ceil_bits(lo, elo, true);
        break;
      default: up.t[j] = fp32_ceil_bits(lo, elo, true); break;  // ceil: index j above v_{j-1}
    }
    // sr from v_{j-1}: gap 2^e_{j-1}, except the zero_only gap [0, 2^(1-b)] (m_0 = 0).
    const int64_t gap = (el.zero == MLS_ZERO_ONLY && j == 1) ? 1 - int64_t(el.bias) : e[j - 1];
    base[j - 1] = m[j - 1] << R;
    ex[j - 1] = se + gap - R;
  }
  if (!specials) sat = fp32_ceil_bits(u128(sm) * m[V - 1], se + e[V - 1], true);
  // The codes per sign (3.6, 3.5): the special position takes the overflow policy's code.
  code_pos.resize(n);
  code_neg.resize(n);
  for (size_t j = 0; j < n; ++j) {
    uint32_t mag = code[j];
    if (static_cast<int>(j) == V) {
      mag = overflow == MLS_OVERFLOW_INFINITY ? el.inf_mag : overflow == MLS_OVERFLOW_NAN ? el.nan_mag : el.max_mag;
    }
    code_pos[j] = el.encode(false, mag);
    code_neg[j] = el.encode(mag != 0 || !poszero, mag);
  }
  up.index(Vt, buckets ? 19 : 31);
  down.index(Vt, buckets ? 19 : 31);
}

}  // namespace mlsfast
