#include "mls/tensor.hpp"

#include <algorithm>
#include <cmath>

#include "mls/error.hpp"
#include "mls/fp32_ops.hpp"
#include "mls/json_read.hpp"
#include "pipelines.hpp"

namespace mls {

int64_t element_count(const Shape& shape, const std::string& what) {
  if (shape.empty()) throw Error(what + " is empty (rank 0)");
  int64_t n = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 1) throw Error(what + "[" + std::to_string(i) + "] = " + std::to_string(shape[i]) + " is not >= 1");
    if (n > (int64_t(1) << 40) / shape[i]) throw Error(what + " has more than 2^40 elements");
    n *= shape[i];
  }
  return n;
}

std::string shape_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

GroupLayout::GroupLayout(const Format& f, const Shape& s) : shape(s) {
  element_count(s);
  group_shape = f.resolved_group_shape(s);
  tiles.resize(s.size());
  group_count = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (group_shape[i] == 0 || group_shape[i] > s[i]) group_shape[i] = s[i];
    tiles[i] = (s[i] + group_shape[i] - 1) / group_shape[i];
    group_count *= tiles[i];
  }
}

int64_t GroupLayout::group_of(int64_t linear) const {
  int64_t g = 0, stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    const int64_t idx = linear % shape[i];
    linear /= shape[i];
    g += (idx / group_shape[i]) * stride;
    stride *= tiles[i];
  }
  return g;
}

int64_t GroupLayout::group_of(const Shape& index) const {
  int64_t g = 0;
  for (size_t i = 0; i < shape.size(); ++i) g = g * tiles[i] + index[i] / group_shape[i];
  return g;
}

std::vector<int64_t> GroupLayout::group_index() const {
  const int64_t n = element_count(shape);
  std::vector<int64_t> out(static_cast<size_t>(n));
  Shape idx(shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    out[static_cast<size_t>(i)] = group_of(idx);
    for (size_t a = shape.size(); a-- > 0;) {
      if (++idx[a] < shape[a]) break;
      idx[a] = 0;
    }
  }
  return out;
}

// ---- tensors (2.10) ----------------------------------------------------------------

void MlsTensor::validate() const {
  format.validate();
  const int64_t n = element_count(shape);
  const GroupLayout layout(format, shape);
  if (static_cast<int64_t>(elements.size()) != n)
    throw Error("elements has " + std::to_string(elements.size()) + " codes but shape " + shape_string(shape) +
                " has " + std::to_string(n) + " elements");
  if (static_cast<int64_t>(group_scales.size()) != layout.group_count)
    throw Error("group_scales has " + std::to_string(group_scales.size()) + " codes but the layout has " +
                std::to_string(layout.group_count) + " groups");
  if (!fp32_is_finite(tensor_scale) || !(bits_float(tensor_scale) > 0))
    throw Error("tensor_scale " + hex32(tensor_scale) + " is not a positive finite fp32");
  const Minifloat& gs = format.group_scale;
  for (size_t i = 0; i < group_scales.size(); ++i) {
    const uint32_t c = group_scales[i];
    if (!gs.is_code(c) || gs.is_inf_code(c))
      throw Error("group_scales[" + std::to_string(i) + "] = " + std::to_string(c) + " is not a valid code of " + gs.name());
    if (gs.split(c).first)
      throw Error("group_scales[" + std::to_string(i) + "] = " + std::to_string(c) + " is negative: a scale is >= 0 (2.3)");
  }
  for (size_t i = 0; i < elements.size(); ++i)
    if (!format.element.is_code(elements[i]))
      throw Error("elements[" + std::to_string(i) + "] = " + std::to_string(elements[i]) + " is not a valid code of " +
                  format.element.name());
}

void MlsTensor::require_finite(const std::string& what) const {
  for (size_t i = 0; i < group_scales.size(); ++i)
    if (format.group_scale.is_nan_code(group_scales[i]))
      throw Error(what + ".group_scales[" + std::to_string(i) + "] is NaN: the operation needs finite operands (6.11)");
  for (size_t i = 0; i < elements.size(); ++i)
    if (!format.element.is_valid_code(elements[i]))
      throw Error(what + ".elements[" + std::to_string(i) + "] is " +
                  (format.element.is_nan_code(elements[i]) ? "NaN" : "Inf") +
                  ": the operation needs finite operands (6.11)");
}

Dyadic MlsTensor::tensor_scale_value() const { return Dyadic::from_float(bits_float(tensor_scale)); }
Dyadic MlsTensor::group_scale_value(int64_t g) const { return format.group_scale.decode(group_scales.at(g)); }
Dyadic MlsTensor::value(int64_t i) const {
  const GroupLayout layout(format, shape);
  return tensor_scale_value() * group_scale_value(layout.group_of(i)) * format.element.decode(elements.at(i));
}

