// mls-hostkit: argument checks and ABI plumbing shared by the RTL and the
// OpenCL/CUDA hosts (hostkit.hpp). No MLS arithmetic lives here.
#include "hostkit.hpp"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace mlshost {

void fail(int32_t status, std::string message) { throw Failure{status, std::move(message)}; }

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string num(int64_t v) { return std::to_string(v); }

std::string shape_text(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? "," : "") + num(s[i]);
  return t + "]";
}

void need_capacity(uint64_t have, int64_t need, const std::string& what) {
  if (have < static_cast<uint64_t>(need))
    fail(MLS_ERR_BUFFER, what + " has room for " + std::to_string(have) + " values but the result has " + num(need));
}

void need_pointer(const void* p, const std::string& what) {
  if (!p) bad(what + " is NULL");
}

namespace {
void in_range(int64_t v, int64_t lo, int64_t hi, const std::string& field) {
  if (v < lo || v > hi) bad(field + " = " + num(v) + " is outside " + num(lo) + ".." + num(hi));
}
bool nonfinite(uint32_t bits) { return (bits & 0x7f800000u) == 0x7f800000u; }
}  // namespace

// ---- formats ------------------------------------------------------------------

bool ElementDesc::valid_code(uint32_t code) const {
  if (code > (sign_bit() | mag_mask())) return false;
  const uint32_t mag = code & mag_mask();
  return !(zero_only && mag != 0 && (mag >> M) == 0);
}

std::string ElementDesc::name() const {
  std::string s = "e" + num(E) + "m" + num(M);
  if (bias != (E == 0 ? 0 : (1 << E) - 1)) s += "b" + num(bias);
  return zero_only ? s + "z" : s;
}

std::string ScaleDesc::name() const { return "g" + num(Eg) + "m" + num(Mg); }

std::string FormatDesc::name() const { return el.name() + "." + gs.name(); }

FormatDesc read_format(const mls_format_v2* f, const std::string& what) {
  need_pointer(f, what);
  const mls_minifloat_v2 &el = f->element, &sc = f->scale;
  for (const auto* m : {&el, &sc}) {
    const std::string w = what + (m == &el ? ".element" : ".group_scale");
    in_range(m->is_signed, 0, 1, w + ".signed");
    in_range(m->exp_bits, m == &el ? 0 : 1, 8, w + ".exp_bits");
    in_range(m->man_bits, 0, 23, w + ".man_bits");
    in_range(m->bias, -100000, 100000, w + ".bias");
    in_range(m->zero, MLS_ZERO_SUBNORMAL, MLS_ZERO_NONE, w + ".zero");
    in_range(m->specials, MLS_SPECIALS_NONE, MLS_SPECIALS_NAN_ALL_ONES, w + ".specials");
    in_range(m->encoding, MLS_ENCODING_SIGN_MAGNITUDE, MLS_ENCODING_TWOS_COMPLEMENT, w + ".encoding");
  }
  in_range(f->tensor_scale, MLS_TSCALE_AMAX, MLS_TSCALE_ONE, what + ".tensor_scale");
  in_range(f->scale_policy, MLS_SCALE_CEIL, MLS_SCALE_OCP, what + ".scale_policy");
  in_range(f->signed_zero, MLS_SIGNED_ZERO_PRESERVE, MLS_SIGNED_ZERO_POSITIVE, what + ".signed_zero");
  in_range(f->overflow, MLS_OVERFLOW_SATURATE, MLS_OVERFLOW_NAN, what + ".overflow");
  in_range(f->nonfinite, MLS_NONFINITE_ERROR, MLS_NONFINITE_PROPAGATE, what + ".nonfinite");
  if (!el.is_signed || el.zero == MLS_ZERO_NONE) bad(what + ".element: an element format is signed and has a zero");
  // The spec-1.0 (MLS) members of the family; the others are skips.
  if (el.specials != MLS_SPECIALS_NONE || el.encoding != MLS_ENCODING_SIGN_MAGNITUDE || sc.is_signed ||
      sc.zero != MLS_ZERO_NONE || sc.specials != MLS_SPECIALS_NONE || sc.encoding != MLS_ENCODING_SIGN_MAGNITUDE ||
      sc.bias != (1 << sc.exp_bits) - 1 || f->tensor_scale != MLS_TSCALE_AMAX || f->scale_policy == MLS_SCALE_OCP ||
      f->overflow > MLS_OVERFLOW_ERROR || f->nonfinite != MLS_NONFINITE_ERROR)
    fail(MLS_ERR_UNSUPPORTED, what + ": this host computes the spec-1.0 (MLS) members of the family only");
  if (f->group_rank < 0) bad(what + ".group_rank = " + num(f->group_rank) + " is negative");
  if (f->group_rank > 0 && !f->group_shape) bad(what + ".group_shape is NULL but group_rank = " + num(f->group_rank));
  FormatDesc d;
  d.el.E = el.exp_bits;
  d.el.M = el.man_bits;
  d.el.bias = el.bias;
  d.el.zero_only = el.zero == MLS_ZERO_ONLY;
  if (d.el.zero_only && d.el.E == 0)
    bad(what + ".element.zero = zero_only needs exp_bits >= 1 (with E = 0 every code has exponent field 0)");
  if (d.el.E == 0 && d.el.M == 0)
    bad(what + ".element.man_bits = 0 with exp_bits = 0 leaves only the value zero (an element format needs a "
               "non-zero value)");
  d.gs.Eg = sc.exp_bits;
  d.gs.Mg = sc.man_bits;
  d.policy = f->scale_policy;
  d.poszero = f->signed_zero == MLS_SIGNED_ZERO_POSITIVE;
  d.ovf_error = f->overflow == MLS_OVERFLOW_ERROR;
  for (int32_t i = 0; i < f->group_rank; ++i) {
    if (f->group_shape[i] < 0) bad(what + ".group_shape[" + num(i) + "] = " + num(f->group_shape[i]) + " is negative");
    d.group_shape.push_back(f->group_shape[i]);
  }
  return d;
}

