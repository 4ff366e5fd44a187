/* mls-gpu device code: the MLS operations (spec/03, 04, 06) as OpenCL C 1.2
 * kernels. The same text is compiled as CUDA by ../cuda/kernels.cu: every
 * dialect difference goes through the MLS_* macros of the prelude
 * (opencl_prelude.h here, cuda_prelude.h there).
 *
 * Exactness (README.md, "How each rounding is made exact"): no float
 * arithmetic decides anything. Every value is an integer significand times a
 * power of two; a quotient |x| / (S_t S_g) is an integer long division
 * (16 bits per step, remainder kept, so the 63-bit quotient and the sticky
 * bit "remainder != 0" are exact); every rounding is mls_round_mag() on such a
 * (Q, sticky, e) triple; conv sums are 128-bit two's-complement integers.
 *
 * Build with -DMLS_NAIVE for the fast-but-wrong lesson variant: quantization
 * by x * (1/scale) in fp32 and conv summation of fp32 products in fp32.
 * Seeded bugs of the format family (OpenCL: MLS_OPENCL_BUILD_OPTIONS=-D...):
 * MLS_BUG_E4M3_NAN (an element overflow of a NaN-coded grid gives NaN
 * instead of saturating), MLS_BUG_NAN_BLOCK (a NaN input is left out of its
 * block's maximum, so the block's scale is finite).
 */

/* ---- 128-bit helpers (two 64-bit limbs) ---------------------------------- */
typedef struct {
  mls_u64 lo, hi;
} mls_u128;

MLS_INLINE mls_u128 mls_mul64(mls_u64 a, mls_u64 b) {
  mls_u128 r;
  r.lo = a * b;
  r.hi = MLS_MULHI(a, b);
  return r;
}
MLS_INLINE mls_u128 mls_add128(mls_u128 a, mls_u128 b) {
  mls_u128 r;
  r.lo = a.lo + b.lo;
  r.hi = a.hi + b.hi + (r.lo < a.lo ? 1 : 0);
  return r;
}
MLS_INLINE mls_u128 mls_neg128(mls_u128 a) {
  mls_u128 r;
  r.lo = ~a.lo + 1;
  r.hi = ~a.hi + (r.lo == 0 ? 1 : 0);
  return r;
}
/* low 128 bits of a * m (the callers' bounds make the product fit) */
MLS_INLINE mls_u128 mls_mul128_64(mls_u128 a, mls_u64 m) {
  mls_u128 r = mls_mul64(a.lo, m);
  r.hi += a.hi * m;
  return r;
}
MLS_INLINE int mls_bitlen64(mls_u64 v) { return v ? 64 - (int)MLS_CLZ64(v) : 0; }

/* ---- the one rounding routine (spec 3.2) ----------------------------------
 * A grid: rows of 2^M codes. Normal rows have exponents pmin..ptop (value
 * 2^p (1 + f/2^M)), exponent field p - pmin + efmin. Below pmin: a subnormal
 * row (sub), the zero_only gap (zonly), or nothing (nozero: clamp to code 0).
 * E = 0 grids have no normal row (ptop = pmin - 1, top_ue = pmin - M).
 * lmax: the largest finite integer significand of the top row, maxcode the
 * largest finite magnitude code. spec: the grid has special values (1.6):
 * the position maxcode + 1 above the largest finite value is Inf (ieee) or
 * the NaN code (nan_all_ones), and rounding there is an overflow (3.5, 3.7);
 * without specials every magnitude above the largest value overflows. */
typedef struct {
  int M, pmin, ptop, efmin, sub, zonly, nozero, spec, ieee, top_ue;
  mls_u64 lmax;
  mls_u32 maxcode;
} mls_grid;

#define MLS_MAG_RNE 0
#define MLS_MAG_RNA 1
#define MLS_MAG_RTZ 2
#define MLS_MAG_AWAY 3
#define MLS_MAG_RTO 5
#define MLS_MAG_SR 6

/* A minifloat grid of the family (spec 1): zero 0 subnormal, 1 zero_only,
 * 2 none; specials 0 none, 1 ieee, 2 nan_all_ones (MLS_ZERO_*, MLS_SPECIALS_*). */
