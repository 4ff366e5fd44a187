// The registry of protocol-v1 ops beyond hello/quantize/dequantize.
#include "serve.hpp"
#include "serve_ops.hpp"

namespace mls::cli {

OpHandler extra_op(const std::string& op) {
  if (op == "conv2d") return serve_conv2d;
  if (op == "gemm") return serve_gemm;
  return {};
}

std::vector<std::string> supported_ops() { return {"hello", "quantize", "dequantize", "conv2d", "gemm"}; }

}  // namespace mls::cli
