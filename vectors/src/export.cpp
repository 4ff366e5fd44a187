#include "mls/vectors/export.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "mls/error.hpp"
#include "mls/interrupt.hpp"
#include "mls/vectors/schema.hpp"
#include "mls/vectors/sha256.hpp"

namespace mls::vectors {

namespace {
unsigned width_of(DType t) { return t == DType::u8 ? 8 : t == DType::u32 ? 32 : 64; }
bool has_rounding(Op op) { return op == Op::round || op == Op::quantize; }

// The file name's last part: the rounding, the philox variant or the conv pass.
std::string mode_tag(const CaseGroup& g) {
  if (has_rounding(g.op)) return "-" + attr_str(g.attrs, "rounding_name", g.path);
  if (g.op == Op::philox) return "-" + attr_str(g.attrs, "variant", g.path);
  if (g.op == Op::conv) return "-" + attr_str(g.attrs, "pass", g.path);
  return "";
}

std::string base_name(const CaseGroup& g) {
  return to_string(g.op) + "-" + g.path.substr(g.path.rfind('/') + 1) + mode_tag(g);
}

void write_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = interrupt::temp_name(path);
  const interrupt::TempFile guard(tmp);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error(path + ": cannot create " + tmp);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!f) {
      std::remove(tmp.c_str());
      throw Error(path + ": cannot write");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename " + tmp + " to it: " + ec.message());
  }
}

// The group attributes a case needs to be run on its own.
nlohmann::json case_params(const CaseGroup& g) {
  nlohmann::json j;
  for (const auto& [k, v] : g.attrs) {
    const bool json_text = k == "format" || k == "a_format" || k == "b_format" || k == "rounding" || k == "arith";
    const bool plain = k == "shape" || k == "a_shape" || k == "b_shape" || k == "y_shape" || k == "stride" ||
                       k == "padding" || k == "dilation" || k == "groups" || k == "pass" || k == "variant";
    if (json_text) j[k] = nlohmann::json::parse(std::get<std::string>(v));
    else if (plain) std::visit([&](const auto& x) { j[k] = x; }, v);
  }
  return j;
}
}  // namespace

std::vector<HexField> hex_layout(const CaseGroup& g) {
  std::vector<HexField> f;
  if (has_rounding(g.op)) {
    f.push_back({"control/mode", DType::u8, 1, 0, 0});
    f.push_back({"control/bits", DType::u8, 1, 0, 0});
  }
  const auto specs = dataset_specs(g.op, g.attrs, g.path);
  for (const char* section : {"inputs/", "outputs/"})
    for (const auto& s : specs) {
      if (s.name.rfind(section, 0) != 0) continue;
      const Array& a = g.at(s.name);
      f.push_back({s.name, a.dtype, a.row_size(), 0, 0});
    }
  uint64_t bits = 0;
  for (const auto& x : f) bits += x.count * width_of(x.dtype);
  for (auto& x : f) {
    x.msb = bits - 1;
    bits -= x.count * width_of(x.dtype);
    x.lsb = bits;
  }
  return f;
}

std::string hex_line(const CaseGroup& g, const std::vector<HexField>& layout, uint64_t k) {
  static const char* digits = "0123456789abcdef";
  std::string line;
  auto put = [&](uint64_t v, unsigned width) {
    for (int shift = static_cast<int>(width) - 4; shift >= 0; shift -= 4) line += digits[(v >> shift) & 15];
  };
  for (const auto& f : layout) {
    if (f.name == "control/mode") { put(static_cast<uint64_t>(attr_int(g.attrs, "rounding_mode", g.path)), 8); continue; }
    if (f.name == "control/bits") { put(static_cast<uint64_t>(attr_int(g.attrs, "rounding_bits", g.path)), 8); continue; }
    const Array& a = g.at(f.name);
    for (uint64_t i = 0; i < f.count; ++i) put(a.ints[k * f.count + i], width_of(f.dtype));
  }
  return line;
}

