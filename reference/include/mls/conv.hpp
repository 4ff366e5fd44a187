// Low-bit convolution and matrix-product arithmetic on MLS tensors
// (spec/06-conv.md): the three passes of conv2d (forward, backward-data,
// backward-weight) with stride, zero padding, dilation and conv groups, GEMM,
// the exact value of every output, the `exact` arithmetic profile and the
// hardware accumulator profile. Section numbers below are those of 06-conv.md.
#pragma once
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mls/dyadic.hpp"
#include "mls/enums.hpp"
#include "mls/rounding.hpp"
#include "mls/tensor.hpp"
#include "mls/tiers.hpp"

namespace mls {

// 6.2: which product an output is. Operands a and b per pass:
//   fwd        a = A  (N,C,H,W)   b = W  (O,Cg,KH,KW)  -> Y  (N,O,OH,OW)
//   bwd_data   a = dY (N,O,OH,OW) b = W  (O,Cg,KH,KW)  -> dA (N,C,H,W)      (out_shape given)
//   bwd_weight a = A  (N,C,H,W)   b = dY (N,O,OH,OW)   -> dW (O,Cg,KH,KW)   (out_shape given)
enum class ConvPass { fwd, bwd_data, bwd_weight };
template <>
struct EnumTable<ConvPass> {
  static constexpr std::string_view what = "conv2d pass";
  static constexpr std::array<EnumEntry<ConvPass>, 3> entries{{
      {ConvPass::fwd, "fwd", 0, "Y = A * W (6.2)"},
      {ConvPass::bwd_data, "bwd_data", 1, "dA from dY and W (6.2)"},
      {ConvPass::bwd_weight, "bwd_weight", 2, "dW from A and dY (6.2)"},
  }};
};
ConvPass conv_pass_from_string(const std::string& s, const std::string& field = "pass");

struct Conv2dParams {
  ConvPass pass = ConvPass::fwd;
  std::array<int64_t, 2> stride{1, 1};    // (sh, sw), >= 1
  std::array<int64_t, 2> padding{0, 0};   // (ph, pw), >= 0, zeros on both sides
  std::array<int64_t, 2> dilation{1, 1};  // (dh, dw), >= 1
  int64_t groups = 1;                     // G: C = G*Cg, O = G*Og
  // The result's shape: required for bwd_data (N,C,H,W) and bwd_weight
  // (O,Cg,KH,KW), which the operands alone do not fix; optional for fwd
  // (checked against N,O,OH,OW when given).
  Shape out_shape;
};

// 6.3: the resolved, checked geometry of one pass. Construction throws
// mls::Error naming the field (a.shape[i], b.shape[i], out_shape[i], stride[i],
// padding[i], dilation[i], groups).
struct ConvGeometry {
  ConvPass pass = ConvPass::fwd;
  int64_t N = 0, C = 0, H = 0, W = 0;      // activation
  int64_t O = 0, KH = 0, KW = 0;           // weights (O, Cg, KH, KW)
  int64_t OH = 0, OW = 0;                  // forward output spatial size
  int64_t G = 1, Cg = 0, Og = 0;           // groups, channels per group
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  Shape a_shape, b_shape, out_shape;

  static ConvGeometry resolve(const Conv2dParams& p, const Shape& a_shape, const Shape& b_shape);
  // Number of reduction positions (including padding positions) per output: the
  // length of the canonical walk before out-of-range positions are dropped.
  int64_t reduction_length() const;
  // Multiply-accumulates of the pass (in-range terms only).
  int64_t mac_count() const;
};

// The output extent of one spatial axis (6.3): floor((in + 2p - d(k-1) - 1)/s) + 1,
// or a value < 1 when the padded input is shorter than the dilated kernel.
int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation);

