// mls-fast conv2d (three passes) and GEMM under the `exact` arithmetic
// profile (spec/06-conv.md) on operands of any format of the family (finite
// codes only, 6.11; a zero group scale makes its products zero): every output is the exact sum of its element
// products times the group and tensor scales, rounded once to fp32 nearest
// even. Each operand element is folded with its group scale into a signed
// integer times a power of two; the sum is kept exactly in a fixed-point
// integer whose width is sized from the operands' actual exponent range:
//   - int64 when that range and the reduction length fit 62 bits,
//   - __int128 when they fit 126 bits,
//   - otherwise a carry-free radix-2^32 accumulator of int64 digits sized to
//     the range (a Kulisch accumulator; carries resolved once per output).
// Segments (6.6) do not matter for the exact profile: the sum is the same
// however it is grouped. Compiled once per seeded-bug variant.
#include <climits>
#include <cstring>
#include <mutex>

#include "ops.hpp"

namespace mlsfast {

namespace {

// ---- exact integers to fp32 -----------------------------------------------------

// 64 bits of a little-endian magnitude starting at bit `pos` (zeros beyond).
uint64_t bits_at(const uint64_t* w, int n, int64_t pos) {
  const int64_t wi = pos >> 6, bi = pos & 63;
  const uint64_t lo = wi < n ? w[wi] : 0, hi = wi + 1 < n ? w[wi + 1] : 0;
  return bi == 0 ? lo : (lo >> bi) | (hi << (64 - bi));
}

// A nonzero magnitude w[0..n) * 2^e as Exact (top 128 bits + sticky).
Exact exact_from_limbs(const uint64_t* w, int n, int64_t e) {
  int top = n - 1;
  while (top > 0 && w[top] == 0) --top;
  const int64_t L = 64 * int64_t(top) + bitlen64(w[top]);
  if (L <= 128) return Exact{(u128(top >= 1 ? w[1] : 0) << 64) | w[0], e, false};
  const int64_t drop = L - 128;
  const u128 q = u128(bits_at(w, n, drop)) | (u128(bits_at(w, n, drop + 64)) << 64);
  bool sticky = (w[drop >> 6] & ((uint64_t(1) << (drop & 63)) - 1)) != 0;
  for (int64_t i = 0; i < (drop >> 6) && !sticky; ++i) sticky = w[i] != 0;
  return Exact{q, e + drop, sticky};
}

// S * m for m < 2^128, S < 2^64, as three limbs.
void mul_128_64(u128 m, uint64_t S, uint64_t out[3]) {
  const u128 p0 = u128(static_cast<uint64_t>(m)) * S, p1 = u128(static_cast<uint64_t>(m >> 64)) * S;
  const u128 t = (p0 >> 64) + static_cast<uint64_t>(p1);
  out[0] = static_cast<uint64_t>(p0);
  out[1] = static_cast<uint64_t>(t);
  out[2] = static_cast<uint64_t>(p1 >> 64) + static_cast<uint64_t>(t >> 64);
}

// ---- the carry-free wide accumulator ------------------------------------------

// Adds +-p * 2^s (p < 2^96, s >= 0) to radix-2^32 digits, no carries.
inline void digits_add(int64_t* d, bool neg, u128 p, int64_t s) {
  const int64_t base = s >> 5;
  const u128 v = p << (s & 31);
  for (int k = 0; k < 4; ++k) {
    const int64_t c = static_cast<int64_t>(static_cast<uint32_t>(v >> (32 * k)));
    if (c) d[base + k] += neg ? -c : c;
  }
}

// Resolves the digits of a signed sum into sign and magnitude limbs (scaled by
// S < 2^48); returns false for an exact zero.
bool digits_resolve(const int64_t* d, int nd, uint64_t S, std::vector<uint64_t>& limbs, bool* neg) {
  std::vector<uint32_t> mag(static_cast<size_t>(nd));
  auto propagate = [&](int sgn) {
    int64_t carry = 0;
    for (int k = 0; k < nd; ++k) {
      const int64_t v = sgn * d[k] + carry;  // |v| < 2^63: each digit had < 2^31 terms of < 2^32
      mag[static_cast<size_t>(k)] = static_cast<uint32_t>(v);
      carry = v >> 32;  // arithmetic shift: floor division
    }
    return carry;
  };
  *neg = propagate(1) < 0;
  if (*neg) propagate(-1);
  const size_t nl = static_cast<size_t>(nd + 1) / 2 + 1;
  limbs.assign(nl + 1, 0);
  bool any = false;
  for (size_t k = 0; k < mag.size(); ++k) {
    limbs[k / 2] |= uint64_t(mag[k]) << (32 * (k % 2));
    any = any || mag[k];
  }
  if (!any) return false;
  uint64_t carry = 0;
  for (size_t k = 0; k < limbs.size(); ++k) {
    const u128 t = u128(limbs[k]) * S + carry;
    limbs[k] = static_cast<uint64_t>(t);
    carry = static_cast<uint64_t>(t >> 64);
  }
  return true;
}

// ---- operands -----------------------------------------------------------------

// Every element as mant * 2^ex with mant = +-(S_g * elem significand), odd, and, when
// the operand's exponent range allows, as fix * 2^lsb in an int64.
struct Operand {
  std::vector<int64_t> mant, fix;
  std::vector<int32_t> ex;
  int64_t lsb = 0, msb = 0;  // every nonzero |value| / S_t is a multiple of 2^lsb and below 2^msb
  bool any = false;
  Unpacked st{};
  int64_t width() const { return any ? msb - lsb : 0; }
};

Operand fold(const Tensor& t) {
  Operand o;
  const Grid& el = t.fmt.el;
  const Layout& L = t.layout;
  o.st = unpack_fp32(t.tensor_scale);
  o.mant.resize(static_cast<size_t>(L.count));
  o.ex.resize(static_cast<size_t>(L.count));
  std::mutex mu;
  int64_t lsb = INT64_MAX, msb = INT64_MIN;
  const double per_group = static_cast<double>(L.count) / static_cast<double>(L.groups);
  parallel_for(L.groups, 2.0 * per_group + 20, [&](int64_t b, int64_t e) {
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t g = b; g < e; ++g) {
      uint64_t sgm;
      int64_t sge;
      t.fmt.gs.decode(t.group_scales[g] & t.fmt.gs.mag_mask, sgm, sge);  // sgm = 0: a zero scale
      L.for_each_run(g, [&](int64_t start, int64_t len) {
        for (int64_t i = start; i < start + len; ++i) {
          bool neg;
          uint32_t mag;
          el.split(t.elements[i], neg, mag);
          uint64_t em;
          int64_t ee;
          el.decode(mag, em, ee);
          if (em == 0 || sgm == 0) {
            o.mant[i] = 0;
            o.ex[i] = 0;
            continue;
          }
          // S_g * elem = m * 2^x with m odd (below 2^48).
          const int tz = __builtin_ctzll(sgm * em);
          const uint64_t m = (sgm * em) >> tz;
          const int64_t x = sge + ee + tz;
          o.mant[i] = neg ? -static_cast<int64_t>(m) : static_cast<int64_t>(m);
          o.ex[i] = static_cast<int32_t>(x);
          lo = std::min<int64_t>(lo, x);
          hi = std::max<int64_t>(hi, x + bitlen64(m));
        }
      });
    }
    std::lock_guard<std::mutex> lock(mu);
    lsb = std::min(lsb, lo);
    msb = std::max(msb, hi);
  });
  o.any = lsb != INT64_MAX;
  if (o.any) {
    o.lsb = lsb;
    o.msb = msb;
  }
  if (o.width() <= 62) {
    o.fix.resize(o.mant.size());
    parallel_for(L.count, 0.5, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t m = o.mant[i];
        o.fix[i] = m == 0 ? 0 : static_cast<int64_t>(static_cast<uint64_t>(m) << (o.ex[i] - o.lsb));
      }
    });
  }
  return o;
}