MLS_INLINE mls_grid mls_mf_grid(int E, int M, int bias, int zero, int specials) {
  mls_grid g;
  g.M = M;
  g.zonly = zero == 1;
  g.nozero = zero == 2;
  g.sub = zero == 0;
  g.efmin = g.nozero ? 0 : 1;
  g.pmin = g.efmin - bias;
  g.spec = specials != 0;
  g.ieee = specials == 1;
  const mls_u32 allones = (mls_u32)(((mls_u64)1 << (E + M)) - 1);
  if (E == 0) {
    g.ptop = g.pmin - 1;
    g.top_ue = g.pmin - M;
    g.lmax = ((mls_u64)1 << M) - 1;
    g.maxcode = allones;
    return g;
  }
  int eftop = (1 << E) - 1;
  g.lmax = ((mls_u64)2 << M) - 1;
  g.maxcode = allones;
  if (specials == 1) { /* exponent field all ones: Inf and NaN */
    eftop -= 1;
    g.maxcode = (((mls_u32)eftop + 1u) << M) - 1u;
  } else if (specials == 2) { /* all-ones magnitude: NaN */
    g.maxcode = allones - 1u;
    if (M == 0)
      eftop -= 1;
    else
      g.lmax -= 1;
  }
  g.ptop = eftop - bias;
  g.top_ue = g.ptop - M;
  return g;
}
MLS_INLINE mls_grid mls_elem_grid(int E, int M, int bias, int zonly) { return mls_mf_grid(E, M, bias, zonly, 0); }
MLS_INLINE mls_grid mls_fp32_grid(void) { return mls_mf_grid(8, 23, 127, 0, 1); }
/* The largest finite value as qm 2^qe; its binade floor(log2 max) (emax). */
MLS_INLINE mls_u64 mls_grid_max(mls_grid g, int* e) {
  *e = g.top_ue;
  return g.lmax;
}
/* Decodes a finite magnitude code: m 2^e (m = 0 for a zero). */
MLS_INLINE void mls_grid_value(mls_grid g, mls_u32 mag, mls_u64* m, int* e) {
  const mls_u32 ef = mag >> g.M, f = mag & ((1u << g.M) - 1u);
  if (ef == 0 && !g.nozero) {
    *m = f;
    *e = g.pmin - g.M;
  } else {
    *m = (mls_u64)(f | (1u << g.M));
    *e = (int)ef - g.efmin + g.pmin - g.M;
  }
}
MLS_INLINE int mls_grid_is_nan(mls_grid g, mls_u32 mag) {
  return g.spec && mag > g.maxcode && !(g.ieee && (mag & ((1u << g.M) - 1u)) == 0u);
}
MLS_INLINE int mls_grid_is_inf(mls_grid g, mls_u32 mag) {
  return g.ieee && mag > g.maxcode && (mag & ((1u << g.M) - 1u)) == 0u;
}
/* The NaN code (magnitude) of a grid with one; the Inf code of an ieee grid. */
MLS_INLINE mls_u32 mls_grid_nan(mls_grid g) { return g.ieee ? (g.maxcode + 1u) | (1u << (g.M - 1)) : g.maxcode + 1u; }
MLS_INLINE mls_u32 mls_grid_inf(mls_grid g) { return g.maxcode + 1u; }

/* At or past the special position above the largest finite value (t >= 1
 * toward it): rtz keeps the largest finite value, rto the odd one of the
 * two, every other mode goes to the special position (an overflow). */
MLS_INLINE mls_u32 mls_beyond(mls_grid g, int mode, int* ovf) {
  const int away = mode == MLS_MAG_RTZ ? 0 : (mode == MLS_MAG_RTO ? (g.maxcode & 1u) == 0u : 1);
  *ovf = away;
  return away ? g.maxcode + 1u : g.maxcode;
}

/* Rounds |v| = (Q + s) 2^e, s in [0,1) with s != 0 iff sticky, to the grid
 * (magnitude code). mode: MLS_MAG_* (direction already resolved with the
 * sign). *ovf: an overflow -- without specials the largest code is returned
 * (saturation), with specials the special position maxcode + 1 (the caller
 * applies its overflow policy; for binary32 that code is Inf). */
MLS_INLINE mls_u32 mls_round_mag(mls_grid g, mls_u64 Q, int e, int sticky, int mode, int R, mls_u32 word, int* ovf) {
  *ovf = 0;
  if (Q == 0) return 0u; /* v = 0: code 0 (the smallest value when nozero) */
  { /* normalise: Q in [2^62, 2^63) */
    const int s = (int)MLS_CLZ64(Q) - 1;
    if (s > 0) {
      Q <<= s;
      e -= s;
    } else if (s < 0) {
      sticky |= (int)(Q & 1u);
      Q >>= 1;
      e += 1;
    }
  }
  const int p = 62 + e; /* floor(log2 |v|) */
  if (g.nozero && p < g.pmin) return 0u; /* clamped_min (3.2 step 1) */
  if (p > g.ptop) {                      /* above the top row: overflow */
    if (g.spec) return mls_beyond(g, mode, ovf);
    *ovf = 1;
    return g.maxcode;
  }
  int ue;            /* exponent of the row's ulp */
  int normal = 0;    /* the row is a normal row */
  int gap = 0;       /* the zero_only gap [0, 2^pmin] */
  if (p >= g.pmin) { /* (never for E = 0: ptop < pmin) */
    ue = p - g.M;
    normal = 1;
  } else if (g.zonly) {
    ue = g.pmin;
    gap = 1;
  } else {
    ue = g.pmin - g.M;
  }
  const int k = ue - e; /* fraction bits of Q below the ulp; >= 39 here */
  mls_u64 L, fr;
  int above_half, tie;
  if (k >= 64) {
    L = 0;
    fr = Q;
    above_half = 0;
    tie = 0;
  } else {
    L = Q >> k;
    fr = Q & ((((mls_u64)1) << k) - 1);
    const mls_u64 half_ulp = ((mls_u64)1) << (k - 1);
    above_half = fr > half_ulp || (fr == half_ulp && sticky);
    tie = fr == half_ulp && !sticky;
  }
  if (g.spec && ue == g.top_ue && L > g.lmax) return mls_beyond(g, mode, ovf); /* E4M3: 480 and above */
  const int inexact = fr != 0 || sticky;
  mls_u32 lo;
  if (normal)
    lo = (mls_u32)((((mls_u64)(p - g.pmin + g.efmin)) << g.M) + L - (((mls_u64)1) << g.M));
  else
    lo = (mls_u32)L;
  if (!inexact) return lo;
  if (!g.spec && ue == g.top_ue && L == g.lmax) { /* above q_max in the top row */
    *ovf = 1;
    return g.maxcode;
  }
  const mls_u32 hi = gap ? (1u << g.M) : lo + 1u;
  int away;
  switch (mode) {
    case MLS_MAG_RNE:
      away = above_half || (tie && !gap && (hi & 1u) == 0u);
      break;
    case MLS_MAG_RNA:
      away = above_half || tie;
      break;
    case MLS_MAG_RTZ:
      away = 0;
      break;
    case MLS_MAG_AWAY:
      away = 1;
      break;
    case MLS_MAG_RTO:
      away = (lo & 1u) == 0u;
      break;
    default: { /* sr: T + r >= 2^R, T = floor(t 2^R) (3.4) */
      const mls_u64 T = (k - R >= 64) ? 0 : (k >= 64 ? (Q >> (k - R)) : (fr >> (k - R)));
      const mls_u64 r = R == 32 ? (mls_u64)word : (mls_u64)(word >> (32 - R));
      away = T + r >= (((mls_u64)1) << R);
      break;
    }
  }
  const mls_u32 c = away ? hi : lo;
  if (g.spec && c > g.maxcode) *ovf = 1;
  return c;
}