nlohmann::json MlsTensor::to_json() const {
  return {{"format", format.to_json()}, {"shape", shape}, {"tensor_scale", tensor_scale},
          {"group_scales", group_scales}, {"elements", elements}};
}

MlsTensor MlsTensor::from_json(const nlohmann::json& j) {
  namespace jr = json_read;
  jr::check_keys(j, "tensor", {"format", "shape", "tensor_scale", "group_scales", "elements"});
  MlsTensor t;
  const auto& f = jr::member(j, "format", "tensor");
  t.format = f.is_string() ? parse_format(f.get<std::string>()) : format_from_json(f);
  t.shape = jr::i64_array(jr::member(j, "shape", "tensor"), "tensor.shape");
  t.tensor_scale = jr::integer<uint32_t>(j, "tensor_scale", "tensor");
  t.group_scales = jr::u32_array(jr::member(j, "group_scales", "tensor"), "tensor.group_scales");
  t.elements = jr::u32_array(jr::member(j, "elements", "tensor"), "tensor.elements");
  t.validate();
  return t;
}

// ---- quantization (04) -------------------------------------------------------------

std::optional<int64_t> first_nonfinite(const std::vector<float>& x) {
  for (size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i])) return static_cast<int64_t>(i);
  return std::nullopt;
}

uint32_t dynamic_tensor_scale(const Format& f, float amax) {
  if (f.tensor_scale == TensorScaleRule::one || amax == 0) return 0x3f800000u;  // 4.2, 4.3
  const Dyadic a = Dyadic::from_float(std::fabs(amax));
  try {
    return static_cast<uint32_t>(round_to_grid(Minifloat::binary32(), RoundInput{false, a, f.q_max() * f.g_max()},
                                               Rounding{RoundingMode::rup, 8}, 0, OverflowPolicy::error)
                                     .code);
  } catch (const Error&) {
    throw Error("tensor_scale: max|x| / (q_max * g_max) = " + a.to_decimal() + " / " +
                (f.q_max() * f.g_max()).to_decimal() + " overflows fp32 (4.3)");
  }
}

RoundResult select_group_scale(const Format& f, const Dyadic& st, float group_amax) {
  // 4.4: r = a_G / (S_t D) rounded up (ceil), to nearest even (nearest) or
  // down (floor, ocp) on the scale grid; saturating at its largest value and
  // clamping at its smallest (a grid without zero) or at 0.
  RoundingMode m = RoundingMode::rup;  // ceil, ocp_ceil
  if (f.scale_policy == ScalePolicy::nearest) m = RoundingMode::rne;
  if (f.scale_policy == ScalePolicy::floor || f.scale_policy == ScalePolicy::ocp || f.scale_policy == ScalePolicy::ocp_even)
    m = RoundingMode::rdn;
  if (std::isinf(group_amax)) {  // 4.1.2: an infinite group maximum saturates the scale
    RoundResult r;
    r.lo = r.hi = f.group_scale.max_magnitude_code();
    r.code = f.group_scale.encode(false, r.lo);
    r.rule = Rule::saturated;
    return r;
  }
  Dyadic a = Dyadic::from_float(std::fabs(group_amax));
  if (f.scale_policy == ScalePolicy::ocp_even && !a.is_zero()) {
    // a_G rounded to M_elem + 1 significant bits, ties away from zero (an
    // unbounded binary grid: binary32's exponent range, M_elem mantissa bits).
    const Minifloat p{false, 8, f.element.man_bits, 127, ZeroMode::subnormal, Specials::ieee, Encoding::sign_magnitude};
    const RoundResult r = round_to_grid(p, RoundInput{false, a, Dyadic::from_int(1)}, Rounding{RoundingMode::rna, 8}, 0,
                                        OverflowPolicy::infinity);
    a = p.is_inf_code(r.code) ? Dyadic::pow2(128) : p.decode(r.code);
  }
  return round_to_grid(f.group_scale, RoundInput{false, a, st * f.scale_divisor()}, Rounding{m, 8}, 0,
                       OverflowPolicy::saturate);
}

RoundResult quantize_element(const Format& f, uint32_t x_bits, const ElementFactor& fac, const Rounding& r,
                             uint32_t word) {
  // 4.12: the quotient is an fp32 value, then rounded once more. A zero input
  // stays a zero in every profile (0 * Inf never arises).
  const uint32_t ax = x_bits & 0x7fffffffu, sign = x_bits & 0x80000000u;
  uint32_t q = ax;
  if (ax != 0) q = fac.multiply ? fp32::mul(ax, fac.value) : fp32::div(ax, fac.value);
  return round_fp32_input(f.element, q | sign, Dyadic::from_int(1), r, word, f.overflow, f.signed_zero);
}

