// The format descriptor of the family (spec/02-format.md): element format,
// group-scale format, group layout and the rules of dynamic quantization.
// MLS (Zhong et al.), OCP Microscaling (MXFP8/6/4, MXINT8) and NVFP4 are
// profiles of this one descriptor: data in one table, never code paths per
// format. Named profiles, a short-name syntax and a JSON form, each printed
// and parsed round-trip.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mls/enums.hpp"
#include "mls/minifloat.hpp"
#include "mls/rounding.hpp"

namespace mls {

// 4.4: how the group scale is chosen from r = a_G / (S_t * D).
enum class ScalePolicy { ceil, nearest, floor, ocp, ocp_ceil, ocp_even };
template <>
struct EnumTable<ScalePolicy> {
  static constexpr std::string_view what = "group-scale rule";
  static constexpr std::array<EnumEntry<ScalePolicy>, 6> entries{{
      {ScalePolicy::ceil, "ceil", 0, "D = q_max; the smallest scale >= r (MLS; on E8M0 the 'round the scale up' rule of GPU MX kernels)"},
      {ScalePolicy::nearest, "nearest", 1, "D = q_max; the nearest scale, ties to the even code (NVFP4)"},
      {ScalePolicy::floor, "floor", 2, "D = q_max; the largest scale <= r"},
      {ScalePolicy::ocp, "ocp", 3, "D = 2^emax_elem; the largest scale <= r: X = 2^(floor(log2 a_G) - emax_elem) on E8M0 (OCP MX v1.0 6.3; torchao FLOOR)"},
      {ScalePolicy::ocp_ceil, "ocp_ceil", 4, "D = 2^emax_elem; the smallest scale >= r: X = 2^(ceil(log2 a_G) - emax_elem) on E8M0 (torchao CEIL)"},
      {ScalePolicy::ocp_even, "ocp_even", 5,
       "D = 2^emax_elem; a_G first rounded to M_elem + 1 significant bits, ties away, then the largest scale <= r (torchao EVEN)"},
  }};
};

// 4.3: where the tensor scale comes from.
enum class TensorScaleRule { amax, one };
template <>
struct EnumTable<TensorScaleRule> {
  static constexpr std::string_view what = "tensor-scale rule";
  static constexpr std::array<EnumEntry<TensorScaleRule>, 2> entries{{
      {TensorScaleRule::amax, "amax", 0, "S_t = RU_fp32(amax / (q_max * g_max)); 1.0 for an all-zero tensor (MLS, NVFP4)"},
      {TensorScaleRule::one, "one", 1, "S_t = 1.0: no tensor scale (OCP MX)"},
  }};
};

// 4.1: what a NaN or Inf input does.
enum class NonFiniteInput { error, propagate };
template <>
struct EnumTable<NonFiniteInput> {
  static constexpr std::string_view what = "non-finite input policy";
  static constexpr std::array<EnumEntry<NonFiniteInput>, 2> entries{{
      {NonFiniteInput::error, "error", 0, "a NaN or Inf input is an error naming the first bad index (4.1)"},
      {NonFiniteInput::propagate, "propagate", 1,
       "a NaN makes its group's scale NaN and every element of that group 0; an Inf is an element input (4.1.2, OCP MX)"},
  }};
};

struct Format {
  Minifloat element = Minifloat::element(2, 1);
  Minifloat group_scale = Minifloat::group_scale(4, 1);
  // 2.4: one entry per tensor axis; 0 = the whole axis. Empty = the default
  // layout for the tensor's rank (per-channel: 1,1,0,... for rank >= 2; 0 for
  // rank 1), unless block_size is set.
  std::vector<int64_t> group_shape;
  // 2.4.1: blocks of block_size consecutive elements along block_axis
  // (negative: from the end), every other axis 1 (OCP MX, NVFP4). 0 = none.
  int64_t block_size = 0;
  int64_t block_axis = -1;
  TensorScaleRule tensor_scale = TensorScaleRule::amax;
  ScalePolicy scale_policy = ScalePolicy::ceil;
  SignedZero signed_zero = SignedZero::preserve;
  OverflowPolicy overflow = OverflowPolicy::saturate;  // elements beyond q_max (3.5)
  NonFiniteInput nonfinite = NonFiniteInput::error;

  friend bool operator==(const Format&, const Format&) = default;

  void validate() const;  // throws mls::Error naming the field
  Dyadic q_max() const { return element.max_value(); }
  Dyadic g_max() const { return group_scale.max_value(); }
  Dyadic g_min() const { return group_scale.min_positive(); }  // smallest non-zero scale
  // 4.4: the divisor D of the group-scale rule: q_max, or 2^emax_elem for the ocp rules.
  Dyadic scale_divisor() const;
  bool ocp_divisor() const;  // ocp, ocp_ceil, ocp_even
  // Group layout resolved for a tensor shape (the default or block filled in, checked).
  std::vector<int64_t> resolved_group_shape(const std::vector<int64_t>& shape) const;
  // Storage bits per element including the group scales and the fp32 tensor
  // scale (when the rule has one) amortised over `group_elems` elements per
  // group and `tensor_elems`.
  double bits_per_element(double group_elems, double tensor_elems = 0) const;

  std::string short_name() const;
  nlohmann::json to_json() const;
  // True when spec 1.0 could express the format (an MLS format): the new
  // fields of spec 1.1 all hold their defaults.
  bool spec10() const;
};

Format parse_short_name(const std::string& text);
Format format_from_json(const nlohmann::json& j);
// A profile name (optionally with ":option"s), a short name or JSON text (starting with '{').
Format parse_format(const std::string& text);

struct Profile {
  std::string name;
  std::string description;
  std::string source;   // the standard or paper, with its section
  std::string choices;  // what the source leaves open and this project pins
  Format format;
};
// 2.9: every named profile of the family, in one table.
const std::vector<Profile>& named_profiles();
const Profile* find_profile(const std::string& name);

nlohmann::json rounding_to_json(const Rounding& r);
Rounding rounding_from_json(const nlohmann::json& j);
// "rne", "sr", "sr8", "sr:8"
Rounding parse_rounding(const std::string& text);
std::string rounding_name(const Rounding& r);

}  // namespace mls
