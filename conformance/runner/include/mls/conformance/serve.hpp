// `mls serve`: the golden model, or any C ABI library, as a backend speaking
// process protocol v1 (spec/09-protocol.md): one request line in, one reply
// object out, through the codec.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "mls/conformance/backend.hpp"

namespace mls::conformance {

// The golden model's hello reply (9.2.3).
nlohmann::json golden_hello();
// One request line -> one reply object (errors become {"id":..,"error":..};
// an op the protocol does not have, {"unsupported":..}). `library` null:
// the golden model answers (conv/gemm replies carry the exact values too);
// otherwise the library does, and its statuses map to error/unsupported.
nlohmann::json serve_request(const std::string& line, Backend* library = nullptr);

}  // namespace mls::conformance
