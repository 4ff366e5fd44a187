// The registry of protocol-v1 ops beyond hello/quantize/dequantize.
#include "serve.hpp"

namespace mls::cli {

OpHandler extra_op(const std::string&) { return {}; }

std::vector<std::string> supported_ops() { return {"hello", "quantize", "dequantize"}; }

}  // namespace mls::cli
