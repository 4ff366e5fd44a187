// mls-rtl host side of GEMM and conv2d: argument checks (host kit), the
// arithmetic profile, and the lowering of every output onto the RTL
// dot-product unit: one output per dot product, its in-range terms in the
// canonical order of spec/06-conv.md 6.6 (fwd: cg, kh, kw; bwd_data: og, kh,
// kw; bwd_weight: n, oh, ow; gemm: k), `seg_end` where either operand's group
// changes (padding positions are not part of the walk), `last` on the
// output's last term. The unit does all the arithmetic: products, alignment,
// the intra-group register, group scales, the exact inter-group sum, the
// tensor scales and the final fp32 rounding. An output whose walk is empty
// (all padding) gets one zero term (code 0 times code 0): an exact zero,
// which the unit returns as +0 (6.7, 6.9.4).
#include <algorithm>

#include "host.hpp"
#include "hostkit.hpp"
#include "rtl_units.hpp"

namespace mlsrtl {
namespace {

using mlshost::bad;
using mlshost::FormatDesc;
using mlshost::num;
using mlshost::TensorView;

struct Profile {
  bool exact = true;
  int64_t F = 0, W = 0;
  int ovf = 0;  // 0 saturate 1 wrap 2 error
  uint32_t align = MLS_RTZ, final_mode = MLS_RNE;
};

Profile profile_of(const char* arith) {
  const mlshost::Arith a = mlshost::read_arith(arith);
  Profile p;
  if (a.exact) return p;
  if (a.inter_group_fp32)
    mlshost::unsupported("mls-rtl's dot-product unit sums segments exactly: arith.inter_group = fp32 is not built");
  p.exact = false;
  p.F = a.frac_bits;
  p.W = a.width;
  p.ovf = a.overflow;
  p.align = static_cast<uint32_t>(a.alignment);  // the unit's codes are the C ABI's: 0 rne 1 rna 2 rtz 3 rup 4 rdn
  p.final_mode = static_cast<uint32_t>(a.final_rounding);
  return p;
}

std::string model_names() {
  std::string s;
  for (auto* u : dot_units()) s += (s.empty() ? "" : ", ") + u->name;
  return s.empty() ? "none" : s;
}

// The dot-product model for an operand format (E >= 1, default bias, Eg, Mg) and profile.
DotUnit* find_dot(const FormatDesc& f, const Profile& p) {
  mlshost::require_mls(f, "format", "mls-rtl's dot-product unit");
  if (f.el.E < 1 || f.el.bias != (1 << f.el.E) - 1)
    mlshost::unsupported("mls-rtl's dot-product unit needs E >= 1 and the default element bias");
  for (auto* u : dot_units())
    if (u->E == f.el.E && u->M == f.el.M && u->Eg == f.gs.E && u->Mg == f.gs.M &&
        (p.exact ? u->exact : (!u->exact && u->F == p.F && u->W == p.W && u->ovf_policy == p.ovf)))
      return u;
  mlshost::unsupported("mls-rtl has no dot-product model for " + f.name() + " and this arith (models: " +
                       model_names() + ")");
}

DotUnit* unit_for(const TensorView& A, const TensorView& B, const Profile& p, int64_t reduction) {
  const auto &a = A.fmt, &b = B.fmt;
  mlshost::require_mls(a, "a.format", "mls-rtl's dot-product unit");
  mlshost::require_mls(b, "b.format", "mls-rtl's dot-product unit");
  if (a.el.E != b.el.E || a.el.M != b.el.M || a.el.bias != b.el.bias || a.gs.E != b.gs.E || a.gs.M != b.gs.M)
    mlshost::unsupported("mls-rtl's dot-product unit takes two operands of the same element and scale format");
  DotUnit* u = find_dot(a, p);
  if (p.exact) {
    // The exact model's register never overflows: |product| < 2^pb LSBs and a
    // segment has at most `reduction` terms.
    // (q_max = qm 2^-M under the default bias, so |product| = qm^2 2^(F - 2M) LSBs at most.)
    const int64_t qm = (int64_t(2) << u->M) - 1, shift = u->F - 2 * int64_t(u->M);
    int pb = 0, lb = 0;
    while ((int64_t(1) << pb) <= qm * qm) ++pb;
    while ((int64_t(1) << lb) < reduction + 1) ++lb;
    if (pb + std::max<int64_t>(shift, 0) + lb > u->W - 1)
      mlshost::unsupported("mls-rtl's exact dot model holds segments of at most 2^" +
                           num(u->W - 1 - pb - std::max<int64_t>(shift, 0)) + " terms; this reduction has " +
                           num(reduction));
  }
  return u;
}

// Streams the walks of consecutive outputs through the unit, in chunks.
class Walker {
 public:
  Walker(DotUnit* u, const Profile& p, const TensorView& a, const TensorView& b, uint32_t* y)
      : unit_(u), prof_(p), A_(a), B_(b), y_(y), ga_(a.layout.group_index()), gb_(b.layout.group_index()) {}
  // One in-range term: element ia of a times element ib of b.
  void term(int64_t ia, int64_t ib) {
    const int64_t ga = ga_[static_cast<size_t>(ia)], gb = gb_[static_cast<size_t>(ib)];
    if (open_ && (ga != last_ga_ || gb != last_gb_)) terms_.back().seg_end = true;
    DotTerm t;
    t.a = A_.elements[ia];
    t.b = B_.elements[ib];
    t.ga = A_.group_scales[ga];
    t.gb = B_.group_scales[gb];
    terms_.push_back(t);
    open_ = true;
    last_ga_ = ga;
    last_gb_ = gb;
  }
  void end_output() {
    if (!open_) terms_.push_back(DotTerm{});  // an empty walk: one zero product
    terms_.back().seg_end = terms_.back().last = true;
    open_ = false;
    ++pending_;
    if (terms_.size() >= (size_t(1) << 20)) flush();
  }
  void flush() {
    if (terms_.empty()) return;
    std::vector<DotOut> out;
    unit_->run(terms_.data(), terms_.size(), A_.tensor_scale, B_.tensor_scale, prof_.exact ? MLS_RNE : prof_.align,
               prof_.exact ? MLS_RNE : prof_.final_mode, out);
    if (out.size() != pending_) mlshost::fail(MLS_ERR_INTERNAL, "the dot unit returned a wrong number of outputs");
    for (size_t i = 0; i < out.size(); ++i, ++done_) {
      if (out[i].ovf) {
        if (prof_.exact) mlshost::fail(MLS_ERR_INTERNAL, "the exact model's register overflowed at output " + num(done_));
        bad("y[" + num(done_) + "]: accumulator overflow (arith.overflow = error, 6.9.2)");
      }
      y_[done_] = out[i].y;
    }
    terms_.clear();
    pending_ = 0;
  }

