// `mls serve`: the golden model as a backend speaking process protocol v1
// (spec/09-protocol.md): newline-delimited JSON requests on stdin, one reply
// line per request on stdout.
#include <iostream>
#include <string>

#include "commands.hpp"
#include "mls/error.hpp"
#include "mls/tensor.hpp"
#include "mls/conformance/campaign.hpp"
#include "serve.hpp"

namespace mls::cli {

namespace {

// Integers only, in range: nlohmann's get<> would wrap 2^32 + c to c or truncate 1.5 (spec 7.1).
uint32_t u32_value(const nlohmann::json& v, const std::string& name) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX) throw Error(name + " is not an integer in 0..4294967295");
  return static_cast<uint32_t>(v.get<uint64_t>());
}

std::vector<uint32_t> u32_array(const nlohmann::json& req, const char* key) {
  if (!req.contains(key) || !req.at(key).is_array())
    throw Error(std::string("request field \"") + key + "\" is missing or not an array");
  std::vector<uint32_t> out;
  const auto& a = req.at(key);
  for (size_t i = 0; i < a.size(); ++i) out.push_back(u32_value(a[i], std::string(key) + "[" + std::to_string(i) + "]"));
  return out;
}

Shape request_shape(const nlohmann::json& req) {
  if (!req.contains("shape") || !req.at("shape").is_array()) throw Error("request field \"shape\" is missing or not an array");
  for (const auto& v : req.at("shape"))
    if (!v.is_number_integer()) throw Error("request field \"shape\" must hold integers");
  return req.at("shape").get<Shape>();
}

Format request_format(const nlohmann::json& req) {
  if (!req.contains("format")) throw Error("request field \"format\" is missing");
  const auto& f = req.at("format");
  return f.is_string() ? parse_format(f.get<std::string>()) : format_from_json(f);
}

nlohmann::json op_quantize(const nlohmann::json& req) {
  const Format f = request_format(req);
  const Rounding r = req.contains("rounding") ? rounding_from_json(req.at("rounding")) : Rounding{};
  const Shape shape = request_shape(req);
  const auto xb = u32_array(req, "x");
  std::vector<float> x(xb.size());
  for (size_t i = 0; i < xb.size(); ++i) x[i] = bits_float(xb[i]);
  std::vector<uint32_t> rand;
  if (r.mode == RoundingMode::sr) rand = u32_array(req, "rand");
  std::optional<uint32_t> ts;
  if (req.contains("tensor_scale") && !req.at("tensor_scale").is_null()) ts = u32_value(req.at("tensor_scale"), "tensor_scale");
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

// Serves a C ABI library over the protocol: the bridge that lets any
// in-process backend be checked (or used) as a process backend too.
nlohmann::json serve_one_library(conformance::Backend& b, const std::string& line) {
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
    const std::string op = req.value("op", "");
    if (op == "hello") {
      reply = serve_hello();
      reply["name"] = b.capabilities().name + " (via mls serve --backend-lib)";
    } else {
      const conformance::Case c = conformance::Case::from_json(req);
      auto put = [&](const auto& o, auto&& fill) {
        if (o.status == conformance::Status::ok) fill(o.value);
        else if (o.status == conformance::Status::unsupported) reply = {{"unsupported", o.message}};
        else reply = {{"error", o.message}};
      };
      if (c.op == "quantize")
        put(b.quantize(c.q), [&](const conformance::QuantizeResult& v) {
          reply = {{"tensor_scale", v.tensor_scale}, {"group_scales", v.group_scales}, {"elements", v.elements}};
        });
      else if (c.op == "dequantize")
        put(b.dequantize(c.t), [&](const conformance::TensorResult& v) { reply = {{"shape", c.t.shape}, {"y", v.y}}; });
      else
        put(b.conv(c.conv), [&](const conformance::TensorResult& v) { reply = {{"shape", c.conv.out_shape}, {"y", v.y}}; });
    }
  } catch (const std::exception& e) {
    reply = {{"error", e.what()}};
  }
  if (!id.is_null()) reply["id"] = id;
  return reply;
}

void register_serve(CLI::App& app) {
  auto* sub = app.add_subcommand("serve", "serve the golden model (or a C ABI library) over process protocol v1 (JSON lines on stdin/stdout)");
  auto lib = std::make_shared<std::string>();
  sub->add_option("--backend-lib", *lib, "serve this C ABI backend library instead of the golden model");
  sub->callback([lib] {
    std::ios::sync_with_stdio(false);
    std::unique_ptr<conformance::Backend> b;
    if (!lib->empty()) b = conformance::make_library_backend(*lib);
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      // replace: an error message quoting invalid UTF-8 from the request must not end the session (found by fuzz/fuzz_serve_request)
      std::cout << (b ? serve_one_library(*b, line) : serve_one(line)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n" << std::flush;
    }
  });
}

}  // namespace mls::cli