std::vector<ExportedFile> export_suite(const Suite& s, const std::string& source, const ExportOptions& o) {
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  if (ec) throw Error(o.dir + ": cannot create the directory: " + ec.message());
  if (s.kind() != Kind::vectors) throw Error(source + ": export needs a vector file, not a results file");
  const std::string digest = s.attrs.count("content_sha256") ? attr_str(s.attrs, "content_sha256", "/") : "";
  std::vector<ExportedFile> out;
  auto selected = [&](const CaseGroup& g) { return o.ops.empty() || std::find(o.ops.begin(), o.ops.end(), g.op) != o.ops.end(); };
  if (o.progress) {
    uint64_t total = 0;
    for (const auto& g : s.groups)
      if (selected(g)) total += g.count();
    o.progress->set_total(total);
  }
  for (const auto& g : s.groups) {
    if (!selected(g)) continue;
    if (interrupt::requested())
      throw interrupt::Interrupted("export: interrupted (" + interrupt::signal_name() + ") after " +
                                   std::to_string(out.size()) + " files; those are complete, the rest not written");
    ExportedFile ef;
    ef.cases = g.count();
    if (o.format == ExportFormat::hex) {
      ef.path = o.dir + "/" + base_name(g) + ".hex";
      const auto layout = hex_layout(g);
      ef.width_bits = layout.empty() ? 0 : layout.front().msb + 1;
      std::string body;
      body.reserve(ef.cases * (ef.width_bits / 4 + 1));
      for (uint64_t k = 0; k < ef.cases; ++k) body += hex_line(g, layout, k) + "\n";
      ef.sha256 = sha256_hex(body);
      std::string head;
      head += "// mls-vectors hex export (spec/08-vectors.md 8.10), schema " + std::to_string(kSchemaVersion) + "\n";
      head += "// source: " + source + " content_sha256 " + digest + "\n";
      head += "// group: " + g.path + " (" + g.label() + ")\n";
      head += "// op: " + to_string(g.op) + "\n";
      for (const char* k : {"format", "a_format", "b_format", "arith", "variant", "pass"})
        if (g.attrs.count(k)) head += std::string("// ") + k + ": " + attr_str(g.attrs, k, g.path) + "\n";
      if (has_rounding(g.op))
        head += "// rounding: " + attr_str(g.attrs, "rounding_name", g.path) + " mode_code " +
                std::to_string(attr_int(g.attrs, "rounding_mode", g.path)) + " bits " +
                std::to_string(attr_int(g.attrs, "rounding_bits", g.path)) + "\n";
      for (const char* k : {"shape", "tile", "a_shape", "b_shape", "y_shape", "stride", "padding", "dilation"})
        if (g.attrs.count(k)) head += std::string("// ") + k + ": " + shape_string(attr_ints(g.attrs, k, g.path)) + "\n";
      head += "// cases: " + std::to_string(ef.cases) + "\n";
      head += "// width_bits: " + std::to_string(ef.width_bits) + "\n";
      head += "// hex_digits: " + std::to_string(ef.width_bits / 4) + "\n";
      for (const auto& f : layout) {
        head += "// field " + f.name + " [" + std::to_string(f.msb) + ":" + std::to_string(f.lsb) + "] " +
                to_string(f.dtype);
        if (f.count > 1) head += " x " + std::to_string(f.count) + " (row-major, element 0 most significant)";
        head += "\n";
      }
      head += "// sha256: " + ef.sha256 + " (of the data lines below, each with its newline)\n";
      write_atomic(ef.path, head + body);
    } else {
      if (ef.cases > o.max_jsonl_cases)
        throw Error(g.path + ": " + std::to_string(ef.cases) + " cases is more than --max-cases " +
                    std::to_string(o.max_jsonl_cases) + " for JSON lines (use hex export or a smaller suite)");
      ef.path = o.dir + "/" + base_name(g) + ".jsonl";
      const nlohmann::json params = case_params(g);
      std::string text;
      for (uint64_t k = 0; k < ef.cases; ++k) {
        nlohmann::json j;
        j["group"] = g.path;
        j["case"] = k + attr_uint(g.attrs, "case_offset", g.path);
        j["op"] = to_string(g.op);
        j["params"] = params;
        for (const auto& [name, a] : g.data) {
          const size_t slash = name.find('/');
          const std::string sec = name.substr(0, slash), leaf = name.substr(slash + 1);
          if (sec == "info" && (leaf == "exact_mant" || leaf == "exact_exp")) continue;
          const uint64_t n = a.row_size();
          if (a.dims.size() == 1) {
            j[sec][leaf] = a.ints[k];
          } else {
            nlohmann::json arr = nlohmann::json::array();
            for (uint64_t i = 0; i < n; ++i) arr.push_back(a.ints[k * n + i]);
            j[sec][leaf] = arr;
          }
        }
        if (g.has("info/exact_mant")) {
          const Array& m = g.at("info/exact_mant");
          const Array& e = g.at("info/exact_exp");
          const uint64_t n = m.row_size();
          nlohmann::json arr = nlohmann::json::array();
          for (uint64_t i = 0; i < n; ++i) {
            const Dyadic d = get_exact(m, e, k * n + i);
            arr.push_back({{"m", d.m.str()}, {"e", d.e}});
          }
          j["info"]["exact"] = arr;
        }
        text += j.dump() + "\n";
      }
      ef.sha256 = sha256_hex(text);
      write_atomic(ef.path, text);
    }
    if (o.progress) o.progress->add(ef.cases);
    out.push_back(ef);
  }
  return out;
}

}  // namespace mls::vectors