/* Magnitude mode for a signed value (3.3: rup/rdn act on the sign). */
MLS_INLINE int mls_mag_mode(int mode, int neg) {
  if (mode == 3) return neg ? MLS_MAG_RTZ : MLS_MAG_AWAY; /* MLS_RUP */
  if (mode == 4) return neg ? MLS_MAG_AWAY : MLS_MAG_RTZ; /* MLS_RDN */
  return mode;
}

/* |fp32| = m 2^e (m < 2^24; m = 0 for zero) */
MLS_INLINE void mls_unpack32(mls_u32 bits, mls_u64* m, int* e) {
  const mls_u32 ef = (bits >> 23) & 0xffu, f = bits & 0x7fffffu;
  if (ef == 0) {
    *m = f;
    *e = -149;
  } else {
    *m = (mls_u64)(f | 0x800000u);
    *e = (int)ef - 150;
  }
}

/* Exact quotient X / D (X = xm 2^xe, 0 < xm < 2^24; D = dm 2^de, 0 < dm < 2^48)
 * as Q 2^e with the sticky bit: Q = floor(xm 2^86 / dm') by long division,
 * 16 quotient bits per step (the remainder stays below 2^48). */
MLS_INLINE mls_u64 mls_divide(mls_u64 xm, int xe, mls_u64 dm, int de, int* e, int* sticky) {
  const int sd = 48 - mls_bitlen64(dm);
  dm <<= sd;
  de -= sd;
  const int sx = 24 - mls_bitlen64(xm);
  xm <<= sx;
  xe -= sx;
  mls_u64 r = xm, q = 0;
  for (int i = 0; i < 5; ++i) {
    r <<= 16;
    q = (q << 16) | (r / dm);
    r %= dm;
  }
  r <<= 6;
  q = (q << 6) | (r / dm);
  r %= dm;
  *e = xe - de - 86;
  *sticky = r != 0;
  return q;
}

/* ---- group index of a linear element index ---------------------------------
 * lay: [rank, shape[0..7], gsz[0..7], tiles[0..7]] of the merged layout. */
MLS_INLINE mls_u64 mls_group_of(MLS_GPTR const mls_i64* lay, mls_u64 i) {
  const int r = (int)lay[0];
  mls_u64 g = 0, mult = 1;
  for (int d = r - 1; d >= 0; --d) {
    const mls_u64 s = (mls_u64)lay[1 + d];
    const mls_u64 c = i % s;
    i /= s;
    g += (c / (mls_u64)lay[9 + d]) * mult;
    mult *= (mls_u64)lay[17 + d];
  }
  return g;
}

/* ---- element and group-scale decoding for the sums ----------------------
 * A finite magnitude code of a grid is k 2^(pmin - M) with k = f in the row
 * below pmin (a grid with zero) and (2^M + f) 2^x above it, x = ef - efmin
 * (efmin 1 with zero, 0 without). xlo: a shift common to every code of an
 * operand's scales (the smallest x present, chosen by the host) taken out of
 * k and into the exponent, so that E8M0 scales of one tensor fit the sums. */
MLS_INLINE mls_u64 mls_code_k(mls_u32 mag, int M, int nozero, int xlo) {
  const mls_u32 ef = mag >> M, f = mag & ((1u << M) - 1u);
  if (ef == 0 && !nozero) return (mls_u64)f;
  const int x = (int)ef - (nozero ? 0 : 1);
  return ((mls_u64)(f | (1u << M))) << (x - xlo);
}
MLS_INLINE mls_u64 mls_elem_k(mls_u32 mag, int M) { return mls_code_k(mag, M, 0, 0); }

/* Rounds (sign, |V| 2^e) to fp32 (rne, IEEE overflow), V a 192-bit magnitude
 * (w2:w1:w0). Exact: the bits below the 63 kept ones fold into sticky. */
MLS_INLINE mls_u32 mls_round_wide_fp32(int neg, mls_u64 w2, mls_u64 w1, mls_u64 w0, int e) {
  if ((w2 | w1 | w0) == 0) return 0u; /* exact zero: +0 (6.8) */
  int sticky = 0;
  mls_u64 Q;
  /* bring the top word down to a 63-bit Q */
  while (w2 != 0 || w1 != 0) { /* shift right by 32 at a time: at most 5 steps */
    sticky |= (w0 & 0xffffffffu) != 0;
    w0 = (w0 >> 32) | (w1 << 32);
    w1 = (w1 >> 32) | (w2 << 32);
    w2 >>= 32;
    e += 32;
  }
  Q = w0;
  int o;
  const mls_u32 mag = mls_round_mag(mls_fp32_grid(), Q, e, sticky, MLS_MAG_RNE, 0, 0u, &o);
  return mag | (neg ? 0x80000000u : 0u);
}


