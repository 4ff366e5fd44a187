// Reading protocol-v1 replies as the runner does (spec/09-protocol.md,
// spec/10-conformance.md 10.5): the parsing of one reply line, factored out of
// the process backend so it can be tested and fuzzed on its own. Nothing here
// throws: a reply that is not what the request asked for is a backend failure
// with a message naming what was wrong.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "mls/conformance/backend.hpp"

namespace mls::conformance {

// Backend text as it may appear in messages and reports: at most `max`
// bytes, control bytes and bytes outside printable ASCII as \xNN, so a
// report never carries invalid UTF-8 (JSON reports, JUnit XML).
std::string printable(const std::string& text, size_t max = 200);

// One reply line to request `id`. status ok: `body` is the reply object;
// unsupported / rejected: `message` is the backend's text; failure: `message`
// says what was wrong (not JSON, not an object, a wrong or missing id).
struct ReplyLine {
  Status status = Status::failure;
  std::string message;
  nlohmann::json body;
};
ReplyLine parse_reply_line(const std::string& line, uint64_t id);

// The result members of an ok reply, read by the codec (codec.hpp). On a
// malformed body: status failure and the message ("malformed reply: ...").
Outcome<CodesResult> read_codes_reply(const nlohmann::json& body);
Outcome<QuantizeResult> read_quantize_reply(const nlohmann::json& body);
Outcome<TensorResult> read_tensor_reply(const nlohmann::json& body);

// The hello reply (9.2.3). Returns false with `why` when it is not JSON or
// does not declare protocol 1.
bool parse_hello_reply(const std::string& line, const std::string& fallback_name, Capabilities& caps, std::string& why);

}  // namespace mls::conformance