void check_rounding(const mls_rounding_v2* r) {
  need_pointer(r, "rounding");
  in_range(r->mode, MLS_RNE, MLS_SR, "rounding.mode");
  if (r->mode == MLS_SR) in_range(r->sr_bits, 1, 32, "rounding.bits");
}

std::vector<int64_t> read_shape(int32_t rank, const int64_t* shape, const std::string& what, int max_rank) {
  if (rank < 1) bad(what + " has rank " + num(rank) + " (at least 1 needed)");
  need_pointer(shape, what);
  if (rank > max_rank) unsupported(what + " has rank " + num(rank) + "; this backend handles rank <= " + num(max_rank));
  std::vector<int64_t> s(shape, shape + rank);
  int64_t n = 1;
  for (int32_t i = 0; i < rank; ++i) {
    if (s[i] < 1) bad(what + "[" + num(i) + "] = " + num(s[i]) + " is not >= 1");
    if (n > (int64_t(1) << 40) / s[i]) bad(what + " has more than 2^40 elements");
    n *= s[i];
  }
  return s;
}

// ---- group layout ---------------------------------------------------------------

Layout::Layout(const FormatDesc& f, const std::vector<int64_t>& s, const std::string& what) {
  const size_t r = s.size();
  std::vector<int64_t> g = f.group_shape;
  if (g.empty()) {  // the default layout: per (n, c) for rank >= 2, one group for rank 1
    g.assign(r, 0);
    if (r >= 2) g[0] = g[1] = 1;
  }
  if (g.size() != r)
    bad(what + ".group_shape has " + num(int64_t(g.size())) + " entries but the tensor has rank " + num(int64_t(r)));
  for (size_t i = 0; i < r; ++i)
    if (g[i] == 0 || g[i] > s[i]) g[i] = s[i];
  // Walk from the last axis: an axis folds into the merged axis after it
  // when that one's tile is the whole (merged) axis.
  std::vector<int64_t> rs{s[r - 1]}, rt{g[r - 1]};
  for (size_t i = r - 1; i-- > 0;) {
    if (rt.back() == rs.back()) {
      rs.back() *= s[i];
      rt.back() *= g[i];
    } else {
      rs.push_back(s[i]);
      rt.push_back(g[i]);
    }
  }
  shape.assign(rs.rbegin(), rs.rend());
  tile.assign(rt.rbegin(), rt.rend());
  groups = 1;
  count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    tiles.push_back((shape[i] + tile[i] - 1) / tile[i]);
    groups *= tiles.back();
    count *= shape[i];
  }
}