/* ---- fp32 arithmetic from integers (the fp32 pipeline profiles, 4.12.1-2) --
 * IEEE binary32 multiply and divide, round to nearest even, gradual
 * underflow, overflow to Inf, NaN for 0 * Inf, 0 / 0 and Inf / Inf: the
 * exact product or quotient rounded once by mls_round_mag (no float
 * operation). Operands are the bit patterns of non-negative values. */
#define MLS_QNAN 0x7fc00000u
MLS_INLINE mls_u32 mls_fp32_mul(mls_u32 a, mls_u32 b) {
  if (a > 0x7f800000u || b > 0x7f800000u) return MLS_QNAN;
  if (a == 0x7f800000u || b == 0x7f800000u) return (a == 0u || b == 0u) ? MLS_QNAN : 0x7f800000u;
  mls_u64 am, bm;
  int ae, be, o;
  mls_unpack32(a, &am, &ae);
  mls_unpack32(b, &bm, &be);
  return mls_round_mag(mls_fp32_grid(), am * bm, ae + be, 0, MLS_MAG_RNE, 0, 0u, &o);
}
MLS_INLINE mls_u32 mls_fp32_div(mls_u32 a, mls_u32 b) {
  if (a > 0x7f800000u || b > 0x7f800000u) return MLS_QNAN;
  if (a == 0x7f800000u) return b == 0x7f800000u ? MLS_QNAN : 0x7f800000u;
  if (b == 0x7f800000u) return 0u;
  if (b == 0u) return a == 0u ? MLS_QNAN : 0x7f800000u;
  if (a == 0u) return 0u;
  mls_u64 am, bm;
  int ae, be, e, st, o;
  mls_unpack32(a, &am, &ae);
  mls_unpack32(b, &bm, &be);
  const mls_u64 Q = mls_divide(am, ae, bm, be, &e, &st);
  return mls_round_mag(mls_fp32_grid(), Q, e, st, MLS_MAG_RNE, 0, 0u, &o);
}

/* ---- quantize ----------------------------------------------------------------
 * P: [0..24] the layout, [25] E, [26] M, [27] bias, [28] element zero mode,
 * [29] Eg, [30] Mg, [31] scale policy (MLS_SCALE_*), [32] signed_zero
 * positive, [33] overflow policy (MLS_OVERFLOW_*), [34] mode, [35] R, [36]
 * static scale (1) or dynamic (0), [37] static bits, [39] element specials,
 * [40] scale bias, [41] scale zero mode, [42] scale specials, [43]
 * tensor_scale rule (MLS_TSCALE_*), [44] nonfinite (MLS_NONFINITE_*), [45]
 * qarith (0 exact, 1 fp32_div, 2 fp32_reciprocal).
 * misc: [0] max |x| bits, [1] first non-finite index (nonfinite = error), [2]
 * first overflow index (overflow = error), [3] S_t bits, [4] S_t overflow
 * flag, [5] first Inf input that the overflow policy cannot round. */
MLS_INLINE mls_grid mls_p_elem(MLS_GPTR const mls_i64* P) {
  return mls_mf_grid((int)P[25], (int)P[26], (int)P[27], (int)P[28], (int)P[39]);
}
MLS_INLINE mls_grid mls_p_scale(MLS_GPTR const mls_i64* P) {
  return mls_mf_grid((int)P[29], (int)P[30], (int)P[40], (int)P[41], (int)P[42]);
}

/* The magnitude of a scale code; P[46]: the sign bit of a signed scale grid (0: unsigned). */
MLS_INLINE mls_u32 mls_scale_mag(MLS_GPTR const mls_i64* P, mls_u32 code) {
  return P[46] ? code & ((1u << (int)P[46]) - 1u) : code;
}
MLS_INLINE int mls_scale_neg(MLS_GPTR const mls_i64* P, mls_u32 code) { return P[46] ? (int)((code >> (int)P[46]) & 1u) : 0; }

MLS_KERNEL void mls_qz_max(MLS_GPTR const mls_u32* x, MLS_GPTR mls_u32* gmax, MLS_GPTR mls_u32* misc,
                           MLS_GPTR const mls_i64* P, mls_u64 n) {
  const mls_u64 i = MLS_GID;
  if (i >= n) return;
  const mls_u32 a = x[i] & 0x7fffffffu;
  if (a >= 0x7f800000u && P[44] == 0) {
    MLS_ATOMIC_MIN(&misc[1], (mls_u32)i);
    return;
  }
  /* nonfinite = propagate (4.1.2): a NaN's bits are above every other
   * magnitude, so a group's maximum is a NaN iff the group holds one; an Inf
   * is the group maximum of a group without NaN. */
#ifdef MLS_BUG_NAN_BLOCK
  if (a > 0x7f800000u) return; /* seeded bug: a NaN is left out of its block's maximum (handled as finite) */
#endif
  MLS_ATOMIC_MAX(&gmax[mls_group_of(P, i)], a);
  if (a < 0x7f800000u) MLS_ATOMIC_MAX(&misc[0], a);
}

