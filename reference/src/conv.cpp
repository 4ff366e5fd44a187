// conv2d (three passes) and GEMM on MLS tensors, exact (spec/06-conv.md).
#include "mls/conv.hpp"

#include <algorithm>
#include <bit>

#include "conv_reduction.hpp"
#include "mls/error.hpp"

namespace mls {

namespace {
std::string idx(const char* name, size_t i) { return std::string(name) + "[" + std::to_string(i) + "]"; }
std::string num(int64_t v) { return std::to_string(v); }
}  // namespace

ConvPass conv_pass_from_string(const std::string& s, const std::string& field) {
  return enum_from_name<ConvPass>(s, field);
}

int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;  // 6.3
  if (span < 0) return 0;
  return span / stride + 1;
}

// 6.3: shapes, parameters and their relations, each error naming its field.
ConvGeometry ConvGeometry::resolve(const Conv2dParams& p, const Shape& a, const Shape& b) {
  constexpr int64_t kMax = int64_t(1) << 32;  // keeps every index product far from int64 overflow
  auto rank4 = [](const Shape& s, const std::string& name, const char* layout) {
    if (s.size() != 4)
      throw Error(name + " has rank " + std::to_string(s.size()) + "; this operand needs shape " + layout);
    for (size_t i = 0; i < 4; ++i)
      if (s[i] < 1 || s[i] > kMax)
        throw Error(name + "[" + std::to_string(i) + "] = " + num(s[i]) + " is outside 1..2^32");
  };
  for (size_t i = 0; i < 2; ++i) {
    if (p.stride[i] < 1) throw Error(idx("stride", i) + " = " + num(p.stride[i]) + " is not >= 1");
    if (p.dilation[i] < 1) throw Error(idx("dilation", i) + " = " + num(p.dilation[i]) + " is not >= 1");
    if (p.padding[i] < 0) throw Error(idx("padding", i) + " = " + num(p.padding[i]) + " is negative");
    if (p.stride[i] > kMax || p.dilation[i] > kMax || p.padding[i] > kMax)
      throw Error("stride, padding and dilation must be at most 2^32 (" + idx("stride", i) + ")");
  }
  if (p.groups < 1 || p.groups > kMax) throw Error("groups = " + num(p.groups) + " is not in 1..2^32");

  ConvGeometry g;
  g.pass = p.pass;
  g.G = p.groups;
  g.sh = p.stride[0], g.sw = p.stride[1];
  g.ph = p.padding[0], g.pw = p.padding[1];
  g.dh = p.dilation[0], g.dw = p.dilation[1];
  g.a_shape = a;
  g.b_shape = b;
  const std::string pass = to_string(p.pass);

  // The weight shape (O, Cg, KH, KW) comes from b (fwd, bwd_data) or out_shape (bwd_weight);
  // the activation shape (N, C, H, W) from a (fwd, bwd_weight) or out_shape (bwd_data).
  Shape act, wt, dy;
  const char *act_name = "a.shape", *wt_name = "b.shape", *dy_name = "b.shape";
  switch (p.pass) {
    case ConvPass::fwd:
      rank4(a, "a.shape", "(N,C,H,W) for fwd");
      rank4(b, "b.shape", "(O,Cg,KH,KW) for fwd");
      act = a, wt = b;
      break;
    case ConvPass::bwd_data:
      rank4(a, "a.shape", "(N,O,OH,OW) (dY) for bwd_data");
      rank4(b, "b.shape", "(O,Cg,KH,KW) (W) for bwd_data");
      if (p.out_shape.empty()) throw Error("out_shape is required for bwd_data: the shape (N,C,H,W) of dA");
      rank4(p.out_shape, "out_shape", "(N,C,H,W) for bwd_data");
      act = p.out_shape, wt = b, dy = a;
      act_name = "out_shape", dy_name = "a.shape";
      break;
    case ConvPass::bwd_weight:
      rank4(a, "a.shape", "(N,C,H,W) (A) for bwd_weight");
      rank4(b, "b.shape", "(N,O,OH,OW) (dY) for bwd_weight");
      if (p.out_shape.empty()) throw Error("out_shape is required for bwd_weight: the shape (O,Cg,KH,KW) of dW");
      rank4(p.out_shape, "out_shape", "(O,Cg,KH,KW) for bwd_weight");
      act = a, wt = p.out_shape, dy = b;
      wt_name = "out_shape", dy_name = "b.shape";
      break;
  }
  g.N = act[0], g.C = act[1], g.H = act[2], g.W = act[3];
  g.O = wt[0], g.Cg = wt[1], g.KH = wt[2], g.KW = wt[3];
  const std::string an = act_name, wn = wt_name, dn = dy_name;
  if (g.C % g.G != 0)
    throw Error(an + "[1] = " + num(g.C) + " (C) is not divisible by groups = " + num(g.G));
  if (g.C / g.G != g.Cg)
    throw Error(wn + "[1] = " + num(g.Cg) + " (Cg) must equal C / groups = " + num(g.C) + " / " + num(g.G) + " = " +
                num(g.C / g.G));
  if (g.O % g.G != 0) throw Error(wn + "[0] = " + num(g.O) + " (O) is not divisible by groups = " + num(g.G));
  g.Og = g.O / g.G;
  g.OH = conv_output_size(g.H, g.KH, g.sh, g.ph, g.dh);
  g.OW = conv_output_size(g.W, g.KW, g.sw, g.pw, g.dw);
  const char* hw[2] = {"height", "width"};
  for (int i = 0; i < 2; ++i) {
    const int64_t in = i ? g.W : g.H, k = i ? g.KW : g.KH, d = i ? g.dw : g.dh, pd = i ? g.pw : g.ph;
    if ((i ? g.OW : g.OH) < 1)
      throw Error("padding/dilation leave no output " + std::string(hw[i]) + ": " + an + "[" + num(2 + i) + "] = " +
                  num(in) + " plus 2*" + idx("padding", i) + " = " + num(2 * pd) + " is shorter than the dilated kernel " +
                  idx("dilation", i) + "*(" + wn + "[" + num(2 + i) + "]-1)+1 = " + num(d * (k - 1) + 1));
  }
  if (!dy.empty()) {  // the backward passes: dY must be (N, O, OH, OW)
    const int64_t want[4] = {g.N, g.O, g.OH, g.OW};
    const char* what[4] = {"N", "O", "OH", "OW"};
    for (int i = 0; i < 4; ++i)
      if (dy[i] != want[i])
        throw Error(dn + "[" + num(i) + "] = " + num(dy[i]) + " (dY " + what[i] + ") does not match " + what[i] + " = " +
                    num(want[i]) + " implied by " + (i == 0 ? an + "[0]" : i == 1 ? wn + "[0]" :
                    an + ", " + wn + ", stride, padding and dilation"));
  }
  if (p.pass == ConvPass::fwd) {
    g.out_shape = {g.N, g.O, g.OH, g.OW};
    if (!p.out_shape.empty() && p.out_shape != g.out_shape)
      throw Error("out_shape " + shape_string(p.out_shape) + " does not match the forward output shape " +
                  shape_string(g.out_shape));
  } else {
    g.out_shape = p.out_shape;
  }
  if (g.N * g.O > kMax || g.OH * g.OW > kMax || g.N * g.C > kMax || g.H * g.W > kMax || g.KH * g.KW > kMax ||
      g.N * g.O * g.OH * g.OW > (int64_t(1) << 40) || g.N * g.C * g.H * g.W > (int64_t(1) << 40))
    throw Error("conv2d operands are too large (more than 2^40 elements)");
  return g;
}