// ---- accumulator kernels ------------------------------------------------------
// row(k0, ks, a0, as, b0, bs, n): acc[k0 + j ks] += a[a0 + j as] * b[b0 + j bs], j < n.

template <class T>
struct FixedKernel {
  const int64_t* A;
  const int64_t* B;
  uint64_t S;  // S_tA * S_tB significands
  int64_t E;   // exponent of one accumulator unit times 2^(stA.e + stB.e)
  std::vector<T> acc;

  void begin(int64_t n) { acc.assign(static_cast<size_t>(n), T(0)); }
  bool a_zero(int64_t i) const { return A[i] == 0; }
  bool b_zero(int64_t i) const { return B[i] == 0; }
  void row(int64_t k0, int64_t ks, int64_t a0, int64_t as, int64_t b0, int64_t bs, int64_t n) {
    T* __restrict p = acc.data() + k0;
    const int64_t* __restrict a = A + a0;
    const int64_t* __restrict b = B + b0;
    if (ks == 1 && bs == 0) {
      const T w = b[0];
      if (as == 1) {
        for (int64_t j = 0; j < n; ++j) p[j] += T(a[j]) * w;
      } else {
        for (int64_t j = 0; j < n; ++j) p[j] += T(a[j * as]) * w;
      }
    } else if (ks == 1 && as == 0) {
      const T v = a[0];
      for (int64_t j = 0; j < n; ++j) p[j] += v * T(b[j * bs]);
    } else if (ks == 0) {
      T s = 0;
      for (int64_t j = 0; j < n; ++j) s += T(a[j * as]) * T(b[j * bs]);
      p[0] += s;
    } else {
      for (int64_t j = 0; j < n; ++j) p[j * ks] += T(a[j * as]) * T(b[j * bs]);
    }
  }
  uint32_t finish(int64_t k) const {
    const T v = acc[static_cast<size_t>(k)];
    if (v == 0) return 0;  // an exact zero is +0
    const uint32_t sign = v < 0 ? 0x80000000u : 0u;
    bool ovf;
    if constexpr (sizeof(T) == 8) {
      const uint64_t mag = v < 0 ? uint64_t(0) - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
      return sign | round_fp32(Exact{u128(mag) * S, E, false}, 0, &ovf);
    } else {
      const u128 mag = v < 0 ? u128(0) - static_cast<u128>(v) : static_cast<u128>(v);
      uint64_t w[3];
      mul_128_64(mag, S, w);
      return sign | round_fp32(exact_from_limbs(w, 3, E), 0, &ovf);
    }
  }
};

