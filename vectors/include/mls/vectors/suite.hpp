// In-memory model of a vector file and of a results file (spec/08-vectors.md).
//
// A Suite is what one HDF5 file holds: root attributes and case groups. A case
// group holds cases of one op, format, rounding (or arithmetic) and shape,
// batched along the leading axis of every dataset: row k of each dataset is
// case k. Datasets live in three sections:
//   inputs/   what an implementation under test reads,
//   outputs/  what it must produce (a results file holds exactly these),
//   info/     reference-only extras (rules, exact values) for diagnosis.
// The files are read and written by mls/vectors/io.hpp; this header is the
// plain data plus typed per-case accessors for each op.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mls/conv.hpp"
#include "mls/format.hpp"
#include "mls/philox.hpp"
#include "mls/tensor.hpp"

namespace mls::vectors {

inline constexpr const char* kSchemaName = "mls-vectors";
inline constexpr int64_t kSchemaVersion = 1;

// The ops of section 8.4, in the order their top-level groups sort.
enum class Op { conv, dequantize, gemm, philox, quantize, round };
std::string to_string(Op op);
Op op_from_string(const std::string& s, const std::string& field = "op");
const std::vector<Op>& all_ops();

enum class Kind { vectors, results };
std::string to_string(Kind k);

// Per-case status (outputs/status). In a vector file only ok and error occur.
enum CaseStatus : uint8_t {
  kStatusOk = 0,           // outputs hold the result
  kStatusError = 1,        // the spec requires an error for this case (or the implementation reported one)
  kStatusUnsupported = 2,  // results only: the implementation does not support the case
  kStatusNotRun = 3        // results only: no result (e.g. a crashed backend)
};

enum class DType : uint8_t { u8, u32, u64, i64, str };
std::string to_string(DType t);

// A dense row-major array; dims[0] is the case axis. Integer data live in
// `ints` widened to uint64 (i64 stored as its two's complement), strings in `strs`.
struct Array {
  DType dtype = DType::u32;
  std::vector<uint64_t> dims;
  std::vector<uint64_t> ints;
  std::vector<std::string> strs;

  static Array make(DType t, std::vector<uint64_t> dims);
  uint64_t rows() const { return dims.empty() ? 0 : dims[0]; }
  uint64_t row_size() const;  // elements per case (product of dims[1..])
  uint64_t size() const { return rows() * row_size(); }
  uint64_t u(uint64_t i) const { return ints[i]; }
  int64_t i(uint64_t i) const { return static_cast<int64_t>(ints[i]); }
  friend bool operator==(const Array&, const Array&) = default;
};

using AttrValue = std::variant<std::string, int64_t, uint64_t, std::vector<int64_t>>;
using Attrs = std::map<std::string, AttrValue>;

// Typed attribute access; errors name `where` (an HDF5 path) and the attribute.
std::string attr_str(const Attrs& a, const std::string& name, const std::string& where);
int64_t attr_int(const Attrs& a, const std::string& name, const std::string& where);
uint64_t attr_uint(const Attrs& a, const std::string& name, const std::string& where);
std::vector<int64_t> attr_ints(const Attrs& a, const std::string& name, const std::string& where);

struct CaseGroup {
  std::string path;  // "/<op>/<index>", e.g. "/round/0003"
  Op op = Op::round;
  Attrs attrs;
  std::map<std::string, Array> data;  // "inputs/x", "outputs/code", "info/rule", ...

  uint64_t count() const;  // cases in this file (attribute case_count)
  bool has(const std::string& name) const { return data.count(name) != 0; }
  const Array& at(const std::string& name) const;  // error names path/name
  Array& at(const std::string& name);

