// Implementations under test, behind one interface (spec/09-protocol.md):
// a process speaking protocol v1, a shared library with the C ABI of
// conformance/include/mls_backend.h, or the golden model in process.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "mls/conformance/codec.hpp"
#include "mls/enums.hpp"

namespace mls::conformance {

enum class Status {
  ok,           // the backend answered
  unsupported,  // the backend declined the case: a skip, never a pass
  rejected,     // the backend answered with an error for this case
  failure       // crash, hang, malformed or lying answer: a backend failure
};
}  // namespace mls::conformance
namespace mls {
template <>
struct EnumTable<conformance::Status> {
  static constexpr std::string_view what = "case status";
  static constexpr std::array<EnumEntry<conformance::Status>, 4> entries{{
      {conformance::Status::ok, "ok", 0, "the backend answered"},
      {conformance::Status::unsupported, "unsupported", 2, "the backend declined the case: a skip, never a pass"},
      {conformance::Status::rejected, "rejected", 1, "the backend answered with an error for this case"},
      {conformance::Status::failure, "failure", 3, "crash, hang, malformed or lying answer: a backend failure"},
  }};
};
}  // namespace mls
namespace mls::conformance {

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
  virtual Outcome<CodesResult> round(const RoundCase& c) = 0;
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
// dlopen's `path` and takes the table from mls_backend_get(2). Throws
// mls::Error (a backend failure) if the library, the symbol or the version is wrong.
std::unique_ptr<Backend> make_library_backend(const std::string& path);
// The golden model itself, in process.
std::unique_ptr<Backend> make_golden_backend();

}  // namespace mls::conformance
