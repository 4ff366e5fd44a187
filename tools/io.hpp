// Tensor input/output for the `mls` verbs: .npy, HDF5 datasets, JSON and
// numbers on stdin. Everything read is checked; errors name the file and field.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mls/tensor.hpp"

namespace mls::io {

struct FloatTensor {
  Shape shape;
  std::vector<float> data;
};

// SOURCE: "file.npy" (float32, or float64 whose values are all exact fp32),
// "file.h5:/path/to/dataset" (32-bit float dataset), or "-" for decimal/hex-float
// numbers on stdin (shape from `shape`, or 1-D). Throws mls::Error.
FloatTensor read_float_tensor(const std::string& source, const Shape& shape = {});
std::vector<uint32_t> read_uint32_list(const std::string& source);  // .npy uint32, or text numbers (decimal/0x hex)
// The .npy parsers on the file's bytes (`name` for messages): strict header
// (descr, fortran_order, shape only), exact payload size. Throw mls::Error.
FloatTensor float_tensor_from_npy(const std::string& bytes, const std::string& name);
std::vector<uint32_t> u32_from_npy(const std::string& bytes, const std::string& name);

void write_npy_f32(const std::string& path, const Shape& shape, const std::vector<float>& data);
void write_npy_u32(const std::string& path, const Shape& shape, const std::vector<uint32_t>& data);
void write_text_atomic(const std::string& path, const std::string& text);  // temp file + rename

// Quantize results as HDF5: /tensor_scale, /group_scales, /elements, /dequantized_fp32 (uint32 bits),
// attributes format (JSON), format_name, rounding.
void write_quantized_h5(const std::string& path, const MlsTensor& t, const std::string& rounding);
MlsTensor read_quantized(const std::string& source);  // JSON file (MLS tensor) or .h5 written above
// The members `mls quantize` writes beside the MLS tensor JSON (derived values; read_quantized ignores them).
const std::vector<const char*>& quantize_result_extras();

uint32_t parse_fp32(const std::string& text, const std::string& field);  // "0x3f800000" bits or a decimal

}  // namespace mls::io
