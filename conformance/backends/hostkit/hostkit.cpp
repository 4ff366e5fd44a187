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

uint32_t GridDesc::max_code() const {
  if (specials == MLS_SPECIALS_NAN_ALL_ONES) return mag_mask() - 1;
  if (specials == MLS_SPECIALS_IEEE) return mag_mask() - (uint32_t(1) << M);  // the exponent field below all ones
  return mag_mask();
}

bool GridDesc::valid_code(uint32_t code) const {
  if (bits() < 32 && code >= (uint32_t(1) << bits())) return false;
  if (encoding == MLS_ENCODING_TWOS_COMPLEMENT) return true;  // every pattern is an integer
  const uint32_t mag = code & mag_mask();
  return !(zero_only() && mag != 0 && (mag >> M) == 0);
}

bool GridDesc::is_special(uint32_t code) const {
  const uint32_t mag = code & mag_mask();
  if (specials == MLS_SPECIALS_NAN_ALL_ONES) return mag == mag_mask();
  if (specials == MLS_SPECIALS_IEEE) return (mag >> M) == (uint32_t(1) << E) - 1;
  return false;
}

std::string GridDesc::name() const {
  std::string s = std::string(is_signed ? "" : "u") + "e" + num(E) + "m" + num(M);
  if (bias != (E == 0 ? 0 : (1 << E) - 1)) s += "b" + num(bias);
  if (zero_only()) s += "z";
  if (zero == MLS_ZERO_NONE && is_signed) s += "nz";
  if (specials == MLS_SPECIALS_IEEE) s += "i";
  if (specials == MLS_SPECIALS_NAN_ALL_ONES) s += "n";
  if (encoding == MLS_ENCODING_TWOS_COMPLEMENT) s += "c";
  return s;
}

std::string FormatDesc::name() const {
  // MLS group scales keep the short spelling of spec 2.7 (g4m1).
  const bool mls_scale = !gs.is_signed && gs.zero == MLS_ZERO_NONE && gs.specials == MLS_SPECIALS_NONE &&
                         gs.bias == (1 << gs.E) - 1;
  return el.name() + "." + (mls_scale ? "g" + num(gs.E) + "m" + num(gs.M) : gs.name());
}

namespace {

// An enumeration field: negative is invalid; above the values this header
// names is a value this host does not know (a later revision's), so unsupported.
void enum_field(int32_t v, int32_t known_max, const std::string& field) {
  if (v < 0) bad(field + " = " + num(v) + " is negative");
  if (v > known_max) unsupported(field + " = " + num(v) + " is not a value this host knows (0.." + num(known_max) + ")");
}

enum class Role { element, scale };

GridDesc read_grid(const mls_minifloat_v2& m, Role role, const std::string& w) {
  const bool el = role == Role::element;
  in_range(m.is_signed, 0, 1, w + ".signed");
  in_range(m.exp_bits, el ? 0 : 1, 8, w + ".exp_bits");
  in_range(m.man_bits, 0, 23, w + ".man_bits");
  in_range(m.bias, -100000, 100000, w + ".bias");
  enum_field(m.zero, MLS_ZERO_NONE, w + ".zero");
  enum_field(m.specials, MLS_SPECIALS_NAN_ALL_ONES, w + ".specials");
  enum_field(m.encoding, MLS_ENCODING_TWOS_COMPLEMENT, w + ".encoding");
  GridDesc g;
  g.is_signed = m.is_signed != 0;
  g.E = m.exp_bits;
  g.M = m.man_bits;
  g.bias = m.bias;
  g.zero = m.zero;
  g.specials = m.specials;
  g.encoding = m.encoding;
  // The combinations spec 1.x rules out (the golden model's Minifloat::validate).
  if (g.zero_only() && g.E == 0)
    bad(w + ".zero = zero_only needs exp_bits >= 1 (with E = 0 every code has exponent field 0)");
  if (g.specials == MLS_SPECIALS_IEEE && (g.E < 2 || g.M < 1))
    bad(w + ".specials = ieee needs exp_bits >= 2 and man_bits >= 1 (Inf and NaN take the all-ones exponent field)");
  if (g.specials == MLS_SPECIALS_NAN_ALL_ONES && (g.E < 1 || g.E + g.M < 2))
    bad(w + ".specials = nan_all_ones needs exp_bits >= 1 and exp_bits + man_bits >= 2");
  if (g.encoding == MLS_ENCODING_TWOS_COMPLEMENT) {
    if (!el) bad(w + ".encoding = twos_complement is not allowed for a group-scale format (scales are positive)");
    if (g.E != 0) bad(w + ".encoding = twos_complement needs exp_bits = 0 (an integer grid)");
    if (!g.is_signed) bad(w + ".encoding = twos_complement needs signed = true");
    if (g.specials != MLS_SPECIALS_NONE) bad(w + ".encoding = twos_complement needs specials = none");
    if (g.zero != MLS_ZERO_SUBNORMAL) bad(w + ".encoding = twos_complement needs zero = subnormal");
  }
  if (el) {
    if (g.E == 0 && g.M == 0)
      bad(w + ".man_bits = 0 with exp_bits = 0 leaves only the value zero (an element format needs a non-zero value)");
    if (!g.is_signed) bad(w + ".signed must be true for an element format");
    if (g.zero == MLS_ZERO_NONE) bad(w + ".zero = none is not allowed for an element format (an element must be able to be zero)");
  }
  return g;
}

bool has_nan(const GridDesc& g) { return g.specials != MLS_SPECIALS_NONE; }

}  // namespace