  // Decoded descriptors (errors name the path and attribute).
  Format format(const std::string& prefix = "") const;  // "", "a_" or "b_"
  Rounding rounding() const;                            // round, quantize
  ArithProfile arith() const;                           // conv, gemm
  QuantArith quant_arith() const;                       // quantize (attribute quant_arith; exact when absent)
  Shape shape(const std::string& name = "shape") const; // an i64 array attribute
  std::string label() const;
};

struct Suite {
  Attrs attrs;                    // root attributes
  std::vector<CaseGroup> groups;  // sorted by path (byte-wise)
  Kind kind() const;
  uint64_t case_count() const;    // over all groups
  const CaseGroup* find(const std::string& path) const;
};

// ---- typed per-case access (what a conformance runner uses) ----

// round: one element quantized with a given scale product (spec 4.5).
struct RoundRow {
  uint32_t x = 0;             // fp32 bits
  uint32_t tensor_scale = 0;  // fp32 bits, positive finite
  uint32_t group_scale = 0;   // group-scale code
  uint32_t rand = 0;          // the random word (0 unless sr)
};
struct RoundOutput {
  uint8_t status = kStatusOk;
  uint32_t code = 0;  // element code
};
RoundRow round_case(const CaseGroup& g, uint64_t k);
RoundOutput round_output(const CaseGroup& g, uint64_t k);
void set_round_output(CaseGroup& g, uint64_t k, const RoundOutput& o);

// quantize: dynamic quantization of one fp32 tensor (spec 4.1-4.5).
struct QuantizeRow {
  Shape shape;
  std::vector<uint32_t> x;     // fp32 bits, row-major
  std::vector<uint32_t> rand;  // one word per element (zeros unless sr)
  std::vector<float> x_float() const;
};
struct QuantizeOutput {
  uint8_t status = kStatusOk;
  uint32_t tensor_scale = 0;
  std::vector<uint32_t> group_scales, elements;
};
QuantizeRow quantize_case(const CaseGroup& g, uint64_t k);
QuantizeOutput quantize_output(const CaseGroup& g, uint64_t k);
void set_quantize_output(CaseGroup& g, uint64_t k, const QuantizeOutput& o);

// dequantize: an MLS tensor to fp32 and fp64 (spec 4.7).
struct DequantizeOutput {
  uint8_t status = kStatusOk;
  std::vector<uint32_t> fp32;
  std::vector<uint64_t> fp64;
};
MlsTensor dequantize_case(const CaseGroup& g, uint64_t k);
DequantizeOutput dequantize_output(const CaseGroup& g, uint64_t k);
void set_dequantize_output(CaseGroup& g, uint64_t k, const DequantizeOutput& o);

// philox: variant "word" (spec 5 mapping) or "block" (the raw bijection).
struct PhiloxRow {
  uint64_t seed = 0, index = 0;  // word
  uint32_t stream = 0;           // word
  PhiloxCounter counter{};       // block
  PhiloxKey key{};               // block
};
struct PhiloxOutput {
  uint8_t status = kStatusOk;
  uint32_t word = 0;             // word
  PhiloxCounter block{};         // block
};
bool philox_is_block(const CaseGroup& g);
PhiloxRow philox_case(const CaseGroup& g, uint64_t k);
PhiloxOutput philox_output(const CaseGroup& g, uint64_t k);
void set_philox_output(CaseGroup& g, uint64_t k, const PhiloxOutput& o);

// conv (three passes) and gemm: two MLS operands, fp32 outputs (spec 6).
struct ReductionRow {
  MlsTensor a, b;
  Conv2dParams params;  // conv only (pass, stride, padding, dilation, groups, out_shape)
  ArithProfile arith;
};
struct ReductionOutput {
  uint8_t status = kStatusOk;
  std::vector<uint32_t> y;  // fp32 bits, row-major over the out shape
};
ReductionRow reduction_case(const CaseGroup& g, uint64_t k);
ReductionOutput reduction_output(const CaseGroup& g, uint64_t k);
void set_reduction_output(CaseGroup& g, uint64_t k, const ReductionOutput& o);
// The exact value of every output of case k (info/exact_mant, info/exact_exp).
std::vector<Dyadic> reduction_exact(const CaseGroup& g, uint64_t k);

// ---- helpers shared by the writer, generators and tools ----

// Attributes describing a format: "<prefix>format" (JSON text),
// "<prefix>format_short" and the numeric fields of spec 8.3.
void put_format_attrs(Attrs& a, const std::string& prefix, const Format& f);
// "<prefix>shape", "<prefix>tile" (the resolved group shape, 2.4) and "<prefix>group_count" (8.3.2).
void put_layout_attrs(Attrs& a, const std::string& prefix, const Format& f, const Shape& shape);
void put_rounding_attrs(Attrs& a, const Rounding& r);
void put_arith_attrs(Attrs& a, const ArithProfile& p);
void put_quant_arith_attrs(Attrs& a, QuantArith q);  // written only for a profile other than exact
int64_t rounding_mode_code(RoundingMode m);  // rne 0, rna 1, rtz 2, rup 3, rdn 4, rto 5, sr 6
RoundingMode rounding_mode_from_code(int64_t c, const std::string& where);

// An exact value column as stored in info/: mantissa (odd, or 0) and exponent.
// `mant` is i64 when every mantissa fits, otherwise decimal strings.
void set_exact(Array& mant, Array& exp, uint64_t i, const Dyadic& v);
Dyadic get_exact(const Array& mant, const Array& exp, uint64_t i);
// info/exact of a dequantize output (8.4.3): the exact value S_t S_g elem, or 0
// for a NaN or Inf output (a NaN scale, a NaN or Inf element: 4.7.1).
Dyadic finite_value_or_zero(const MlsTensor& t, int64_t i);
// Converts a string mantissa column to i64 when every entry fits (the writer's rule).
void compact_exact(Array& mant);

}  // namespace mls::vectors
