// The MLS format descriptor (spec/02-format.md): element format, group-scale
// format, group layout and the policies of dynamic quantization. Named
// profiles, a short-name syntax and a JSON form, each printed and parsed
// round-trip.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mls/minifloat.hpp"
#include "mls/rounding.hpp"

namespace mls {

enum class ScalePolicy { ceil, nearest, floor };

struct Format {
  Minifloat element = Minifloat::element(2, 1);
  Minifloat group_scale = Minifloat::group_scale(4, 1);
  // One entry per tensor axis; 0 = the whole axis. Empty = the default layout
  // for the tensor's rank (per-channel: 1,1,0,... for rank >= 2; 0 for rank 1).
  std::vector<int64_t> group_shape;
  ScalePolicy scale_policy = ScalePolicy::ceil;
  SignedZero signed_zero = SignedZero::preserve;
  OverflowPolicy overflow = OverflowPolicy::saturate;  // elements beyond q_max (3.5)

  friend bool operator==(const Format&, const Format&) = default;

  void validate() const;  // throws mls::Error naming the field
  Dyadic q_max() const { return element.max_value(); }
  Dyadic g_max() const { return group_scale.max_value(); }
  Dyadic g_min() const { return group_scale.magnitude_value(0); }
  // Group layout resolved for a tensor shape (the default filled in, checked).
  std::vector<int64_t> resolved_group_shape(const std::vector<int64_t>& shape) const;
  // Storage bits per element including the group scales and the fp32 tensor
  // scale amortised over `group_elems` elements per group and `tensor_elems`.
  double bits_per_element(double group_elems, double tensor_elems = 0) const;

  std::string short_name() const;
  nlohmann::json to_json() const;
};

Format parse_short_name(const std::string& text);
Format format_from_json(const nlohmann::json& j);
// Accepts a profile name, a short name or JSON text (starting with '{').
Format parse_format(const std::string& text);

struct Profile {
  std::string name;
  std::string description;
  Format format;
};
const std::vector<Profile>& named_profiles();

std::string to_string(ScalePolicy p);
ScalePolicy scale_policy_from_string(const std::string& s, const std::string& field);

nlohmann::json rounding_to_json(const Rounding& r);
Rounding rounding_from_json(const nlohmann::json& j);
// "rne", "sr", "sr8", "sr:8"
Rounding parse_rounding(const std::string& text);
std::string rounding_name(const Rounding& r);

}  // namespace mls
