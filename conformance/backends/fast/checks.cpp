// mls-fast: checks of the tensors, conv geometry and arithmetic profile that
// arrive through the ABI. Every error names the field or index at fault.
#include <nlohmann/json.hpp>

#include "fast.hpp"

namespace mlsfast {

namespace {
std::string num(int64_t v) { return std::to_string(v); }
std::string shape_text(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) t += ",";
    t += num(s[i]);
  }
  return t + "]";
}
const mls_tensor_v2* non_null(const mls_tensor_v2* t, const std::string& what) {
  if (!t) bad(what + " is NULL");
  return t;
}
}  // namespace

Tensor::Tensor(const mls_tensor_v2* t, const std::string& w)
    : fmt(make_format(&non_null(t, w)->format, w + ".format")),
      shape(read_shape(t->rank, t->shape, w + ".shape")),
      layout(fmt, shape, w + ".format"),
      tensor_scale(t->tensor_scale),
      group_scales(t->group_scales),
      elements(t->elements),
      what(w) {
  if (t->element_count != static_cast<uint64_t>(layout.count))
    bad(what + ".elements has " + num(static_cast<int64_t>(t->element_count)) + " codes but shape " +
        shape_text(shape) + " has " + num(layout.count) + " elements");
  if (t->group_count != static_cast<uint64_t>(layout.groups))
    bad(what + ".group_scales has " + num(static_cast<int64_t>(t->group_count)) + " codes but the layout has " +
        num(layout.groups) + " groups");
  if (!elements) bad(what + ".elements is NULL");
  if (!group_scales) bad(what + ".group_scales is NULL");
  if ((tensor_scale >> 31) || tensor_scale == 0 || fp32_nonfinite(tensor_scale))
    bad(what + ".tensor_scale " + hex32(tensor_scale) + " is not a positive finite fp32");
  // Group scales: finite or NaN codes (4.7.1), never Inf, never negative (2.3).
  const Grid& gs = fmt.gs;
  for (int64_t g = 0; g < layout.groups; ++g) {
    const uint32_t c = group_scales[g];
    if (!gs.is_code(c) || gs.is_inf_code(c))
      bad(what + ".group_scales[" + num(g) + "] = " + num(c) + " is not a valid code of " + gs.name());
    if (c & gs.sign_bit)
      bad(what + ".group_scales[" + num(g) + "] = " + num(c) + " is negative: a scale is >= 0 (2.3)");
  }
  // Element codes (finite, NaN or Inf): the first invalid index wins, found in parallel.
  const Grid& el = fmt.el;
  const int64_t i = first_index(layout.count, 0.5, [&](int64_t k) { return !el.is_code(elements[k]); });
  if (i < layout.count)
    bad(what + ".elements[" + num(i) + "] = " + num(elements[i]) + " is not a valid code of " + el.name());
}

void Tensor::require_finite() const {
  for (int64_t g = 0; g < layout.groups; ++g)
    if (fmt.gs.is_nan_code(group_scales[g]))
      bad(what + ".group_scales[" + num(g) + "] is NaN: the operation needs finite operands (6.11)");
  const Grid& el = fmt.el;
  if (!el.has_nan()) return;
  const int64_t i = first_index(layout.count, 0.5, [&](int64_t k) { return !el.is_finite_code(elements[k]); });
  if (i < layout.count)
    bad(what + ".elements[" + num(i) + "] is " + (el.is_nan_code(elements[i]) ? "NaN" : "Inf") +
        ": the operation needs finite operands (6.11)");
}

