// mls-fast quantize and dequantize (spec/04-quantize.md), on integers only.
// Scales come from one 128/64-bit division each, the remainder kept as a
// sticky bit. An element x / (S_t S_g) is rounded (spec/03) by one of two
// routes:
//   - tables (element grids of at most 256 magnitudes): per group-scale code,
//     the smallest |x| reaching each code, as fp32 bits, and a branch-free
//     search of |x| among them;
//   - otherwise exactly: one 128/64-bit division with its remainder; 32 bits
//     of t below the grid step plus a sticky bit decide every mode (for sr,
//     floor(t 2^R) is the top R of those 32 bits).
// This file is compiled once per seeded-bug variant (kMutant).
#include <cmath>
#include <cstring>

#include "ops.hpp"

namespace mlsfast {

namespace {

float bits_float(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
uint32_t float_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

}  // namespace

// Magnitude code of y = (q + s) 2^e (q long, see divide()) on the element grid.
uint32_t round_element_mag(const ElemFmt& el, const Exact& y, bool neg, int mode, int R, uint32_t word, bool* ovf) {
  const uint64_t q = static_cast<uint64_t>(y.q);
  const int64_t p = bitlen64(q) - 1 + y.e;  // 2^p <= y < 2^(p+1)
  int64_t ulp;                              // exponent of the gap width around y
  uint32_t base;                            // code = base + I (I = floor(y / 2^ulp))
  bool top;                                 // the row holding q_max
  bool gap = false;                         // zero_only: y in (0, 2^(1-b)), between codes 0 and 1 << M
  *ovf = false;
  if (el.E == 0) {
    if (p >= 1 - int64_t(el.bias)) {
      *ovf = true;
      return el.max_mag;
    }  // y >= 2^(1-b) > q_max
    ulp = el.u0;
    base = 0;
    top = true;
  } else {
    const int64_t ef = p + el.bias;
    if (ef > el.emaxf) {
      *ovf = true;
      return el.max_mag;
    }  // y >= 2^(emax-b+1) > q_max
    if (ef >= 1) {
      ulp = p - el.M;
      base = static_cast<uint32_t>((ef - 1) << el.M);  // (ef << M) | (I - 2^M)
      top = ef == el.emaxf;
    } else if (!el.zero_only) {
      ulp = el.u0;
      base = 0;
      top = false;
    } else {
      ulp = 1 - int64_t(el.bias);
      base = 0;
      top = false;
      gap = true;
    }
  }
  const int64_t shift = ulp - y.e;  // >= 39: I has at most M+1 <= 24 bits
  const uint64_t I = shift >= 64 ? 0 : q >> shift;
  const int64_t fs = shift - 32;
  uint32_t frac;  // floor(t 2^32)
  bool below;     // anything of t below 2^-32
  if (fs >= 64) {
    frac = 0;
    below = true;
  } else {
    frac = static_cast<uint32_t>(q >> fs);
    below = (q & ((uint64_t(1) << fs) - 1)) != 0 || y.sticky;
  }
  const bool exact = frac == 0 && !below;
  const uint32_t lo = base + static_cast<uint32_t>(I);
  if (exact) return lo;
  if (top && I == el.qmax_int) {
    *ovf = true;
    return el.max_mag;
  }  // q_max < y (3.5)
  const uint32_t hi = gap ? (1u << el.M) : lo + 1;
  bool away = false;
  const uint32_t half = 0x80000000u;
  switch (mode) {
    case MLS_RNE:
      if constexpr (kMutant == Mutant::truncate) {
        away = false;
      } else if (frac != half || below) {
        away = frac > half || (frac == half && below);
      } else {
        // Tie: the neighbour whose code ends in 0; lo when both do (zero_only gap).
        away = kMutant == Mutant::tie_away ? true : (lo & 1) != 0;
      }
      break;
    case MLS_RNA:
      if (kMutant == Mutant::rna_even && frac == half && !below)
        away = (lo & 1) != 0;
      else
        away = frac >= half;
      break;
    case MLS_RTZ:
      away = false;
      break;
    case MLS_RUP:
      away = !neg;
      break;
    case MLS_RDN:
      away = neg;
      break;
    case MLS_RTO:
      away = (lo & 1) == 0;
      break;  // the neighbour ending in 1 (hi when neither: lo = 0)
    case MLS_SR: {
      // 3.4: away iff t + r/2^R >= 1  <=>  floor(t 2^R) + r >= 2^R (r integer).
      uint64_t r = R == 32 ? word : word >> (32 - R);
      if constexpr (kMutant == Mutant::sr_low_bits) r = R == 32 ? word : word & ((uint32_t(1) << R) - 1);
      const uint64_t F = R == 32 ? frac : frac >> (32 - R);
      const uint64_t one = uint64_t(1) << R;
      if constexpr (kMutant == Mutant::sr_off_by_one) {
        const bool rest = below || (R < 32 && (frac & ((uint32_t(1) << (32 - R)) - 1)) != 0);
        away = F + r > one || (F + r == one && rest);
      } else {
        away = F + r >= one;
      }
      break;
    }
    default:
      break;
  }
  uint32_t mag = away ? hi : lo;
  if constexpr (kMutant == Mutant::flush_subnormals)
    if (!el.zero_only && (mag >> el.M) == 0) mag = 0;
  return mag;
}

namespace {

// 4.4: the group-scale code for ratio y = a_G / (S_t q_max) under `policy`
// (ceil = rup, nearest = rne, floor = rdn on the group-scale grid; below g_min
// always g_min, above g_max always g_max).
uint32_t round_scale(const ScaleFmt& g, const Exact& y, int32_t policy) {
  const uint64_t q = static_cast<uint64_t>(y.q);
  const int64_t p = bitlen64(q) - 1 + y.e;
  if (p < -int64_t(g.bias)) return 0;
  if (p >= 1) return g.max_code;
  const int64_t ef = p + g.bias;
  const int64_t shift = p - g.Mg - y.e;  // >= 39
  const uint64_t I = q >> shift;
  const uint64_t rem = q & ((uint64_t(1) << shift) - 1), half = uint64_t(1) << (shift - 1);
  const bool inexact = rem != 0 || y.sticky;
  const uint32_t lo = static_cast<uint32_t>((ef << g.Mg) + int64_t(I) - (int64_t(1) << g.Mg));
  if (ef == g.bias && I == (uint64_t(2) << g.Mg) - 1 && inexact) return g.max_code;
  switch (policy) {
    case MLS_SCALE_CEIL:
      return lo + (inexact ? 1 : 0);
    case MLS_SCALE_FLOOR:
      return lo;
    default:
      if (rem > half || (rem == half && y.sticky)) return lo + 1;
      if (rem == half) return lo + (lo & 1);
      return lo;
  }
}

bool nonfinite(uint32_t b) { return (b & 0x7f800000u) == 0x7f800000u; }

// Seeded bugs that change how an element is rounded; their variants keep to
// the exact route (the tables below implement the spec only).
constexpr bool kElementMutant = kMutant == Mutant::tie_away || kMutant == Mutant::truncate ||
                                kMutant == Mutant::fp32_reciprocal || kMutant == Mutant::sr_off_by_one ||
                                kMutant == Mutant::sr_low_bits || kMutant == Mutant::flush_subnormals ||
                                kMutant == Mutant::rna_even;

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

// Decision tables for one group scale (element grids of at most 256
// magnitudes, 4.5 with 3.2-3.4). Every mode is monotone in |x|, so an element
// is known from the smallest |x| (fp32 bits) reaching each magnitude index:
// one threshold per index, RU_fp32 of an exact product S v (or of S times a
// midpoint), found from a bucket of |x| and a short branch-free search. For sr the floor index
// comes from the table and the decision y >= v_lo + (v_hi - v_lo)(2^R - r)/2^R
// is one exact integer comparison in x space. Groups sharing a group-scale
// code share the tables.
struct Tables {
  // A threshold list t[0..V) (t[0] = 0, padded with 0xffffffff) and, per
  // bucket of |x| bits (|x| >> shift; shift 19: 1/16 of an fp32 binade, or
  // 31: one bucket), the largest index whose threshold is at most the
  // bucket's lowest |x|; the answer then lies within 2 span - 1 further indices.
  struct List {
    std::vector<uint32_t> t;
    std::vector<uint16_t> start;
    uint32_t shift = 31, span = 0;
    void index(int V, uint32_t sh) {
      shift = sh;
      const uint32_t nb = uint32_t(1) << (31 - shift);
      start.resize(nb);
      uint32_t j = 0, most = 0;
      for (uint32_t b = 0; b < nb; ++b) {
        while (j + 1 < static_cast<uint32_t>(V) && t[j + 1] <= (b << shift)) ++j;
        start[b] = static_cast<uint16_t>(j);
      }
      for (uint32_t b = 0; b < nb; ++b)
        most = std::max<uint32_t>(most, (b + 1 < nb ? start[b + 1] : V - 1) - start[b]);
      span = most ? uint32_t(1) << (bitlen64(most) - 1) : 0;
    }
  };
  int V = 0;
  std::vector<uint32_t> code;  // code of magnitude index j
  List up, down;               // down = the floor (rtz, sr, the toward-zero side of rup/rdn)
  std::vector<uint64_t> base;  // sr: v_j / gap_j, shifted left by R
  std::vector<int64_t> ex;     // sr: exponent of gap_j, less R
  uint64_t sm = 0;             // S = sm 2^se
  uint32_t sat = 0;            // smallest |x| with y > q_max

