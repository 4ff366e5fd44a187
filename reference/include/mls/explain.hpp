// Presentation of the golden model's decisions for people (`mls explain`,
// diagnoses): every step of one element's quantization, with exact values.
// Nothing here decides anything; it reports what tensor.cpp decided.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mls/tensor.hpp"

namespace mls {

// Every step of element `index` (JSON): tensor scale and its rule, group
// maximum, scale rule and scale, quotient, neighbours, t, random bits,
// decision, and the arithmetic profile's intermediate fp32 values.
nlohmann::json explain(const QuantizeInput& in, int64_t index);
nlohmann::json explain(const Format& f, const Shape& shape, const std::vector<float>& x, const Rounding& r,
                       const std::vector<uint32_t>& rand, int64_t index,
                       std::optional<uint32_t> static_tensor_scale = std::nullopt);
std::string explain_text(const nlohmann::json& e);

// A 17-significant-digit decimal of num/den, for humans only.
std::string approx_decimal(const Dyadic& num, const Dyadic& den);

}  // namespace mls