RoundResult quantize_element(const Format& f, uint32_t x_bits, const Dyadic& s, const Rounding& r, uint32_t word,
                             QuantArith arith, ExactEngine engine) {
  const bool neg = (x_bits >> 31) != 0;
  if (s.is_zero() && arith == QuantArith::exact) {  // 4.5.1: a zero group scale makes every element of its group a zero
    RoundResult z;
    z.exact = true;
    z.code = f.element.encode(neg && f.signed_zero == SignedZero::preserve, 0);
    return z;
  }
  switch (arith) {
    case QuantArith::exact: return round_fp32_input(f.element, x_bits, s, r, word, f.overflow, f.signed_zero, engine);
    case QuantArith::fp32_div:
    case QuantArith::fp32_reciprocal: {
      const uint32_t sb = round_to_fp32_bits(s, RoundingMode::rne, OverflowPolicy::infinity);
      const ElementFactor fac = arith == QuantArith::fp32_div ? ElementFactor{false, sb}
                                                              : ElementFactor{true, fp32::div(0x3f800000u, sb)};
      return quantize_element(f, x_bits, fac, r, word);
    }
    default:
      throw Error("arith = " + to_string(arith) + ": the element factor comes from the quantization's steps (4.12)");
  }
}

RoundResult quantize_element(const QuantizeInput& in, const QuantizeSteps& p, int64_t group, size_t i,
                             ExactEngine engine) {
  const uint32_t word = in.rounding.mode == RoundingMode::sr ? in.rand[i] : 0;
  if (in.arith != QuantArith::exact) return quantize_element(in.format, in.x[i], p.factor[group], in.rounding, word);
  if (p.group_nan[group])  // decode() names the NaN scale code
    (void)in.format.group_scale.decode(p.group_scale[group].code);
  return quantize_element(in.format, in.x[i], p.scale[group], in.rounding, word, QuantArith::exact, engine);
}

QuantizeSteps quantize_steps(const QuantizeInput& in) {
  const Format& f = in.format;
  f.validate();
  in.rounding.validate();
  detail::check_arith(f, in.arith);
  const int64_t n = element_count(in.shape);
  if (static_cast<int64_t>(in.x.size()) != n)
    throw Error("x has " + std::to_string(in.x.size()) + " values but shape " + shape_string(in.shape) + " has " +
                std::to_string(n) + " elements");
  if (f.nonfinite == NonFiniteInput::error)
    for (size_t i = 0; i < in.x.size(); ++i)
      if (!fp32_is_finite(in.x[i]))
        throw Error("x[" + std::to_string(i) + "] is " + (fp32_is_nan(in.x[i]) ? "NaN" : "Inf") +
                    ": this format needs finite input (4.1)");
  if (in.rounding.mode == RoundingMode::sr && static_cast<int64_t>(in.rand.size()) != n)
    throw Error("rand has " + std::to_string(in.rand.size()) + " words but sr needs one per element (" +
                std::to_string(n) + ")");
  QuantizeSteps p{GroupLayout(f, in.shape), 0, 0, {}, {}, {}, {}, {}};
  p.group_amax.assign(p.layout.group_count, 0.0f);
  p.group_nan.assign(p.layout.group_count, 0);
  const std::vector<int64_t> gi = p.layout.group_index();
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t b = in.x[i];
    const int64_t g = gi[i];
    if (fp32_is_nan(b)) {  // 4.1.2
      p.group_nan[g] = 1;
      continue;
    }
    const float a = std::fabs(bits_float(b));
    p.amax = std::max(p.amax, a);
    p.group_amax[g] = std::max(p.group_amax[g], a);
  }
  if (in.static_tensor_scale) {
    const uint32_t s = *in.static_tensor_scale;
    if (!fp32_is_finite(s) || !(bits_float(s) > 0))
      throw Error("tensor_scale " + hex32(s) + " is not a positive finite fp32 (4.6)");
    p.tensor_scale = s;
  } else {
    p.tensor_scale = dynamic_tensor_scale(f, p.amax);
  }
  const Dyadic st = Dyadic::from_float(bits_float(p.tensor_scale));
  p.group_scale.resize(p.layout.group_count);
  for (int64_t g = 0; g < p.layout.group_count; ++g) {
    if (p.group_nan[g]) {  // 4.1.2: the group's scale is NaN
      p.group_scale[g].code = f.group_scale.nan_code(false);
      p.group_scale[g].rule = Rule::nan_input;
      continue;
    }
    p.group_scale[g] = select_group_scale(f, st, p.group_amax[g]);
  }
  detail::apply_pipeline(in, p);
  if (in.arith == QuantArith::exact) {
    p.scale.resize(p.layout.group_count);
    for (int64_t g = 0; g < p.layout.group_count; ++g)
      if (!p.group_nan[g])
        p.scale[g] = Dyadic::from_float(bits_float(p.tensor_scale)) * f.group_scale.decode(p.group_scale[g].code);
  }
  return p;
}