ConvGeom conv_geometry(const mls_conv2d_v2* p, const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                       int32_t out_rank, const int64_t* out_shape) {
  if (!p) bad("conv2d params is NULL");
  constexpr int64_t kMax = int64_t(1) << 32;
  ConvGeom g;
  g.pass = p->pass;
  if (p->pass < MLS_PASS_FWD || p->pass > MLS_PASS_BWD_WEIGHT) bad("pass = " + num(p->pass) + " is outside 0..2");
  for (int i = 0; i < 2; ++i) {
    const std::string k = "[" + num(i) + "]";
    if (p->stride[i] < 1 || p->stride[i] > kMax) bad("stride" + k + " = " + num(p->stride[i]) + " is outside 1..2^32");
    if (p->dilation[i] < 1 || p->dilation[i] > kMax)
      bad("dilation" + k + " = " + num(p->dilation[i]) + " is outside 1..2^32");
    if (p->padding[i] < 0 || p->padding[i] > kMax)
      bad("padding" + k + " = " + num(p->padding[i]) + " is outside 0..2^32");
  }
  if (p->groups < 1 || p->groups > kMax) bad("groups = " + num(p->groups) + " is outside 1..2^32");
  auto rank4 = [](const std::vector<int64_t>& s, const std::string& name) {
    if (s.size() != 4) bad(name + " has rank " + num(static_cast<int64_t>(s.size())) + "; conv2d needs rank 4");
    for (size_t i = 0; i < 4; ++i)
      if (s[i] > kMax) bad(name + "[" + num(static_cast<int64_t>(i)) + "] = " + num(s[i]) + " is above 2^32");
  };
  rank4(a, "a.shape");
  rank4(b, "b.shape");
  std::vector<int64_t> out;
  if (out_rank != 0 || out_shape) out = read_shape(out_rank, out_shape, "out_shape");
  if (p->pass != MLS_PASS_FWD && out.empty())
    bad("out_shape is required for the backward passes: the operands do not fix the result's shape");
  if (!out.empty()) rank4(out, "out_shape");
  std::vector<int64_t> act, wt, dy;
  std::string an = "a.shape", wn = "b.shape", dn = "b.shape";
  if (p->pass == MLS_PASS_FWD) act = a, wt = b;
  if (p->pass == MLS_PASS_BWD_DATA) act = out, wt = b, dy = a, an = "out_shape", dn = "a.shape";
  if (p->pass == MLS_PASS_BWD_WEIGHT) act = a, wt = out, dy = b, wn = "out_shape";
  g.N = act[0], g.C = act[1], g.H = act[2], g.W = act[3];
  g.O = wt[0], g.Cg = wt[1], g.KH = wt[2], g.KW = wt[3];
  g.G = p->groups;
  g.sh = p->stride[0], g.sw = p->stride[1], g.ph = p->padding[0], g.pw = p->padding[1];
  g.dh = p->dilation[0], g.dw = p->dilation[1];
  if (g.C % g.G != 0) bad(an + "[1] = " + num(g.C) + " (C) is not divisible by groups = " + num(g.G));
  if (g.C / g.G != g.Cg) bad(wn + "[1] = " + num(g.Cg) + " (Cg) must equal C / groups = " + num(g.C / g.G));
  if (g.O % g.G != 0) bad(wn + "[0] = " + num(g.O) + " (O) is not divisible by groups = " + num(g.G));
  g.Og = g.O / g.G;
  auto outsize = [](int64_t in, int64_t k, int64_t s, int64_t pad, int64_t d) {
    const int64_t span = in + 2 * pad - d * (k - 1) - 1;
    return span < 0 ? int64_t(0) : span / s + 1;
  };
  g.OH = outsize(g.H, g.KH, g.sh, g.ph, g.dh);
  g.OW = outsize(g.W, g.KW, g.sw, g.pw, g.dw);
  if (g.OH < 1) bad("padding/dilation leave no output height: " + an + "[2] = " + num(g.H) + " is too short");
  if (g.OW < 1) bad("padding/dilation leave no output width: " + an + "[3] = " + num(g.W) + " is too short");
  if (!dy.empty()) {
    const int64_t want[4] = {g.N, g.O, g.OH, g.OW};
    const char* what[4] = {"N", "O", "OH", "OW"};
    for (int i = 0; i < 4; ++i)
      if (dy[i] != want[i])
        bad(dn + "[" + num(i) + "] = " + num(dy[i]) + " (dY " + what[i] + ") does not match " + what[i] + " = " +
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

void check_arith(const char* arith) {
  if (!arith || !*arith) return;
  const std::string text = arith;
  if (text == "exact") return;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    bad(std::string("arith is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) bad("arith must be a JSON object like {\"profile\":\"exact\"}");
  std::string profile = "exact";
  if (j.contains("profile")) {
    if (!j.at("profile").is_string()) bad("arith.profile must be a string");
    profile = j.at("profile").get<std::string>();
  }
  if (profile == "accumulator")
    fail(MLS_ERR_UNSUPPORTED, "mls-fast computes the exact profile only, not arith.profile = \"accumulator\"");
  if (profile != "exact") bad("arith.profile = \"" + profile + "\" is not one of exact, accumulator");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "profile") bad("arith." + it.key() + " is not a field of the exact profile");
}

}  // namespace mlsfast
