// Internal to the golden model: the canonical reduction walk of every output
// (spec/06-conv.md 6.4, 6.6) and the operands prepared for it. Shared by the
// exact engines (conv.cpp) and the accumulator model (accum.cpp).
#pragma once
#include <cstdint>
#include <vector>

#include "mls/conv.hpp"

namespace mls::detail {

// One reduction: conv2d in one of its passes, or GEMM.
struct Reduction {
  enum class Kind { fwd, bwd_data, bwd_weight, gemm };
  Kind kind = Kind::fwd;
  ConvGeometry g;                      // conv passes
  int64_t M = 0, K = 0, Ncols = 0;     // gemm
  Shape out_shape;
  int64_t out_count = 0;
  int64_t max_terms = 0;               // upper bound on the in-range terms of one output

  static Reduction conv(const ConvGeometry& g);
  static Reduction gemm(const Shape& a_shape, const Shape& b_shape);

  // 6.6: calls f(ia, ib) for the in-range terms of output `out` in canonical
  // order; ia, ib are row-major element indices into a and b. Padding
  // positions (6.4) are skipped: they contribute exactly zero and neither end
  // nor start a segment.
  template <class F>
  void walk(int64_t out, F&& f) const {
    switch (kind) {
      case Kind::fwd: {  // out = (n, o, oh, ow); order c, kh, kw (c within o's group)
        const int64_t ow = out % g.OW, oh = (out / g.OW) % g.OH, o = (out / (g.OW * g.OH)) % g.O,
                      n = out / (g.OW * g.OH * g.O);
        const int64_t grp = o / g.Og;
        for (int64_t cg = 0; cg < g.Cg; ++cg) {
          const int64_t c = grp * g.Cg + cg;
          for (int64_t kh = 0; kh < g.KH; ++kh) {
            const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
            if (ih < 0 || ih >= g.H) continue;
            const int64_t arow = ((n * g.C + c) * g.H + ih) * g.W;
            const int64_t brow = ((o * g.Cg + cg) * g.KH + kh) * g.KW;
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              const int64_t iw = ow * g.sw - g.pw + kw * g.dw;
              if (iw < 0 || iw >= g.W) continue;
              f(arow + iw, brow + kw);
            }
          }
        }
        break;
      }
      case Kind::bwd_data: {  // out = (n, c, h, w); order o, kh, kw (o within c's group)
        const int64_t w = out % g.W, h = (out / g.W) % g.H, c = (out / (g.W * g.H)) % g.C,
                      n = out / (g.W * g.H * g.C);
        const int64_t grp = c / g.Cg, cg = c % g.Cg;
        // h + ph - kh dh = oh sh with 0 <= oh < OH (6.4); -1 where no such oh exists.
        auto oh_of = [&](int64_t kh) {
          const int64_t t = h + g.ph - kh * g.dh;
          return (t < 0 || t % g.sh != 0 || t / g.sh >= g.OH) ? int64_t(-1) : t / g.sh;
        };
        auto ow_of = [&](int64_t kw) {
          const int64_t t = w + g.pw - kw * g.dw;
          return (t < 0 || t % g.sw != 0 || t / g.sw >= g.OW) ? int64_t(-1) : t / g.sw;
        };
        // The same for every o: tabulated once per output for the usual small kernels.
        constexpr int64_t kTab = 16;
        int64_t ohs[kTab], ows[kTab];
        const bool tab = g.KH <= kTab && g.KW <= kTab;
        if (tab) {
          for (int64_t kh = 0; kh < g.KH; ++kh) ohs[kh] = oh_of(kh);
          for (int64_t kw = 0; kw < g.KW; ++kw) ows[kw] = ow_of(kw);
        }
        for (int64_t og = 0; og < g.Og; ++og) {
          const int64_t o = grp * g.Og + og;
          for (int64_t kh = 0; kh < g.KH; ++kh) {
            const int64_t oh = tab ? ohs[kh] : oh_of(kh);
            if (oh < 0) continue;
            const int64_t arow = ((n * g.O + o) * g.OH + oh) * g.OW;
            const int64_t brow = ((o * g.Cg + cg) * g.KH + kh) * g.KW;
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              const int64_t ow = tab ? ows[kw] : ow_of(kw);
              if (ow < 0) continue;
              f(arow + ow, brow + kw);
            }
          }
        }
        break;
      }
      case Kind::bwd_weight: {  // out = (o, cg, kh, kw); order n, oh, ow
        const int64_t kw = out % g.KW, kh = (out / g.KW) % g.KH, cg = (out / (g.KW * g.KH)) % g.Cg,
                      o = out / (g.KW * g.KH * g.Cg);
        const int64_t c = (o / g.Og) * g.Cg + cg;
        for (int64_t n = 0; n < g.N; ++n) {
          for (int64_t oh = 0; oh < g.OH; ++oh) {
            const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
            if (ih < 0 || ih >= g.H) continue;
            const int64_t arow = ((n * g.C + c) * g.H + ih) * g.W;
            const int64_t brow = ((n * g.O + o) * g.OH + oh) * g.OW;
            for (int64_t ow = 0; ow < g.OW; ++ow) {
              const int64_t iw = ow * g.sw - g.pw + kw * g.dw;
              if (iw < 0 || iw >= g.W) continue;
              f(arow + iw, brow + ow);
            }
          }
        }
        break;
      }
      case Kind::gemm: {  // out = (m, j); order k
        const int64_t m = out / Ncols, j = out % Ncols;
        for (int64_t k = 0; k < K; ++k) f(m * K + k, k * Ncols + j);
        break;
      }
    }
  }
};

// An operand prepared for the reduction: the group of every element, exact
// element and group-scale values, and the tensor scale (2.x, 6.5, 6.7).
struct Operand {
  std::vector<int64_t> group;       // GroupLayout::group_of(i)
  std::vector<int64_t> elem_mant;   // element i = elem_mant[i] * 2^elem_exp[i] (signed integer mantissa)
  std::vector<int64_t> elem_exp;
  std::vector<Dyadic> gscale;       // S_g per group
  Dyadic tscale;                    // S_t
};
// `name` ("a" or "b") prefixes error messages. The tensor is validated.
Operand prepare_operand(const MlsTensor& t, const char* name);

// The reduction for a pass / for GEMM, operands checked against it.
Reduction conv_reduction(const MlsTensor& a, const MlsTensor& b, const Conv2dParams& p);
Reduction gemm_reduction(const MlsTensor& a, const MlsTensor& b);

// Exact values of all outputs (6.7) with the chosen engine.
std::vector<Dyadic> exact_values(const Reduction& r, const Operand& a, const Operand& b, ExactEngine engine);

// 6.9.1: v * 2^-k (k > 0) rounded to an integer (rtz rdn rup rne rna); equal
// to round_to_integer (3.2 on an integer grid), which the tests check.
template <class I>
I align_down(const I& v, int64_t k, RoundingMode mode);
extern template __int128 align_down<__int128>(const __int128&, int64_t, RoundingMode);
extern template BigInt align_down<BigInt>(const BigInt&, int64_t, RoundingMode);

// The accumulator profile (6.9): fp32 bits of every output.
std::vector<uint32_t> accumulator_model(const Reduction& r, const Operand& a, const Operand& b,
                                        const ArithProfile& arith);

}  // namespace mls::detail
