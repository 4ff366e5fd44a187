// `mls formats`: the named profiles and their derived numbers.
#include <iomanip>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "mls/error.hpp"
#include "mls/format.hpp"

namespace mls::cli {

namespace {
nlohmann::json derived(const std::string& name, const Format& f, double group_size) {
  return {{"name", name},
          {"short_name", f.short_name()},
          {"format", f.to_json()},
          {"element_bits", f.element.total_bits()},
          {"q_max", f.q_max().to_decimal()},
          {"smallest_subnormal", f.element.min_positive().to_decimal()},
          {"g_min", f.g_min().to_decimal()},
          {"g_max", f.g_max().to_decimal()},
          {"group_scale_bits", f.group_scale.total_bits()},
          {"group_size", group_size},
          {"bits_per_element", f.bits_per_element(group_size)}};
}
}  // namespace

void register_formats(CLI::App& app) {
  auto* sub = app.add_subcommand("formats", "list named profiles (or given formats) with q_max, smallest subnormal, g_min, g_max, bits/element");
  auto group_size = std::make_shared<double>(1024);
  auto json = std::make_shared<bool>(false);
  auto extra = std::make_shared<std::vector<std::string>>();
  sub->add_option("-g,--group-size", *group_size, "elements per group for the bits/element figure (default: a 32x32 map)")->capture_default_str();
  sub->add_option("-f,--format", *extra, "also show these formats (short names or JSON)");
  sub->add_flag("--json", *json, "print JSON");
  sub->callback([=] {
    if (!(*group_size >= 1)) throw Error("--group-size must be >= 1");
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& p : named_profiles()) {
      auto r = derived(p.name, p.format, *group_size);
      r["description"] = p.description;
      rows.push_back(r);
    }
    for (const auto& s : *extra) rows.push_back(derived(s, parse_format(s), *group_size));
    if (*json) {
      std::cout << rows.dump(2) << "\n";
      return;
    }
    std::cout << std::left << std::setw(16) << "profile" << std::setw(14) << "short name" << std::setw(10) << "q_max"
              << std::setw(20) << "min subnormal" << std::setw(20) << "g_min" << std::setw(8) << "g_max"
              << "bits/elem @" << *group_size << "\n";
    for (const auto& r : rows) {
      std::ostringstream bpe;
      bpe << std::setprecision(6) << r["bits_per_element"].get<double>();
      std::cout << std::setw(16) << r["name"].get<std::string>() << std::setw(14) << r["short_name"].get<std::string>()
                << std::setw(10) << r["q_max"].get<std::string>() << std::setw(20)
                << r["smallest_subnormal"].get<std::string>() << std::setw(20) << r["g_min"].get<std::string>()
                << std::setw(8) << r["g_max"].get<std::string>() << bpe.str() << "\n";
    }
    for (const auto& p : named_profiles()) std::cout << "  " << p.name << ": " << p.description << "\n";
  });
}

}  // namespace mls::cli
