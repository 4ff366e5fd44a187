// mls-fast quantize and dequantize (spec/04-quantize.md). Scales and
// quotients are exact integers; an element x / (S_t S_g) is rounded (spec/03)
// by the first of three routes that applies:
//   1. per-group threshold tables (grids of at most 256 magnitudes): a
//      branch-free search of |x| among the smallest inputs reaching each code;
//   2. a double estimate of the quotient with a proven error bound, used when
//      it is far enough from every point where the decision could change;
//   3. the exact route: one 128/64-bit division with its remainder; 32 bits
//      of t below the grid step plus a sticky bit decide every mode (for sr,
//      floor(t 2^R) is the top R of those 32 bits).
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
    if (p >= 1 - int64_t(el.bias)) { *ovf = true; return el.max_mag; }  // y >= 2^(1-b) > q_max
    ulp = el.u0;
    base = 0;
    top = true;
  } else {
    const int64_t ef = p + el.bias;
    if (ef > el.emaxf) { *ovf = true; return el.max_mag; }  // y >= 2^(emax-b+1) > q_max
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
  if (top && I == el.qmax_int) { *ovf = true; return el.max_mag; }  // q_max < y (3.5)
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
      if (kMutant == Mutant::rna_even && frac == half && !below) away = (lo & 1) != 0;
      else away = frac >= half;
      break;
    case MLS_RTZ: away = false; break;
    case MLS_RUP: away = !neg; break;
    case MLS_RDN: away = neg; break;
    case MLS_RTO: away = (lo & 1) == 0; break;  // the neighbour ending in 1 (hi when neither: lo = 0)
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
    default: break;
  }
  uint32_t mag = away ? hi : lo;
  if constexpr (kMutant == Mutant::flush_subnormals)
    if (!el.zero_only && (mag >> el.M) == 0) mag = 0;
  return mag;
}

namespace {

struct ScaleChoice {
  uint32_t code;
};

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
    case MLS_SCALE_CEIL: return lo + (inexact ? 1 : 0);
    case MLS_SCALE_FLOOR: return lo;
    default:
      if (rem > half || (rem == half && y.sticky)) return lo + 1;
      if (rem == half) return lo + (lo & 1);
      return lo;
  }
}

bool nonfinite(uint32_t b) { return (b & 0x7f800000u) == 0x7f800000u; }

