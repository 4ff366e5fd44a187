// conv2d (three passes) and GEMM suites (8.8.5): two MLS operands, the fp32
// outputs under an arithmetic profile and the exact value of every output.
#include <algorithm>
#include <cfloat>

#include "gen_internal.hpp"
#include "mls/error.hpp"

namespace mls::vectors::gen {
namespace {

struct ConvGeom {
  int64_t N, C, H, W, O, KH, KW;
  std::array<int64_t, 2> stride, pad, dil;
  int64_t groups;
  std::vector<int64_t> tile;  // operand tile (rank 4); empty: the format's own layout
};

std::vector<ConvGeom> conv_geoms(int level) {
  std::vector<ConvGeom> v = {
      {1, 2, 5, 5, 3, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, {}},
      // stride, one-sided padding, dilation, conv groups, partial edge tiles
      {2, 4, 7, 6, 4, 3, 2, {2, 1}, {1, 0}, {1, 2}, 2, {1, 2, 3, 3}},
  };
  if (level >= 2) {
    v.push_back({2, 8, 9, 9, 8, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, {}});
    v.push_back({1, 6, 8, 8, 6, 1, 1, {1, 1}, {0, 0}, {1, 1}, 3, {}});
    v.push_back({2, 4, 10, 10, 4, 5, 5, {3, 3}, {2, 2}, {1, 1}, 1, {1, 2, 4, 4}});
  }
  return v;
}

struct GemmGeom {
  int64_t M, K, N;
  std::vector<int64_t> a_tile, b_tile;  // empty: the format's own layout
};

std::vector<GemmGeom> gemm_geoms(int level) {
  std::vector<GemmGeom> v = {{4, 16, 3, {1, 8}, {8, 1}}, {3, 5, 2, {}, {}}, {2, 33, 2, {1, 4}, {4, 1}}};
  if (level >= 2) {
    v.push_back({16, 64, 16, {1, 16}, {16, 1}});
    v.push_back({8, 100, 4, {1, 32}, {32, 1}});
  }
  return v;
}

uint32_t operand_scale(Rng& r) {
  const uint32_t c = r.below(100);
  if (c < 40) return 0x3f800000u;
  if (c < 70) return static_cast<uint32_t>(127 + r.range(-20, 20)) << 23;
  return random_fp32_in_binades(r, -20, 20);
}

// One operand. Curated kinds (k < kCurated) push the sums and the scales to
// their edges; random ones are random codes or quantized random data.
MlsTensor make_operand(Rng& r, const Format& f, const Shape& shape, uint64_t k, bool second) {
  MlsTensor t;
  t.format = f;
  t.shape = shape;
  const GroupLayout L(f, shape);
  const int64_t n = element_count(shape);
  const uint32_t sign = static_cast<uint32_t>(f.element.sign_bit());
  const uint32_t qmax = static_cast<uint32_t>(f.element.max_magnitude_code());
  const uint32_t gmax = scale_codes(f.group_scale).back();
  const std::vector<uint32_t> codes = valid_element_codes(f.element);
  t.tensor_scale = 0x3f800000u;
  t.group_scales.assign(L.group_count, gmax);
  t.elements.assign(n, qmax);
  switch (k) {
    case 0: return t;                                                     // all +q_max: the largest sums
    case 1:                                                               // alternating signs: cancellation
      for (int64_t i = 0; i < n; ++i) t.elements[i] = qmax | (((i + (second ? 1 : 0)) % 2) ? sign : 0);
      return t;
    case 2:                                                               // a zero operand
      if (!second) std::fill(t.elements.begin(), t.elements.end(), (n % 2) ? sign : 0);
      return t;
    case 3: t.tensor_scale = 0x7f7fffffu; return t;                      // fp32 overflow
    case 4: t.tensor_scale = 0x1d800000u; return t;                      // 2^-68 each: subnormal fp32 outputs
    case 5:                                                               // the smallest products: alignment
      std::fill(t.elements.begin(), t.elements.end(), static_cast<uint32_t>(f.element.nth_magnitude(1)));
      for (int64_t i = 0; i < n; i += 3) t.elements[i] |= sign;
      return t;
    default: break;
  }
  if (r.chance(50)) {
    t.tensor_scale = operand_scale(r);
    for (auto& g : t.group_scales) g = r.below(gmax + 1);
    for (auto& e : t.elements) e = r.chance(10) ? 0 : codes[r.below(static_cast<uint32_t>(codes.size()))];
    return t;
  }
  // Quantized data (nearest even): realistic codes and scales.
  std::vector<float> x(n);
  const int e0 = r.range(-10, 10);
  for (auto& v : x) v = bits_float(random_fp32_in_binades(r, e0 - 8, e0) | (r.chance(50) ? 0x80000000u : 0));
  return quantize(f, shape, x, Rounding{}, {});
}

void put_operand(std::map<std::string, Array>& d, uint64_t row, const std::string& p, const MlsTensor& t) {
  const uint64_t n = t.elements.size(), G = t.group_scales.size();
  d["inputs/" + p + "tensor_scale"].ints[row] = t.tensor_scale;
  for (uint64_t g = 0; g < G; ++g) d["inputs/" + p + "group_scales"].ints[row * G + g] = t.group_scales[g];
  for (uint64_t i = 0; i < n; ++i) d["inputs/" + p + "elements"].ints[row * n + i] = t.elements[i];
}

void put_result(std::map<std::string, Array>& d, uint64_t row, const std::vector<uint32_t>* y,
                const std::vector<Dyadic>& exact) {
  const uint64_t n = exact.size();
  d["outputs/status"].ints[row] = y ? kStatusOk : kStatusError;
  for (uint64_t i = 0; i < n; ++i) {
    d["outputs/y"].ints[row * n + i] = y ? (*y)[i] : 0;
    set_exact(d["info/exact_mant"], d["info/exact_exp"], row * n + i, exact[i]);
  }
}

constexpr uint64_t kCurated = 6;

class ConvMaker : public Maker {
 public:
  ConvMaker(Format fa, Format fb, Shape a, Shape b, Conv2dParams p, ArithProfile arith, uint64_t seed, uint32_t stream)
      : fa_(std::move(fa)), fb_(std::move(fb)), a_(std::move(a)), b_(std::move(b)), p_(std::move(p)), arith_(arith),
        seed_(seed), stream_(stream) {}
  void fill(std::map<std::string, Array>& d, uint64_t row, uint64_t k) const override {
    Rng r(seed_, stream_, k);
    const MlsTensor a = make_operand(r, fa_, a_, k, false), b = make_operand(r, fb_, b_, k, true);
    put_operand(d, row, "a_", a);
    put_operand(d, row, "b_", b);
    try {
      const ReductionResult res = conv2d(a, b, p_, arith_);
      put_result(d, row, &res.y, res.exact);
    } catch (const Error&) {  // accumulator overflow under the `error` policy (6.9.2)
      put_result(d, row, nullptr, conv2d_exact(a, b, p_));
    }
  }

