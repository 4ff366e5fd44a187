// Tensors of the family, group layout, dynamic quantization and
// dequantization (spec/02-format.md, spec/04-quantize.md).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mls/bits.hpp"
#include "mls/enums.hpp"
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
  // The group of every element, row-major (one pass, no divisions per element).
  std::vector<int64_t> group_index() const;
};

struct MlsTensor {
  Format format;
  Shape shape;
  uint32_t tensor_scale = 0x3f800000u;   // fp32 bit pattern
  std::vector<uint32_t> group_scales;    // one code per group, GroupLayout order
  std::vector<uint32_t> elements;        // one code per element, row-major

  // Sizes, code validity (NaN/Inf codes where the format has them) and a
  // positive finite tensor scale; errors name the field/index.
  void validate() const;
  // No NaN scale and no NaN/Inf element (6.11); the error names `what`.field[i].
  void require_finite(const std::string& what) const;
  Dyadic tensor_scale_value() const;
  Dyadic group_scale_value(int64_t group) const;  // a finite scale (throws for NaN)
  Dyadic value(int64_t i) const;  // exact S_t * S_g * elem (4.7) of a finite element
  nlohmann::json to_json() const;
  static MlsTensor from_json(const nlohmann::json& j);
};

// 4.12: how an implementation computes the quantizer. `exact` is the
// definition; the others are the fp32 pipelines of real libraries, each step
// one stated rounding (binary32, nearest even unless said).
enum class QuantArith { exact, fp32_div, fp32_reciprocal };
template <>
struct EnumTable<QuantArith> {
  static constexpr std::string_view what = "quantizer arithmetic profile";
  static constexpr std::array<EnumEntry<QuantArith>, 3> entries{{
      {QuantArith::exact, "exact", 0, "exact quotients, one rounding per element (4.5)"},
      {QuantArith::fp32_div, "fp32_div", 1,
       "s = RN_fp32(S_t S_g); q = RN_fp32(|x| / s); the element is q rounded to the grid (4.12.1)"},
      {QuantArith::fp32_reciprocal, "fp32_reciprocal", 2,
       "s = RN_fp32(S_t S_g); q = RN_fp32(|x| * RN_fp32(1 / s)); the element is q rounded (4.12.2)"},
  }};
};

// One quantization request (4.1-4.6, 4.12).
struct QuantizeInput {
  Format format;
  Rounding rounding;
  QuantArith arith = QuantArith::exact;
  Shape shape;
  std::vector<uint32_t> x;     // fp32 bit patterns, row-major
  std::vector<uint32_t> rand;  // one word per element for sr, else empty
  std::optional<uint32_t> static_tensor_scale;  // 4.6
  friend bool operator==(const QuantizeInput&, const QuantizeInput&) = default;
};

// First index of a NaN or Inf, if any (4.1).
std::optional<int64_t> first_nonfinite(const std::vector<float>& x);

// 4.3: S_t by the format's rule for tensor maximum `amax` (finite); fp32 bits.
uint32_t dynamic_tensor_scale(const Format& f, float amax);
// 4.4: the group scale for group max a_G (finite) under the format's rule.
RoundResult select_group_scale(const Format& f, const Dyadic& tensor_scale, float group_amax);
// 4.5 / 4.12: one element: x / (S_t S_g) rounded on the element grid, exact
// or by the arithmetic profile; `x_bits` may be NaN/Inf (3.10) and a zero
// scale gives a zero (4.5.1).
RoundResult quantize_element(const Format& f, uint32_t x_bits, const Dyadic& scale_product, const Rounding& r,
                             uint32_t word, QuantArith arith = QuantArith::exact);
// The input is a bit pattern: a float would convert to an integer silently.
RoundResult quantize_element(const Format& f, float x, const Dyadic& scale_product, const Rounding& r, uint32_t word,
                             QuantArith arith = QuantArith::exact) = delete;

// Dynamic quantization (4.1-4.5) or, with a static tensor scale, 4.6.
MlsTensor quantize(const QuantizeInput& in);
// The same with fp32 values (their bit patterns are used).
MlsTensor quantize(const Format& f, const Shape& shape, const std::vector<float>& x, const Rounding& r,
                   const std::vector<uint32_t>& rand, std::optional<uint32_t> static_tensor_scale = std::nullopt);

std::vector<double> dequantize_fp64(const MlsTensor& t);  // 4.7
std::vector<float> dequantize_fp32(const MlsTensor& t);   // 4.7, nearest even

// The steps of one quantization, for `mls explain` and diagnoses: every
// group's maximum and scale and the tensor scale.
struct QuantizeSteps {
  GroupLayout layout;
  uint32_t tensor_scale = 0;
  float amax = 0;
  std::vector<float> group_amax;
  std::vector<uint8_t> group_nan;   // 4.1.2: the group holds a NaN
  std::vector<RoundResult> group_scale;
};
QuantizeSteps quantize_steps(const QuantizeInput& in);

}  // namespace mls