ElementDesc read_element(const mls_minifloat_v2& m, const std::string& what) { return read_grid(m, Role::element, what); }

FormatDesc read_format(const mls_format_v2* f, const std::string& what) {
  need_pointer(f, what);
  FormatDesc d;
  d.el = read_grid(f->element, Role::element, what + ".element");
  d.gs = read_grid(f->scale, Role::scale, what + ".group_scale");
  enum_field(f->tensor_scale, MLS_TSCALE_ONE, what + ".tensor_scale");
  enum_field(f->scale_policy, MLS_SCALE_OCP, what + ".scale_policy");
  in_range(f->signed_zero, MLS_SIGNED_ZERO_PRESERVE, MLS_SIGNED_ZERO_POSITIVE, what + ".signed_zero");
  enum_field(f->overflow, MLS_OVERFLOW_NAN, what + ".overflow");
  enum_field(f->nonfinite, MLS_NONFINITE_PROPAGATE, what + ".nonfinite");
  d.tensor_scale = f->tensor_scale;
  d.policy = f->scale_policy;
  d.poszero = f->signed_zero == MLS_SIGNED_ZERO_POSITIVE;
  d.overflow = f->overflow;
  d.nonfinite = f->nonfinite;
  if (d.overflow == MLS_OVERFLOW_INFINITY && d.el.specials != MLS_SPECIALS_IEEE)
    bad(what + ".overflow = infinity needs an element format with Inf (specials = ieee); " + d.el.name() + " has none");
  if (d.overflow == MLS_OVERFLOW_NAN && !has_nan(d.el))
    bad(what + ".overflow = nan needs an element format with a NaN code; " + d.el.name() + " has none");
  if (d.nonfinite == MLS_NONFINITE_PROPAGATE) {
    if (d.tensor_scale != MLS_TSCALE_ONE)
      bad(what + ".nonfinite = propagate needs tensor_scale = one (a NaN or Inf has no tensor scale, 4.1.2)");
    if (!has_nan(d.gs))
      bad(what + ".nonfinite = propagate needs a group-scale format with a NaN code; " + d.gs.name() + " has none");
  }
  if (f->group_rank < 0) bad(what + ".group_rank = " + num(f->group_rank) + " is negative");
  if (f->group_rank > 0 && !f->group_shape) bad(what + ".group_shape is NULL but group_rank = " + num(f->group_rank));
  for (int32_t i = 0; i < f->group_rank; ++i) {
    if (f->group_shape[i] < 0) bad(what + ".group_shape[" + num(i) + "] = " + num(f->group_shape[i]) + " is negative");
    d.group_shape.push_back(f->group_shape[i]);
  }
  return d;
}

void require_mls(const FormatDesc& f, const std::string& what, const std::string& who) {
  const GridDesc &e = f.el, &g = f.gs;
  std::string why;
  if (e.specials != MLS_SPECIALS_NONE) why = "element specials (NaN/Inf codes)";
  else if (e.encoding != MLS_ENCODING_SIGN_MAGNITUDE) why = "a two's complement element";
  else if (g.is_signed || g.zero != MLS_ZERO_NONE || g.specials != MLS_SPECIALS_NONE ||
           g.encoding != MLS_ENCODING_SIGN_MAGNITUDE || g.bias != (1 << g.E) - 1)
    why = "group scale " + g.name() + " (only unsigned, bias 2^Eg - 1, no zero, no specials)";
  else if (f.tensor_scale != MLS_TSCALE_AMAX) why = "tensor_scale = one";
  else if (f.policy > MLS_SCALE_FLOOR) why = "scale_policy " + num(f.policy);
  else if (f.overflow > MLS_OVERFLOW_ERROR) why = "overflow to Inf/NaN";
  else if (f.nonfinite != MLS_NONFINITE_ERROR) why = "nonfinite = propagate";
  if (!why.empty()) unsupported(what + ": " + who + " computes the MLS members of the family (spec 1.0), not " + why);
}

CastDesc read_cast(const mls_cast_v2* c) {
  need_pointer(c, "cast");
  CastDesc d;
  d.el = read_grid(c->element, Role::element, "cast.element");
  check_rounding(&c->rounding);
  d.rounding = c->rounding;
  enum_field(c->overflow, MLS_OVERFLOW_NAN, "cast.overflow");
  in_range(c->signed_zero, MLS_SIGNED_ZERO_PRESERVE, MLS_SIGNED_ZERO_POSITIVE, "cast.signed_zero");
  d.overflow = c->overflow;
  d.poszero = c->signed_zero == MLS_SIGNED_ZERO_POSITIVE;
  if (d.overflow == MLS_OVERFLOW_INFINITY && d.el.specials != MLS_SPECIALS_IEEE)
    bad("cast.overflow = infinity needs an element format with Inf (specials = ieee)");
  if (d.overflow == MLS_OVERFLOW_NAN && !has_nan(d.el)) bad("cast.overflow = nan needs an element format with a NaN code");
  if (c->scale_mant < 1) bad("cast.scale_mant = " + num(c->scale_mant) + " is not >= 1");
  d.scale_mant = c->scale_mant;
  d.scale_exp = c->scale_exp;
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
  for (int64_t g = 0; g < layout.groups; ++g)
    if (!fmt.gs.valid_code(group_scales[g]))
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
