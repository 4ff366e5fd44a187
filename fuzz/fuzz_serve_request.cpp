// Protocol-v1 requests as `mls serve` reads them (conformance serve.hpp
// serve_request: hello, round, quantize, dequantize, conv2d, gemm on the golden model).
// The input is one request line. Properties: serve_one never throws; the
// reply is an object carrying the request's id (when it had one) and exactly
// one of error, unsupported or a result; it can be written as the JSON line
// `mls serve` prints (valid UTF-8).
#include <nlohmann/json.hpp>

#include "fuzz_common.hpp"
#include "mls/conformance/serve.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line = mls::fuzz::text(data, size);
  if (line.find('\n') != std::string::npos) return 0;  // mls serve reads one line at a time
  nlohmann::json reply;
  try {
    reply = mls::conformance::serve_request(line);
  } catch (const std::exception& e) {
    mls::fuzz::broken(std::string("serve_request threw: ") + e.what());
  }
  MLS_FUZZ_CHECK(reply.is_object(), "reply is not an object");
  const int kinds = int(reply.contains("error")) + int(reply.contains("unsupported"));
  MLS_FUZZ_CHECK(kinds <= 1, "reply has both error and unsupported");
  const nlohmann::json req = nlohmann::json::parse(line, nullptr, false);
  if (!req.is_discarded() && req.is_object() && req.contains("id") && !req.at("id").is_null())
    MLS_FUZZ_CHECK(reply.contains("id") && reply.at("id") == req.at("id"), "reply lost the request id");
  std::string out;
  try {
    out = reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);  // as the mls serve loop writes it
  } catch (const nlohmann::json::exception& e) {
    mls::fuzz::broken(std::string("the reply cannot be written as a JSON line: ") + e.what());
  }
  MLS_FUZZ_CHECK(out.find('\n') == std::string::npos, "reply spans lines");
  const nlohmann::json back = nlohmann::json::parse(out, nullptr, false);
  MLS_FUZZ_CHECK(!back.is_discarded() && back.is_object(), "the written reply line is not a JSON object");
  return 0;
}
