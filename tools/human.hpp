// Output meant for people: the short summaries `mls quantize`, `mls dequantize`
// and `mls formats` print by default (the full machine form is --json or -o).
#pragma once
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "mls/tensor.hpp"

namespace mls::cli::human {

// A value for a person: the exact decimal when it is short ("448", "0.001953125"),
// else a power of two ("2^127", "-2^-133"), else m x 2^k with a short m
// ("1.75*2^100"), else about 7 significant digits ("3.402823e+38"). Exact
// values stay in --json.
std::string compact(const Dyadic& v);
// A double as about 6 significant digits ("1.5", "-0.0625", "nan").
std::string number(double v);

// At most `n` values from the front, then "... (N in all)".
std::string preview(const std::vector<double>& v, size_t n = 8);

// The summary of an MLS tensor, one fact a line, indented by two spaces:
// shape and format, the tensor scale, the group scales (count, shape, code and
// value range), and the dequantized values (a few, range, zeros). With `x` (the
// fp32 input of a quantization) also the largest absolute error.
void tensor_summary(std::ostream& os, const MlsTensor& t, const std::optional<std::vector<float>>& x);

}  // namespace mls::cli::human
