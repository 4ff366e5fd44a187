// The conv2d and gemm ops of protocol v1 on the golden model (spec/06-conv.md).
#include "serve_ops.hpp"

#include <string>

#include "mls/conv.hpp"
#include "mls/error.hpp"

namespace mls::cli {

namespace {

MlsTensor tensor_field(const nlohmann::json& req, const char* key) {
  if (!req.contains(key)) throw Error(std::string("request field \"") + key + "\" is missing (an MLS tensor)");
  try {
    const nlohmann::json& j = req.at(key);
    if (j.is_object() && j.contains("format") && j.at("format").is_string()) {  // a profile or short name
      nlohmann::json copy = j;
      copy["format"] = parse_format(j.at("format").get<std::string>()).to_json();
      return MlsTensor::from_json(copy);
    }
    return MlsTensor::from_json(j);
  } catch (const Error& e) {
    throw Error(std::string(key) + ": " + e.what());
  }
}

// An integer, or an array of two integers (height, width).
std::array<int64_t, 2> pair_field(const nlohmann::json& req, const char* key, int64_t dflt) {
  if (!req.contains(key) || req.at(key).is_null()) return {dflt, dflt};
  const auto& v = req.at(key);
  if (v.is_number_integer()) return {v.get<int64_t>(), v.get<int64_t>()};
  if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer())
    return {v[0].get<int64_t>(), v[1].get<int64_t>()};
  throw Error(std::string("request field \"") + key + "\" must be an integer or an array of 2 integers [h, w]");
}

ArithProfile arith_field(const nlohmann::json& req) {
  if (!req.contains("arith") || req.at("arith").is_null()) return ArithProfile::exact();
  if (req.at("arith").is_string()) return parse_arith(req.at("arith").get<std::string>());
  return ArithProfile::from_json(req.at("arith"));
}

nlohmann::json reply(const ReductionResult& r) {
  nlohmann::json exact = nlohmann::json::array();
  for (const Dyadic& d : r.exact) exact.push_back(dyadic_to_json(d));
  return {{"shape", r.shape}, {"y", r.y}, {"exact", std::move(exact)}};
}

}  // namespace

nlohmann::json serve_conv2d(const nlohmann::json& req) {
  if (!req.contains("pass") || !req.at("pass").is_string())
    throw Error("request field \"pass\" is missing or not a string (fwd, bwd_data, bwd_weight)");
  Conv2dParams p;
  p.pass = conv_pass_from_string(req.at("pass").get<std::string>(), "pass");
  p.stride = pair_field(req, "stride", 1);
  p.padding = pair_field(req, "padding", 0);
  p.dilation = pair_field(req, "dilation", 1);
  if (req.contains("groups") && !req.at("groups").is_null()) {
    if (!req.at("groups").is_number_integer()) throw Error("request field \"groups\" must be an integer");
    p.groups = req.at("groups").get<int64_t>();
  }
  if (req.contains("out_shape") && !req.at("out_shape").is_null()) {
    const auto& s = req.at("out_shape");
    if (!s.is_array()) throw Error("request field \"out_shape\" must be an array of integers");
    for (const auto& v : s)
      if (!v.is_number_integer()) throw Error("request field \"out_shape\" must be an array of integers");
    p.out_shape = s.get<Shape>();
  }
  const ArithProfile arith = arith_field(req);
  const MlsTensor a = tensor_field(req, "a"), b = tensor_field(req, "b");
  return reply(conv2d(a, b, p, arith));
}

nlohmann::json serve_gemm(const nlohmann::json& req) {
  const ArithProfile arith = arith_field(req);
  const MlsTensor a = tensor_field(req, "a"), b = tensor_field(req, "b");
  return reply(gemm(a, b, arith));
}

}  // namespace mls::cli