 private:
  DotUnit* unit_;
  Profile prof_;
  const TensorView &A_, &B_;
  uint32_t* y_;
  std::vector<int64_t> ga_, gb_;
  std::vector<DotTerm> terms_;
  bool open_ = false;
  int64_t last_ga_ = -1, last_gb_ = -1;
  size_t pending_ = 0;
  int64_t done_ = 0;
};

}  // namespace

void dot_supports(const mls_format_v2* format, const char* arith) {
  const Profile p = profile_of(arith);
  if (dot_units().empty()) mlshost::unsupported("this library has no dot-product model");
  if (format) find_dot(mlshost::read_format(format, "format"), p);
}

void gemm_impl(const mls_tensor_v2* a, const mls_tensor_v2* b, const char* arith, uint32_t* y, uint64_t capacity) {
  const Profile prof = profile_of(arith);
  const TensorView A(a, "a"), B(b, "b");
  if (A.shape.size() != 2) bad("a.shape has rank " + num(int64_t(A.shape.size())) + "; gemm needs rank 2");
  if (B.shape.size() != 2) bad("b.shape has rank " + num(int64_t(B.shape.size())) + "; gemm needs rank 2");
  const int64_t M = A.shape[0], K = A.shape[1], N = B.shape[1];
  if (B.shape[0] != K) bad("b.shape[0] = " + num(B.shape[0]) + " does not match a.shape[1] = " + num(K));
  mlshost::need_pointer(y, "y");
  mlshost::need_capacity(capacity, M * N, "y");
  Walker w(unit_for(A, B, prof, K), prof, A, B, y);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < N; ++j) {
      for (int64_t k = 0; k < K; ++k) w.term(m * K + k, k * N + j);
      w.end_output();
    }
  w.flush();
}

