// MLS tensors, group layout, dynamic quantization and dequantization
// (spec/02-format.md, spec/04-quantize.md).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mls/format.hpp"
#include "mls/rounding.hpp"

namespace mls {

using Shape = std::vector<int64_t>;

// Number of elements; throws mls::Error naming "shape[i]" for a dimension < 1.
int64_t element_count(const Shape& shape, const std::string& what = "shape");
std::string shape_string(const Shape& shape);

// 2.4: groups are the tiles of group_shape over the tensor (edge tiles may be
// partial), numbered in row-major order of the tile grid.
struct GroupLayout {
  Shape shape;
  Shape group_shape;  // resolved: 0 replaced by the axis length
  Shape tiles;        // tiles per axis
  int64_t group_count = 0;
  GroupLayout(const Format& f, const Shape& shape);
  int64_t group_of(int64_t linear_index) const;
  int64_t group_of(const Shape& index) const;
};

struct MlsTensor {
  Format format;
  Shape shape;
  uint32_t tensor_scale = 0x3f800000u;   // fp32 bit pattern
  std::vector<uint32_t> group_scales;    // one code per group, GroupLayout order
  std::vector<uint32_t> elements;        // one code per element, row-major

  // Sizes, code validity and a positive finite tensor scale; errors name the field/index.
  void validate() const;
  Dyadic tensor_scale_value() const;
  Dyadic group_scale_value(int64_t group) const;
  Dyadic value(int64_t i) const;  // exact S_t * S_g * elem (4.7)
  nlohmann::json to_json() const;
  static MlsTensor from_json(const nlohmann::json& j);
};

// First index of a NaN or Inf, if any (4.1).
std::optional<int64_t> first_nonfinite(const std::vector<float>& x);

// 4.3: S_t = RU_fp32(a / (q_max * g_max)); a = 0 gives 1.0. Returns fp32 bits.
uint32_t dynamic_tensor_scale(const Format& f, float amax);
// 4.4: the group scale for group max a_G under the format's policy.
RoundResult select_group_scale(const Format& f, const Dyadic& tensor_scale, float group_amax);
// 4.5: one element: round(x / (S_t * S_g)) on the element grid.
RoundResult quantize_element(const Format& f, float x, const Dyadic& scale_product, const Rounding& r, uint32_t word);

// Dynamic quantization (4.1-4.5) or, with static_tensor_scale (fp32 bits),
// 4.6. `rand` holds one 32-bit word per element when r.mode == sr.
MlsTensor quantize(const Format& f, const Shape& shape, const std::vector<float>& x, const Rounding& r,
                   const std::vector<uint32_t>& rand, std::optional<uint32_t> static_tensor_scale = std::nullopt);

std::vector<double> dequantize_fp64(const MlsTensor& t);  // 4.7
std::vector<float> dequantize_fp32(const MlsTensor& t);   // 4.7, nearest even

// Every step of one element's quantization, for `mls explain` (JSON).
nlohmann::json explain(const Format& f, const Shape& shape, const std::vector<float>& x, const Rounding& r,
                       const std::vector<uint32_t>& rand, int64_t index,
                       std::optional<uint32_t> static_tensor_scale = std::nullopt);
std::string explain_text(const nlohmann::json& e);

uint32_t float_bits(float f);
float bits_float(uint32_t b);
std::string hex32(uint32_t v);

}  // namespace mls
