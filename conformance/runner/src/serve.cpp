#include "mls/conformance/serve.hpp"

#include "mls/conformance/judge.hpp"
#include "mls/error.hpp"

namespace mls::conformance {

nlohmann::json golden_hello() {
  Capabilities c;
  c.name = "mls-ref golden model";
  for (const auto& a : enum_names<QuantArith>()) c.arith.insert(a);
  c.raw = {{"version", MLS_VERSION}, {"spec_version", MLS_SPEC_VERSION}};
  return hello_to_json(c);
}

namespace {

template <class T>
nlohmann::json reply_of(const Outcome<T>& o) {
  if (o.status == Status::ok) return to_json(o.value);
  if (o.status == Status::unsupported) return {{"unsupported", o.message}};
  return {{"error", o.message}};
}

nlohmann::json golden_reply(const Case& c) {
  switch (c.op) {
    case Op::round: return to_json(golden_round(c.round));
    case Op::quantize: return to_json(golden_quantize(c.q));
    case Op::dequantize: {
      TensorResult r{c.t.shape, {}};
      for (float v : dequantize_fp32(c.t)) r.y.push_back(float_bits(v));
      return to_json(r);
    }
    case Op::conv2d:
    case Op::gemm: {
      const ReductionResult r = golden_conv(c.conv);
      nlohmann::json j = to_json(TensorResult{r.shape, r.y});
      nlohmann::json exact = nlohmann::json::array();
      for (const Dyadic& d : r.exact) exact.push_back(dyadic_to_json(d));
      j["exact"] = std::move(exact);
      return j;
    }
  }
  return {};
}

nlohmann::json library_reply(Backend& b, const Case& c) {
  switch (c.op) {
    case Op::round: return reply_of(b.round(c.round));
    case Op::quantize: return reply_of(b.quantize(c.q));
    case Op::dequantize: return reply_of(b.dequantize(c.t));
    default: return reply_of(b.conv(c.conv));
  }
}

}  // namespace

nlohmann::json serve_request(const std::string& line, Backend* library) {
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
    if (op == "hello") {
      reply = golden_hello();
      if (library) reply["name"] = library->capabilities().name + " (via mls serve --backend-lib)";
    } else if (!enum_has_name<Op>(op)) {
      reply = {{"unsupported", "op \"" + op + "\" is not part of protocol v1 (ops: hello, " + enum_names_text<Op>() + ")"}};
    } else {
      const Case c = case_from_json(req);
      reply = library ? library_reply(*library, c) : golden_reply(c);
    }
  } catch (const std::exception& e) {
    reply = {{"error", e.what()}};
  }
  if (!id.is_null()) reply["id"] = id;
  return reply;
}

}  // namespace mls::conformance