 private:
  Format fa_, fb_;
  Shape a_, b_;
  Conv2dParams p_;
  ArithProfile arith_;
  uint64_t seed_;
  uint32_t stream_;
};

class GemmMaker : public Maker {
 public:
  GemmMaker(Format fa, Format fb, Shape a, Shape b, ArithProfile arith, uint64_t seed, uint32_t stream, bool all_pairs)
      : fa_(std::move(fa)), fb_(std::move(fb)), a_(std::move(a)), b_(std::move(b)), arith_(arith), seed_(seed),
        stream_(stream), all_pairs_(all_pairs) {}
  void fill(std::map<std::string, Array>& d, uint64_t row, uint64_t k) const override {
    Rng r(seed_, stream_, k);
    MlsTensor a, b;
    if (all_pairs_) {
      // Every element code pair as a K = 1 product: A is a column, B a row of all valid codes.
      a.format = fa_;
      a.shape = a_;
      b.format = fb_;
      b.shape = b_;
      a.elements = valid_element_codes(fa_.element);
      b.elements = valid_element_codes(fb_.element);
      a.group_scales.assign(a.elements.size(), group_scale_one(fa_));
      b.group_scales.assign(b.elements.size(), group_scale_one(fb_));
    } else {
      a = make_operand(r, fa_, a_, k, false);
      b = make_operand(r, fb_, b_, k, true);
    }
    put_operand(d, row, "a_", a);
    put_operand(d, row, "b_", b);
    try {
      const ReductionResult res = gemm(a, b, arith_);
      put_result(d, row, &res.y, res.exact);
    } catch (const Error&) {
      put_result(d, row, nullptr, gemm_exact(a, b));
    }
  }