  static bool usable(const ElemFmt& el) { return !kElementMutant && el.E + el.M <= 8; }
  // S = s_m 2^se; `buckets`: index |x| by 4096 buckets (worth it for many elements).
  void build(const ElemFmt& el, uint64_t s_m, int64_t se, int mode, int R, bool buckets) {
    V = static_cast<int>(el.zero_only ? (uint32_t(1) << (el.E + el.M)) - (uint32_t(1) << el.M) + 1
                                      : uint32_t(1) << (el.E + el.M));
    sm = s_m;
    code.resize(static_cast<size_t>(V));
    up.t.assign(static_cast<size_t>(V) + 257, 0xffffffffu);
    down.t.assign(static_cast<size_t>(V) + 257, 0xffffffffu);
    base.assign(static_cast<size_t>(V), 0);
    ex.assign(static_cast<size_t>(V), 0);
    std::vector<uint64_t> m(static_cast<size_t>(V));
    std::vector<int64_t> e(static_cast<size_t>(V));
    for (int j = 0; j < V; ++j) {
      code[j] = el.zero_only && j > 0 ? static_cast<uint32_t>(j) + (1u << el.M) - 1 : static_cast<uint32_t>(j);
      el.decode(code[j], m[j], e[j]);  // v_j = m_j 2^e_j, e_j the step of v_j's row
    }
    std::vector<uint32_t>& upt = up.t;
    std::vector<uint32_t>& downt = down.t;
    upt[0] = downt[0] = 0;
    for (int j = 1; j < V; ++j) {
      // Neighbours v_{j-1} < v_j; e_j - e_{j-1} is 0, or 1 where a binade starts.
      const int64_t d = e[j] - e[j - 1];
      const u128 lo = u128(sm) * m[j - 1], hi = u128(sm) * m[j], mid = u128(sm) * (m[j - 1] + (m[j] << d));
      const int64_t elo = se + e[j - 1], ehi = se + e[j], emid = se + e[j - 1] - 1;
      const bool odd = code[j - 1] & 1;
      downt[j] = fp32_ceil_bits(hi, ehi, false);  // floor: index j from v_j on
      switch (mode) {
        case MLS_RNE:
          upt[j] = fp32_ceil_bits(mid, emid, !odd);
          break;  // a tie goes to the code ending in 0
        case MLS_RNA:
          upt[j] = fp32_ceil_bits(mid, emid, false);
          break;
        case MLS_RTO:
          upt[j] = odd ? downt[j] : fp32_ceil_bits(lo, elo, true);
          break;
        default:
          upt[j] = fp32_ceil_bits(lo, elo, true);
          break;  // ceil: index j above v_{j-1}
      }
      // sr from v_{j-1}: gap 2^e_{j-1}, except the zero_only gap [0, 2^(1-b)] (m_0 = 0).
      const int64_t gap = (el.zero_only && j == 1) ? 1 - int64_t(el.bias) : e[j - 1];
      base[j - 1] = m[j - 1] << R;
      ex[j - 1] = se + gap - R;
    }
    sat = fp32_ceil_bits(u128(sm) * m[V - 1], se + e[V - 1], true);
    up.index(V, buckets ? 19 : 31);
    down.index(V, buckets ? 19 : 31);
  }
  // The largest index whose threshold is at most xa.
  static int find(const List& l, uint32_t xa) {
    uint32_t idx = l.start[xa >> l.shift];
    for (uint32_t s = l.span; s > 0; s >>= 1)
      idx += s & (0u - static_cast<uint32_t>(l.t[idx + s] <= xa));  // no branch to mispredict
    return static_cast<int>(idx);
  }
};

// The fp32_reciprocal seeded bug: x * (1 / fp32(S_t S_g)) in fp32, the
// product then rounded exactly to the element grid.
Exact reciprocal_quotient(uint32_t xbits, uint32_t st_bits, uint64_t sgm, int64_t sge, bool* inf) {
  const float scale = bits_float(st_bits) * std::ldexp(static_cast<float>(sgm), static_cast<int>(sge));
  const float yf = std::fabs(bits_float(xbits)) * (1.0f / scale);
  *inf = !std::isfinite(yf);
  if (*inf || yf == 0) return Exact{0, 0, false};
  const Unpacked u = unpack_fp32(float_bits(yf));
  const int s = 64 - bitlen64(u.m);
  return Exact{u128(u.m << s), u.e - s, false};
}

}  // namespace

void quantize_op(const Fmt& f, const std::vector<int64_t>& shape, const uint32_t* x, const mls_rounding_v2& r,
                 const uint32_t* rand, const uint32_t* static_ts, uint32_t* ts_out, uint32_t* gs_out,
                 uint32_t* el_out) {
  const ElemFmt& el = f.el;
  const Layout L(f, shape, "format");
  const int64_t n = L.count;

  // Group maxima of |x| as magnitude bits (for finite fp32 the order of the
  // bit patterns is the order of the values); a NaN or Inf shows as a maximum
  // of at least 0x7f800000.
  std::vector<uint32_t> gmax(static_cast<size_t>(L.groups), 0);
  const double per_group = static_cast<double>(n) / static_cast<double>(L.groups);
  parallel_for(L.groups, 0.3 * per_group + 20, [&](int64_t b, int64_t e) {
    for (int64_t g = b; g < e; ++g) {
      uint32_t m = 0;
      L.for_each_run(g, [&](int64_t start, int64_t len) {
        const uint32_t* p = x + start;
        for (int64_t i = 0; i < len; ++i) m = std::max(m, p[i] & 0x7fffffffu);
      });
      gmax[static_cast<size_t>(g)] = m;
    }
  });
  // 4.1: the first NaN or Inf, by index.
  if (*std::max_element(gmax.begin(), gmax.end()) >= 0x7f800000u)
    for (int64_t i = 0; i < n; ++i)
      if (nonfinite(x[i]))
        bad("x[" + std::to_string(i) + "] is " + ((x[i] & 0x7fffff) ? "NaN" : "Inf") +
            ": MLS quantization needs finite input (4.1)");
  uint32_t amax = 0;
  for (uint32_t m : gmax) amax = std::max(amax, m);
  if constexpr (kMutant == Mutant::amax_signed) {
    float best = 0;
    for (int64_t i = 0; i < n; ++i) best = std::max(best, bits_float(x[i]));
    amax = float_bits(best) & 0x7fffffffu;
  }

  // 4.3 / 4.6: the tensor scale.
  uint32_t st_bits;
  if (static_ts) {
    st_bits = *static_ts;
    if ((st_bits >> 31) || st_bits == 0 || nonfinite(st_bits))
      bad("tensor_scale " + hex32(st_bits) + " is not a positive finite fp32 (4.6)");
  } else if (amax == 0) {
    st_bits = 0x3f800000u;
  } else {
    uint64_t gm;
    int64_t ge;
    f.gs.decode(f.gs.max_code, gm, ge);
    uint64_t dm = el.qmax_m * gm;  // q_max * g_max: below 2^48
    int64_t de = el.qmax_e + ge;
    normalise48(dm, de);
    const Unpacked a = unpack_fp32(amax);
    bool ovf;
    st_bits = round_fp32(divide(a.m, a.e, dm, de), kMutant == Mutant::tscale_nearest ? 0 : 1, &ovf);
    if (ovf) bad("tensor_scale: max|x| = " + hex32(amax) + " over q_max * g_max overflows fp32 (4.3)");
    if (st_bits == 0) st_bits = 1;  // only the tscale_nearest variant gets here
  }
  *ts_out = st_bits;
  const Unpacked st = unpack_fp32(st_bits);

  // 4.4: the group scales.
  int32_t policy = f.policy;
  if (policy == MLS_SCALE_CEIL && kMutant == Mutant::gscale_floor) policy = MLS_SCALE_FLOOR;
  if (policy == MLS_SCALE_CEIL && kMutant == Mutant::gscale_nearest) policy = MLS_SCALE_NEAREST;
  parallel_for(L.groups, 60, [&](int64_t b, int64_t e) {
    uint64_t dm = st.m * el.qmax_m;  // S_t q_max: below 2^48
    int64_t de = st.e + el.qmax_e;
    normalise48(dm, de);
    for (int64_t g = b; g < e; ++g) {
      const uint32_t ag = gmax[static_cast<size_t>(g)];
      const Unpacked a = unpack_fp32(ag);
      gs_out[g] = ag == 0 ? 0 : round_scale(f.gs, divide(a.m, a.e, dm, de), policy);
    }
  });

  // Tables per distinct group-scale code, when building them costs less than
  // the elements they serve.
  const int mode = r.mode, R = r.sr_bits;
  std::vector<int32_t> table_of;  // group-scale code -> index into tables, or -1
  std::vector<Tables> tables;
  if (Tables::usable(el) && f.gs.max_code < (1u << 20)) {
    table_of.assign(size_t(f.gs.max_code) + 1, -1);
    std::vector<uint32_t> codes;
    for (int64_t g = 0; g < L.groups; ++g)
      if (table_of[gs_out[g]] < 0) {
        table_of[gs_out[g]] = static_cast<int32_t>(codes.size());
        codes.push_back(gs_out[g]);
      }
    const double per_code = static_cast<double>(n) / static_cast<double>(codes.size());
    if (per_code >= (1 << (el.E + el.M)) * 16) {
      const bool buckets = per_code >= 4096;
      tables.resize(codes.size());
      parallel_for(static_cast<int64_t>(codes.size()), 300.0 * (1 << (el.E + el.M)), [&](int64_t b, int64_t e) {
        for (int64_t c = b; c < e; ++c) {
          uint64_t sgm;
          int64_t sge;
          f.gs.decode(codes[static_cast<size_t>(c)], sgm, sge);
          tables[static_cast<size_t>(c)].build(el, st.m * sgm, st.e + sge, mode, R, buckets);
        }
      });
    } else {
      table_of.clear();
    }
  }

  // 4.5: the elements.
  std::atomic<int64_t> overflow_at{n};
  auto note_overflow = [&](int64_t i) {
    int64_t cur = overflow_at.load();
    while (i < cur && !overflow_at.compare_exchange_weak(cur, i)) {
    }
  };
  const uint32_t sign_bit = el.sign_bit;
  const bool poszero = f.poszero || kMutant == Mutant::zero_sign_lost;
  auto sign_of = [&](bool neg, uint32_t mag) {  // 4.5: a zero takes the sign of x unless signed_zero = positive
    return sign_bit & (0u - (static_cast<uint32_t>(neg) & (static_cast<uint32_t>(!poszero) | (mag != 0))));
  };
  parallel_for(L.groups, 8.0 * per_group + 60, [&](int64_t b, int64_t e) {
    for (int64_t g = b; g < e; ++g) {
      const uint32_t code = gs_out[g];
      uint64_t sgm;
      int64_t sge;
      f.gs.decode(code, sgm, sge);
      if (!table_of.empty()) {
        const Tables& tab = tables[static_cast<size_t>(table_of[code])];
        // The table per sign: rup is ceil for x > 0 and floor for x < 0, rdn the reverse.
        const Tables::List* tpos = (mode == MLS_RTZ || mode == MLS_RDN || mode == MLS_SR) ? &tab.down : &tab.up;
        const Tables::List* tneg = (mode == MLS_RTZ || mode == MLS_RUP || mode == MLS_SR) ? &tab.down : &tab.up;
        auto finish = [&](int64_t i, uint32_t xb, int idx) {
          const uint32_t xa = xb & 0x7fffffffu;
          if (mode == MLS_SR && idx < tab.V - 1) {
            // 3.4: away iff y >= v_lo + gap (2^R - r) / 2^R, i.e. x 2^R >= S (v_lo 2^R + gap (2^R - r)).
            // x < S v_{lo+1}, so x / 2^ex fits 104 bits; floor(x / 2^ex) >= the integer threshold iff x >= it.
            const uint64_t k = (uint64_t(1) << R) - (R == 32 ? rand[i] : rand[i] >> (32 - R));
            const Unpacked u = unpack_fp32(xa);
            const int64_t d = u.e - tab.ex[idx];
            const u128 X = d >= 0 ? u128(u.m) << d : d > -64 ? u128(u.m >> -d) : 0;
            idx += X >= u128(tab.sm) * (tab.base[idx] + k) ? 1 : 0;
          }
          if (f.ovf_error && xa >= tab.sat) note_overflow(i);
          const uint32_t mag = tab.code[static_cast<size_t>(idx)];
          el_out[i] = mag | sign_of((xb >> 31) != 0, mag);
        };
        L.for_each_run(g, [&](int64_t start, int64_t len) {
          // Eight searches interleaved step by step: independent chains of loads.
          int64_t i = start;
          const uint32_t span = std::max(tpos->span, tneg->span);
          for (; i + 8 <= start + len; i += 8) {
            const uint32_t* t[8];
            uint32_t xa[8], idx[8];
            for (int j = 0; j < 8; ++j) {
              xa[j] = x[i + j] & 0x7fffffffu;
              const Tables::List* l = (x[i + j] >> 31) ? tneg : tpos;
              t[j] = l->t.data();
              idx[j] = l->start[xa[j] >> l->shift];
            }
            for (uint32_t s = span; s > 0; s >>= 1)
              for (int j = 0; j < 8; ++j) idx[j] += s & (0u - static_cast<uint32_t>(t[j][idx[j] + s] <= xa[j]));
            for (int j = 0; j < 8; ++j) finish(i + j, x[i + j], static_cast<int>(idx[j]));
          }
          for (; i < start + len; ++i) finish(i, x[i], Tables::find((x[i] >> 31) ? *tneg : *tpos, x[i] & 0x7fffffffu));
        });
        continue;
      }
      // The exact route: one division per element.
      uint64_t dm = st.m * sgm;  // S_t S_g: below 2^48
      int64_t de = st.e + sge;
      normalise48(dm, de);
      L.for_each_run(g, [&](int64_t start, int64_t len) {
        for (int64_t i = start; i < start + len; ++i) {
          const uint32_t xb = x[i];
          const bool neg = (xb >> 31) != 0;
          const Unpacked u = unpack_fp32(xb);
          uint32_t mag = 0;
          if (u.m != 0) {
            bool ovf = false;
            const uint32_t word = rand ? rand[i] : 0;
            if constexpr (kMutant == Mutant::fp32_reciprocal) {
              bool inf;
              const Exact y = reciprocal_quotient(xb, st_bits, sgm, sge, &inf);
              if (inf) {
                mag = el.max_mag;
                ovf = true;
              } else if (y.q != 0) {
                mag = round_element_mag(el, y, neg, mode, R, word, &ovf);
              }
            } else {
              mag = round_element_mag(el, divide(u.m, u.e, dm, de), neg, mode, R, word, &ovf);
            }
            if (ovf && f.ovf_error) note_overflow(i);
          }
          el_out[i] = mag | sign_of(neg, mag);
        }
      });
    }
  });
  if (overflow_at.load() < n) {
    const int64_t i = overflow_at.load();
    bad("x[" + std::to_string(i) + "] = " + hex32(x[i]) +
        ": magnitude above the largest element value (overflow policy error, 3.5)");
  }
}

void dequantize_op(const Tensor& t, uint32_t* y) {
  const ElemFmt& el = t.fmt.el;
  const Unpacked st = unpack_fp32(t.tensor_scale);
  const Layout& L = t.layout;
  const double per_group = static_cast<double>(L.count) / static_cast<double>(L.groups);
  parallel_for(L.groups, 4.0 * per_group + 30, [&](int64_t b, int64_t e) {
    for (int64_t g = b; g < e; ++g) {
      uint64_t sgm;
      int64_t sge;
      t.fmt.gs.decode(t.group_scales[g], sgm, sge);
      const uint64_t d = st.m * sgm;
      const int64_t de = st.e + sge;
      L.for_each_run(g, [&](int64_t start, int64_t len) {
        for (int64_t i = start; i < start + len; ++i) {
          const uint32_t c = t.elements[i];
          const uint32_t sign = (c & el.sign_bit) ? 0x80000000u : 0u;
          uint64_t m;
          int64_t ee;
          el.decode(c & el.mag_mask, m, ee);
          if (m == 0) {
            y[i] = sign;
            continue;
          }  // the zero of the code's sign
          bool ovf;
          y[i] = sign | round_fp32(Exact{u128(d) * m, de + ee, false}, kMutant == Mutant::dequant_rtz ? 2 : 0, &ovf);
        }
      });
    }
  });
}

}  // namespace mlsfast