MlsTensor quantize(const QuantizeInput& in, ExactEngine engine) {
  const QuantizeSteps p = quantize_steps(in);
  MlsTensor t;
  t.format = in.format;
  t.shape = in.shape;
  t.tensor_scale = p.tensor_scale;
  t.group_scales.resize(p.layout.group_count);
  for (int64_t g = 0; g < p.layout.group_count; ++g) t.group_scales[g] = static_cast<uint32_t>(p.group_scale[g].code);
  const std::vector<int64_t> gi = p.layout.group_index();
  t.elements.resize(in.x.size());
  for (size_t i = 0; i < in.x.size(); ++i) {
    if (p.group_nan[gi[i]]) continue;  // 4.1.2: every element of a NaN group is code 0
    try {
      t.elements[i] = static_cast<uint32_t>(quantize_element(in, p, gi[i], i, engine).code);
    } catch (const Error& e) {
      throw Error("x[" + std::to_string(i) + "]: " + e.what());
    }
  }
  return t;
}

MlsTensor quantize(const Format& f, const Shape& shape, const std::vector<float>& x, const Rounding& r,
                   const std::vector<uint32_t>& rand, std::optional<uint32_t> static_ts) {
  QuantizeInput in{f, r, QuantArith::exact, shape, {}, rand, static_ts};
  in.x.reserve(x.size());
  for (float v : x) in.x.push_back(float_bits(v));
  return quantize(in);
}

// ---- dequantization (4.7) ---------------------------------------------------------------

namespace {
// 4.7.1: the value of element i as fp32 or fp64 bits (W = 32 or 64): NaN for a
// NaN scale or element, +-Inf for an Inf element (NaN with a zero scale), a
// zero with the element code's sign for a zero product, else the exact
// product rounded to nearest even.
template <class Out, class Round>
std::vector<Out> dequantize_as(const MlsTensor& t, Out nan, Out inf, Out sign_bit, Round round) {
  t.validate();
  const GroupLayout layout(t.format, t.shape);
  const std::vector<int64_t> gi = layout.group_index();
  const Dyadic st = t.tensor_scale_value();
  const Minifloat& el = t.format.element;
  const Minifloat& gs = t.format.group_scale;
  std::vector<Dyadic> scale(layout.group_count);
  std::vector<uint8_t> nan_scale(layout.group_count, 0);
  for (int64_t g = 0; g < layout.group_count; ++g) {
    if (gs.is_nan_code(t.group_scales[g])) nan_scale[g] = 1;
    else scale[g] = st * gs.decode(t.group_scales[g]);
  }
  std::vector<Out> out(t.elements.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const uint64_t code = t.elements[i];
    const Out sign = el.split(code).first ? sign_bit : Out(0);
    const int64_t g = gi[i];
    if (nan_scale[g] || el.is_nan_code(code)) out[i] = nan;
    else if (el.is_inf_code(code)) out[i] = scale[g].is_zero() ? nan : Out(sign | inf);
    else {
      const Dyadic v = scale[g] * el.decode(code);
      out[i] = v.is_zero() ? sign : round(v);
    }
  }
  return out;
}
}  // namespace

std::vector<double> dequantize_fp64(const MlsTensor& t) {
  const auto bits = dequantize_as<uint64_t>(t, 0x7ff8000000000000ull, 0x7ff0000000000000ull, 0x8000000000000000ull,
                                            [](const Dyadic& v) {
                                              const double d = round_to_fp64(v);
                                              uint64_t b;
                                              std::memcpy(&b, &d, 8);
                                              return b;
                                            });
  std::vector<double> out(bits.size());
  std::memcpy(out.data(), bits.data(), bits.size() * 8);
  return out;
}

std::vector<float> dequantize_fp32(const MlsTensor& t) {
  const auto bits = dequantize_as<uint32_t>(t, fp32::kQuietNaN, 0x7f800000u, 0x80000000u, [](const Dyadic& v) {
    return round_to_fp32_bits(v, RoundingMode::rne, OverflowPolicy::infinity);
  });
  std::vector<float> out(bits.size());
  std::memcpy(out.data(), bits.data(), bits.size() * 4);
  return out;
}

}  // namespace mls