struct WideKernel {
  const int64_t* Am;
  const int32_t* Ax;
  const int64_t* Bm;
  const int32_t* Bx;
  int64_t LSB;  // exponent of digit 0's unit, without the tensor scales
  int nd;       // digits per output
  uint64_t S;
  int64_t E;
  std::vector<int64_t> d;
  std::vector<uint64_t> limbs;

  void begin(int64_t n) { d.assign(static_cast<size_t>(n * nd), 0); }
  bool a_zero(int64_t i) const { return Am[i] == 0; }
  bool b_zero(int64_t i) const { return Bm[i] == 0; }
  void row(int64_t k0, int64_t ks, int64_t a0, int64_t as, int64_t b0, int64_t bs, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t ai = a0 + j * as, bi = b0 + j * bs;
      const int64_t a = Am[ai], b = Bm[bi];
      if (a == 0 || b == 0) continue;
      const u128 p = u128(static_cast<uint64_t>(a < 0 ? -a : a)) * static_cast<uint64_t>(b < 0 ? -b : b);
      digits_add(d.data() + (k0 + j * ks) * nd, (a < 0) != (b < 0), p, int64_t(Ax[ai]) + Bx[bi] - LSB);
    }
  }
  uint32_t finish(int64_t k) {
    bool neg;
    if (!digits_resolve(d.data() + k * nd, nd, S, limbs, &neg)) return 0;
    bool ovf;
    return (neg ? 0x80000000u : 0u) |
           round_fp32(exact_from_limbs(limbs.data(), static_cast<int>(limbs.size()), E), 0, &ovf);
  }
};

// ---- loops ----------------------------------------------------------------------

// Outputs o in [lo, hi) whose input index o*s + off lies in [0, in).
void out_range(int64_t in, int64_t off, int64_t s, int64_t out, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  const int64_t last = in - 1 - off;
  hi = last < 0 ? 0 : std::min<int64_t>(out, last / s + 1);
  if (hi < lo) hi = lo;
}

struct Plan {
  int64_t planes = 0, plane_size = 0;
  double cost = 0;  // per plane
};