/* S_t (4.3 or 4.6): every work item computes it (cheap); item 0 stores it. */
MLS_INLINE mls_u32 mls_tensor_scale(MLS_GPTR const mls_i64* P, mls_u32 amax, int* ovf) {
  *ovf = 0;
  if (P[36]) return (mls_u32)P[37];
  if (amax == 0 || P[43] == 1) return 0x3f800000u; /* 4.2; tensor_scale = one */
  int qe, ge, ae, e, st;
  const mls_u64 qm = mls_grid_max(mls_p_elem(P), &qe), gm = mls_grid_max(mls_p_scale(P), &ge);
  mls_u64 am;
  mls_unpack32(amax, &am, &ae);
  const mls_u64 Q = mls_divide(am, ae, qm * gm, qe + ge, &e, &st);
  return mls_round_mag(mls_fp32_grid(), Q, e, st, MLS_MAG_AWAY, 0, 0u, ovf);
}

MLS_KERNEL void mls_qz_scales(MLS_GPTR const mls_u32* gmax, MLS_GPTR mls_u32* misc, MLS_GPTR mls_u32* gs_out,
                              MLS_GPTR const mls_i64* P, mls_u64 ngroups) {
  const mls_u64 g = MLS_GID;
  if (g >= ngroups) return;
  int ovf;
  const mls_u32 st = mls_tensor_scale(P, misc[0], &ovf);
  if (g == 0) {
    misc[3] = st;
    misc[4] = (mls_u32)ovf;
  }
  if (ovf) return;
  const mls_grid sg = mls_p_scale(P);
  mls_u32 a = gmax[g];
  if (a > 0x7f800000u) { /* 4.1.2: a NaN in the group makes its scale NaN */
    gs_out[g] = mls_grid_nan(sg);
    return;
  }
  if (a == 0x7f800000u) { /* an infinite group maximum saturates the scale */
    gs_out[g] = sg.maxcode;
    return;
  }
  if (a == 0) { /* a_G = 0: code 0 (g_min, or the zero of a scale grid with one) */
    gs_out[g] = 0u;
    return;
  }
  const mls_grid eg = mls_p_elem(P);
  const int pol = (int)P[31];
  mls_u64 am, tm;
  int ae, te, e, sticky, o, qe;
  mls_unpack32(a, &am, &ae);
  mls_unpack32(st, &tm, &te);
  mls_u64 qm = mls_grid_max(eg, &qe);
  if (pol >= 3) { /* ocp rules: D = 2^emax_elem = 2^floor(log2 q_max) */
    qe += mls_bitlen64(qm) - 1;
    qm = 1;
  }
  if (pol == 5) { /* ocp_even: a_G to M_elem + 1 significant bits, ties away (binary32 exponent range) */
    const int p = mls_bitlen64(am) - 1 + ae;
    const int ue = (p - eg.M > -126 - eg.M) ? p - eg.M : -126 - eg.M;
    const int k = ue - ae;
    if (k > 0) {
      const mls_u64 hb = (mls_u64)1 << (k - 1);
      am = (am + hb) >> k;
      ae = ue;
      if (am == 0) { /* below half the subnormal ulp: a_G becomes 0 */
        gs_out[g] = 0u;
        return;
      }
    }
  }
  const mls_u64 Q = mls_divide(am, ae, tm * qm, te + qe, &e, &sticky);
  const int mode = (pol == 0 || pol == 4) ? MLS_MAG_AWAY : (pol == 1 ? MLS_MAG_RNE : MLS_MAG_RTZ);
  const mls_u32 c = mls_round_mag(sg, Q, e, sticky, mode, 0, 0u, &o);
  gs_out[g] = o ? sg.maxcode : c; /* the scale saturates (3.5) */
}