// The division-free first try at an element (4.5). y = |x| / S is estimated
// in double as yd = |x| * fl(1/S): |x| and S (48 significant bits, exponent
// within +-404) are exact doubles, so |yd - y| < 2^-51.99 y, which is less than
// 2^-27 of a grid step for any y up to 2^(M+1) steps (M <= 23). Whenever the
// estimate lies within 2^-27 of a step of a point where the decision could
// change (a grid value: exactness, the floor, saturation; the midpoint for
// rne/rna; the threshold 2^R - r for sr) the answer is "undecided" and the
// caller takes the exact route (divide + round_element_mag). Returns false
// when undecided.
bool quick_element_mag(const ElemFmt& el, uint32_t abs_bits, double inv, bool neg, int mode, int R, uint32_t word,
                       uint32_t* mag, bool* ovf) {
  const double yd = static_cast<double>(bits_float(abs_bits)) * inv;
  uint64_t b;
  std::memcpy(&b, &yd, 8);
  const int64_t p = static_cast<int64_t>(b >> 52) - 1023;  // a normal double: 2^-278 <= yd < 2^533
  int64_t u;                                               // the step exponent of the row holding yd
  uint32_t base = 0;
  bool top = false, gap = false;
  *ovf = false;
  if (el.E == 0) {
    if (p >= 1 - int64_t(el.bias)) { *ovf = true; *mag = el.max_mag; return true; }  // y > q_max for sure
    u = el.u0;
    top = true;
  } else {
    const int64_t ef = p + el.bias;
    if (ef > el.emaxf) { *ovf = true; *mag = el.max_mag; return true; }
    if (ef >= 1) {
      u = p - el.M;
      base = static_cast<uint32_t>((ef - 1) << el.M);
      top = ef == el.emaxf;
    } else if (!el.zero_only) {
      u = el.u0;
    } else {
      u = 1 - int64_t(el.bias);
      gap = true;
    }
  }
  // Y = yd / 2^u = I + fb / 2^fs; the uncertainty of Y is below mg / 2^fs = 2^-27.
  const int64_t fs = 52 - (p - u);  // >= 29
  const uint64_t m53 = (b & ((uint64_t(1) << 52) - 1)) | (uint64_t(1) << 52);
  uint64_t I = 0;
  u128 fb = 0, one = 0, mg = 0;
  const bool tiny = fs > 120;  // Y < 2^-67: the floor is 0 and y > 0
  if (!tiny) {
    I = fs >= 64 ? 0 : m53 >> fs;
    fb = fs >= 64 ? u128(m53) : u128(m53 & ((uint64_t(1) << fs) - 1));
    one = u128(1) << fs;
    mg = u128(1) << (fs - 27);
    if (fb > one - mg || (I >= 1 && fb < mg)) return false;  // near a grid value
  }
  const uint32_t lo = base + static_cast<uint32_t>(I);
  if (top && I == el.qmax_int) { *ovf = true; *mag = el.max_mag; return true; }  // q_max < y (3.5)
  const uint32_t hi = gap ? (1u << el.M) : lo + 1;
  const u128 half = one >> 1;
  bool away = false;
  switch (mode) {
    case MLS_RNE:
    case MLS_RNA:
      if (mode == MLS_RNE && kMutant == Mutant::truncate) away = false;
      else if (tiny || fb + mg < half) away = false;
      else if (fb > half + mg) away = true;
      else return false;  // near the midpoint: ties are decided exactly
      break;
    case MLS_RTZ: away = false; break;
    case MLS_RUP: away = !neg; break;
    case MLS_RDN: away = neg; break;
    case MLS_RTO: away = (lo & 1) == 0; break;
    case MLS_SR: {
      if (R > 26) return false;  // the margin would reach a whole unit of r
      uint64_t r = word >> (32 - R);
      if constexpr (kMutant == Mutant::sr_low_bits) r = word & ((uint32_t(1) << R) - 1);
      const uint64_t k = (uint64_t(1) << R) - r;  // away iff t 2^R >= k (3.4); k >= 1
      const int64_t d = fs - R;
      if (tiny || d >= 96) {
        away = false;  // t 2^R < 2^-40 < k - 2^(R-27)
      } else {
        const u128 K = u128(k) << d;  // t 2^R = k  <=>  fb = K
        if (fb >= K + mg) away = true;
        else if (fb + mg < K) away = false;
        else return false;
      }
      break;
    }
    default: return false;
  }
  *mag = away ? hi : lo;
  if constexpr (kMutant == Mutant::flush_subnormals)
    if (!el.zero_only && (*mag >> el.M) == 0) *mag = 0;
  return true;
}

// Seeded bugs that change how an element is rounded; their variants keep to
// the per-element routes (the tables below implement the spec only).
constexpr bool kElementMutant = kMutant == Mutant::tie_away || kMutant == Mutant::truncate ||
                                kMutant == Mutant::fp32_reciprocal || kMutant == Mutant::sr_off_by_one ||
                                kMutant == Mutant::sr_low_bits || kMutant == Mutant::flush_subnormals ||
                                kMutant == Mutant::rna_even;

double pow2(int64_t k) {  // -1022 <= k <= 1023
  const uint64_t b = static_cast<uint64_t>(k + 1023) << 52;
  double d;
  std::memcpy(&d, &b, 8);
  return d;
}