// 6.9 / 6.10: the arithmetic profile, the "arith" JSON object.
enum class ArithKind { exact, accumulator };
template <>
struct EnumTable<ArithKind> {
  static constexpr std::string_view what = "arithmetic profile";
  static constexpr std::array<EnumEntry<ArithKind>, 2> entries{{
      {ArithKind::exact, "exact", 0, "everything exact, one final rounding to fp32 (6.8)"},
      {ArithKind::accumulator, "accumulator", 1, "the hardware accumulator profile (6.9)"},
  }};
};
enum class AccOverflow { saturate, wrap, error };
template <>
struct EnumTable<AccOverflow> {
  static constexpr std::string_view what = "accumulator overflow policy";
  static constexpr std::array<EnumEntry<AccOverflow>, 3> entries{{
      {AccOverflow::saturate, "saturate", 0, "the register saturates (6.9.2)"},
      {AccOverflow::wrap, "wrap", 1, "two's complement wrap-around (6.9.2)"},
      {AccOverflow::error, "error", 2, "an overflow is an error naming the output, segment and term (6.9.2)"},
  }};
};
enum class InterGroup { exact, fp32 };
template <>
struct EnumTable<InterGroup> {
  static constexpr std::string_view what = "inter-group accumulation";
  static constexpr std::array<EnumEntry<InterGroup>, 2> entries{{
      {InterGroup::exact, "exact", 0, "segments summed exactly (6.9.3)"},
      {InterGroup::fp32, "fp32", 1, "segments summed in fp32 in canonical order, nearest even per add (6.9.3)"},
  }};
};

struct ArithProfile {
  ArithKind profile = ArithKind::exact;
  // Accumulator profile only (6.9); every field is required in JSON.
  int64_t frac_bits = 0;                           // F: the accumulator's LSB weighs 2^-F
  int64_t width = 0;                               // W: two's complement bits, sign included
  RoundingMode alignment = RoundingMode::rtz;      // product bits below 2^-F: rtz rdn rup rne rna (6.9.1)
  AccOverflow overflow = AccOverflow::saturate;    // after each add (6.9.2)
  InterGroup inter_group = InterGroup::exact;      // 6.9.3
  RoundingMode final_rounding = RoundingMode::rne; // 6.9.4: rne rna rtz rup rdn

  friend bool operator==(const ArithProfile&, const ArithProfile&) = default;
  void validate() const;  // throws mls::Error naming "arith.<field>"
  nlohmann::json to_json() const;
  static ArithProfile from_json(const nlohmann::json& j);
  static ArithProfile exact() { return {}; }
};
// "exact" (or ""), or the JSON object (text starting with '{').
ArithProfile parse_arith(const std::string& text);

// One output tensor of a pass or of GEMM.
struct ReductionResult {
  Shape shape;
  std::vector<uint32_t> y;     // fp32 bit patterns under the profile
  std::vector<Dyadic> exact;   // the exact value of every output (6.7), whatever the profile
};

// conv2d (6.2-6.9). Operands are validated; errors name "a.", "b." fields.
ReductionResult conv2d(const MlsTensor& a, const MlsTensor& b, const Conv2dParams& p,
                       const ArithProfile& arith = ArithProfile::exact());
std::vector<Dyadic> conv2d_exact(const MlsTensor& a, const MlsTensor& b, const Conv2dParams& p,
                                 ExactEngine engine = ExactEngine::automatic);

// GEMM (6.4): C[M,N] = A[M,K] x B[K,N], reduction over k ascending.
ReductionResult gemm(const MlsTensor& a, const MlsTensor& b, const ArithProfile& arith = ArithProfile::exact());
std::vector<Dyadic> gemm_exact(const MlsTensor& a, const MlsTensor& b, ExactEngine engine = ExactEngine::automatic);
Shape gemm_out_shape(const Shape& a_shape, const Shape& b_shape);  // checks; errors name a.shape / b.shape

// 6.6: one segment of an output's canonical walk.
struct Segment {
  int64_t group_a = 0, group_b = 0;   // the operands' groups throughout the run
  int64_t first = 0, count = 0;       // position of the run among the output's in-range terms
  Dyadic sum;                         // P: exact sum of the element products
  Dyadic value;                       // S_gA * S_gB * P
  Dyadic term;                        // S_tA * S_tB * S_gA * S_gB * P, the segment's exact contribution
};
std::vector<Segment> conv2d_segments(const MlsTensor& a, const MlsTensor& b, const Conv2dParams& p, int64_t out_index);
std::vector<Segment> gemm_segments(const MlsTensor& a, const MlsTensor& b, int64_t out_index);
// 6.13: the declared model's error bound of every output (segments computed once).
std::vector<ErrorBound> conv2d_error_bounds(const MlsTensor& a, const MlsTensor& b, const Conv2dParams& p,
                                            BoundModel model);
std::vector<ErrorBound> gemm_error_bounds(const MlsTensor& a, const MlsTensor& b, BoundModel model);

// 6.14: exact values in JSON: {"m": "<decimal integer, odd or 0>", "e": <int>}.
nlohmann::json dyadic_to_json(const Dyadic& d);
Dyadic dyadic_from_json(const nlohmann::json& j, const std::string& field);

}  // namespace mls