MLS_KERNEL void mls_qz_elems(MLS_GPTR const mls_u32* x, MLS_GPTR const mls_u32* rnd, MLS_GPTR const mls_u32* gs,
                             MLS_GPTR mls_u32* misc, MLS_GPTR mls_u32* el_out, MLS_GPTR const mls_i64* P, mls_u64 n) {
  const mls_u64 i = MLS_GID;
  if (i >= n) return;
  const int E = (int)P[25], M = (int)P[26];
  const mls_u32 xb = x[i];
  const int neg = (int)(xb >> 31);
  const mls_u32 sign = (mls_u32)neg << (E + M);
  const mls_grid grid = mls_p_elem(P), sg = mls_p_scale(P);
  const mls_u32 gcode = mls_scale_mag(P, gs[mls_group_of(P, i)]); /* quantize writes non-negative scales */
  int pol = (int)P[33];
  if (mls_grid_is_nan(sg, gcode)) { /* 4.1.2: every element of a NaN group is code 0 */
    el_out[i] = 0u;
    return;
  }
  mls_u64 gm, xm, tm;
  int ge, xe, te, e, sticky, ovf = 0;
  mls_grid_value(sg, gcode, &gm, &ge);
  const int mode = mls_mag_mode((int)P[34], neg);
  const mls_u32 word = (P[34] == 6) ? rnd[i] : 0u;
  mls_u32 ax = xb & 0x7fffffffu;
  const int arith = (int)P[45];
  if (arith != 0 && ax != 0u) { /* 4.12.1-2: q = fl(x / fl(S_t S_g)) or fl(x * fl(1 / fl(S_t S_g))) */
    int o;
    mls_unpack32(misc[3], &tm, &te);
    const mls_u32 sb = gm == 0 ? 0u : mls_round_mag(mls_fp32_grid(), tm * gm, te + ge, 0, MLS_MAG_RNE, 0, 0u, &o);
    ax = arith == 1 ? mls_fp32_div(ax, sb) : mls_fp32_mul(ax, mls_fp32_div(0x3f800000u, sb));
    gm = 1;
    ge = 0;
    tm = 1;
    te = 0;
  } else if (gm == 0) { /* 4.5.1: a zero group scale makes every element of its group a zero */
    el_out[i] = (neg && !P[32]) ? sign : 0u;
    return;
  } else {
    mls_unpack32(misc[3], &tm, &te);
  }
  mls_u32 mag;
  if (ax > 0x7f800000u) { /* a NaN quotient (fp32 profiles): the grid's NaN, else an error */
    if (!grid.spec) {
      MLS_ATOMIC_MIN(&misc[5], (mls_u32)i);
      el_out[i] = 0u;
      return;
    }
    el_out[i] = mls_grid_nan(grid) | sign;
    return;
  }
  if (ax == 0x7f800000u) { /* 3.10: Inf by the overflow policy */
    if (pol == 0) mag = grid.maxcode;
    else if (pol == 2 && grid.ieee) mag = mls_grid_inf(grid);
    else if (pol == 3 && grid.spec) mag = mls_grid_nan(grid);
    else {
      MLS_ATOMIC_MIN(&misc[5], (mls_u32)i);
      mag = 0u;
    }
    el_out[i] = mag | sign;
    return;
  }
  mls_unpack32(ax, &xm, &xe);
  if (xm == 0) {
    mag = 0u;
  } else {
#ifdef MLS_NAIVE
    /* The lesson: q = |x| * (1 / (S_t S_g)) in fp32, then rounded exactly. */
    const float sc = MLS_AS_FLOAT(misc[3]) * MLS_LDEXPF((float)gm, ge);
    const float q = (MLS_AS_FLOAT(ax)) * (1.0f / sc);
    mls_u64 qm;
    int qe;
    mls_unpack32(MLS_AS_UINT(q), &qm, &qe);
    (void)tm;
    (void)te;
    (void)e;
    (void)sticky;
    mag = mls_round_mag(grid, qm, qe, 0, mode, (int)P[35], word, &ovf);
#else
    const mls_u64 Q = mls_divide(xm, xe, tm * gm, te + ge, &e, &sticky);
    mag = mls_round_mag(grid, Q, e, sticky, mode, (int)P[35], word, &ovf);
#endif
  }
  if (ovf) {
#ifdef MLS_BUG_E4M3_NAN
    /* seeded bug: an overflow of a NaN-coded element goes to NaN, not saturation */
    if (grid.spec && pol == 0) pol = 3;
#endif
    if (pol == 1) MLS_ATOMIC_MIN(&misc[2], (mls_u32)i);
    if (pol == 2) mag = mls_grid_inf(grid);
    else if (pol == 3) mag = mls_grid_nan(grid);
    else mag = grid.maxcode;
  }
  const int keep_sign = neg && !(mag == 0u && P[32]);
  el_out[i] = mag | (keep_sign ? sign : 0u);
}

/* ---- dequantize (4.7): RN_fp32(S_t S_g elem), a zero keeps its code's sign;
 * 4.7.1: NaN for a NaN scale or element, +-Inf for an Inf element (NaN with
 * a zero scale). P: as quantize, [38] S_t. */
MLS_KERNEL void mls_dequant(MLS_GPTR const mls_u32* el, MLS_GPTR const mls_u32* gs, MLS_GPTR mls_u32* y,
                            MLS_GPTR const mls_i64* P, mls_u64 n) {
  const mls_u64 i = MLS_GID;
  if (i >= n) return;
  const int E = (int)P[25], M = (int)P[26];
  const mls_grid grid = mls_p_elem(P), sg = mls_p_scale(P);
  const mls_u32 code = el[i];
  const int neg = (int)((code >> (E + M)) & 1u);
  const mls_u32 mag = code & ((1u << (E + M)) - 1u);
  const mls_u32 graw = gs[mls_group_of(P, i)], gcode = mls_scale_mag(P, graw);
  if (mls_grid_is_nan(sg, gcode) || mls_grid_is_nan(grid, mag)) {
    y[i] = MLS_QNAN;
    return;
  }
  mls_u64 gm, em, tm;
  int ge, ee, te;
  mls_grid_value(sg, gcode, &gm, &ge);
  if (mls_grid_is_inf(grid, mag)) {
    y[i] = gm == 0 ? MLS_QNAN : (0x7f800000u | ((neg ^ mls_scale_neg(P, graw)) ? 0x80000000u : 0u));
    return;
  }
  mls_grid_value(grid, mag, &em, &ee);
  if (em == 0 || gm == 0) {
    y[i] = neg ? 0x80000000u : 0u;
    return;
  }
  mls_unpack32((mls_u32)P[38], &tm, &te);
  const mls_u128 prod = mls_mul64(tm * gm, em); /* exact, < 2^72 */
  y[i] = mls_round_wide_fp32(neg ^ mls_scale_neg(P, graw), 0, prod.hi, prod.lo, te + ge + ee);
}

