// The protocol codec (spec/09-protocol.md 9.2): the typed values of every
// message -- requests, replies, the handshake -- and the one strict reader and
// writer of their JSON form. `mls serve`, the runner's process backend, saved
// cases (replay JSON) and `mls verify` all read and write through it, so they
// accept exactly one dialect of the protocol.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mls/conv.hpp"
#include "mls/enums.hpp"
#include "mls/format.hpp"
#include "mls/tensor.hpp"

namespace mls::conformance {

// The operations of protocol v1 (9.2.4-9.2.7); the code is the C ABI's MLS_OP_*
// (conv2d: the forward pass's; the pass is a field).
enum class Op { round, quantize, dequantize, conv2d, gemm };
}  // namespace mls::conformance
namespace mls {
template <>
struct EnumTable<conformance::Op> {
  static constexpr std::string_view what = "protocol op";
  static constexpr std::array<EnumEntry<conformance::Op>, 5> entries{{
      {conformance::Op::round, "round", 7, "scalar rounding (cast) of fp32 values to an element grid (3, 9.2.8)"},
      {conformance::Op::quantize, "quantize", 1, "dynamic quantization of an fp32 tensor (04)"},
      {conformance::Op::dequantize, "dequantize", 2, "a tensor of the family to fp32 (4.7)"},
      {conformance::Op::conv2d, "conv2d", 3, "2-D convolution, three passes (06)"},
      {conformance::Op::gemm, "gemm", 6, "matrix product (6.4)"},
  }};
};
}  // namespace mls
namespace mls::conformance {

// round: codes[i] = the element code of x[i] / scale (3, 3.10).
struct RoundCase {
  Minifloat element = Minifloat::element(2, 1);
  Rounding rounding;
  OverflowPolicy overflow = OverflowPolicy::saturate;
  SignedZero signed_zero = SignedZero::preserve;
  Dyadic scale = Dyadic::from_int(1);  // positive
  std::vector<uint32_t> x;             // fp32 bit patterns
  std::vector<uint32_t> rand;          // one word per value for sr, else empty
};

using QuantizeCase = QuantizeInput;

// conv2d (params.pass etc.) or gemm; out_shape resolved from the geometry.
struct ConvCase {
  bool gemm = false;
  MlsTensor a, b;
  Conv2dParams params;
  ArithProfile arith = ArithProfile::exact();
  Shape out_shape;
};

// One case of any op.
struct Case {
  Op op = Op::quantize;
  RoundCase round;
  QuantizeCase q;
  MlsTensor t;   // dequantize
  ConvCase conv;
  std::string summary() const;  // "quantize e2m1.g4m1 rne [1,2,3]"
  int64_t size() const;         // elements, for shrinking reports
};

struct CodesResult {
  std::vector<uint32_t> codes;
  friend bool operator==(const CodesResult&, const CodesResult&) = default;
};
struct QuantizeResult {
  uint32_t tensor_scale = 0;
  std::vector<uint32_t> group_scales;
  std::vector<uint32_t> elements;
  friend bool operator==(const QuantizeResult&, const QuantizeResult&) = default;
};
struct TensorResult {
  Shape shape;
  std::vector<uint32_t> y;  // fp32 bit patterns
};

// The backend's declarations in its hello reply (9.2.3). An empty set means
// "not declared": everything is offered and the backend may still answer a
// request "unsupported".
struct Capabilities {
  std::string name;
  int protocol = 1;
  std::set<std::string> ops;       // op names
  std::set<std::string> modes;     // rounding mode names
  std::vector<Format> formats;     // quantize/dequantize/conv/gemm formats (exact match)
  std::vector<Minifloat> elements; // round: element grids
  std::set<std::string> arith;     // quantize arithmetic profiles (empty: exact only)
  nlohmann::json raw;
  bool supports_op(Op op) const;
  bool supports_mode(RoundingMode m) const;
  bool supports_format(const Format& f) const;
  bool supports_element(const Minifloat& m) const;
  bool supports_arith(QuantArith a) const;
  // Why `c` is not offered to this backend, or nullopt when it is.
  std::optional<std::string> declines(const Case& c) const;
};

// ---- the JSON form (9.2) ----------------------------------------------------------
// Readers throw mls::Error naming the field; writers write the canonical form.

nlohmann::json to_json(const Case& c);   // the request without "id"
Case case_from_json(const nlohmann::json& j);
Case case_from_text(const std::string& line);  // one request line
// A saved case file (10.6): {"schema":"mls-case","version":1,"case":{..},"result":{..}},
// an array of requests, or one request.
std::vector<Case> cases_from_case_file(const nlohmann::json& j);

nlohmann::json to_json(const CodesResult& r);
nlohmann::json to_json(const QuantizeResult& r);
nlohmann::json to_json(const TensorResult& r);
CodesResult codes_reply(const nlohmann::json& rep);
QuantizeResult quantize_reply(const nlohmann::json& rep);
TensorResult tensor_reply(const nlohmann::json& rep);

Capabilities hello_from_json(const nlohmann::json& h);  // throws when the protocol is not 1
nlohmann::json hello_to_json(const Capabilities& c);

// Field readers shared with the other JSON forms of the project.
Format format_field(const nlohmann::json& v, const std::string& field);        // a name or a JSON object
Minifloat element_field(const nlohmann::json& v, const std::string& field);    // a grid name or JSON
ArithProfile arith_field(const nlohmann::json& v, const std::string& field);   // "exact" or an object
std::array<int64_t, 2> pair_field(const nlohmann::json& j, const char* key, int64_t dflt);

}  // namespace mls::conformance