std::vector<int64_t> Layout::group_index() const {
  const size_t r = shape.size();
  std::vector<int64_t> out(static_cast<size_t>(count));
  std::vector<int64_t> idx(r, 0), gstride(r, 1);
  for (size_t i = r - 1; i-- > 0;) gstride[i] = gstride[i + 1] * tiles[i + 1];
  // An odometer over the merged shape; the group is sum_i (idx_i / tile_i) * gstride_i.
  const int64_t last = shape[r - 1], ltile = tile[r - 1];
  int64_t i = 0;
  while (i < count) {
    int64_t base = 0;
    for (size_t d = 0; d + 1 < r; ++d) base += (idx[d] / tile[d]) * gstride[d];
    for (int64_t k = 0; k < last; ++k) out[static_cast<size_t>(i + k)] = base + k / ltile;
    i += last;
    for (size_t d = r - 1; d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

// ---- tensors --------------------------------------------------------------------

namespace {
const mls_tensor_v2& deref(const mls_tensor_v2* t, const std::string& what) {
  need_pointer(t, what);
  return *t;
}
}  // namespace

TensorView::TensorView(const mls_tensor_v2* t, const std::string& what)
    : fmt(read_format(&deref(t, what).format, what + ".format")),
      shape(read_shape(t->rank, t->shape, what + ".shape")),
      layout(fmt, shape, what + ".format"),
      tensor_scale(t->tensor_scale),
      group_scales(t->group_scales),
      elements(t->elements) {
  if (t->element_count != static_cast<uint64_t>(layout.count))
    bad(what + ".elements has " + std::to_string(t->element_count) + " codes but shape " + shape_text(shape) +
        " has " + num(layout.count) + " elements");
  if (t->group_count != static_cast<uint64_t>(layout.groups))
    bad(what + ".group_scales has " + std::to_string(t->group_count) + " codes but the layout has " +
        num(layout.groups) + " groups");
  need_pointer(elements, what + ".elements");
  need_pointer(group_scales, what + ".group_scales");
  if ((tensor_scale >> 31) || tensor_scale == 0 || nonfinite(tensor_scale))
    bad(what + ".tensor_scale " + hex32(tensor_scale) + " is not a positive finite fp32");
  const uint32_t gmax = fmt.gs.max_code();
  for (int64_t g = 0; g < layout.groups; ++g)
    if (group_scales[g] > gmax)
      bad(what + ".group_scales[" + num(g) + "] = " + num(group_scales[g]) + " is not a valid code of " +
          fmt.gs.name());
  for (int64_t i = 0; i < layout.count; ++i)
    if (!fmt.el.valid_code(elements[i]))
      bad(what + ".elements[" + num(i) + "] = " + num(elements[i]) + " is not a valid code of " + fmt.el.name());
}

// ---- conv2d geometry ------------------------------------------------------------

int64_t ConvGeom::reduction() const {
  if (pass == MLS_PASS_FWD) return Cg * KH * KW;
  if (pass == MLS_PASS_BWD_DATA) return Og * KH * KW;
  return N * OH * OW;
}

ConvGeom read_conv(const mls_conv2d_v2* p, const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                   int32_t out_rank, const int64_t* out_shape) {
  need_pointer(p, "conv2d params");
  constexpr int64_t kMax = int64_t(1) << 32;
  ConvGeom g;
  g.pass = p->pass;
  in_range(p->pass, MLS_PASS_FWD, MLS_PASS_BWD_WEIGHT, "pass");
  for (int i = 0; i < 2; ++i) {
    const std::string k = "[" + num(i) + "]";
    if (p->stride[i] < 1 || p->stride[i] > kMax) bad("stride" + k + " = " + num(p->stride[i]) + " is outside 1..2^32");
    if (p->dilation[i] < 1 || p->dilation[i] > kMax)
      bad("dilation" + k + " = " + num(p->dilation[i]) + " is outside 1..2^32");
    if (p->padding[i] < 0 || p->padding[i] > kMax)
      bad("padding" + k + " = " + num(p->padding[i]) + " is outside 0..2^32");
  }
  if (p->groups < 1 || p->groups > kMax) bad("groups = " + num(p->groups) + " is outside 1..2^32");
  auto rank4 = [&](const std::vector<int64_t>& s, const std::string& name) {
    if (s.size() != 4) bad(name + " has rank " + num(int64_t(s.size())) + "; conv2d needs rank 4");
    for (size_t i = 0; i < 4; ++i)
      if (s[i] > kMax) bad(name + "[" + num(int64_t(i)) + "] = " + num(s[i]) + " is above 2^32");
  };
  rank4(a, "a.shape");
  rank4(b, "b.shape");
  std::vector<int64_t> out;
  if (out_rank != 0 || out_shape) out = read_shape(out_rank, out_shape, "out_shape");
  if (p->pass != MLS_PASS_FWD && out.empty())
    bad("out_shape is required for the backward passes: the operands do not fix the result's shape");
  if (!out.empty()) rank4(out, "out_shape");
  // Which argument carries the activation, the weight and dY in each pass (6.2).
  const std::vector<int64_t>* act = &a;
  const std::vector<int64_t>* wt = &b;
  const std::vector<int64_t>* dy = nullptr;
  std::string an = "a.shape", wn = "b.shape", dn;
  if (p->pass == MLS_PASS_BWD_DATA) act = &out, dy = &a, an = "out_shape", dn = "a.shape";
  if (p->pass == MLS_PASS_BWD_WEIGHT) wt = &out, dy = &b, wn = "out_shape", dn = "b.shape";
  g.N = (*act)[0], g.C = (*act)[1], g.H = (*act)[2], g.W = (*act)[3];
  g.O = (*wt)[0], g.Cg = (*wt)[1], g.KH = (*wt)[2], g.KW = (*wt)[3];
  g.G = p->groups;
  g.sh = p->stride[0], g.sw = p->stride[1], g.ph = p->padding[0], g.pw = p->padding[1];
  g.dh = p->dilation[0], g.dw = p->dilation[1];
  if (g.C % g.G != 0) bad(an + "[1] = " + num(g.C) + " (C) is not divisible by groups = " + num(g.G));
  if (g.C / g.G != g.Cg) bad(wn + "[1] = " + num(g.Cg) + " (Cg) must equal C / groups = " + num(g.C / g.G));
  if (g.O % g.G != 0) bad(wn + "[0] = " + num(g.O) + " (O) is not divisible by groups = " + num(g.G));
  g.Og = g.O / g.G;
  auto extent = [](int64_t in, int64_t k, int64_t s, int64_t pad, int64_t d) {
    const int64_t span = in + 2 * pad - d * (k - 1) - 1;
    return span < 0 ? int64_t(0) : span / s + 1;
  };
  g.OH = extent(g.H, g.KH, g.sh, g.ph, g.dh);
  g.OW = extent(g.W, g.KW, g.sw, g.pw, g.dw);
  if (g.OH < 1) bad("padding/dilation leave no output height: " + an + "[2] = " + num(g.H) + " is too short");
  if (g.OW < 1) bad("padding/dilation leave no output width: " + an + "[3] = " + num(g.W) + " is too short");
  if (dy) {
    const int64_t want[4] = {g.N, g.O, g.OH, g.OW};
    const char* what[4] = {"N", "O", "OH", "OW"};
    for (int i = 0; i < 4; ++i)
      if ((*dy)[i] != want[i])
        bad(dn + "[" + num(i) + "] = " + num((*dy)[i]) + " (dY " + what[i] + ") does not match " + what[i] + " = " +
            num(want[i]));
  }
  if (p->pass == MLS_PASS_FWD) {
    g.out_shape = {g.N, g.O, g.OH, g.OW};
    if (!out.empty() && out != g.out_shape)
      bad("out_shape " + shape_text(out) + " does not match the forward output shape " + shape_text(g.out_shape));
  } else {
    g.out_shape = out;
  }
  if (g.N * g.O > kMax || g.OH * g.OW > kMax || g.N * g.C > kMax || g.H * g.W > kMax || g.KH * g.KW > kMax ||
      g.N * g.O * g.OH * g.OW > (int64_t(1) << 40) || g.N * g.C * g.H * g.W > (int64_t(1) << 40))
    bad("conv2d operands are too large (more than 2^40 elements)");
  return g;
}

// ---- the arithmetic profile -----------------------------------------------------

Arith read_arith(const char* text) {
  Arith a;
  if (!text || !*text || std::string(text) == "exact") return a;
  if (text[0] != '{') bad(std::string("arith \"") + text + "\" is neither \"exact\" nor a JSON object");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    bad(std::string("arith is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) bad("arith must be a JSON object like {\"profile\":\"exact\"}");
  auto member = [&](const char* k) -> const nlohmann::json& {
    if (!j.contains(k)) bad(std::string("arith.") + k + " is missing (the accumulator profile names every choice)");
    return j.at(k);
  };
  auto text_of = [&](const char* k) {
    const nlohmann::json& v = member(k);
    if (!v.is_string()) bad(std::string("arith.") + k + " must be a string");
    return v.get<std::string>();
  };
  auto pick = [&](const char* k, std::initializer_list<const char*> names) {
    const std::string v = text_of(k);
    int32_t i = 0;
    std::string list;
    for (const char* n : names) {
      if (v == n) return i;
      list += (i++ ? ", " : "") + std::string(n);
    }
    bad("arith." + std::string(k) + " = \"" + v + "\" is not one of " + list);
  };
  auto integer = [&](const char* k, int64_t lo, int64_t hi) {
    const nlohmann::json& v = member(k);
    if (!v.is_number_integer()) bad(std::string("arith.") + k + " must be an integer");
    const int64_t x = v.get<int64_t>();
    in_range(x, lo, hi, std::string("arith.") + k);
    return x;
  };
  const std::string profile = j.contains("profile") ? text_of("profile") : "exact";
  if (profile == "exact") {
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.key() != "profile") bad("arith." + it.key() + " is not a field of the exact profile (it has no choices)");
    return a;
  }
  if (profile != "accumulator") bad("arith.profile = \"" + profile + "\" is not one of exact, accumulator");
  static const char* fields[] = {"profile", "frac_bits", "width", "alignment", "overflow", "inter_group",
                                 "final_rounding"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::none_of(std::begin(fields), std::end(fields), [&](const char* f) { return it.key() == f; }))
      bad("arith." + it.key() + " is not a field of the accumulator profile");
  a.exact = false;
  a.frac_bits = integer("frac_bits", -4096, 4096);
  a.width = integer("width", 2, 4096);
  // The five modes of 6.9.1 / 6.9.4, as their C ABI values (MLS_RNE 0 .. MLS_RDN 4).
  a.alignment = pick("alignment", {"rne", "rna", "rtz", "rup", "rdn"});
  a.overflow = pick("overflow", {"saturate", "wrap", "error"});
  a.inter_group_fp32 = pick("inter_group", {"exact", "fp32"}) == 1;
  a.final_rounding = pick("final_rounding", {"rne", "rna", "rtz", "rup", "rdn"});
  return a;
}

}  // namespace mlshost