Plan conv_plan(const ConvGeom& g) {
  Plan p;
  if (g.pass == MLS_PASS_FWD) p.planes = g.N * g.O, p.plane_size = g.OH * g.OW;
  if (g.pass == MLS_PASS_BWD_DATA) p.planes = g.N * g.C, p.plane_size = g.H * g.W;
  if (g.pass == MLS_PASS_BWD_WEIGHT) p.planes = g.O * g.Cg, p.plane_size = g.KH * g.KW;
  const double macs = static_cast<double>(g.N) * g.O * g.Cg * g.KH * g.KW * g.OH * g.OW;
  p.cost = 2.0 * macs / static_cast<double>(p.planes) + 10.0 * p.plane_size;
  return p;
}

template <class K>
void conv_plane(const ConvGeom& g, K& k, int64_t pl) {
  int64_t oh0, oh1, ow0, ow1;
  if (g.pass == MLS_PASS_FWD) {
    const int64_t n = pl / g.O, o = pl % g.O, gi = o / g.Og;
    for (int64_t cc = 0; cc < g.Cg; ++cc) {
      const int64_t abase = (n * g.C + gi * g.Cg + cc) * g.H * g.W, bbase = (o * g.Cg + cc) * g.KH * g.KW;
      for (int64_t kh = 0; kh < g.KH; ++kh) {
        out_range(g.H, kh * g.dh - g.ph, g.sh, g.OH, oh0, oh1);
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          const int64_t bi = bbase + kh * g.KW + kw;
          out_range(g.W, kw * g.dw - g.pw, g.sw, g.OW, ow0, ow1);
          if (ow0 >= ow1 || k.b_zero(bi)) continue;
          for (int64_t oh = oh0; oh < oh1; ++oh) {
            const int64_t ih = oh * g.sh + kh * g.dh - g.ph;
            k.row(oh * g.OW + ow0, 1, abase + ih * g.W + ow0 * g.sw + kw * g.dw - g.pw, g.sw, bi, 0, ow1 - ow0);
          }
        }
      }
    }
  } else if (g.pass == MLS_PASS_BWD_DATA) {
    const int64_t n = pl / g.C, c = pl % g.C, gi = c / g.Cg, cc = c % g.Cg;
    for (int64_t o = gi * g.Og; o < (gi + 1) * g.Og; ++o) {
      const int64_t abase = (n * g.O + o) * g.OH * g.OW, bbase = (o * g.Cg + cc) * g.KH * g.KW;
      for (int64_t kh = 0; kh < g.KH; ++kh) {
        out_range(g.H, kh * g.dh - g.ph, g.sh, g.OH, oh0, oh1);
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          const int64_t bi = bbase + kh * g.KW + kw;
          out_range(g.W, kw * g.dw - g.pw, g.sw, g.OW, ow0, ow1);
          if (ow0 >= ow1 || k.b_zero(bi)) continue;
          for (int64_t oh = oh0; oh < oh1; ++oh) {
            const int64_t ih = oh * g.sh + kh * g.dh - g.ph;
            k.row(ih * g.W + ow0 * g.sw + kw * g.dw - g.pw, g.sw, abase + oh * g.OW + ow0, 1, bi, 0, ow1 - ow0);
          }
        }
      }
    }
  } else {
    const int64_t o = pl / g.Cg, cc = pl % g.Cg, c = (o / g.Og) * g.Cg + cc;
    for (int64_t n = 0; n < g.N; ++n) {
      const int64_t abase = (n * g.C + c) * g.H * g.W, bbase = (n * g.O + o) * g.OH * g.OW;
      for (int64_t kh = 0; kh < g.KH; ++kh) {
        out_range(g.H, kh * g.dh - g.ph, g.sh, g.OH, oh0, oh1);
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          out_range(g.W, kw * g.dw - g.pw, g.sw, g.OW, ow0, ow1);
          if (ow0 >= ow1) continue;
          for (int64_t oh = oh0; oh < oh1; ++oh) {
            const int64_t ih = oh * g.sh + kh * g.dh - g.ph;
            k.row(kh * g.KW + kw, 0, abase + ih * g.W + ow0 * g.sw + kw * g.dw - g.pw, g.sw, bbase + oh * g.OW + ow0, 1,
                  ow1 - ow0);
          }
        }
      }
    }
  }
}

// A GEMM is a plane per row m of A: acc[n] += A[m,k] B[k,n].
struct GemmGeom {
  int64_t M, K, N;
};

