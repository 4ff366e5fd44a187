// Implementations under test, behind one interface (spec/09-protocol.md):
// a process speaking protocol v1, a shared library with the C ABI of
// conformance/include/mls_backend.h, or the golden model in process.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mls/format.hpp"
#include "mls/tensor.hpp"

namespace mls::conformance {

struct Capabilities {
  std::string name;
  int protocol = 1;
  std::set<std::string> ops;    // empty = not declared (assume all)
  std::set<std::string> modes;  // empty = not declared (assume all)
  nlohmann::json raw;
  bool supports_op(const std::string& op) const { return ops.empty() || ops.count(op) > 0; }
  bool supports_mode(const std::string& m) const { return modes.empty() || modes.count(m) > 0; }
};

struct QuantizeCase {
  Format format;
  Rounding rounding;
  Shape shape;
  std::vector<uint32_t> x;     // fp32 bit patterns
  std::vector<uint32_t> rand;  // one word per element for sr, else empty
  std::optional<uint32_t> static_tensor_scale;
  nlohmann::json to_json() const;
};

struct QuantizeResult {
  uint32_t tensor_scale = 0;
  std::vector<uint32_t> group_scales;
  std::vector<uint32_t> elements;
};

struct ConvCase {
  std::string op = "conv2d";   // "conv2d" or "gemm"
  std::string pass = "fwd";    // fwd | bwd_data | bwd_weight (conv2d)
  MlsTensor a, b;
  std::vector<int64_t> stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
  Shape out_shape;             // required for the backward passes
  nlohmann::json arith = nlohmann::json{{"profile", "exact"}};
  nlohmann::json to_json() const;
};

struct TensorResult {
  Shape shape;
  std::vector<uint32_t> y;  // fp32 bit patterns
};

enum class Status {
  ok,           // the backend answered
  unsupported,  // the backend declined the case: a skip, never a pass
  rejected,     // the backend answered with an error for this case
  failure       // crash, hang, malformed or lying answer: a backend failure
};
std::string to_string(Status s);

template <class T>
struct Outcome {
  Status status = Status::failure;
  std::string message;
  T value{};
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const Capabilities& capabilities() = 0;  // handshake (hello), done once, lazily
  virtual Outcome<QuantizeResult> quantize(const QuantizeCase& c) = 0;
  virtual Outcome<TensorResult> dequantize(const MlsTensor& t) = 0;
  virtual Outcome<TensorResult> conv(const ConvCase& c) = 0;  // conv2d or gemm
  virtual std::string describe() const = 0;
  int restarts() const { return restarts_; }

 protected:
  int restarts_ = 0;
};

// `cmd` runs under /bin/sh -c. Each request waits at most timeout_ms for its
// reply; a crash, hang or malformed reply is a failure and the process is
// restarted (with a fresh handshake) before the next request.
std::unique_ptr<Backend> make_process_backend(const std::string& cmd, int timeout_ms);
// dlopen's `path` and takes the table from mls_backend_get(1). Throws
// mls::Error (a backend failure) if the library or the symbol is missing.
std::unique_ptr<Backend> make_library_backend(const std::string& path);
// The golden model itself, in process.
std::unique_ptr<Backend> make_golden_backend();

}  // namespace mls::conformance
