// `mls demo`: the README's first command. Quantizes the bundled tensor with a
// named profile, summarises the result and explains one element.
#include <cmath>
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "mls/explain.hpp"
#include "io.hpp"
#include "mls/philox.hpp"
#include "mls/tensor.hpp"

namespace mls::cli {

void register_demo(CLI::App& app) {
  auto* sub = app.add_subcommand("demo", "quantize the bundled tensor with a named profile and explain one element");
  auto input = std::make_shared<std::string>(std::string(MLS_SOURCE_DIR) + "/data/demo_activation.npy");
  auto format = std::make_shared<std::string>("mls-e2m1");
  auto rounding = std::make_shared<std::string>("rne");
  auto index = std::make_shared<int64_t>(-1);
  sub->add_option("--input", *input, "fp32 tensor (.npy)")->capture_default_str();
  sub->add_option("-f,--format", *format, "profile or short name")->capture_default_str();
  sub->add_option("-r,--rounding", *rounding, "rounding mode")->capture_default_str();
  sub->add_option("-i,--index", *index, "element to explain (default: the one with the largest error)");
  sub->callback([=] {
    const Format f = parse_format(*format);
    const Rounding r = parse_rounding(*rounding);
    const io::FloatTensor x = io::read_float_tensor(*input);
    const auto rand = r.mode == RoundingMode::sr ? random_words(0, kStreamActivation, x.data.size()) : std::vector<uint32_t>{};
    const MlsTensor t = quantize(f, x.shape, x.data, r, rand);
    const auto y = dequantize_fp64(t);
    double sig = 0, err = 0, worst = -1;
    int64_t worst_i = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      const double d = y[i] - double(x.data[i]);
      sig += double(x.data[i]) * x.data[i];
      err += d * d;
      if (std::fabs(d) > worst) { worst = std::fabs(d); worst_i = static_cast<int64_t>(i); }
    }
    std::cout << "mls-ref demo: " << *input << "\n";
    std::cout << "  tensor " << shape_string(t.shape) << ", format " << *format << " = " << f.short_name() << ", rounding "
              << rounding_name(r) << "\n";
    std::cout << "  q_max = " << f.q_max().to_decimal() << ", g_min = " << f.g_min().to_decimal() << ", g_max = "
              << f.g_max().to_decimal() << ", bits/element = " << f.bits_per_element(double(t.elements.size()) / t.group_scales.size(), double(t.elements.size())) << "\n";
    std::cout << "  tensor scale " << hex32(t.tensor_scale) << " = " << t.tensor_scale_value().to_decimal() << "\n";
    std::cout << "  group scales (" << t.group_scales.size() << " groups):";
    for (size_t g = 0; g < t.group_scales.size(); ++g)
      std::cout << " " << t.group_scales[g] << "=" << f.group_scale.decode(t.group_scales[g]).to_decimal();
    std::cout << "\n  SQNR " << std::fixed << std::setprecision(2) << (err > 0 ? 10 * std::log10(sig / err) : INFINITY)
              << " dB, max |error| " << std::scientific << std::setprecision(4) << worst << " at element " << worst_i << "\n\n";
    std::cout.unsetf(std::ios::floatfield);
    const int64_t i = *index >= 0 ? *index : worst_i;
    std::cout << explain_text(explain(f, x.shape, x.data, r, rand, i));
  });
}

}  // namespace mls::cli