// The smallest fp32 (as bits) >= d, or > d when `exclusive`; d >= 0 an exact
// double. Beyond the fp32 range: the +Inf pattern, which no finite |x| reaches.
uint32_t fp32_ceil_bits(double d, bool exclusive) {
  const float f = static_cast<float>(d);  // nearest; the next fp32 up has the next bit pattern
  const double back = static_cast<double>(f);
  const uint32_t b = float_bits(f) + ((back < d || (exclusive && back == d)) ? 1 : 0);
  return std::min(b, 0x7f800000u);
}

// Per-group decision tables for element grids of at most 256 magnitudes (4.5
// with 3.2-3.4). Since every mode is monotone in |x|, the element is known
// from the smallest |x| (fp32 bits) reaching each magnitude index: a
// threshold per index, found by exact double arithmetic on S v_j (which holds
// when S's and the grid's significands fit 53 bits together: build() checks),
// and looked up by a branch-free binary search. For sr the floor index comes
// from the table and the decision y >= v_lo + (v_hi - v_lo) (2^R - r)/2^R is
// one exact double comparison in x space.
struct Tables {
  int V = 0, P = 0;
  std::vector<uint32_t> code;       // code of magnitude index j
  std::vector<uint32_t> up, down;   // thresholds (down: rtz / floor, also for sr and rup/rdn)
  std::vector<double> A, G;         // sr: S v_j and S (v_{j+1} - v_j)
  uint32_t sat = 0;                 // smallest |x| with y > q_max