int64_t ConvGeometry::reduction_length() const {
  switch (pass) {
    case ConvPass::fwd: return Cg * KH * KW;
    case ConvPass::bwd_data: return Og * KH * KW;
    case ConvPass::bwd_weight: return N * OH * OW;
  }
  return 0;
}

int64_t ConvGeometry::mac_count() const {
  // In-range (ih, iw) per (oh, kh) pair, counted per axis, times the channel products.
  auto axis = [](int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d) {
    int64_t c = 0;
    for (int64_t o = 0; o < out; ++o)
      for (int64_t j = 0; j < k; ++j) {
        const int64_t i = o * s - p + j * d;
        c += (i >= 0 && i < in) ? 1 : 0;
      }
    return c;
  };
  return N * O * Cg * axis(H, OH, KH, sh, ph, dh) * axis(W, OW, KW, sw, pw, dw);
}

// ---------------------------------------------------------------------------
// Arithmetic profile (6.9, 6.10)

void ArithProfile::validate() const {
  if (profile == ArithKind::exact) return;
  if (frac_bits < -4096 || frac_bits > 4096)
    throw Error("arith.frac_bits = " + num(frac_bits) + " is outside -4096..4096");
  if (width < 2 || width > 4096) throw Error("arith.width = " + num(width) + " is outside 2..4096");
  auto one_of = [](RoundingMode m, std::initializer_list<RoundingMode> ok) {
    return std::find(ok.begin(), ok.end(), m) != ok.end();
  };
  using RM = RoundingMode;
  if (!one_of(alignment, {RM::rtz, RM::rdn, RM::rup, RM::rne, RM::rna}))
    throw Error("arith.alignment = \"" + mls::to_string(alignment) + "\" is not one of rtz, rdn, rup, rne, rna");
  if (!one_of(final_rounding, {RM::rne, RM::rna, RM::rtz, RM::rup, RM::rdn}))
    throw Error("arith.final_rounding = \"" + mls::to_string(final_rounding) +
                "\" is not one of rne, rna, rtz, rup, rdn");
}

