// An independent oracle for the convolution tests: its own decoder of
// element, group-scale and fp32 codes (spec/01-minifloat.md formulas), its
// own group tiling, plain exact sums on cpp_int (no segments, no Dyadic, no
// code of the library beyond the MlsTensor/Format data structures), the
// three passes written as one scatter over the common index set, and fp32
// rounding by MPFR.
#pragma once
#include <mpfr.h>

#include <boost/multiprecision/cpp_int.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "mls/conv.hpp"
#include "mls/tensor.hpp"

namespace conv_oracle {

using boost::multiprecision::cpp_int;

// The value m * 2^e.
struct TV {
  cpp_int m = 0;
  int64_t e = 0;
};

inline TV add(const TV& a, const TV& b) {
  if (a.m == 0) return b;
  if (b.m == 0) return a;
  if (a.e >= b.e) return {(a.m << static_cast<unsigned>(a.e - b.e)) + b.m, b.e};
  return {a.m + (b.m << static_cast<unsigned>(b.e - a.e)), a.e};
}
inline TV mul(const TV& a, const TV& b) { return {a.m * b.m, a.e + b.e}; }
inline TV norm(TV v) {
  if (v.m == 0) return {0, 0};
  while ((v.m & 1) == 0) {
    v.m >>= 1;
    ++v.e;
  }
  return v;
}
inline bool same(const TV& a, const mls::Dyadic& d) {
  const TV x = norm(a), y = norm(TV{d.m, d.e});
  return x.m == y.m && x.e == y.e;
}
inline std::string str(const TV& v) {
  const TV n = norm(v);
  return n.m.str() + "*2^" + std::to_string(n.e);
}

// Spec 1: (-1)^s 2^(e-b) (1 + f/2^M) for e >= 1 (or any e when zero = none);
// (-1)^s 2^(1-b) f/2^M for e = 0 otherwise.
inline TV minifloat_value(const mls::Minifloat& f, uint64_t code) {
  const int E = f.exp_bits, M = f.man_bits;
  const bool neg = f.is_signed && ((code >> (E + M)) & 1);
  const uint64_t e = (code >> M) & ((uint64_t(1) << E) - 1);
  const uint64_t frac = code & ((uint64_t(1) << M) - 1);
  TV v;
  if (e == 0 && f.zero != mls::ZeroMode::none) {
    v = {cpp_int(frac), 1 - f.bias - M};
  } else {
    v = {cpp_int(frac) + (cpp_int(1) << M), static_cast<int64_t>(e) - f.bias - M};
  }
  if (neg) v.m = -v.m;
  return v;
}

inline TV fp32_value(uint32_t bits) {
  const uint32_t e = (bits >> 23) & 0xff, frac = bits & 0x7fffff;
  TV v = e == 0 ? TV{cpp_int(frac), -149} : TV{cpp_int(frac | 0x800000u), int64_t(e) - 150};
  if (bits >> 31) v.m = -v.m;
  return v;
}

// Spec 2: tiles of the group shape (0 = whole axis; empty = 1,1,0,.. for rank >= 2),
// numbered row-major over the tile grid.
inline std::vector<int64_t> group_ids(const mls::MlsTensor& t) {
  const size_t r = t.shape.size();
  std::vector<int64_t> gs = t.format.group_shape;
  if (gs.empty()) {
    gs.assign(r, 0);
    if (r >= 2) gs[0] = gs[1] = 1;
  }
  std::vector<int64_t> tiles(r);
  for (size_t i = 0; i < r; ++i) {
    if (gs[i] == 0 || gs[i] > t.shape[i]) gs[i] = t.shape[i];
    tiles[i] = (t.shape[i] + gs[i] - 1) / gs[i];
  }
  int64_t n = 1;
  for (auto s : t.shape) n *= s;
  std::vector<int64_t> ids(n);
  std::vector<int64_t> index(r, 0);
  for (int64_t lin = 0; lin < n; ++lin) {
    int64_t g = 0;
    for (size_t i = 0; i < r; ++i) g = g * tiles[i] + index[i] / gs[i];
    ids[lin] = g;
    for (size_t i = r; i-- > 0;) {  // odometer
      if (++index[i] < t.shape[i]) break;
      index[i] = 0;
    }
  }
  return ids;
}

// Exact S_t * S_g * elem of every element.
inline std::vector<TV> values(const mls::MlsTensor& t) {
  const std::vector<int64_t> g = group_ids(t);
  const TV st = fp32_value(t.tensor_scale);
  std::vector<TV> v(t.elements.size());
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = mul(mul(st, minifloat_value(t.format.group_scale, t.group_scales[g[i]])),
               minifloat_value(t.format.element, t.elements[i]));
  return v;
}

struct Geo {
  int64_t N, C, H, W, O, KH, KW, G, sh, sw, ph, pw, dh, dw;
  int64_t OH() const { return (H + 2 * ph - dh * (KH - 1) - 1) / sh + 1; }
  int64_t OW() const { return (W + 2 * pw - dw * (KW - 1) - 1) / sw + 1; }
  int64_t Cg() const { return C / G; }
  int64_t Og() const { return O / G; }
  mls::Conv2dParams params(mls::ConvPass pass) const {
    mls::Conv2dParams p;
    p.pass = pass;
    p.stride = {sh, sw};
    p.padding = {ph, pw};
    p.dilation = {dh, dw};
    p.groups = G;
    if (pass == mls::ConvPass::bwd_data) p.out_shape = {N, C, H, W};
    if (pass == mls::ConvPass::bwd_weight) p.out_shape = {O, Cg(), KH, KW};
    return p;
  }
  mls::Shape a_shape() const { return {N, C, H, W}; }
  mls::Shape w_shape() const { return {O, Cg(), KH, KW}; }
  mls::Shape y_shape() const { return {N, O, OH(), OW()}; }
};

// All three passes as one scatter over (n, g, og, cg, oh, ow, kh, kw) with the
// input position in range: Y += A W, dA += dY W, dW += A dY.
inline std::vector<TV> naive_conv(mls::ConvPass pass, const Geo& g, const std::vector<TV>& x,
                                  const std::vector<TV>& y) {
  const int64_t OH = g.OH(), OW = g.OW(), Cg = g.Cg(), Og = g.Og();
  std::vector<TV> out(pass == mls::ConvPass::fwd        ? g.N * g.O * OH * OW
                      : pass == mls::ConvPass::bwd_data ? g.N * g.C * g.H * g.W
                                                        : g.O * Cg * g.KH * g.KW);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t grp = 0; grp < g.G; ++grp)
      for (int64_t og = 0; og < Og; ++og)
        for (int64_t cg = 0; cg < Cg; ++cg)
          for (int64_t oh = 0; oh < OH; ++oh)
            for (int64_t ow = 0; ow < OW; ++ow)
              for (int64_t kh = 0; kh < g.KH; ++kh)
                for (int64_t kw = 0; kw < g.KW; ++kw) {
                  const int64_t ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
                  if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                  const int64_t o = grp * Og + og, c = grp * Cg + cg;
                  const int64_t ia = ((n * g.C + c) * g.H + ih) * g.W + iw;
                  const int64_t iwt = ((o * Cg + cg) * g.KH + kh) * g.KW + kw;
                  const int64_t iy = ((n * g.O + o) * OH + oh) * OW + ow;
                  switch (pass) {
                    case mls::ConvPass::fwd: out[iy] = add(out[iy], mul(x[ia], y[iwt])); break;        // x=A, y=W
                    case mls::ConvPass::bwd_data: out[ia] = add(out[ia], mul(x[iy], y[iwt])); break;   // x=dY, y=W
                    case mls::ConvPass::bwd_weight: out[iwt] = add(out[iwt], mul(x[ia], y[iy])); break;  // x=A, y=dY
                  }
                }
  return out;
}

