// `mls explain`: one element's path through dynamic quantization, step by step.
#include <iostream>

#include "commands.hpp"
#include "mls/error.hpp"
#include "mls/explain.hpp"
#include "quantize_inputs.hpp"

namespace mls::cli {

void register_explain(CLI::App& app) {
  auto* sub = app.add_subcommand("explain", "show one element's quantization step by step: quotient, neighbours, t, decision, rule");
  auto in = std::make_shared<QuantizeInputs>();
  auto index = std::make_shared<int64_t>(0);
  auto at = std::make_shared<std::vector<int64_t>>();
  auto json = std::make_shared<bool>(false);
  in->add(sub);
  sub->add_option("-i,--index", *index, "row-major linear index of the element")->capture_default_str();
  sub->add_option("--at", *at, "multi-index of the element, e.g. --at 0,1,2,3")->delimiter(',');
  sub->add_flag("--json", *json, "print JSON");
  sub->callback([=] {
    const auto l = in->load();
    int64_t i = *index;
    if (!at->empty()) {
      if (at->size() != l.x.shape.size())
        throw Error("--at has " + std::to_string(at->size()) + " indices but the tensor has rank " + std::to_string(l.x.shape.size()));
      i = 0;
      for (size_t k = 0; k < at->size(); ++k) {
        if ((*at)[k] < 0 || (*at)[k] >= l.x.shape[k])
          throw Error("--at[" + std::to_string(k) + "] = " + std::to_string((*at)[k]) + " is outside 0.." + std::to_string(l.x.shape[k] - 1));
        i = i * l.x.shape[k] + (*at)[k];
      }
    }
    const auto e = explain(l.input(), i);
    std::cout << (*json ? e.dump(2) + "\n" : explain_text(e));
  });
}

}  // namespace mls::cli