 private:
  Format fa_, fb_;
  Shape a_, b_;
  ArithProfile arith_;
  uint64_t seed_;
  uint32_t stream_;
  bool all_pairs_;
};

void add_operand_attrs(Attrs& a, const std::string& p, const Format& f, const Shape& shape) {
  put_format_attrs(a, p, f);
  put_layout_attrs(a, p, f, shape);
}

// The format with an operand tile, or nullopt where a format's own layout has
// another rank. A block format (MX, NVFP4) keeps its blocks, along `block_axis`:
// the reduction axis of the operand (conv: the channels; gemm: K).
std::optional<Format> with_tile(const Format& f, const std::vector<int64_t>& tile, size_t rank, int64_t block_axis) {
  Format g = f;
  if (g.block_size > 0) {
    g.block_axis = block_axis;
    return g;
  }
  if (g.group_shape.empty()) g.group_shape = tile;
  if (!g.group_shape.empty() && g.group_shape.size() != rank) return std::nullopt;
  return g;
}

}  // namespace

void plan_reduction(const Context& c, std::vector<GroupPlan>& conv, std::vector<GroupPlan>& gm) {
  const uint64_t n_random = c.opt.level >= 2 ? 10 : 4;
  for (const auto& [name, f0] : c.formats) {
    for (const auto& [aname, arith] : c.ariths) {
      size_t gi = 0;
      for (const ConvGeom& g : conv_geoms(c.opt.level)) {
        ++gi;
        const auto f = with_tile(f0, g.tile, 4, 1);
        if (!f) continue;
        const int64_t OH = conv_output_size(g.H, g.KH, g.stride[0], g.pad[0], g.dil[0]);
        const int64_t OW = conv_output_size(g.W, g.KW, g.stride[1], g.pad[1], g.dil[1]);
        const Shape act = {g.N, g.C, g.H, g.W}, wt = {g.O, g.C / g.groups, g.KH, g.KW}, dy = {g.N, g.O, OH, OW};
        for (ConvPass pass : {ConvPass::fwd, ConvPass::bwd_data, ConvPass::bwd_weight}) {
          Conv2dParams p;
          p.pass = pass;
          p.stride = g.stride;
          p.padding = g.pad;
          p.dilation = g.dil;
          p.groups = g.groups;
          Shape a = act, b = wt;
          if (pass == ConvPass::fwd) p.out_shape = dy;
          if (pass == ConvPass::bwd_data) { a = dy; p.out_shape = act; }
          if (pass == ConvPass::bwd_weight) { b = dy; p.out_shape = wt; }
          const std::string label = "conv " + f->short_name() + " " + aname + " geometry " + std::to_string(gi) + " " +
                                    to_string(pass) + " a" + shape_string(a) + " b" + shape_string(b);
          GroupPlan gp;
          gp.summary.label = label;
          gp.summary.total = kCurated + n_random;
          gp.attrs = base_attrs(Op::conv, label);
          gp.attrs["profile"] = name;
          gp.attrs["stream"] = int64_t(fnv1a(label));
          add_operand_attrs(gp.attrs, "a_", *f, a);
          add_operand_attrs(gp.attrs, "b_", *f, b);
          put_arith_attrs(gp.attrs, arith);
          gp.attrs["pass"] = to_string(pass);
          gp.attrs["pass_code"] = int64_t(enum_code(pass));
          gp.attrs["stride"] = std::vector<int64_t>{g.stride[0], g.stride[1]};
          gp.attrs["padding"] = std::vector<int64_t>{g.pad[0], g.pad[1]};
          gp.attrs["dilation"] = std::vector<int64_t>{g.dil[0], g.dil[1]};
          gp.attrs["groups"] = g.groups;
          gp.attrs["y_shape"] = std::vector<int64_t>(p.out_shape.begin(), p.out_shape.end());
          gp.maker = std::make_shared<ConvMaker>(*f, *f, a, b, p, arith, c.opt.seed, fnv1a(label));
          conv.push_back(std::move(gp));
        }
      }
      auto add_gemm = [&](const Format& fa, const Format& fb, const Shape& a, const Shape& b, uint64_t total,
                          bool all_pairs, const std::string& what) {
        const std::string label = "gemm " + fa.short_name() + " " + aname + " " + what + " a" + shape_string(a) + " b" + shape_string(b);
        GroupPlan gp;
        gp.summary.label = label;
        gp.summary.total = total;
        gp.attrs = base_attrs(Op::gemm, label);
        gp.attrs["profile"] = name;
        gp.attrs["stream"] = int64_t(fnv1a(label));
        add_operand_attrs(gp.attrs, "a_", fa, a);
        add_operand_attrs(gp.attrs, "b_", fb, b);
        put_arith_attrs(gp.attrs, arith);
        const Shape y = gemm_out_shape(a, b);
        gp.attrs["y_shape"] = std::vector<int64_t>(y.begin(), y.end());
        gp.maker = std::make_shared<GemmMaker>(fa, fb, a, b, arith, c.opt.seed, fnv1a(label), all_pairs);
        gm.push_back(std::move(gp));
      };
      for (const GemmGeom& g : gemm_geoms(c.opt.level)) {
        const auto fa = with_tile(f0, g.a_tile, 2, 1), fb = with_tile(f0, g.b_tile, 2, 0);
        if (!fa || !fb) continue;
        add_gemm(*fa, *fb, {g.M, g.K}, {g.K, g.N}, kCurated + n_random, false, "random");
      }
      if (c.opt.exhaustive) {
        Format fa = f0, fb = f0;
        fa.block_size = fb.block_size = 0;
        fa.group_shape = {1, 1};
        fb.group_shape = {1, 1};
        const int64_t n = static_cast<int64_t>(valid_element_codes(f0.element).size());
        if (n <= 4096) add_gemm(fa, fb, {n, 1}, {1, n}, 1, true, "all-pairs");
      }
    }
  }
}

}  // namespace mls::vectors::gen