template <class K>
void gemm_plane(const GemmGeom& g, K& k, int64_t m) {
  for (int64_t kk = 0; kk < g.K; ++kk) {
    const int64_t ai = m * g.K + kk;
    if (k.a_zero(ai)) continue;
    k.row(0, 1, ai, 0, kk * g.N, 1, g.N);
  }
}

template <class K, class PlaneFn>
void run_planes(const K& proto, int64_t planes, int64_t plane_size, double cost, uint32_t* y, PlaneFn&& plane) {
  parallel_for(planes, cost, [&](int64_t b, int64_t e) {
    K k = proto;
    for (int64_t pl = b; pl < e; ++pl) {
      k.begin(plane_size);
      plane(k, pl);
      for (int64_t j = 0; j < plane_size; ++j) y[pl * plane_size + j] = k.finish(j);
    }
  });
}

// Chooses the narrowest exact accumulator for the operands' ranges and runs.
template <class PlaneFn>
void reduce_exact(const Operand& A, const Operand& B, int64_t terms, int64_t planes, int64_t plane_size, double cost,
                  uint32_t* y, PlaneFn&& plane) {
  if (!A.any || !B.any) {
    std::memset(y, 0, static_cast<size_t>(planes * plane_size) * 4);
    return;
  }
  const int lg = bitlen64(static_cast<uint64_t>(terms));
  const int64_t wa = A.width(), wb = B.width();
  const uint64_t S = A.st.m * B.st.m;
  const int64_t E = A.lsb + B.lsb + A.st.e + B.st.e;
  if (wa + wb + lg <= 62) {
    run_planes(FixedKernel<int64_t>{A.fix.data(), B.fix.data(), S, E, {}}, planes, plane_size, cost, y, plane);
  } else if (wa <= 62 && wb <= 62 && wa + wb + lg <= 126) {
    run_planes(FixedKernel<i128>{A.fix.data(), B.fix.data(), S, E, {}}, planes, plane_size, 2 * cost, y, plane);
  } else {
    const int64_t lsb = A.lsb + B.lsb, top = A.msb + B.msb + lg;
    const int nd = static_cast<int>((top - lsb) / 32 + 4);
    run_planes(
        WideKernel{A.mant.data(), A.ex.data(), B.mant.data(), B.ex.data(), lsb, nd, S, lsb + A.st.e + B.st.e, {}, {}},
        planes, plane_size, 8 * cost, y, plane);
  }
}

// ---- the two summation seeded bugs ----------------------------------------------
// Both walk each output's terms in the canonical order of 6.6 (fwd: c, kh, kw;
// bwd_data: o, kh, kw; bwd_weight: n, oh, ow; gemm: k) and so need the
// segment structure that the exact kernels above do not.

template <class Fn>
void walk_conv(const ConvGeom& g, int64_t out, Fn&& fn) {
  if (g.pass == MLS_PASS_FWD) {
    const int64_t ow = out % g.OW, oh = (out / g.OW) % g.OH, o = (out / (g.OW * g.OH)) % g.O,
                  n = out / (g.OW * g.OH * g.O), gi = o / g.Og;
    for (int64_t cc = 0; cc < g.Cg; ++cc)
      for (int64_t kh = 0; kh < g.KH; ++kh) {
        const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          const int64_t iw = ow * g.sw - g.pw + kw * g.dw;
          if (iw < 0 || iw >= g.W) continue;
          fn(((n * g.C + gi * g.Cg + cc) * g.H + ih) * g.W + iw, ((o * g.Cg + cc) * g.KH + kh) * g.KW + kw);
        }
      }
  } else if (g.pass == MLS_PASS_BWD_DATA) {
    const int64_t iw = out % g.W, ih = (out / g.W) % g.H, c = (out / (g.W * g.H)) % g.C, n = out / (g.W * g.H * g.C),
                  gi = c / g.Cg, cc = c % g.Cg;
    for (int64_t o = gi * g.Og; o < (gi + 1) * g.Og; ++o)
      for (int64_t kh = 0; kh < g.KH; ++kh) {
        const int64_t th = ih + g.ph - kh * g.dh;
        if (th < 0 || th % g.sh != 0 || th / g.sh >= g.OH) continue;
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          const int64_t tw = iw + g.pw - kw * g.dw;
          if (tw < 0 || tw % g.sw != 0 || tw / g.sw >= g.OW) continue;
          fn(((n * g.O + o) * g.OH + th / g.sh) * g.OW + tw / g.sw, ((o * g.Cg + cc) * g.KH + kh) * g.KW + kw);
        }
      }
  } else {
    const int64_t kw = out % g.KW, kh = (out / g.KW) % g.KH, cc = (out / (g.KW * g.KH)) % g.Cg,
                  o = out / (g.KW * g.KH * g.Cg), c = (o / g.Og) * g.Cg + cc;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t iw = ow * g.sw - g.pw + kw * g.dw;
          if (iw < 0 || iw >= g.W) continue;
          fn(((n * g.C + c) * g.H + ih) * g.W + iw, ((n * g.O + o) * g.OH + oh) * g.OW + ow);
        }
      }
  }
}