inline std::vector<TV> naive_gemm(int64_t M, int64_t K, int64_t N, const std::vector<TV>& a, const std::vector<TV>& b) {
  std::vector<TV> c(M * N);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k) c[i * N + j] = add(c[i * N + j], mul(a[i * K + k], b[k * N + j]));
  return c;
}

// binary32 nearest-even rounding of an exact value by MPFR (+0 for zero).
inline uint32_t mpfr_fp32(const TV& v, mpfr_rnd_t rnd = MPFR_RNDN) {
  if (v.m == 0) return 0;
  const mpfr_exp_t old_min = mpfr_get_emin(), old_max = mpfr_get_emax();
  mpfr_set_emin(-148);
  mpfr_set_emax(128);
  mpfr_t x;
  mpfr_init2(x, 24);
  const cpp_int mag = v.m < 0 ? cpp_int(-v.m) : v.m;
  const std::string s = (v.m < 0 ? "-" : "") + mag.str(0, std::ios_base::hex) + "p" + std::to_string(v.e);
  char* end = nullptr;
  const int inex = mpfr_strtofr(x, s.c_str(), &end, 16, rnd);  // the ternary value (mpfr_set_str returns 0/-1)
  mpfr_subnormalize(x, inex, rnd);
  const float f = mpfr_get_flt(x, rnd);
  mpfr_clear(x);
  mpfr_set_emin(old_min);
  mpfr_set_emax(old_max);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

// A random valid MLS tensor: random valid element codes, group-scale codes and
// a tensor scale 2^k * (1 + f/2^23) with k drawn from [kmin, kmax].
inline mls::MlsTensor random_tensor(std::mt19937_64& rng, const mls::Format& f, const mls::Shape& shape,
                                    int kmin = -8, int kmax = 8, double zero_fraction = 0.1) {
  mls::MlsTensor t;
  t.format = f;
  t.shape = shape;
  const mls::GroupLayout layout(f, shape);
  const int64_t n = mls::element_count(shape);
  const uint32_t gcodes = static_cast<uint32_t>(f.group_scale.code_count());
  for (int64_t g = 0; g < layout.group_count; ++g) t.group_scales.push_back(static_cast<uint32_t>(rng() % gcodes));
  const uint64_t ecodes = f.element.code_count();
  std::uniform_real_distribution<double> u01(0, 1);
  for (int64_t i = 0; i < n; ++i) {
    uint64_t c = rng() % ecodes;
    if (!f.element.is_valid_code(c) || u01(rng) < zero_fraction) c = (rng() & 1) ? f.element.sign_bit() : 0;
    t.elements.push_back(static_cast<uint32_t>(c));
  }
  const int k = kmin + static_cast<int>(rng() % static_cast<uint64_t>(kmax - kmin + 1));
  const uint32_t frac = static_cast<uint32_t>(rng() & 0x7fffff);
  t.tensor_scale = k >= -126 ? (static_cast<uint32_t>(k + 127) << 23) | frac : (0x400000u >> (-127 - k)) | 1u;
  t.validate();
  return t;
}

}  // namespace conv_oracle