/* ---- conv2d / gemm (6.4-6.8, profile exact) -------------------------------
 * One work item per output. Each term k_a k_b (an exact integer, 6.5) is added
 * to the segment sum P (128-bit); at a segment end (6.6) P gs_a gs_b joins the
 * total (128-bit); the total times the tensor scales' significands is rounded
 * once to fp32 (6.8). The host guarantees (bit lengths) that no sum exceeds
 * 2^126.
 * P layout: [0..24] layout of a, [25..49] layout of b, [50] pass (0 fwd,
 * 1 bwd_data, 2 bwd_weight, 3 gemm), [51..] N C H W O KH KW OH OW G Cg Og
 * sh sw ph pw dh dw (51..68), a: [70] E [71] M [72] bias, b: [73] E [74] M
 * [75] bias, [76] Mg_a [77] Mg_b, [78] mt_a mt_b product (< 2^48), [79] final
 * exponent, [80] Eg_a [81] Eg_b, [82] S_t^a bits [83] S_t^b bits, zero modes of [84] a's elements
 * [85] b's elements [86] a's scales [87] b's scales, [88] xlo of a's scales
 * [89] of b's, ulp exponents (pmin - M, + xlo for scales) of [90] a's
 * elements [91] b's [92] a's scales [93] b's. gemm: [51] M, [52] K, [53] N. */
typedef struct {
  mls_u128 total, seg;
  mls_u64 ga, gb;
  int open;
#ifdef MLS_NAIVE
  float fsum;
#endif
} mls_acc;

MLS_INLINE void mls_acc_flush(mls_acc* s, MLS_GPTR const mls_i64* P, MLS_GPTR const mls_u32* a_gs,
                              MLS_GPTR const mls_u32* b_gs) {
  if (!s->open) return;
  const mls_u32 ca = a_gs[s->ga], cb = b_gs[s->gb];
  const int sa = P[94] ? (int)((ca >> (int)P[94]) & 1u) : 0, sb = P[95] ? (int)((cb >> (int)P[95]) & 1u) : 0;
  const mls_u64 g = mls_code_k(P[94] ? ca & ((1u << (int)P[94]) - 1u) : ca, (int)P[76], P[86] == 2, (int)P[88]);
  const mls_u64 h = mls_code_k(P[95] ? cb & ((1u << (int)P[95]) - 1u) : cb, (int)P[77], P[87] == 2, (int)P[89]);
  const int neg = ((s->seg.hi >> 63) != 0) ^ sa ^ sb;
  const int segneg = (s->seg.hi >> 63) != 0;
  mls_u128 m = segneg ? mls_neg128(s->seg) : s->seg;
  m = mls_mul128_64(mls_mul128_64(m, g), h);
  s->total = mls_add128(s->total, neg ? mls_neg128(m) : m);
  s->seg.lo = 0;
  s->seg.hi = 0;
  s->open = 0;
}

MLS_INLINE void mls_acc_term(mls_acc* s, MLS_GPTR const mls_i64* P, MLS_GPTR const mls_u32* a_el,
                             MLS_GPTR const mls_u32* a_gs, MLS_GPTR const mls_u32* b_el,
                             MLS_GPTR const mls_u32* b_gs, mls_u64 ia, mls_u64 ib) {
  const mls_u64 ga = mls_group_of(P, ia), gb = mls_group_of(P + 25, ib);
  const int Ma = (int)P[71], Mb = (int)P[74], Mga = (int)P[76], Mgb = (int)P[77];
  (void)Mga;
  (void)Mgb;
  const int wa = (int)P[70] + Ma, wb = (int)P[73] + Mb;
  const mls_u32 ca = a_el[ia], cb = b_el[ib];
#ifdef MLS_NAIVE
  /* The lesson: decode both values to fp32 and sum fp32 products in order. */
  {
    const mls_u64 ka = mls_code_k(ca & ((1u << wa) - 1u), Ma, P[84] == 2, 0);
    const mls_u64 kb = mls_code_k(cb & ((1u << wb) - 1u), Mb, P[85] == 2, 0);
    float va = MLS_LDEXPF((float)ka, (int)P[90]) *
               MLS_LDEXPF((float)mls_code_k(a_gs[ga], Mga, P[86] == 2, (int)P[88]), (int)P[92]);
    float vb = MLS_LDEXPF((float)kb, (int)P[91]) *
               MLS_LDEXPF((float)mls_code_k(b_gs[gb], Mgb, P[87] == 2, (int)P[89]), (int)P[93]);
    if ((ca >> wa) & 1u) va = -va;
    if ((cb >> wb) & 1u) vb = -vb;
    s->fsum += (MLS_AS_FLOAT((mls_u32)P[82]) * va) * (MLS_AS_FLOAT((mls_u32)P[83]) * vb);
    return;
  }
#endif
  if (s->open && (ga != s->ga || gb != s->gb)) mls_acc_flush(s, P, a_gs, b_gs);
  s->ga = ga;
  s->gb = gb;
  s->open = 1;
  const mls_u64 ka = mls_code_k(ca & ((1u << wa) - 1u), Ma, P[84] == 2, 0);
  const mls_u64 kb = mls_code_k(cb & ((1u << wb) - 1u), Mb, P[85] == 2, 0);
  if (ka == 0 || kb == 0) return;
  const mls_u128 p = mls_mul64(ka, kb);
  const int neg = (int)(((ca >> wa) ^ (cb >> wb)) & 1u);
  s->seg = mls_add128(s->seg, neg ? mls_neg128(p) : p);
}