nlohmann::json ArithProfile::to_json() const {
  if (profile == ArithKind::exact) return {{"profile", "exact"}};
  return {{"profile", "accumulator"},
          {"frac_bits", frac_bits},
          {"width", width},
          {"alignment", mls::to_string(alignment)},
          {"overflow", mls::to_string(overflow)},
          {"inter_group", mls::to_string(inter_group)},
          {"final_rounding", mls::to_string(final_rounding)}};
}

ArithProfile ArithProfile::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("arith must be a JSON object like {\"profile\":\"exact\"}");
  auto str = [&](const char* k) -> std::string {
    if (!j.contains(k)) throw Error(std::string("arith.") + k + " is missing (the accumulator profile names every choice)");
    if (!j.at(k).is_string()) throw Error(std::string("arith.") + k + " must be a string");
    return j.at(k).get<std::string>();
  };
  auto integer = [&](const char* k) -> int64_t {
    if (!j.contains(k)) throw Error(std::string("arith.") + k + " is missing (the accumulator profile names every choice)");
    if (!j.at(k).is_number_integer()) throw Error(std::string("arith.") + k + " must be an integer");
    return j.at(k).get<int64_t>();
  };
  ArithProfile a;
  const std::string profile = j.contains("profile") ? str("profile") : "exact";
  if (profile == "exact") {
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.key() != "profile")
        throw Error("arith." + it.key() + " is not a field of the exact profile (it has no choices)");
    return a;
  }
  enum_from_name<ArithKind>(profile, "arith.profile");  // names the allowed profiles when unknown
  static const char* fields[] = {"profile", "frac_bits", "width", "alignment", "overflow", "inter_group",
                                 "final_rounding"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find_if(std::begin(fields), std::end(fields), [&](const char* f) { return it.key() == f; }) ==
        std::end(fields))
      throw Error("arith." + it.key() + " is not a field of the accumulator profile");
  a.profile = ArithKind::accumulator;
  a.frac_bits = integer("frac_bits");
  a.width = integer("width");
  a.alignment = rounding_mode_from_string(str("alignment"), "arith.alignment");
  a.overflow = enum_from_name<AccOverflow>(str("overflow"), "arith.overflow");
  a.inter_group = enum_from_name<InterGroup>(str("inter_group"), "arith.inter_group");
  a.final_rounding = rounding_mode_from_string(str("final_rounding"), "arith.final_rounding");
  a.validate();
  return a;
}

ArithProfile parse_arith(const std::string& text) {
  if (text.empty() || text == "exact") return ArithProfile::exact();
  if (!text.empty() && text[0] == '{') {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw Error(std::string("arith is not valid JSON: ") + e.what());
    }
    return ArithProfile::from_json(j);
  }
  throw Error("arith \"" + text + "\" is neither \"exact\" nor a JSON object");
}

// ---------------------------------------------------------------------------
// 6.14 exact values in JSON

nlohmann::json dyadic_to_json(const Dyadic& d) {
  const Dyadic n = d.normalized();
  return {{"m", n.m.str()}, {"e", n.e}};
}

