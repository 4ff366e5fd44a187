// Options shared by `mls quantize` and `mls explain`: where the tensor comes
// from, its format, the rounding mode and the random words.
#pragma once
#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "io.hpp"
#include "mls/philox.hpp"
#include "mls/tensor.hpp"

namespace mls::cli {

struct QuantizeInputs {
  std::string input;                // .npy, file.h5:/dataset, or - (stdin)
  std::vector<int64_t> shape;       // for stdin, or to reshape
  std::string format = "mls-e2m1";
  std::string rounding = "rne";
  uint64_t seed = 0;
  uint32_t stream = kStreamActivation;
  std::string rand_file;            // explicit random words
  std::string tensor_scale;         // static tensor scale (4.6)
  std::string arith = "exact";      // quantizer arithmetic profile (4.12)

  void add(CLI::App* sub) {
    sub->add_option("input", input, "fp32 tensor: FILE.npy, FILE.h5:/dataset, or - for numbers on stdin")->required();
    sub->add_option("--shape", shape, "tensor shape (for stdin input, or to reshape), e.g. --shape 1 2 4 4")->delimiter(',');
    sub->add_option("-f,--format", format, "profile name, short name (e2m1.g4m1/1x1x0x0) or JSON")->capture_default_str();
    sub->add_option("-r,--rounding", rounding, "rne rna rtz rup rdn rto sr<R> (e.g. sr8)")->capture_default_str();
    sub->add_option("--seed", seed, "Philox seed for sr random words (spec 5)")->capture_default_str();
    sub->add_option("--stream", stream, "Philox stream: 0 activation, 1 weight, 2 error")->capture_default_str();
    sub->add_option("--rand", rand_file, "explicit sr random words: FILE.npy (uint32) or a text file, one word per element");
    sub->add_option("--tensor-scale", tensor_scale, "static tensor scale (4.6): fp32 bits 0x... or a decimal");
    sub->add_option("--arith", arith, "quantizer arithmetic profile (4.12)")
        ->check(CLI::IsMember(enum_names<QuantArith>()))
        ->capture_default_str();
  }

  struct Loaded {
    Format format;
    Rounding rounding;
    QuantArith arith = QuantArith::exact;
    io::FloatTensor x;
    std::vector<uint32_t> rand;
    std::optional<uint32_t> static_scale;
    QuantizeInput input() const {
      QuantizeInput in{format, rounding, arith, x.shape, {}, rand, static_scale};
      in.x.reserve(x.data.size());
      for (float v : x.data) in.x.push_back(float_bits(v));
      return in;
    }
  };

  Loaded load() const {
    Loaded l;
    l.format = parse_format(format);
    l.rounding = parse_rounding(rounding);
    l.arith = enum_from_name<QuantArith>(arith, "--arith");
    l.x = io::read_float_tensor(input, shape);
    if (l.rounding.mode == RoundingMode::sr) {
      l.rand = rand_file.empty() ? random_words(seed, stream, l.x.data.size()) : io::read_uint32_list(rand_file);
      if (l.rand.size() != l.x.data.size())
        throw Error("--rand has " + std::to_string(l.rand.size()) + " words but the tensor has " +
                    std::to_string(l.x.data.size()) + " elements");
    }
    if (!tensor_scale.empty()) l.static_scale = io::parse_fp32(tensor_scale, "--tensor-scale");
    return l;
  }
};

}  // namespace mls::cli