MLS_KERNEL void mls_conv(MLS_GPTR const mls_u32* a_el, MLS_GPTR const mls_u32* a_gs, MLS_GPTR const mls_u32* b_el,
                         MLS_GPTR const mls_u32* b_gs, MLS_GPTR mls_u32* y, MLS_GPTR const mls_i64* P,
                         mls_u64 nout) {
  const mls_u64 idx = MLS_GID;
  if (idx >= nout) return;
  mls_acc s;
  s.total.lo = s.total.hi = 0;
  s.seg.lo = s.seg.hi = 0;
  s.ga = s.gb = 0;
  s.open = 0;
#ifdef MLS_NAIVE
  s.fsum = 0.0f;
#endif
  const int pass = (int)P[50];
  if (pass == 3) { /* gemm: C[m, j] = sum_k A[m, k] B[k, j] */
    const mls_i64 K = P[52], Nn = P[53];
    const mls_i64 m = (mls_i64)idx / Nn, j = (mls_i64)idx % Nn;
    for (mls_i64 k = 0; k < K; ++k)
      mls_acc_term(&s, P, a_el, a_gs, b_el, b_gs, (mls_u64)(m * K + k), (mls_u64)(k * Nn + j));
  } else {
    const mls_i64 N = P[51], C = P[52], H = P[53], W = P[54], O = P[55], KH = P[56], KW = P[57], OH = P[58],
                  OW = P[59], Cg = P[61], Og = P[62], sh = P[63], sw = P[64], ph = P[65], pw = P[66], dh = P[67],
                  dw = P[68];
    (void)N;
    if (pass == 0) { /* Y[n, o, oh, ow]: cg, kh, kw */
      mls_i64 r = (mls_i64)idx;
      const mls_i64 ow = r % OW;
      r /= OW;
      const mls_i64 oh = r % OH;
      r /= OH;
      const mls_i64 o = r % O, n = r / O;
      const mls_i64 g = o / Og;
      for (mls_i64 cg = 0; cg < Cg; ++cg)
        for (mls_i64 kh = 0; kh < KH; ++kh) {
          const mls_i64 ih = oh * sh - ph + kh * dh;
          if (ih < 0 || ih >= H) continue;
          for (mls_i64 kw = 0; kw < KW; ++kw) {
            const mls_i64 iw = ow * sw - pw + kw * dw;
            if (iw < 0 || iw >= W) continue;
            const mls_i64 c = g * Cg + cg;
            mls_acc_term(&s, P, a_el, a_gs, b_el, b_gs, (mls_u64)(((n * C + c) * H + ih) * W + iw),
                         (mls_u64)(((o * Cg + cg) * KH + kh) * KW + kw));
          }
        }
    } else if (pass == 1) { /* dA[n, c, h, w]: og, kh, kw */
      mls_i64 r = (mls_i64)idx;
      const mls_i64 w = r % W;
      r /= W;
      const mls_i64 h = r % H;
      r /= H;
      const mls_i64 c = r % C, n = r / C;
      const mls_i64 g = c / Cg, cg = c % Cg;
      for (mls_i64 og = 0; og < Og; ++og)
        for (mls_i64 kh = 0; kh < KH; ++kh) {
          const mls_i64 th = h + ph - kh * dh;
          if (th < 0 || th % sh != 0 || th / sh >= OH) continue;
          const mls_i64 oh = th / sh;
          for (mls_i64 kw = 0; kw < KW; ++kw) {
            const mls_i64 tw = w + pw - kw * dw;
            if (tw < 0 || tw % sw != 0 || tw / sw >= OW) continue;
            const mls_i64 ow = tw / sw, o = g * Og + og;
            mls_acc_term(&s, P, a_el, a_gs, b_el, b_gs, (mls_u64)(((n * O + o) * OH + oh) * OW + ow),
                         (mls_u64)(((o * Cg + cg) * KH + kh) * KW + kw));
          }
        }
    } else { /* dW[o, cg, kh, kw]: n, oh, ow */
      mls_i64 r = (mls_i64)idx;
      const mls_i64 kw = r % KW;
      r /= KW;
      const mls_i64 kh = r % KH;
      r /= KH;
      const mls_i64 cg = r % Cg, o = r / Cg;
      const mls_i64 c = (o / Og) * Cg + cg;
      for (mls_i64 n = 0; n < N; ++n)
        for (mls_i64 oh = 0; oh < OH; ++oh) {
          const mls_i64 ih = oh * sh - ph + kh * dh;
          if (ih < 0 || ih >= H) continue;
          for (mls_i64 ow = 0; ow < OW; ++ow) {
            const mls_i64 iw = ow * sw - pw + kw * dw;
            if (iw < 0 || iw >= W) continue;
            mls_acc_term(&s, P, a_el, a_gs, b_el, b_gs, (mls_u64)(((n * C + c) * H + ih) * W + iw),
                         (mls_u64)(((n * O + o) * OH + oh) * OW + ow));
          }
        }
    }
  }
#ifdef MLS_NAIVE
  y[idx] = MLS_AS_UINT(s.fsum);
  return;
#endif
  mls_acc_flush(&s, P, a_gs, b_gs);
  const int neg = (s.total.hi >> 63) != 0;
  const mls_u128 t = neg ? mls_neg128(s.total) : s.total;
  /* |total| * (mt_a mt_b): 128 x 48 bits -> three words */
  const mls_u64 ms = (mls_u64)P[78];
  const mls_u128 l = mls_mul64(t.lo, ms), h = mls_mul64(t.hi, ms);
  const mls_u64 w1 = l.hi + h.lo;
  const mls_u64 w2 = h.hi + (w1 < l.hi ? 1 : 0);
  y[idx] = mls_round_wide_fp32(neg, w2, w1, l.lo, (int)P[79]);
}