Dyadic dyadic_from_json(const nlohmann::json& j, const std::string& field) {
  if (!j.is_object() || !j.contains("m") || !j.contains("e") || !j.at("m").is_string() ||
      !j.at("e").is_number_integer())
    throw Error(field + " must be an exact value {\"m\":\"<integer>\",\"e\":<integer>}");
  const std::string m = j.at("m").get<std::string>();
  const size_t start = (!m.empty() && m[0] == '-') ? 1 : 0;
  if (m.size() == start || m.size() > 100000 ||
      !std::all_of(m.begin() + start, m.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw Error(field + ".m = \"" + m + "\" is not a decimal integer");
  return Dyadic(BigInt(m), j.at("e").get<int64_t>());
}

// ---------------------------------------------------------------------------
// Operands and reductions

namespace detail {

Operand prepare_operand(const MlsTensor& t, const char* name) {
  try {
    t.validate();
  } catch (const Error& e) {
    throw Error(std::string(name) + "." + e.what());
  }
  t.require_finite(name);
  Operand op;
  const GroupLayout layout(t.format, t.shape);
  const int64_t n = static_cast<int64_t>(t.elements.size());
  op.group = layout.group_index();
  // 6.5: element i = mant * 2^exp with a small signed integer mantissa. Decoded
  // once per distinct code (formats here have at most 2^24 mantissa values).
  const Minifloat& ef = t.format.element;
  std::vector<int64_t> code_mant, code_exp;
  const bool table = ef.total_bits() <= 16;
  auto decode = [&](uint32_t code, int64_t& m, int64_t& e) {
    const Dyadic v = ef.decode(code);
    m = static_cast<int64_t>(v.m);  // |m| < 2^24 (M <= 23)
    e = v.e;
  };
  if (table) {
    code_mant.resize(ef.code_count());
    code_exp.resize(ef.code_count());
    for (uint64_t c = 0; c < ef.code_count(); ++c)
      if (ef.is_valid_code(c)) decode(static_cast<uint32_t>(c), code_mant[c], code_exp[c]);
  }
  op.elem_mant.resize(n);
  op.elem_exp.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    if (table) {
      op.elem_mant[i] = code_mant[t.elements[i]];
      op.elem_exp[i] = code_exp[t.elements[i]];
    } else {
      decode(t.elements[i], op.elem_mant[i], op.elem_exp[i]);
    }
  }
  op.gscale.resize(t.group_scales.size());
  for (size_t g = 0; g < t.group_scales.size(); ++g) op.gscale[g] = t.group_scale_value(static_cast<int64_t>(g));
  op.tscale = t.tensor_scale_value();
  return op;
}

namespace {
void check_operand_rank(const MlsTensor& t, const char* name, size_t rank, const std::string& what) {
  if (t.shape.size() != rank)
    throw Error(std::string(name) + ".shape " + shape_string(t.shape) + " has rank " + std::to_string(t.shape.size()) +
                "; " + what);
}
}  // namespace

Reduction Reduction::conv(const ConvGeometry& g) {
  Reduction r;
  r.kind = g.pass == ConvPass::fwd ? Kind::fwd : g.pass == ConvPass::bwd_data ? Kind::bwd_data : Kind::bwd_weight;
  r.g = g;
  r.out_shape = g.out_shape;
  r.out_count = element_count(g.out_shape, "out_shape");
  r.max_terms = g.reduction_length();
  return r;
}

Reduction Reduction::gemm(const Shape& a, const Shape& b) {
  Reduction r;
  r.kind = Kind::gemm;
  r.out_shape = gemm_out_shape(a, b);
  r.M = a[0], r.K = a[1], r.Ncols = b[1];
  r.out_count = r.M * r.Ncols;
  r.max_terms = r.K;
  return r;
}

Reduction conv_reduction(const MlsTensor& a, const MlsTensor& b, const Conv2dParams& p) {
  const char* need_a[] = {"conv2d fwd needs a = A (N,C,H,W)", "conv2d bwd_data needs a = dY (N,O,OH,OW)",
                          "conv2d bwd_weight needs a = A (N,C,H,W)"};
  const char* need_b[] = {"conv2d fwd needs b = W (O,Cg,KH,KW)", "conv2d bwd_data needs b = W (O,Cg,KH,KW)",
                          "conv2d bwd_weight needs b = dY (N,O,OH,OW)"};
  check_operand_rank(a, "a", 4, need_a[static_cast<int>(p.pass)]);
  check_operand_rank(b, "b", 4, need_b[static_cast<int>(p.pass)]);
  return Reduction::conv(ConvGeometry::resolve(p, a.shape, b.shape));
}

Reduction gemm_reduction(const MlsTensor& a, const MlsTensor& b) {
  check_operand_rank(a, "a", 2, "gemm needs a = A (M,K)");
  check_operand_rank(b, "b", 2, "gemm needs b = B (K,N)");
  return Reduction::gemm(a.shape, b.shape);
}

// ---------------------------------------------------------------------------
// Exact engines (6.7, 6.16)

namespace {

// The generic engine: 6.6 and 6.7 literally, on Dyadic values.
template <class OnSegment>
void plain_segments(const Reduction& r, const Operand& a, const Operand& b, int64_t out, OnSegment&& on_segment) {
  Segment cur;
  bool open = false;
  int64_t pos = 0;
  const Dyadic st = a.tscale * b.tscale;
  auto close = [&] {
    cur.value = a.gscale[cur.group_a] * b.gscale[cur.group_b] * cur.sum;
    cur.term = st * cur.value;
    on_segment(cur);
  };
  r.walk(out, [&](int64_t ia, int64_t ib) {
    const int64_t ga = a.group[ia], gb = b.group[ib];
    if (!open || ga != cur.group_a || gb != cur.group_b) {
      if (open) close();
      cur = Segment{ga, gb, pos, 0, Dyadic(), Dyadic(), Dyadic()};
      open = true;
    }
    // 6.5: the exact element product.
    cur.sum = cur.sum + Dyadic(BigInt(a.elem_mant[ia] * b.elem_mant[ib]), a.elem_exp[ia] + b.elem_exp[ib]);
    ++cur.count;
    ++pos;
  });
  if (open) close();
}

Dyadic plain_exact(const Reduction& r, const Operand& a, const Operand& b, int64_t out) {
  Dyadic total;
  plain_segments(r, a, b, out, [&](const Segment& s) { total = total + s.term; });
  return total;
}

int bit_length(uint64_t v) { return v == 0 ? 0 : 64 - std::countl_zero(v); }
int ceil_log2(int64_t n) { return n <= 1 ? 0 : bit_length(static_cast<uint64_t>(n - 1)); }

// Fixed-width plan: element i = k[i] * 2^base, group scale g = gs[g] * 2^gbase,
// with |k| < 2^bits and gs < 2^gbits; the bases are the smallest exponents present.
struct Fixed {
  std::vector<int64_t> k, gs;
  int64_t base = 0, gbase = 0;
  int bits = 0, gbits = 0;
  bool ok = true;  // every value fits 62 bits
};

Fixed fixed_plan(const Operand& op) {
  Fixed f;
  const size_t n = op.elem_mant.size();
  bool any = false;
  int64_t lo = 0, hi = 0;
  for (size_t i = 0; i < n; ++i)
    if (op.elem_mant[i] != 0) {
      lo = any ? std::min(lo, op.elem_exp[i]) : op.elem_exp[i];
      hi = any ? std::max(hi, op.elem_exp[i]) : op.elem_exp[i];
      any = true;
    }
  f.base = lo;
  if (hi - lo > 38) {  // mantissas have <= 24 bits: 24 + 38 = 62
    f.ok = false;
    return f;
  }
  f.k.resize(n);
  uint64_t kmax = 0;
  for (size_t i = 0; i < n; ++i) {
    f.k[i] = op.elem_mant[i] == 0 ? 0 : op.elem_mant[i] * (int64_t(1) << (op.elem_exp[i] - lo));
    kmax = std::max<uint64_t>(kmax, static_cast<uint64_t>(f.k[i] < 0 ? -f.k[i] : f.k[i]));
  }
  f.bits = bit_length(kmax);
  int64_t glo = 0, ghi = 0;
  for (size_t g = 0; g < op.gscale.size(); ++g) {  // group scales are positive
    glo = g ? std::min(glo, op.gscale[g].e) : op.gscale[g].e;
    ghi = g ? std::max(ghi, op.gscale[g].e) : op.gscale[g].e;
  }
  if (ghi - glo > 38 || op.gscale.empty()) {  // group-scale mantissas have <= 24 bits
    f.ok = false;
    return f;
  }
  f.gbase = glo;
  f.gs.resize(op.gscale.size());
  uint64_t gmax = 0;
  for (size_t g = 0; g < op.gscale.size(); ++g) {
    f.gs[g] = static_cast<int64_t>(op.gscale[g].m) << (op.gscale[g].e - glo);
    gmax = std::max<uint64_t>(gmax, static_cast<uint64_t>(f.gs[g]));
  }
  f.gbits = bit_length(gmax);
  return f;
}

// 6.16: segment sums in int64 and the scaled sum over segments in Acc (int64
// or __int128), chosen by the caller so that no partial sum can overflow.
template <class Acc>
void fixed_engine(const Reduction& r, const Fixed& fa, const Fixed& fb, const Operand& a, const Operand& b,
                  std::vector<Dyadic>& out) {
  const BigInt tm = a.tscale.m * b.tscale.m;
  const int64_t e = fa.base + fb.base + fa.gbase + fb.gbase + a.tscale.e + b.tscale.e;
  const int64_t* ka = fa.k.data();
  const int64_t* kb = fb.k.data();
  const int64_t* gra = a.group.data();
  const int64_t* grb = b.group.data();
  for (int64_t o = 0; o < r.out_count; ++o) {
    Acc acc = 0;
    int64_t seg = 0, ga = -1, gb = -1;
    r.walk(o, [&](int64_t ia, int64_t ib) {
      const int64_t xa = gra[ia], xb = grb[ib];
      if (xa != ga || xb != gb) {  // 6.6: a new segment
        if (ga >= 0) acc += Acc(fa.gs[ga]) * Acc(fb.gs[gb]) * Acc(seg);
        seg = 0;
        ga = xa;
        gb = xb;
      }
      seg += ka[ia] * kb[ib];
    });
    if (ga >= 0) acc += Acc(fa.gs[ga]) * Acc(fb.gs[gb]) * Acc(seg);
    out[o] = Dyadic(BigInt(acc) * tm, e);
  }
}

}  // namespace

std::vector<Dyadic> exact_values(const Reduction& r, const Operand& a, const Operand& b, ExactEngine engine) {
  std::vector<Dyadic> out(r.out_count);
  if (engine == ExactEngine::automatic) {
    const Fixed fa = fixed_plan(a), fb = fixed_plan(b);
    if (fa.ok && fb.ok) {
      // 6.16: |segment sum| < n * 2^(bits_a + bits_b) and |acc| < n * 2^(all bits),
      // n = terms per output; int64 holds < 2^63, __int128 < 2^127.
      const int n = ceil_log2(std::max<int64_t>(r.max_terms, 1));
      const int seg_bits = fa.bits + fb.bits + n;
      const int acc_bits = seg_bits + fa.gbits + fb.gbits;
      if (seg_bits <= 63 && acc_bits <= 63) {
        fixed_engine<int64_t>(r, fa, fb, a, b, out);
        return out;
      }
      if (seg_bits <= 63 && acc_bits <= 127) {
        fixed_engine<__int128>(r, fa, fb, a, b, out);
        return out;
      }
    }
  }
  for (int64_t o = 0; o < r.out_count; ++o) out[o] = plain_exact(r, a, b, o);
  return out;
}

std::vector<Segment> segments_of(const Reduction& r, const Operand& a, const Operand& b, int64_t out) {
  if (out < 0 || out >= r.out_count)
    throw Error("output index " + std::to_string(out) + " is outside 0.." + std::to_string(r.out_count - 1));
  std::vector<Segment> segs;
  plain_segments(r, a, b, out, [&](const Segment& s) { segs.push_back(s); });
  return segs;
}

std::vector<ErrorBound> error_bounds(const Reduction& r, const Operand& a, const Operand& b, BoundModel model) {
  std::vector<ErrorBound> bounds(r.out_count);
  const Dyadic st = a.tscale * b.tscale;
  std::vector<Dyadic> terms;
  for (int64_t o = 0; o < r.out_count; ++o) {
    terms.clear();
    plain_segments(r, a, b, o,
                   [&](const Segment& s) { terms.push_back(model == BoundModel::fp32_sum ? s.term : s.value); });
    bounds[o] = model == BoundModel::fp32_sum ? fp32_sum_bound(terms) : fp32_sum_scaled_bound(terms, st);
  }
  return bounds;
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Public entry points

namespace {
ReductionResult finish(const detail::Reduction& r, const detail::Operand& a, const detail::Operand& b,
                       const ArithProfile& arith) {
  arith.validate();
  ReductionResult res;
  res.shape = r.out_shape;
  res.exact = detail::exact_values(r, a, b, ExactEngine::automatic);
  if (arith.profile == ArithKind::exact) {
    // 6.8: one rounding, to fp32 nearest even; IEEE overflow gives +-Inf.
    res.y.resize(res.exact.size());
    for (size_t i = 0; i < res.exact.size(); ++i)
      res.y[i] = round_to_fp32_bits(res.exact[i], RoundingMode::rne, OverflowPolicy::infinity);
  } else {
    res.y = detail::accumulator_model(r, a, b, arith);
  }
  return res;
}
}  // namespace

ReductionResult conv2d(const MlsTensor& a, const MlsTensor& b, const Conv2dParams& p, const ArithProfile& arith) {
  const detail::Reduction r = detail::conv_reduction(a, b, p);
  return finish(r, detail::prepare_operand(a, "a"), detail::prepare_operand(b, "b"), arith);
}

std::vector<Dyadic> conv2d_exact(const MlsTensor& a, const MlsTensor& b, const Conv2dParams& p, ExactEngine engine) {
  const detail::Reduction r = detail::conv_reduction(a, b, p);
  return detail::exact_values(r, detail::prepare_operand(a, "a"), detail::prepare_operand(b, "b"), engine);
}

Shape gemm_out_shape(const Shape& a, const Shape& b) {
  if (a.size() != 2) throw Error("a.shape " + shape_string(a) + " must be (M,K) for gemm");
  if (b.size() != 2) throw Error("b.shape " + shape_string(b) + " must be (K,N) for gemm");
  for (int i = 0; i < 2; ++i) {
    if (a[i] < 1) throw Error("a.shape[" + num(i) + "] = " + num(a[i]) + " is not >= 1");
    if (b[i] < 1) throw Error("b.shape[" + num(i) + "] = " + num(b[i]) + " is not >= 1");
  }
  if (a[1] != b[0])
    throw Error("b.shape[0] = " + num(b[0]) + " (K) does not match a.shape[1] = " + num(a[1]) + " (K)");
  element_count({a[0], b[1]}, "gemm output shape");
  return {a[0], b[1]};
}

ReductionResult gemm(const MlsTensor& a, const MlsTensor& b, const ArithProfile& arith) {
  const detail::Reduction r = detail::gemm_reduction(a, b);
  return finish(r, detail::prepare_operand(a, "a"), detail::prepare_operand(b, "b"), arith);
}

std::vector<Dyadic> gemm_exact(const MlsTensor& a, const MlsTensor& b, ExactEngine engine) {
  const detail::Reduction r = detail::gemm_reduction(a, b);
  return detail::exact_values(r, detail::prepare_operand(a, "a"), detail::prepare_operand(b, "b"), engine);
}

std::vector<Segment> conv2d_segments(const MlsTensor& a, const MlsTensor& b, const Conv2dParams& p, int64_t out) {
  const detail::Reduction r = detail::conv_reduction(a, b, p);
  return detail::segments_of(r, detail::prepare_operand(a, "a"), detail::prepare_operand(b, "b"), out);
}

std::vector<Segment> gemm_segments(const MlsTensor& a, const MlsTensor& b, int64_t out) {
  const detail::Reduction r = detail::gemm_reduction(a, b);
  return detail::segments_of(r, detail::prepare_operand(a, "a"), detail::prepare_operand(b, "b"), out);
}

std::vector<ErrorBound> conv2d_error_bounds(const MlsTensor& a, const MlsTensor& b, const Conv2dParams& p,
                                            BoundModel model) {
  const detail::Reduction r = detail::conv_reduction(a, b, p);
  return detail::error_bounds(r, detail::prepare_operand(a, "a"), detail::prepare_operand(b, "b"), model);
}

std::vector<ErrorBound> gemm_error_bounds(const MlsTensor& a, const MlsTensor& b, BoundModel model) {
  const detail::Reduction r = detail::gemm_reduction(a, b);
  return detail::error_bounds(r, detail::prepare_operand(a, "a"), detail::prepare_operand(b, "b"), model);
}

}  // namespace mls
