// mls-fast: the descriptors that arrive through the ABI -- minifloat grids
// (1.9), formats (2.x), roundings (3.8), overflow policies (3.5) and the
// quantizer arithmetic profiles (4.12) -- checked field by field; every
// error names the field at fault. Compiled once and shared by every variant.
#include "fast.hpp"

namespace mlsfast {

namespace {

std::string num(int64_t v) { return std::to_string(v); }
void range(int64_t v, int64_t lo, int64_t hi, const std::string& field) {
  if (v < lo || v > hi) bad(field + " = " + num(v) + " is outside " + num(lo) + ".." + num(hi));
}

enum class Role { element, scale };

// 1.9, one check per row of its table, then the derived fields.
Grid make_grid(const mls_minifloat_v2& m, const std::string& what, Role role) {
  const bool scale = role == Role::scale;
  range(m.is_signed, 0, 1, what + ".signed");
  range(m.exp_bits, scale ? 1 : 0, 8, what + ".exp_bits");
  range(m.man_bits, 0, 23, what + ".man_bits");
  range(m.bias, -100000, 100000, what + ".bias");
  range(m.zero, MLS_ZERO_SUBNORMAL, MLS_ZERO_NONE, what + ".zero");
  range(m.specials, MLS_SPECIALS_NONE, MLS_SPECIALS_NAN_ALL_ONES, what + ".specials");
  range(m.encoding, MLS_ENCODING_SIGN_MAGNITUDE, MLS_ENCODING_TWOS_COMPLEMENT, what + ".encoding");
  Grid g;
  g.E = m.exp_bits;
  g.M = m.man_bits;
  g.bias = m.bias;
  g.zero = m.zero;
  g.specials = m.specials;
  g.is_signed = m.is_signed != 0;
  g.twos = m.encoding == MLS_ENCODING_TWOS_COMPLEMENT;
  if (g.zero == MLS_ZERO_ONLY && g.E == 0)
    bad(what + ".zero = zero_only needs exp_bits >= 1 (with E = 0 every code has exponent field 0)");
  if (g.specials == MLS_SPECIALS_IEEE && (g.E < 2 || g.M < 1))
    bad(what + ".specials = ieee needs exp_bits >= 2 and man_bits >= 1 (Inf and NaN take the all-ones exponent field)");
  if (g.specials == MLS_SPECIALS_NAN_ALL_ONES && (g.E < 1 || g.E + g.M < 2))
    bad(what + ".specials = nan_all_ones needs exp_bits >= 1 and exp_bits + man_bits >= 2 (the all-ones magnitude is "
               "NaN; a finite non-zero value must remain)");
  if (g.twos) {
    if (scale) bad(what + ".encoding = twos_complement is not allowed for a group-scale format (scales are positive)");
    if (g.E != 0) bad(what + ".encoding = twos_complement needs exp_bits = 0 (an integer grid)");
    if (!g.is_signed) bad(what + ".encoding = twos_complement needs signed = true");
    if (g.specials != MLS_SPECIALS_NONE) bad(what + ".encoding = twos_complement needs specials = none");
    if (g.zero != MLS_ZERO_SUBNORMAL) bad(what + ".encoding = twos_complement needs zero = subnormal");
  }
  if (!scale) {
    if (g.E == 0 && g.M == 0)
      bad(what + ".man_bits = 0 with exp_bits = 0 leaves only the value zero (an element format needs a non-zero "
                 "value)");
    if (!g.is_signed) bad(what + ".signed must be 1 for an element format");
    if (g.zero == MLS_ZERO_NONE)
      bad(what + ".zero = none is not allowed for an element format (an element must be able to be zero)");
  }
  g.emaxf = g.E == 0 ? 0 : (1 << g.E) - 1;
  g.u0 = 1 - int64_t(g.bias) - g.M;
  g.mag_mask = static_cast<uint32_t>((uint64_t(1) << (g.E + g.M)) - 1);
  g.sign_bit = g.is_signed ? g.mag_mask + 1 : 0;
  g.code_count = uint64_t(1) << (g.E + g.M + (g.is_signed ? 1 : 0));
  switch (g.specials) {
    case MLS_SPECIALS_IEEE:
      g.inf_mag = static_cast<uint32_t>(g.emaxf) << g.M;
      g.nan_mag = g.inf_mag | (1u << (g.M - 1));
      g.max_mag = g.inf_mag - 1;
      break;
    case MLS_SPECIALS_NAN_ALL_ONES:
      g.nan_mag = g.mag_mask;
      g.max_mag = g.mag_mask - 1;
      break;
    default:
      g.max_mag = g.mag_mask;
      break;
  }
  g.over_mag = g.max_mag + 1;
  g.decode(g.max_mag, g.max_m, g.max_e);
  return g;
}

}  // namespace

Grid make_cast_grid(const mls_minifloat_v2& m, const std::string& what) {
  try {
    return make_grid(m, what, Role::element);
  } catch (const Failure& as_element) {
    try {
      return make_grid(m, what, Role::scale);
    } catch (const Failure& as_scale) {
      if (as_element.message == as_scale.message) throw;  // a rule of both roles
      bad(what + " is neither an element format (" + as_element.message + ") nor a group-scale format (" +
          as_scale.message + ")");
    }
  }
}

void check_overflow(int32_t overflow, const Grid& el, const std::string& what) {
  range(overflow, MLS_OVERFLOW_SATURATE, MLS_OVERFLOW_NAN, what);
  if (overflow == MLS_OVERFLOW_INFINITY && !el.has_inf())
    bad(what + " = infinity needs an element format with Inf (specials = ieee); " + el.name() + " has none");
  if (overflow == MLS_OVERFLOW_NAN && !el.has_nan())
    bad(what + " = nan needs an element format with a NaN code; " + el.name() + " has none");
}

Fmt make_format(const mls_format_v2* f, const std::string& what) {
  if (!f) bad(what + " is NULL");
  Fmt r;
  r.el = make_grid(f->element, what + ".element", Role::element);
  r.gs = make_grid(f->scale, what + ".group_scale", Role::scale);
  range(f->tensor_scale, MLS_TSCALE_AMAX, MLS_TSCALE_ONE, what + ".tensor_scale");
  range(f->scale_policy, MLS_SCALE_CEIL, MLS_SCALE_OCP_EVEN, what + ".scale_policy");
  range(f->signed_zero, 0, 1, what + ".signed_zero");
  check_overflow(f->overflow, r.el, what + ".overflow");
  range(f->nonfinite, MLS_NONFINITE_ERROR, MLS_NONFINITE_PROPAGATE, what + ".nonfinite");
  if (f->nonfinite == MLS_NONFINITE_PROPAGATE) {
    if (f->tensor_scale != MLS_TSCALE_ONE)
      bad(what + ".nonfinite = propagate needs tensor_scale = one (a NaN or Inf has no tensor scale, 4.1.2)");
    if (!r.gs.has_nan())
      bad(what + ".nonfinite = propagate needs a group-scale format with a NaN code; " + r.gs.name() +
          " has none (4.1.2)");
  }
  if (f->group_rank < 0) bad(what + ".group_rank = " + num(f->group_rank) + " is negative");
  if (f->group_rank > 0 && !f->group_shape) bad(what + ".group_shape is NULL but group_rank = " + num(f->group_rank));
  r.tensor_scale = f->tensor_scale;
  r.policy = f->scale_policy;
  r.poszero = f->signed_zero == MLS_SIGNED_ZERO_POSITIVE;
  r.overflow = f->overflow;
  r.nonfinite = f->nonfinite;
  for (int32_t i = 0; i < f->group_rank; ++i) {
    if (f->group_shape[i] < 0) bad(what + ".group_shape[" + num(i) + "] = " + num(f->group_shape[i]) + " is negative");
    r.group_shape.push_back(f->group_shape[i]);
  }
  return r;
}

void check_rounding(const mls_rounding_v2* r) {
  if (!r) bad("rounding is NULL");
  range(r->mode, MLS_RNE, MLS_SR, "rounding.mode");
  if (r->mode == MLS_SR) range(r->sr_bits, 1, 32, "rounding.bits");
}

// ---- quantizer arithmetic profiles ----------------------------------------------

const char* qarith_name(int32_t qarith) {
  switch (qarith) {
    case MLS_QARITH_EXACT: return "exact";
    case MLS_QARITH_FP32_DIV: return "fp32_div";
    case MLS_QARITH_FP32_RECIPROCAL: return "fp32_reciprocal";
    case MLS_QARITH_TORCHAO_MX: return "torchao_mx";
    case MLS_QARITH_TORCHAO_MX_RCEIL: return "torchao_mx_rceil";
    case MLS_QARITH_TORCHAO_NVFP4: return "torchao_nvfp4";
    case MLS_QARITH_TE_MXFP8: return "te_mxfp8";
    case MLS_QARITH_TE_NVFP4: return "te_nvfp4";
    default: return "";
  }
}

void check_qarith(int32_t qarith, const Fmt& f) {
  const std::string name = qarith_name(qarith);
  if (name.empty())
    fail(MLS_ERR_UNSUPPORTED, "qarith = " + num(qarith) + " is not a quantizer arithmetic profile mls-fast 0.2 knows");
  const std::string what = "qarith = " + name;
  const bool pow2 = f.gs.M == 0 && !f.gs.has_zero();  // E8M0-like: powers of two only
  switch (qarith) {
    case MLS_QARITH_TORCHAO_MX:
      if (!pow2 || f.tensor_scale != MLS_TSCALE_ONE || !f.ocp_divisor())
        bad(what + " applies to MX formats: a power-of-two scale grid (E8M0), tensor_scale one and a scale rule ocp, "
                   "ocp_ceil or ocp_even (torchao FLOOR, CEIL, EVEN) (4.12.3)");
      return;
    case MLS_QARITH_TORCHAO_MX_RCEIL:
    case MLS_QARITH_TE_MXFP8:
      if (!pow2 || f.tensor_scale != MLS_TSCALE_ONE || f.policy != MLS_SCALE_CEIL)
        bad(what + " applies to MX formats with the round-up scale rule: a power-of-two scale grid (E8M0), "
                   "tensor_scale one, scale rule ceil (4.12)");
      return;
    case MLS_QARITH_TORCHAO_NVFP4:
    case MLS_QARITH_TE_NVFP4: {
      const bool te = qarith == MLS_QARITH_TE_NVFP4;
      if (f.gs.zero != MLS_ZERO_SUBNORMAL || f.policy != MLS_SCALE_NEAREST || (te && f.tensor_scale != MLS_TSCALE_AMAX))
        bad(what + " applies to NVFP4 formats: a scale grid with subnormals (E4M3), scale rule nearest" +
            std::string(te ? ", tensor_scale amax" : "") + " (4.12)");
      return;
    }
    default: return;
  }
}

}  // namespace mlsfast