  bool usable(const ElemFmt& el) const { return !kElementMutant && el.E + el.M <= 8; }
  void init(const ElemFmt& el) {
    V = static_cast<int>(el.zero_only ? (uint32_t(1) << (el.E + el.M)) - (uint32_t(1) << el.M) + 1
                                      : uint32_t(1) << (el.E + el.M));
    P = 1;
    while (P < V) P <<= 1;
    code.resize(static_cast<size_t>(V));
    for (int j = 0; j < V; ++j)
      code[static_cast<size_t>(j)] = el.zero_only && j > 0 ? static_cast<uint32_t>(j) + (1u << el.M) - 1 : j;
    up.assign(static_cast<size_t>(P), 0xffffffffu);
    down.assign(static_cast<size_t>(P), 0xffffffffu);
    A.resize(static_cast<size_t>(V));
    G.resize(static_cast<size_t>(V));
  }
  // S = sm 2^se. False when the exactness or range preconditions fail.
  bool build(const ElemFmt& el, uint64_t sm, int64_t se, int mode, int R) {
    const int tz = __builtin_ctzll(sm);
    sm >>= tz;
    se += tz;
    const int extra = mode == MLS_SR ? R : 0;
    if (bitlen64(sm) + el.M + 2 + extra > 53) return false;
    if (se + el.u0 - extra - 1 < -1000 || se + bitlen64(sm) + el.qmax_e + bitlen64(el.qmax_m) > 1000) return false;
    auto sv = [&](int j) {  // S v_j, exact
      uint64_t m;
      int64_t e;
      el.decode(code[static_cast<size_t>(j)], m, e);
      return static_cast<double>(sm * m) * pow2(se + e);
    };
    double lo = 0;  // S v_0 = 0
    up[0] = down[0] = 0;
    for (int j = 1; j < V; ++j) {
      const double hi = sv(j), mid = (lo + hi) * 0.5;
      const bool odd = code[static_cast<size_t>(j - 1)] & 1;
      down[static_cast<size_t>(j)] = fp32_ceil_bits(hi, false);  // floor: index j from v_j on
      switch (mode) {
        case MLS_RNE: up[static_cast<size_t>(j)] = fp32_ceil_bits(mid, !odd); break;  // the tie to the even code
        case MLS_RNA: up[static_cast<size_t>(j)] = fp32_ceil_bits(mid, false); break;
        case MLS_RTO: up[static_cast<size_t>(j)] = odd ? fp32_ceil_bits(hi, false) : fp32_ceil_bits(lo, true); break;
        default: up[static_cast<size_t>(j)] = fp32_ceil_bits(lo, true); break;  // ceil: index j above v_{j-1}
      }
      A[static_cast<size_t>(j - 1)] = lo;
      G[static_cast<size_t>(j - 1)] = hi - lo;
      lo = hi;
    }
    sat = fp32_ceil_bits(lo, true);
    return true;
  }
  int find(const uint32_t* t, uint32_t xa) const {
    uint32_t idx = 0;
    for (uint32_t s = static_cast<uint32_t>(P) >> 1; s > 0; s >>= 1)
      idx += s & (0u - static_cast<uint32_t>(t[idx + s] <= xa));  // no branch to mispredict
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

void quantize_op(const Fmt& f, const std::vector<int64_t>& shape, const uint32_t* x, const mls_rounding_v1& r,
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

  // 4.4 and 4.5 per group.
  const int mode = r.mode, R = r.sr_bits;
  std::atomic<int64_t> overflow_at{n};
  auto note_overflow = [&](int64_t i) {
    int64_t cur = overflow_at.load();
    while (i < cur && !overflow_at.compare_exchange_weak(cur, i)) {}
  };
  parallel_for(L.groups, 8.0 * per_group + 60, [&](int64_t b, int64_t e) {
    Tables tab;
    const bool tables = tab.usable(el) && per_group >= std::max(16, (1 << (el.E + el.M)) / 4);
    if (tables) tab.init(el);
    for (int64_t g = b; g < e; ++g) {
      uint32_t code = 0;
      const uint32_t ag = gmax[static_cast<size_t>(g)];
      if (ag != 0) {
        uint64_t dm = st.m * el.qmax_m;
        int64_t de = st.e + el.qmax_e;
        normalise48(dm, de);
        const Unpacked a = unpack_fp32(ag);
        int32_t policy = f.policy;
        if (policy == MLS_SCALE_CEIL && kMutant == Mutant::gscale_floor) policy = MLS_SCALE_FLOOR;
        if (policy == MLS_SCALE_CEIL && kMutant == Mutant::gscale_nearest) policy = MLS_SCALE_NEAREST;
        code = round_scale(f.gs, divide(a.m, a.e, dm, de), policy);
      }
      gs_out[g] = code;
      uint64_t sgm;
      int64_t sge;
      f.gs.decode(code, sgm, sge);
      uint64_t dm = st.m * sgm;  // S_t S_g: below 2^48
      int64_t de = st.e + sge;
      const double inv = 1.0 / std::ldexp(static_cast<double>(dm), static_cast<int>(de));  // S exact in double
      if (tables && tab.build(el, dm, de, mode, R)) {
        const uint32_t sign_bit = el.sign_bit;
        const bool poszero = f.poszero || kMutant == Mutant::zero_sign_lost, check = f.ovf_error;
        const double kscale = mode == MLS_SR ? pow2(-R) : 0;
        // The table per sign: rup is ceil for x > 0 and floor for x < 0, rdn the reverse.
        const uint32_t* tpos = (mode == MLS_RTZ || mode == MLS_RDN || mode == MLS_SR) ? tab.down.data() : tab.up.data();
        const uint32_t* tneg = (mode == MLS_RTZ || mode == MLS_RUP || mode == MLS_SR) ? tab.down.data() : tab.up.data();
        auto store = [&](int64_t i, uint32_t xa, bool neg, int idx) {
          if (check && xa >= tab.sat) note_overflow(i);
          const uint32_t mag = tab.code[static_cast<size_t>(idx)];
          const uint32_t signed_ = static_cast<uint32_t>(neg) & (static_cast<uint32_t>(!poszero) | (mag != 0));
          el_out[i] = mag | (sign_bit & (0u - signed_));
        };
        // sr: the floor index, then away iff y >= v_lo + (v_hi - v_lo) (2^R - r) / 2^R (3.4), exactly.
        auto sr_step = [&](int64_t i, uint32_t xa, int idx) {
          if (idx >= tab.V - 1) return idx;
          const uint32_t k = static_cast<uint32_t>((uint64_t(1) << R) - (R == 32 ? rand[i] : rand[i] >> (32 - R)));
          const double thr = tab.A[static_cast<size_t>(idx)] + tab.G[static_cast<size_t>(idx)] * (k * kscale);
          return idx + (static_cast<double>(bits_float(xa)) >= thr ? 1 : 0);
        };
        L.for_each_run(g, [&](int64_t start, int64_t len) {
          // Eight searches interleaved step by step: independent chains of loads.
          int64_t i = start;
          for (; i + 8 <= start + len; i += 8) {
            const uint32_t* t[8];
            uint32_t xa[8], idx[8];
            for (int j = 0; j < 8; ++j) {
              xa[j] = x[i + j] & 0x7fffffffu;
              t[j] = (x[i + j] >> 31) ? tneg : tpos;
              idx[j] = 0;
            }
            for (uint32_t s = static_cast<uint32_t>(tab.P) >> 1; s > 0; s >>= 1)
              for (int j = 0; j < 8; ++j) idx[j] += s & (0u - static_cast<uint32_t>(t[j][idx[j] + s] <= xa[j]));
            for (int j = 0; j < 8; ++j) {
              const int id = mode == MLS_SR ? sr_step(i + j, xa[j], static_cast<int>(idx[j])) : static_cast<int>(idx[j]);
              store(i + j, xa[j], (x[i + j] >> 31) != 0, id);
            }
          }
          for (; i < start + len; ++i) {
            const uint32_t xb = x[i], xa = xb & 0x7fffffffu;
            const bool neg = (xb >> 31) != 0;
            const int idx = tab.find(neg ? tneg : tpos, xa);
            store(i, xa, neg, mode == MLS_SR ? sr_step(i, xa, idx) : idx);
          }
        });
        continue;
      }
      normalise48(dm, de);
      L.for_each_run(g, [&](int64_t start, int64_t len) {
        for (int64_t i = start; i < start + len; ++i) {
          const uint32_t xb = x[i];
          const bool neg = (xb >> 31) != 0;
          const Unpacked u = unpack_fp32(xb);
          uint32_t mag = 0;
          if (u.m != 0) {
            bool ovf = false;
            if (kMutant != Mutant::fp32_reciprocal &&
                quick_element_mag(el, xb & 0x7fffffffu, inv, neg, mode, R, rand ? rand[i] : 0, &mag, &ovf)) {
              // decided without a division
            } else if constexpr (kMutant == Mutant::fp32_reciprocal) {
              bool inf;
              const Exact y = reciprocal_quotient(xb, st_bits, sgm, sge, &inf);
              if (inf) { mag = el.max_mag; ovf = true; }
              else if (y.q != 0) mag = round_element_mag(el, y, neg, mode, R, rand ? rand[i] : 0, &ovf);
            } else {
              mag = round_element_mag(el, divide(u.m, u.e, dm, de), neg, mode, R, rand ? rand[i] : 0, &ovf);
            }
            if (ovf && f.ovf_error) note_overflow(i);
          }
          // 4.5: a zero takes the sign of x unless signed_zero = positive.
          bool sign = neg;
          if (mag == 0 && (f.poszero || kMutant == Mutant::zero_sign_lost)) sign = false;
          el_out[i] = mag | (sign ? el.sign_bit : 0);
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
          if (m == 0) { y[i] = sign; continue; }  // the zero of the code's sign
          bool ovf;
          y[i] = sign | round_fp32(Exact{u128(d) * m, de + ee, false}, kMutant == Mutant::dequant_rtz ? 2 : 0, &ovf);
        }
      });
    }
  });
}

}  // namespace mlsfast