template <class Fn>
void walk_gemm(const GemmGeom& g, int64_t out, Fn&& fn) {
  const int64_t m = out / g.N, n = out % g.N;
  for (int64_t k = 0; k < g.K; ++k) fn(m * g.K + k, k * g.N + n);
}

template <class Walk>
void reduce_mutant(const Tensor& ta, const Tensor& tb, const Operand& A, const Operand& B, int64_t outs, int64_t terms,
                   uint32_t* y, Walk&& walk) {
  const uint64_t S = A.st.m * B.st.m;
  const int64_t Est = A.st.e + B.st.e;
  if constexpr (kMutant == Mutant::fp32_sum) {
    // Each product S_tA S_tB (S_gA a)(S_gB b) rounded to fp32, then summed in
    // fp32 in reverse canonical order.
    parallel_for(outs, 10.0 * terms, [&](int64_t b, int64_t e) {
      std::vector<std::pair<int64_t, int64_t>> t;
      for (int64_t out = b; out < e; ++out) {
        t.clear();
        walk(out, [&](int64_t ai, int64_t bi) { t.emplace_back(ai, bi); });
        float acc = 0;
        for (auto it = t.rbegin(); it != t.rend(); ++it) {
          const int64_t a = A.mant[it->first], bb = B.mant[it->second];
          if (a == 0 || bb == 0) continue;
          uint64_t w[3];
          mul_128_64(u128(static_cast<uint64_t>(a < 0 ? -a : a)) * static_cast<uint64_t>(bb < 0 ? -bb : bb), S, w);
          bool ovf;
          const uint32_t mag = round_fp32(exact_from_limbs(w, 3, A.ex[it->first] + B.ex[it->second] + Est), 0, &ovf);
          acc += bits_float(mag | ((a < 0) != (bb < 0) ? 0x80000000u : 0u));
        }
        y[out] = float_bits(acc);
      }
    });
  } else {
    // acc_wrap: the segment sum P of element-integer products (units of the
    // elements' smallest step 2^u0) kept in a 12-bit two's complement register
    // that wraps; each wrapped P then scaled by S_gA S_gB exactly.
    const std::vector<int64_t> ga = ta.layout.group_index(), gb = tb.layout.group_index();
    auto scale_range = [](const Tensor& t, int64_t& lo, int64_t& hi) {
      lo = INT64_MAX, hi = INT64_MIN;
      for (int64_t g = 0; g < t.layout.groups; ++g) {
        uint64_t m;
        int64_t e;
        t.fmt.gs.decode(t.group_scales[g] & t.fmt.gs.mag_mask, m, e);
        lo = std::min(lo, e);
        hi = std::max(hi, e + bitlen64(m));
      }
    };
    int64_t alo, ahi, blo, bhi;
    scale_range(ta, alo, ahi);
    scale_range(tb, blo, bhi);
    const int64_t u = ta.fmt.el.u0 + tb.fmt.el.u0;
    const int64_t lsb = alo + blo + u, top = ahi + bhi + u + 12 + bitlen64(static_cast<uint64_t>(terms));
    const int nd = static_cast<int>((top - lsb) / 32 + 4);
    auto elem_int = [](const Tensor& t, int64_t i, bool& neg) -> int64_t {
      uint32_t mag;
      t.fmt.el.split(t.elements[i], neg, mag);
      uint64_t m;
      int64_t e;
      t.fmt.el.decode(mag, m, e);
      const int64_t sh = e - t.fmt.el.u0;
      return sh >= 12 ? 0 : static_cast<int64_t>((m << sh) & 0xfff);
    };
    parallel_for(outs, 20.0 * terms, [&](int64_t b, int64_t e) {
      std::vector<int64_t> d(static_cast<size_t>(nd));
      std::vector<uint64_t> limbs;
      for (int64_t out = b; out < e; ++out) {
        std::fill(d.begin(), d.end(), 0);
        int64_t cur_a = -1, cur_b = -1, P = 0;
        auto flush = [&] {
          const int64_t p = (P & 0xfff) >= 0x800 ? (P & 0xfff) - 0x1000 : (P & 0xfff);
          if (p == 0 || cur_a < 0) return;
          uint64_t ma, mb;
          int64_t ea, eb;
          ta.fmt.gs.decode(ta.group_scales[cur_a] & ta.fmt.gs.mag_mask, ma, ea);
          tb.fmt.gs.decode(tb.group_scales[cur_b] & tb.fmt.gs.mag_mask, mb, eb);
          digits_add(d.data(), p < 0, u128(ma * mb) * static_cast<uint64_t>(p < 0 ? -p : p), ea + eb + u - lsb);
        };
        walk(out, [&](int64_t ai, int64_t bi) {
          if (ga[ai] != cur_a || gb[bi] != cur_b) {
            flush();
            cur_a = ga[ai], cur_b = gb[bi], P = 0;
          }
          bool na, nb;
          const int64_t ia = elem_int(ta, ai, na), ib = elem_int(tb, bi, nb);
          P = (P + ((na != nb) ? -(ia * ib) : ia * ib)) & 0xfff;
        });
        flush();
        bool neg, ovf;
        if (!digits_resolve(d.data(), nd, S, limbs, &neg)) {
          y[out] = 0;
          continue;
        }
        y[out] = (neg ? 0x80000000u : 0u) |
                 round_fp32(exact_from_limbs(limbs.data(), static_cast<int>(limbs.size()), lsb + Est), 0, &ovf);
      }
    });
  }
}

