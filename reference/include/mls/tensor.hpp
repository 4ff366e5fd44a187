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
enum class QuantArith { exact, fp32_div, fp32_reciprocal, torchao_mx, torchao_mx_rceil, torchao_nvfp4, te_mxfp8, te_nvfp4 };
template <>
struct EnumTable<QuantArith> {
  static constexpr std::string_view what = "quantizer arithmetic profile";
  static constexpr std::array<EnumEntry<QuantArith>, 8> entries{{
      {QuantArith::exact, "exact", 0, "exact quotients, one rounding per element (4.5)"},
      {QuantArith::fp32_div, "fp32_div", 1,
       "s = RN_fp32(S_t S_g); q = RN_fp32(|x| / s); the element is q rounded to the grid (4.12.1)"},
      {QuantArith::fp32_reciprocal, "fp32_reciprocal", 2,
       "s = RN_fp32(S_t S_g); q = RN_fp32(|x| * RN_fp32(1 / s)); the element is q rounded (4.12.2)"},
      {QuantArith::torchao_mx, "torchao_mx", 3,
       "torchao 0.18 to_mx, FLOOR/CEIL/EVEN (rules ocp/ocp_ceil/ocp_even): q = RN_fp32(|x| / max(X, 2^-126)) (4.12.3)"},
      {QuantArith::torchao_mx_rceil, "torchao_mx_rceil", 4,
       "torchao 0.18 to_mx, RCEIL, eager: X = 2^clamp(ceil(RN_fp32(log2(RN_fp32(a_G / q_max))))); "
       "q = RN_fp32(|x| * rcp(X)), rcp(2^-127) = 1 (4.12.4)"},
      {QuantArith::torchao_nvfp4, "torchao_nvfp4", 5,
       "torchao 0.18 nvfp4_quantize: S_t = RN(amax / 2688), S_g = RNE_e4m3(clamp(RN(RN(a_G / 6) / S_t), 2^-6, 448)), "
       "q = RN(|x| * RN(RN(1 / S_t) / S_g)) (4.12.5)"},
      {QuantArith::te_mxfp8, "te_mxfp8", 6,
       "Transformer Engine MXFP8: X = RU_e8m0(RN(a_G * RN(1 / q_max))), q = RN(|x| * 2^-e) (4.12.6)"},
      {QuantArith::te_nvfp4, "te_nvfp4", 7,
       "Transformer Engine NVFP4: S_enc = RN(2688 / amax), S_dec = RN_fp32(RN_fp64(1 / S_enc)), "
       "S_g = RNE_e4m3(RN(a_G * RN(S_enc * RN(1/6)))), q = RN(|x| * min(RN(1 / RN(S_g * S_dec)), FLT_MAX)) (4.12.7)"},
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
// 4.12: how a profile turns |x| into the fp32 quotient it rounds: q =
// RN_fp32(|x| / value) or RN_fp32(|x| * value), value an fp32 bit pattern
// fixed per group. `exact` has none (the quotient is exact).
struct ElementFactor {
  bool multiply = false;
  uint32_t value = 0x3f800000u;
};

// 4.5 / 4.12: one element: x / (S_t S_g) rounded on the element grid, exact
// or by the arithmetic profile; `x_bits` may be NaN/Inf (3.10) and a zero
// scale gives a zero (4.5.1). The profiles whose factor needs more than
// S_t S_g (the library pipelines) take the factor from quantize_steps().
RoundResult quantize_element(const Format& f, uint32_t x_bits, const Dyadic& scale_product, const Rounding& r,
                             uint32_t word, QuantArith arith = QuantArith::exact,
                             ExactEngine engine = ExactEngine::automatic);
RoundResult quantize_element(const Format& f, uint32_t x_bits, const ElementFactor& factor, const Rounding& r,
                             uint32_t word);
// The input is a bit pattern: a float would convert to an integer silently.
RoundResult quantize_element(const Format& f, float x, const Dyadic& scale_product, const Rounding& r, uint32_t word,
                             QuantArith arith = QuantArith::exact) = delete;

// Dynamic quantization (4.1-4.5) or, with a static tensor scale, 4.6. The
// engine changes the speed only (ExactEngine, rounding.hpp).
MlsTensor quantize(const QuantizeInput& in, ExactEngine engine = ExactEngine::automatic);
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
  std::vector<ElementFactor> factor; // 4.12: per group, for profiles other than exact
  std::vector<Dyadic> scale;         // exact profile: S_t * S_g per group (0 for a NaN group), formed once
};
// Element i of a quantization by its steps (4.5, 4.12): what quantize() computes.
RoundResult quantize_element(const QuantizeInput& in, const QuantizeSteps& p, int64_t group, size_t i,
                             ExactEngine engine = ExactEngine::automatic);
QuantizeSteps quantize_steps(const QuantizeInput& in);

}  // namespace mls
