// `mls serve`: the golden model as a backend speaking process protocol v1
// (spec/09-protocol.md): newline-delimited JSON requests on stdin, one reply
// line per request on stdout.
#include <iostream>
#include <string>

#include "commands.hpp"
#include "mls/error.hpp"
#include "mls/tensor.hpp"
#include "serve.hpp"

namespace mls::cli {

namespace {

template <class T>
T field(const nlohmann::json& req, const char* key) {
  if (!req.contains(key)) throw Error(std::string("request field \"") + key + "\" is missing");
  try {
    return req.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(std::string("request field \"") + key + "\" has the wrong type");
  }
}

Format request_format(const nlohmann::json& req) {
  if (!req.contains("format")) throw Error("request field \"format\" is missing");
  const auto& f = req.at("format");
  return f.is_string() ? parse_format(f.get<std::string>()) : format_from_json(f);
}

nlohmann::json op_quantize(const nlohmann::json& req) {
  const Format f = request_format(req);
  const Rounding r = req.contains("rounding") ? rounding_from_json(req.at("rounding")) : Rounding{};
  const Shape shape = field<Shape>(req, "shape");
  const auto xb = field<std::vector<uint32_t>>(req, "x");
  std::vector<float> x(xb.size());
  for (size_t i = 0; i < xb.size(); ++i) x[i] = bits_float(xb[i]);
  std::vector<uint32_t> rand;
  if (r.mode == RoundingMode::sr) rand = field<std::vector<uint32_t>>(req, "rand");
  std::optional<uint32_t> ts;
  if (req.contains("tensor_scale") && !req.at("tensor_scale").is_null()) ts = field<uint32_t>(req, "tensor_scale");
  const MlsTensor t = quantize(f, shape, x, r, rand, ts);
  return {{"tensor_scale", t.tensor_scale}, {"group_scales", t.group_scales}, {"elements", t.elements}};
}

nlohmann::json op_dequantize(const nlohmann::json& req) {
  if (!req.contains("tensor")) throw Error("request field \"tensor\" is missing");
  const MlsTensor t = MlsTensor::from_json(req.at("tensor"));
  std::vector<uint32_t> y;
  for (float v : dequantize_fp32(t)) y.push_back(float_bits(v));
  return {{"shape", t.shape}, {"y", y}};
}

}  // namespace

nlohmann::json serve_hello() {
  return {{"protocol", 1},
          {"name", "mls-ref golden model"},
          {"version", MLS_VERSION},
          {"spec_version", MLS_SPEC_VERSION},
          {"supports",
           {{"ops", supported_ops()},
            {"modes", {"rne", "rna", "rtz", "rup", "rdn", "rto", "sr"}},
            {"formats", "any"},
            {"passes", {"fwd", "bwd_data", "bwd_weight"}}}}};
}

nlohmann::json serve_one(const std::string& line) {
  nlohmann::json req;
  try {
    req = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    return {{"id", nullptr}, {"error", std::string("malformed JSON request: ") + e.what()}};
  }
  if (!req.is_object()) return {{"id", nullptr}, {"error", "a request must be a JSON object"}};
  const nlohmann::json id = req.contains("id") ? req.at("id") : nlohmann::json(nullptr);
  nlohmann::json reply;
  try {
    if (!req.contains("op") || !req.at("op").is_string()) throw Error("request field \"op\" is missing or not a string");
    const std::string op = req.at("op").get<std::string>();
    if (op == "hello") reply = serve_hello();
    else if (op == "quantize") reply = op_quantize(req);
    else if (op == "dequantize") reply = op_dequantize(req);
    else if (auto h = extra_op(op)) reply = h(req);
    else reply = {{"unsupported", "op \"" + op + "\" is not part of protocol v1"}};
  } catch (const std::exception& e) {
    reply = {{"error", e.what()}};
  }
  if (!id.is_null()) reply["id"] = id;
  return reply;
}

void register_serve(CLI::App& app) {
  auto* sub = app.add_subcommand("serve", "serve the golden model over process protocol v1 (JSON lines on stdin/stdout)");
  sub->callback([] {
    std::ios::sync_with_stdio(false);
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      std::cout << serve_one(line).dump() << "\n" << std::flush;
    }
  });
}

}  // namespace mls::cli