constexpr bool kSummationMutant = kMutant == Mutant::acc_wrap || kMutant == Mutant::fp32_sum;

}  // namespace

void conv2d_op(const ConvGeom& g, const Tensor& a, const Tensor& b, uint32_t* y) {
  const Operand A = fold(a), B = fold(b);
  const int64_t terms = g.pass == MLS_PASS_FWD        ? g.Cg * g.KH * g.KW
                        : g.pass == MLS_PASS_BWD_DATA ? g.Og * g.KH * g.KW
                                                      : g.N * g.OH * g.OW;
  if constexpr (kSummationMutant) {
    reduce_mutant(a, b, A, B, g.out_count(), terms, y, [&](int64_t out, auto&& fn) { walk_conv(g, out, fn); });
  } else {
    const Plan p = conv_plan(g);
    reduce_exact(A, B, terms, p.planes, p.plane_size, p.cost, y, [&](auto& k, int64_t pl) { conv_plane(g, k, pl); });
  }
}

void gemm_op(const Tensor& a, const Tensor& b, uint32_t* y) {
  if (a.shape.size() != 2) bad("a.shape has rank " + std::to_string(a.shape.size()) + "; gemm needs (M,K)");
  if (b.shape.size() != 2) bad("b.shape has rank " + std::to_string(b.shape.size()) + "; gemm needs (K,N)");
  if (a.shape[1] != b.shape[0])
    bad("b.shape[0] = " + std::to_string(b.shape[0]) +
        " (K) does not match a.shape[1] = " + std::to_string(a.shape[1]));
  const GemmGeom g{a.shape[0], a.shape[1], b.shape[1]};
  const Operand A = fold(a), B = fold(b);
  if constexpr (kSummationMutant) {
    reduce_mutant(a, b, A, B, g.M * g.N, g.K, y, [&](int64_t out, auto&& fn) { walk_gemm(g, out, fn); });
  } else {
    reduce_exact(A, B, g.K, g.M, g.N, 2.0 * g.K * g.N + 10.0 * g.N, y,
                 [&](auto& k, int64_t m) { gemm_plane(g, k, m); });
  }
}

}  // namespace mlsfast
