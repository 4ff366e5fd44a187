// Process protocol v1 request handling shared by `mls serve` and its tests.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mls::cli {

using OpHandler = std::function<nlohmann::json(const nlohmann::json&)>;

nlohmann::json serve_hello();
// One request line -> one reply object (errors become {"id":..,"error":..}).
nlohmann::json serve_one(const std::string& line);
// Ops beyond hello/quantize/dequantize (conv2d, gemm), or an empty handler.
OpHandler extra_op(const std::string& op);
std::vector<std::string> supported_ops();

}  // namespace mls::cli
