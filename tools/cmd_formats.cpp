// `mls formats`: the named profiles and their derived numbers.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "human.hpp"
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

// `text` after `lead`, wrapped at 100 columns with the continuation lines indented like it.
void wrap(std::ostream& os, const std::string& lead, const std::string& text) {
  const size_t width = 100;
  std::string line = lead;
  bool empty = true;
  std::istringstream words(text);
  for (std::string w; words >> w;) {
    if (!empty && line.size() + 1 + w.size() > width) {
      os << line << "\n";
      line = std::string(lead.size(), ' ');
      empty = true;
    }
    line += (empty ? "" : " ") + w;
    empty = false;
  }
  os << line << "\n";
}
}  // namespace

void register_formats(CLI::App& app) {
  auto* sub = app.add_subcommand("formats", "list the format family's named profiles (or given formats): q_max, scale range, bits/element, source and our choices");
  auto group_size = std::make_shared<double>(1024);
  auto json = std::make_shared<bool>(false);
  auto extra = std::make_shared<std::vector<std::string>>();
  sub->add_option("-g,--group-size", *group_size, "elements per group for the bits/element figure (default: a 32x32 map)")->capture_default_str();
  sub->add_option("-f,--format", *extra, "also show these formats (short names or JSON)");
  sub->add_flag("--json", *json, "print JSON (exact values as decimal strings)");
  sub->callback([=] {
    if (!(*group_size >= 1)) throw Error("--group-size must be >= 1");
    nlohmann::json rows = nlohmann::json::array();
    std::vector<Format> formats;
    for (const auto& p : named_profiles()) {
      auto r = derived(p.name, p.format, *group_size);
      r["description"] = p.description;
      r["source"] = p.source;
      r["choices"] = p.choices;
      rows.push_back(r);
      formats.push_back(p.format);
    }
    for (const auto& s : *extra) {
      formats.push_back(parse_format(s));
      rows.push_back(derived(s, formats.back(), *group_size));
    }
    if (*json) {
      std::cout << rows.dump(2) << "\n";
      return;
    }
    // The table: exact values where short, powers of two where not (human::compact).
    std::ostringstream head;
    head << "bits/elem @" << *group_size;
    std::vector<std::vector<std::string>> table{
        {"profile", "short name", "bits", "q_max", "min subnormal", "scale range", head.str()}};
    for (size_t i = 0; i < rows.size(); ++i) {
      const Format& f = formats[i];
      std::ostringstream bpe;
      bpe << std::setprecision(6) << rows[i]["bits_per_element"].get<double>();
      table.push_back({rows[i]["name"].get<std::string>(), f.short_name(), std::to_string(f.element.total_bits()),
                       human::compact(f.q_max()), human::compact(f.element.min_positive()),
                       human::compact(f.g_min()) + " .. " + human::compact(f.g_max()), bpe.str()});
    }
    std::vector<size_t> width(table[0].size(), 0);
    for (const auto& row : table)
      for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
    for (const auto& row : table) {
      std::string line;
      for (size_t c = 0; c < row.size(); ++c) {
        line += row[c];
        if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
      }
      std::cout << line << "\n";
    }
    // Where each profile comes from and what this project pins.
    for (const auto& p : named_profiles()) {
      std::cout << "\n" << p.name << ": " << p.description << "\n";
      if (!p.source.empty()) wrap(std::cout, "  source: ", p.source);
      if (!p.choices.empty()) wrap(std::cout, "  ours:   ", p.choices);
    }
  });
}

}  // namespace mls::cli