void conv2d_impl(const mls_conv2d_v2* params, const mls_tensor_v2* a, const mls_tensor_v2* b, const char* arith,
                 int32_t out_rank, const int64_t* out_shape, uint32_t* y, uint64_t capacity) {
  const Profile prof = profile_of(arith);
  const TensorView A(a, "a"), B(b, "b");
  const mlshost::ConvGeom g = mlshost::read_conv(params, A.shape, B.shape, out_rank, out_shape);
  mlshost::need_pointer(y, "y");
  mlshost::need_capacity(capacity, g.out_count(), "y");
  Walker w(unit_for(A, B, prof, g.reduction()), prof, A, B, y);
  // Row-major offsets of the four tensor kinds (6.2).
  auto act = [&](int64_t n, int64_t c, int64_t h, int64_t x) { return ((n * g.C + c) * g.H + h) * g.W + x; };
  auto wgt = [&](int64_t o, int64_t cg, int64_t kh, int64_t kw) { return ((o * g.Cg + cg) * g.KH + kh) * g.KW + kw; };
  auto dy = [&](int64_t n, int64_t o, int64_t oh, int64_t ow) { return ((n * g.O + o) * g.OH + oh) * g.OW + ow; };
  // The input position a tap reads (6.4), or -1 outside the input.
  auto in_h = [&](int64_t oh, int64_t kh) {
    const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
    return ih >= 0 && ih < g.H ? ih : -1;
  };
  auto in_w = [&](int64_t ow, int64_t kw) {
    const int64_t iw = ow * g.sw - g.pw + kw * g.dw;
    return iw >= 0 && iw < g.W ? iw : -1;
  };
  // The output position that reads input position h through tap kh (bwd_data), or -1.
  auto out_h = [&](int64_t h, int64_t kh) {
    const int64_t t = h + g.ph - kh * g.dh;
    return t >= 0 && t % g.sh == 0 && t / g.sh < g.OH ? t / g.sh : -1;
  };
  auto out_w = [&](int64_t x, int64_t kw) {
    const int64_t t = x + g.pw - kw * g.dw;
    return t >= 0 && t % g.sw == 0 && t / g.sw < g.OW ? t / g.sw : -1;
  };
  if (g.pass == MLS_PASS_FWD) {  // Y[n, o, oh, ow]: cg, kh, kw
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t o = 0; o < g.O; ++o)
        for (int64_t oh = 0; oh < g.OH; ++oh)
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const int64_t c0 = (o / g.Og) * g.Cg;
            for (int64_t cg = 0; cg < g.Cg; ++cg)
              for (int64_t kh = 0; kh < g.KH; ++kh)
                for (int64_t kw = 0; kw < g.KW; ++kw) {
                  const int64_t ih = in_h(oh, kh), iw = in_w(ow, kw);
                  if (ih >= 0 && iw >= 0) w.term(act(n, c0 + cg, ih, iw), wgt(o, cg, kh, kw));
                }
            w.end_output();
          }
  } else if (g.pass == MLS_PASS_BWD_DATA) {  // dA[n, c, h, w]: og, kh, kw
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t h = 0; h < g.H; ++h)
          for (int64_t x = 0; x < g.W; ++x) {
            const int64_t o0 = (c / g.Cg) * g.Og, cg = c % g.Cg;
            for (int64_t og = 0; og < g.Og; ++og)
              for (int64_t kh = 0; kh < g.KH; ++kh)
                for (int64_t kw = 0; kw < g.KW; ++kw) {
                  const int64_t oh = out_h(h, kh), ow = out_w(x, kw);
                  if (oh >= 0 && ow >= 0) w.term(dy(n, o0 + og, oh, ow), wgt(o0 + og, cg, kh, kw));
                }
            w.end_output();
          }
  } else {  // dW[o, cg, kh, kw]: n, oh, ow
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t cg = 0; cg < g.Cg; ++cg)
        for (int64_t kh = 0; kh < g.KH; ++kh)
          for (int64_t kw = 0; kw < g.KW; ++kw) {
            const int64_t c = (o / g.Og) * g.Cg + cg;
            for (int64_t n = 0; n < g.N; ++n)
              for (int64_t oh = 0; oh < g.OH; ++oh)
                for (int64_t ow = 0; ow < g.OW; ++ow) {
                  const int64_t ih = in_h(oh, kh), iw = in_w(ow, kw);
                  if (ih >= 0 && iw >= 0) w.term(act(n, c, ih, iw), dy(n, o, oh, ow));
                }
            w.end_output();
          }
  }
  w.flush();
}

}  // namespace mlsrtl
