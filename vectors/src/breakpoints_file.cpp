// File forms of breakpoint tables (spec/11-exhaustive.md 11.5, 11.6).
#include "mls/vectors/breakpoints_file.hpp"

#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mls/bits.hpp"
#include "mls/error.hpp"
#include "mls/format.hpp"
#include "mls/json_read.hpp"
#include "mls/vectors/io.hpp"
#include "mls/vectors/safe_read.hpp"
#include "mls/vectors/sha256.hpp"

namespace mls::vectors {

namespace {

constexpr const char* kHexTitle = "// mls-breakpoints hex table (spec/11-exhaustive.md 11.5), schema 1";

std::string hex8(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "%08x", v);
  return b;
}

std::string data_line(const BreakpointTable& t, size_t k) {
  const BreakpointEntry& e = t.entries[k];
  char b[40];
  std::snprintf(b, sizeof b, "%08x%08x%02x%08x\n", e.start, t.last(k), e.outcome.status, e.outcome.code);
  return b;
}

std::string read_file_text(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such file");
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  if (!f && !f.eof()) throw Error(path + ": cannot read");
  return s.str();
}

}  // namespace

void write_text_file_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error(path + ": cannot create " + tmp);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.flush();
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

namespace {

// Entries from the four columns; `last` must agree with the next start.
BreakpointTable from_columns(const BreakpointSpec& spec, const std::vector<uint64_t>& start,
                             const std::vector<uint64_t>& last, const std::vector<uint64_t>& status,
                             const std::vector<uint64_t>& code, const std::string& where) {
  const size_t n = start.size();
  if (last.size() != n || status.size() != n || code.size() != n)
    throw Error(where + ": entries: the columns start, last, status, code have " + std::to_string(n) + ", " +
                std::to_string(last.size()) + ", " + std::to_string(status.size()) + ", " + std::to_string(code.size()) +
                " values (they must be equally long)");
  if (n == 0) throw Error(where + ": entries: the table is empty");
  BreakpointTable t;
  t.spec = spec;
  for (size_t k = 0; k < n; ++k) {
    const std::string at = where + ": entries[" + std::to_string(k) + "]";
    if (start[k] > 0xffffffffu || last[k] > 0xffffffffu || code[k] > 0xffffffffu)
      throw Error(at + ": a value does not fit 32 bits");
    if (status[k] > 0xff) throw Error(at + ": status " + std::to_string(status[k]) + " does not fit 8 bits");
    t.entries.push_back({static_cast<uint32_t>(start[k]),
                         {static_cast<uint32_t>(code[k]), static_cast<uint8_t>(status[k])}});
  }
  try {
    t.check_structure();
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  for (size_t k = 0; k < n; ++k)
    if (last[k] != t.last(k))
      throw Error(where + ": entries[" + std::to_string(k) + "]: last = " + hex32(static_cast<uint32_t>(last[k])) +
                  " but the next entry starts at " + hex32(t.last(k) + 1) + " (expected last " + hex32(t.last(k)) + ")");
  return t;
}

void check_digest(const BreakpointTable& t, const std::string& stored, const std::string& where) {
  const std::string d = breakpoint_digest(t);
  if (stored != d)
    throw Error(where + ": table_sha256 mismatch: the file says " + stored + ", its spec and entries give " + d +
                " (corrupt, or edited without recomputing the digest) (11.5)");
}

BreakpointSpec spec_from_text(const std::string& text, const std::string& where) {
  try {
    return BreakpointSpec::from_json(json_read::parse(text, where + ": spec"));
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
}

// ---- HDF5 ----

Attrs hdf5_attrs(const BreakpointTable& t) {
  const BreakpointSpec& s = t.spec;
  const Dyadic sc = s.scale.normalized();
  Attrs a;
  a["schema"] = std::string(kBreakpointSchema);
  a["schema_version"] = kBreakpointSchemaVersion;
  a["kind"] = std::string("breakpoints");
  a["generator"] = std::string("mls-ref ") + MLS_VERSION;
  a["generator_version"] = std::string(MLS_VERSION);
  a["spec_version"] = std::string(MLS_SPEC_VERSION);
  a["spec"] = s.to_json().dump();
  a["label"] = s.label();
  a["element"] = s.element.name();
  a["element_signed"] = int64_t(s.element.is_signed ? 1 : 0);
  a["element_bits"] = int64_t(s.element.total_bits());
  a["element_exp_bits"] = int64_t(s.element.exp_bits);
  a["element_man_bits"] = int64_t(s.element.man_bits);
  a["element_bias"] = int64_t(s.element.bias);
  a["element_zero"] = int64_t(enum_code(s.element.zero));
  a["element_specials"] = int64_t(enum_code(s.element.specials));
  a["element_encoding"] = int64_t(enum_code(s.element.encoding));
  put_rounding_attrs(a, s.rounding);
  a["overflow"] = int64_t(enum_code(s.overflow));
  a["signed_zero"] = int64_t(enum_code(s.signed_zero));
  a["scale_mant"] = static_cast<int64_t>(sc.m);
  a["scale_exp"] = static_cast<int64_t>(sc.e);
  a["word"] = uint64_t(s.word);
  a["quant_arith"] = int64_t(enum_code(s.arith));
  a["entry_count"] = uint64_t(t.entries.size());
  a["table_sha256"] = breakpoint_digest(t);
  return a;
}

Tree hdf5_tree(const BreakpointTable& t) {
  Tree tr;
  tr.attrs = hdf5_attrs(t);
  const uint64_t n = t.entries.size();
  Array start = Array::make(DType::u32, {n}), last = Array::make(DType::u32, {n}), status = Array::make(DType::u8, {n}),
        code = Array::make(DType::u32, {n});
  for (size_t k = 0; k < n; ++k) {
    start.ints[k] = t.entries[k].start;
    last.ints[k] = t.last(k);
    status.ints[k] = t.entries[k].outcome.status;
    code.ints[k] = t.entries[k].outcome.code;
  }
  tr.data["entries/code"] = std::move(code);
  tr.data["entries/last"] = std::move(last);
  tr.data["entries/start"] = std::move(start);
  tr.data["entries/status"] = std::move(status);
  return tr;
}

BreakpointTable table_from_tree(const Tree& tr, const std::string& path) {
  const std::string w = path + ": /";
  if (!tr.attrs.count("schema")) throw Error(w + ": attribute \"schema\" is missing: not an mls-breakpoints file");
  const std::string schema = attr_str(tr.attrs, "schema", w);
  if (schema != kBreakpointSchema)
    throw Error(w + ": attribute \"schema\" = \"" + schema + "\" is not \"" + kBreakpointSchema + "\"");
  const int64_t ver = attr_int(tr.attrs, "schema_version", w);
  if (ver != kBreakpointSchemaVersion)
    throw Error(w + ": unknown schema_version " + std::to_string(ver) + " (this reader knows version " +
                std::to_string(kBreakpointSchemaVersion) + ")");
  const BreakpointSpec spec = spec_from_text(attr_str(tr.attrs, "spec", w), path);
  for (const char* ds : {"entries/start", "entries/last", "entries/status", "entries/code"})
    if (!tr.data.count(ds)) throw Error(path + ": /" + ds + ": dataset is missing");
  for (const auto& [name, a] : tr.data) {
    const DType want = name == "entries/status" ? DType::u8 : DType::u32;
    if (name != "entries/start" && name != "entries/last" && name != "entries/status" && name != "entries/code")
      throw Error(path + ": /" + name + ": not a dataset of a breakpoint table (entries/start, last, status, code)");
    if (a.dtype != want || a.dims.size() != 1)
      throw Error(path + ": /" + name + ": must be a 1-D " + to_string(want) + " dataset (found " + to_string(a.dtype) +
                  ", rank " + std::to_string(a.dims.size()) + ")");
  }
  BreakpointTable t = from_columns(spec, tr.data.at("entries/start").ints, tr.data.at("entries/last").ints,
                                   tr.data.at("entries/status").ints, tr.data.at("entries/code").ints, path);
  // Every metadata attribute must say what the spec says (11.5).
  const Attrs want = hdf5_attrs(t);
  for (const char* k : {"kind", "label", "element", "element_signed", "element_bits", "element_exp_bits",
                        "element_man_bits", "element_bias", "element_zero", "element_specials", "element_encoding",
                        "rounding", "rounding_name", "rounding_mode", "rounding_bits", "overflow", "signed_zero",
                        "scale_mant", "scale_exp", "word", "quant_arith", "entry_count"}) {
    if (!tr.attrs.count(k)) throw Error(w + ": attribute \"" + k + "\" is missing");
    const AttrValue& got = tr.attrs.at(k);
    const AttrValue& exp = want.at(k);
    bool same = got == exp;
    // Writers other than mls (h5py) may store integers with another signedness.
    if (!same && std::holds_alternative<int64_t>(exp) && std::holds_alternative<uint64_t>(got))
      same = std::get<int64_t>(exp) >= 0 && uint64_t(std::get<int64_t>(exp)) == std::get<uint64_t>(got);
    if (!same && std::holds_alternative<uint64_t>(exp) && std::holds_alternative<int64_t>(got))
      same = std::get<int64_t>(got) >= 0 && uint64_t(std::get<int64_t>(got)) == std::get<uint64_t>(exp);
    if (!same) {
      auto text = [](const AttrValue& v) {
        return std::visit(
            [](const auto& x) -> std::string {
              using T = std::decay_t<decltype(x)>;
              if constexpr (std::is_same_v<T, std::string>) return "\"" + x + "\"";
              else if constexpr (std::is_same_v<T, std::vector<int64_t>>) return shape_string(x);
              else return std::to_string(x);
            },
            v);
      };
      throw Error(w + ": attribute \"" + k + "\" = " + text(got) + " disagrees with the table's spec, which gives " +
                  text(exp) + " (metadata mismatch, 11.5)");
    }
  }
  check_digest(t, attr_str(tr.attrs, "table_sha256", w), path);
  return t;
}

// A Tree travels from the isolated reader as a one-group Suite (safe_read.hpp's byte form).
std::string encode_tree(const Tree& t) {
  Suite s;
  s.attrs = t.attrs;
  CaseGroup g;
  g.path = "/tree";
  g.data = t.data;
  s.groups.push_back(std::move(g));
  return encode_suite(s);
}
Tree decode_tree(const std::string& bytes) {
  Suite s = decode_suite(bytes);
  if (s.groups.size() != 1) ByteReader::bad();
  return Tree{std::move(s.attrs), std::move(s.groups[0].data)};
}

// ---- JSON ----

BreakpointTable table_from_json_text(const std::string& text, const std::string& path) {
  namespace jr = json_read;
  const nlohmann::json j = jr::parse(text, path);
  jr::check_keys(j, path, {"schema", "schema_version", "generator", "spec_version", "spec", "label", "entry_count",
                           "entries", "table_sha256"});
  if (jr::string(j, "schema", path) != kBreakpointSchema)
    throw Error(path + ": schema = \"" + j["schema"].get<std::string>() + "\" is not \"" + kBreakpointSchema + "\"");
  const int64_t ver = jr::integer<int64_t>(j, "schema_version", path);
  if (ver != kBreakpointSchemaVersion)
    throw Error(path + ": unknown schema_version " + std::to_string(ver) + " (this reader knows version " +
                std::to_string(kBreakpointSchemaVersion) + ")");
  BreakpointSpec spec;
  try {
    spec = BreakpointSpec::from_json(jr::member(j, "spec", path));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  const auto& en = jr::member(j, "entries", path);
  jr::check_keys(en, path + ".entries", {"start", "last", "status", "code"});
  auto col = [&](const char* k) {
    const std::vector<uint32_t> v = jr::u32_array(jr::member(en, k, path + ".entries"), path + ".entries." + k);
    return std::vector<uint64_t>(v.begin(), v.end());
  };
  BreakpointTable t = from_columns(spec, col("start"), col("last"), col("status"), col("code"), path);
  const uint64_t count = jr::integer<uint64_t>(j, "entry_count", path);
  if (count != t.entries.size())
    throw Error(path + ": entry_count = " + std::to_string(count) + " but the table has " +
                std::to_string(t.entries.size()) + " entries");
  if (j.contains("label") && jr::string(j, "label", path) != spec.label())
    throw Error(path + ": label = \"" + j["label"].get<std::string>() + "\" disagrees with the spec (\"" + spec.label() +
                "\") (metadata mismatch, 11.5)");
  check_digest(t, jr::string(j, "table_sha256", path), path);
  return t;
}

// ---- hex lines ----

BreakpointTable table_from_hex_text(const std::string& text, const std::string& path) {
  std::istringstream in(text);
  std::string line, spec_text, digest, data_sha, data;
  int64_t entries = -1;
  std::vector<uint64_t> start, last, status, code;
  size_t lineno = 0;
  bool titled = false;
  while (std::getline(in, line)) {
    ++lineno;
    const std::string at = path + ": line " + std::to_string(lineno);
    if (line.rfind("//", 0) == 0) {
      if (lineno == 1) {
        if (line != kHexTitle) throw Error(at + ": not an mls-breakpoints hex table (the first line must be \"" + kHexTitle + "\")");
        titled = true;
      }
      auto value = [&](const char* key) -> std::optional<std::string> {
        const std::string k = std::string("// ") + key + ": ";
        if (line.rfind(k, 0) != 0) return std::nullopt;
        return line.substr(k.size());
      };
      if (auto v = value("spec")) spec_text = *v;
      if (auto v = value("table_sha256")) digest = *v;
      if (auto v = value("sha256")) data_sha = *v;
      if (auto v = value("entries")) {
        if (v->empty() || v->size() > 10 || v->find_first_not_of("0123456789") != std::string::npos)
          throw Error(at + ": entries must be a decimal count");
        entries = std::stoll(*v);
      }
      continue;
    }
    if (!titled) throw Error(path + ": not an mls-breakpoints hex table (no title line)");
    if (line.size() != 26 || line.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw Error(at + ": a data line must be 26 lowercase hex digits (start, last, status, code)");
    data += line + "\n";
    start.push_back(std::stoull(line.substr(0, 8), nullptr, 16));
    last.push_back(std::stoull(line.substr(8, 8), nullptr, 16));
    status.push_back(std::stoull(line.substr(16, 2), nullptr, 16));
    code.push_back(std::stoull(line.substr(18, 8), nullptr, 16));
  }
  if (!titled) throw Error(path + ": not an mls-breakpoints hex table (empty file)");
  if (spec_text.empty()) throw Error(path + ": the header has no \"// spec: \" line");
  if (digest.empty()) throw Error(path + ": the header has no \"// table_sha256: \" line");
  if (data_sha.empty()) throw Error(path + ": the header has no \"// sha256: \" line");
  if (entries < 0) throw Error(path + ": the header has no \"// entries: \" line");
  if (sha256_hex(data) != data_sha)
    throw Error(path + ": sha256 of the data lines is " + sha256_hex(data) + ", the header says " + data_sha +
                " (corrupt or edited) (11.5)");
  if (static_cast<size_t>(entries) != start.size())
    throw Error(path + ": the header says " + std::to_string(entries) + " entries, the file has " +
                std::to_string(start.size()) + " data lines");
  BreakpointTable t = from_columns(spec_from_text(spec_text, path), start, last, status, code, path);
  check_digest(t, digest, path);
  return t;
}

}  // namespace

std::string breakpoint_data_lines(const BreakpointTable& t) {
  std::string s;
  s.reserve(t.entries.size() * 27);
  for (size_t k = 0; k < t.entries.size(); ++k) s += data_line(t, k);
  return s;
}

std::string breakpoint_digest(const BreakpointTable& t) {
  Sha256 h;
  h.update(std::string(kBreakpointSchema) + " " + std::to_string(kBreakpointSchemaVersion) + "\n");
  h.update(t.spec.to_json().dump() + "\n");
  h.update(breakpoint_data_lines(t));
  return h.hex();
}

BreakpointForm breakpoint_form_of(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".h5" || ext == ".hdf5") return BreakpointForm::hdf5;
  if (ext == ".json") return BreakpointForm::json;
  if (ext == ".hex") return BreakpointForm::hex;
  throw Error(path + ": a breakpoint table file is .h5 (HDF5), .json or .hex (hex lines); the extension \"" + ext +
              "\" names none of them");
}

std::string breakpoints_json_text(const BreakpointTable& t) {
  nlohmann::json start = nlohmann::json::array(), last = nlohmann::json::array(), status = nlohmann::json::array(),
                 code = nlohmann::json::array();
  for (size_t k = 0; k < t.entries.size(); ++k) {
    start.push_back(t.entries[k].start);
    last.push_back(t.last(k));
    status.push_back(t.entries[k].outcome.status);
    code.push_back(t.entries[k].outcome.code);
  }
  const nlohmann::json j{{"schema", kBreakpointSchema},
                         {"schema_version", kBreakpointSchemaVersion},
                         {"generator", std::string("mls-ref ") + MLS_VERSION},
                         {"spec_version", MLS_SPEC_VERSION},
                         {"spec", t.spec.to_json()},
                         {"label", t.spec.label()},
                         {"entry_count", t.entries.size()},
                         {"entries", {{"start", start}, {"last", last}, {"status", status}, {"code", code}}},
                         {"table_sha256", breakpoint_digest(t)}};
  return j.dump() + "\n";
}

std::string breakpoints_hex_text(const BreakpointTable& t) {
  const std::string data = breakpoint_data_lines(t);
  std::string s = std::string(kHexTitle) + "\n";
  s += "// spec: " + t.spec.to_json().dump() + "\n";
  s += "// label: " + t.spec.label() + "\n";
  s += "// entries: " + std::to_string(t.entries.size()) + "\n";
  s += "// width_bits: 104\n// hex_digits: 26\n";
  s += "// field start [103:72] uint32 (the first fp32 bit pattern of the interval)\n";
  s += "// field last [71:40] uint32 (the last fp32 bit pattern of the interval)\n";
  s += "// field status [39:32] uint8 (0 ok, 1 the spec makes these inputs an error)\n";
  s += "// field code [31:0] uint32 (the element code of every input of the interval)\n";
  s += "// sha256: " + sha256_hex(data) + "\n";
  s += "// table_sha256: " + breakpoint_digest(t) + "\n";
  return s + data;
}

void write_breakpoints(const std::string& path, const BreakpointTable& t) {
  t.check_structure();
  switch (breakpoint_form_of(path)) {
    case BreakpointForm::hdf5: write_tree(path, hdf5_tree(t)); return;
    case BreakpointForm::json: write_text_file_atomic(path, breakpoints_json_text(t)); return;
    case BreakpointForm::hex: write_text_file_atomic(path, breakpoints_hex_text(t)); return;
  }
}

BreakpointTable read_breakpoints(const std::string& path) {
  switch (breakpoint_form_of(path)) {
    case BreakpointForm::hdf5: {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such file");
      const Tree tr = has_file_checksum(path) ? read_tree(path, true)
                                              : decode_tree(run_isolated(path, [&] { return encode_tree(read_tree(path, false)); }));
      return table_from_tree(tr, path);
    }
    case BreakpointForm::json: return table_from_json_text(read_file_text(path), path);
    case BreakpointForm::hex: return table_from_hex_text(read_file_text(path), path);
  }
  throw Error(path + ": unknown form");
}

void verify_breakpoints(const BreakpointTable& t, const std::string& what) {
  const BreakpointTable golden = compute_breakpoints(t.spec);
  const int64_t k = first_difference(t, golden);
  if (k < 0) return;
  auto show = [](const BreakpointTable& x, int64_t i) -> std::string {
    if (i >= static_cast<int64_t>(x.entries.size())) return "no entry";
    const BreakpointEntry& e = x.entries[static_cast<size_t>(i)];
    return "start " + hex32(e.start) + (e.outcome.status ? " error" : " code " + std::to_string(e.outcome.code));
  };
  throw Error(what + ": the table does not match the spec it claims (" + t.spec.label() + "): entry " +
              std::to_string(k) + " is " + show(t, k) + ", the golden model gives " + show(golden, k) + " (11.6)");
}

}  // namespace mls::vectors
