// `mls quantize` and `mls dequantize` (spec/04-quantize.md). By default they
// print a short summary for a person; the full result is --json (stdout) or
// -o FILE, and then the summary goes to stderr.
#include <cmath>
#include <cstring>
#include <iostream>

#include "commands.hpp"
#include "human.hpp"
#include "io.hpp"
#include "mls/error.hpp"
#include "quantize_inputs.hpp"

namespace mls::cli {

namespace {
bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

nlohmann::json result_json(const MlsTensor& t, const Rounding& r) {
  nlohmann::json j = t.to_json();
  j["format_name"] = t.format.short_name();
  j["rounding"] = rounding_to_json(r);
  j["tensor_scale_value"] = t.tensor_scale_value().to_decimal();
  std::vector<uint32_t> bits;
  std::vector<double> vals;
  for (float v : dequantize_fp32(t)) {
    bits.push_back(float_bits(v));
    vals.push_back(v);
  }
  j["dequantized_fp32"] = bits;
  j["dequantized"] = vals;
  return j;
}
}  // namespace

void register_quantize(CLI::App& app) {
  auto* sub = app.add_subcommand("quantize", "quantize an fp32 tensor to MLS (dynamic or static tensor scale)");
  auto in = std::make_shared<QuantizeInputs>();
  auto out = std::make_shared<std::string>();
  in->add(sub);
  auto json = std::make_shared<bool>(false);
  sub->add_option("-o,--output", *out, "write OUT.json (MLS tensor JSON) or OUT.h5 (HDF5); default: a summary on stdout");
  sub->add_flag("--json", *json, "print the MLS tensor JSON (+ dequantized values) on stdout instead of the summary");
  sub->callback([=] {
    const auto l = in->load();
    const MlsTensor t = quantize(l.input());
    if (!out->empty() && (ends_with(*out, ".h5") || ends_with(*out, ".hdf5"))) {
      io::write_quantized_h5(*out, t, rounding_name(l.rounding));
    } else if (!out->empty() || *json) {
      const std::string text = result_json(t, l.rounding).dump() + "\n";
      if (out->empty()) std::cout << text; else io::write_text_atomic(*out, text);
    }
    if (*json && out->empty()) return;
    std::ostream& os = out->empty() ? std::cout : std::cerr;  // stdout stays free when a file takes the result
    os << "quantized " << t.elements.size() << " values as " << t.format.short_name() << " ("
       << rounding_name(l.rounding) << ")" << (out->empty() ? "" : " -> " + *out) << "\n";
    human::tensor_summary(os, t, l.x.data);
    if (out->empty()) os << "full result: --json (on stdout) or -o FILE.json / FILE.h5\n";
  });

  auto* deq = app.add_subcommand("dequantize", "dequantize an MLS tensor (JSON or HDF5 from mls quantize) to fp32 (and exact fp64)");
  auto src = std::make_shared<std::string>();
  auto dout = std::make_shared<std::string>();
  deq->add_option("input", *src, "MLS tensor: JSON file or .h5 written by mls quantize")->required();
  auto djson = std::make_shared<bool>(false);
  deq->add_option("-o,--output", *dout, "OUT.npy (fp32) or OUT.json; default: a summary on stdout");
  deq->add_flag("--json", *djson, "print the JSON (shape, fp32 bits, fp64 bits, values) on stdout instead of the summary");
  deq->callback([=] {
    const MlsTensor t = io::read_quantized(*src);
    const auto f32 = dequantize_fp32(t);
    auto summary = [&] {
      std::ostream& os = dout->empty() ? std::cout : std::cerr;
      os << "dequantized " << t.elements.size() << " values of " << *src << (dout->empty() ? "" : " -> " + *dout) << "\n";
      human::tensor_summary(os, t, std::nullopt);
      if (dout->empty()) os << "full result: --json (fp32 bits, fp64 bits and values on stdout) or -o FILE.json / FILE.npy\n";
    };
    if (dout->empty() && !*djson) return summary();
    if (ends_with(*dout, ".npy")) {
      io::write_npy_f32(*dout, t.shape, f32);
      return summary();
    }
    const auto f64 = dequantize_fp64(t);
    nlohmann::json j{{"shape", t.shape}};
    std::vector<uint32_t> b32;
    std::vector<uint64_t> b64;
    for (float v : f32) b32.push_back(float_bits(v));
    for (double v : f64) {
      uint64_t b;
      std::memcpy(&b, &v, 8);
      b64.push_back(b);
    }
    j["fp32_bits"] = b32;
    j["fp64_bits"] = b64;
    j["values"] = f64;
    const std::string text = j.dump() + "\n";
    if (dout->empty()) {
      std::cout << text;
      return;
    }
    io::write_text_atomic(*dout, text);
    summary();
  });
}

}  // namespace mls::cli
