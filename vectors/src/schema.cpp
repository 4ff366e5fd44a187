#include "mls/vectors/schema.hpp"

#include <algorithm>
#include <set>

#include "mls/error.hpp"

namespace mls::vectors {

namespace {
DatasetSpec ds(std::string name, DType t, std::string dims_attr = "", std::string count_attr = "",
               std::vector<uint64_t> fixed = {}, bool required = true) {
  return DatasetSpec{std::move(name), {t}, std::move(dims_attr), std::move(count_attr), std::move(fixed), required};
}
void add_exact(std::vector<DatasetSpec>& v, const std::string& dims_attr) {
  v.push_back(DatasetSpec{"info/exact_mant", {DType::i64, DType::str}, dims_attr, "", {}, false});
  v.push_back(DatasetSpec{"info/exact_exp", {DType::i64}, dims_attr, "", {}, false});
}
void add_operand(std::vector<DatasetSpec>& v, const std::string& p) {
  v.push_back(ds("inputs/" + p + "tensor_scale", DType::u32));
  v.push_back(ds("inputs/" + p + "group_scales", DType::u32, "", p + "group_count"));
  v.push_back(ds("inputs/" + p + "elements", DType::u32, p + "shape"));
}
}  // namespace

std::vector<DatasetSpec> dataset_specs(Op op, const Attrs& attrs, const std::string& where) {
  std::vector<DatasetSpec> v;
  v.push_back(ds("outputs/status", DType::u8));
  switch (op) {
    case Op::round:
      v.push_back(ds("inputs/x", DType::u32));
      v.push_back(ds("inputs/tensor_scale", DType::u32));
      v.push_back(ds("inputs/group_scale", DType::u32));
      v.push_back(ds("inputs/rand", DType::u32));
      v.push_back(ds("outputs/code", DType::u32));
      v.push_back(ds("info/rule", DType::u8, "", "", {}, false));
      break;
    case Op::quantize:
      v.push_back(ds("inputs/x", DType::u32, "shape"));
      v.push_back(ds("inputs/rand", DType::u32, "shape"));
      v.push_back(ds("outputs/tensor_scale", DType::u32));
      v.push_back(ds("outputs/group_scales", DType::u32, "", "group_count"));
      v.push_back(ds("outputs/elements", DType::u32, "shape"));
      break;
    case Op::dequantize:
      v.push_back(ds("inputs/tensor_scale", DType::u32));
      v.push_back(ds("inputs/group_scales", DType::u32, "", "group_count"));
      v.push_back(ds("inputs/elements", DType::u32, "shape"));
      v.push_back(ds("outputs/fp32", DType::u32, "shape"));
      v.push_back(ds("outputs/fp64", DType::u64, "shape"));
      add_exact(v, "shape");
      break;
    case Op::philox: {
      const std::string variant = attr_str(attrs, "variant", where);
      if (variant == "word") {
        v.push_back(ds("inputs/seed", DType::u64));
        v.push_back(ds("inputs/stream", DType::u32));
        v.push_back(ds("inputs/index", DType::u64));
        v.push_back(ds("outputs/word", DType::u32));
      } else if (variant == "block") {
        v.push_back(ds("inputs/counter", DType::u32, "", "", {4}));
        v.push_back(ds("inputs/key", DType::u32, "", "", {2}));
        v.push_back(ds("outputs/block", DType::u32, "", "", {4}));
      } else {
        throw Error(where + ": attribute \"variant\" = \"" + variant + "\" is not \"word\" or \"block\"");
      }
      break;
    }
    case Op::conv:
    case Op::gemm:
      add_operand(v, "a_");
      add_operand(v, "b_");
      v.push_back(ds("outputs/y", DType::u32, "y_shape"));
      add_exact(v, "y_shape");
      break;
  }
  return v;
}

std::vector<std::string> required_group_attrs(Op op) {
  std::vector<std::string> v = {"op", "label", "case_count", "case_offset", "case_total", "sha256"};
  auto fmt = [&](const std::string& p) {
    for (const char* k : {"format", "format_short", "element_bits", "element_exp_bits", "element_man_bits", "element_bias",
                          "element_zero", "group_bits", "group_exp_bits", "group_man_bits", "group_bias", "scale_policy",
                          "signed_zero", "overflow"})
      v.push_back(p + k);
  };
  auto rnd = [&] {
    for (const char* k : {"rounding", "rounding_name", "rounding_mode", "rounding_bits"}) v.push_back(k);
  };
  auto arith = [&] {
    for (const char* k : {"arith", "arith_profile", "arith_frac_bits", "arith_width", "arith_alignment", "arith_overflow",
                          "arith_inter_group", "arith_final_rounding"})
      v.push_back(k);
  };
  switch (op) {
    case Op::round: fmt(""); rnd(); break;
    case Op::quantize: fmt(""); rnd(); for (const char* k : {"shape", "tile", "group_count"}) v.push_back(k); break;
    case Op::dequantize: fmt(""); for (const char* k : {"shape", "tile", "group_count"}) v.push_back(k); break;
    case Op::philox: v.push_back("variant"); break;
    case Op::conv:
    case Op::gemm:
      fmt("a_");
      fmt("b_");
      arith();
      for (const char* k : {"a_shape", "b_shape", "y_shape", "a_tile", "b_tile", "a_group_count", "b_group_count"})
        v.push_back(k);
      if (op == Op::conv)
        for (const char* k : {"pass", "pass_code", "stride", "padding", "dilation", "groups"}) v.push_back(k);
      break;
  }
  return v;
}

std::vector<std::string> required_root_attrs(Kind kind) {
  if (kind == Kind::results) return {"schema", "schema_version", "kind"};
  return {"schema",      "schema_version", "kind",        "generator",   "generator_version", "spec_version",
          "seed",        "level",          "exhaustive",  "options",     "shard_index",       "shard_count",
          "group_count", "case_count",     "content_sha256"};
}

std::vector<uint64_t> case_dims(const DatasetSpec& s, const Attrs& attrs, const std::string& where) {
  if (!s.fixed.empty()) return s.fixed;
  if (!s.count_attr.empty()) {
    const int64_t n = attr_int(attrs, s.count_attr, where);
    if (n < 1) throw Error(where + ": attribute \"" + s.count_attr + "\" = " + std::to_string(n) + " is not >= 1");
    return {static_cast<uint64_t>(n)};
  }
  if (!s.dims_attr.empty()) {
    std::vector<uint64_t> d;
    const auto v = attr_ints(attrs, s.dims_attr, where);
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] < 1)
        throw Error(where + ": attribute \"" + s.dims_attr + "\"[" + std::to_string(i) + "] = " + std::to_string(v[i]) +
                    " is not >= 1");
      d.push_back(static_cast<uint64_t>(v[i]));
    }
    return d;
  }
  return {};
}

namespace {
std::string dims_text(const std::vector<uint64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

// The layout attributes must be what the format gives for the shape (2.4).
void check_layout(const CaseGroup& g, const std::string& p) {
  const Format f = g.format(p);
  const Shape shape = g.shape(p + "shape");
  GroupLayout layout(f, shape);
  const auto tile = attr_ints(g.attrs, p + "tile", g.path);
  if (tile != layout.group_shape)
    throw Error(g.path + ": attribute \"" + p + "tile\" = " + shape_string(tile) + " does not match the format's group layout " +
                shape_string(layout.group_shape) + " for shape " + shape_string(shape));
  if (attr_int(g.attrs, p + "group_count", g.path) != layout.group_count)
    throw Error(g.path + ": attribute \"" + p + "group_count\" = " + std::to_string(attr_int(g.attrs, p + "group_count", g.path)) +
                " does not match the group layout (" + std::to_string(layout.group_count) + " groups)");
}

void check_attrs(const CaseGroup& g) {
  for (const auto& k : required_group_attrs(g.op))
    if (!g.attrs.count(k)) throw Error(g.path + ": attribute \"" + k + "\" is missing");
  if (attr_str(g.attrs, "op", g.path) != to_string(g.op))
    throw Error(g.path + ": attribute \"op\" = \"" + attr_str(g.attrs, "op", g.path) + "\" does not match the group's place under /" +
                to_string(g.op));
  const uint64_t count = g.count(), off = attr_uint(g.attrs, "case_offset", g.path),
                 total = attr_uint(g.attrs, "case_total", g.path);
  if (count < 1) throw Error(g.path + ": attribute \"case_count\" = 0 (a case group holds at least one case)");
  if (off > total || count > total - off)
    throw Error(g.path + ": case_offset " + std::to_string(off) + " + case_count " + std::to_string(count) +
                " exceeds case_total " + std::to_string(total));
  switch (g.op) {
    case Op::round: g.format(); g.rounding(); break;
    case Op::quantize: g.rounding(); check_layout(g, ""); break;
    case Op::dequantize: check_layout(g, ""); break;
    case Op::philox: philox_is_block(g); break;
    case Op::conv: {
      check_layout(g, "a_");
      check_layout(g, "b_");
      g.arith();
      Conv2dParams p;
      p.pass = conv_pass_from_string(attr_str(g.attrs, "pass", g.path), g.path + ": attribute \"pass\"");
      const int64_t code = attr_int(g.attrs, "pass_code", g.path);
      const int64_t want = enum_code(p.pass);
      if (code != want)
        throw Error(g.path + ": attribute \"pass_code\" = " + std::to_string(code) + " does not match pass \"" +
                    to_string(p.pass) + "\" (" + std::to_string(want) + ")");
      auto pair = [&](const char* name) {
        const auto v = attr_ints(g.attrs, name, g.path);
        if (v.size() != 2) throw Error(g.path + ": attribute \"" + std::string(name) + "\" must have 2 entries");
        return std::array<int64_t, 2>{v[0], v[1]};
      };
      p.stride = pair("stride");
      p.padding = pair("padding");
      p.dilation = pair("dilation");
      p.groups = attr_int(g.attrs, "groups", g.path);
      p.out_shape = g.shape("y_shape");
      try {
        ConvGeometry::resolve(p, g.shape("a_shape"), g.shape("b_shape"));
      } catch (const Error& e) {
        throw Error(g.path + ": the conv attributes do not fit together: " + e.what());
      }
      break;
    }
    case Op::gemm: {
      check_layout(g, "a_");
      check_layout(g, "b_");
      g.arith();
      Shape y;
      try {
        y = gemm_out_shape(g.shape("a_shape"), g.shape("b_shape"));
      } catch (const Error& e) {
        throw Error(g.path + ": the gemm attributes do not fit together: " + e.what());
      }
      if (y != g.shape("y_shape"))
        throw Error(g.path + ": attribute \"y_shape\" = " + shape_string(g.shape("y_shape")) + " does not match " +
                    shape_string(y) + " = a_shape x b_shape");
      break;
    }
  }
}
}  // namespace

void validate_group(const CaseGroup& g, Kind kind, const CaseGroup* ref) {
  const CaseGroup& spec_src = ref ? *ref : g;
  if (kind == Kind::vectors) {
    check_attrs(g);
  } else {
    if (!ref) throw Error(g.path + ": a results group is checked against its vector file");
    if (g.attrs.count("op") && attr_str(g.attrs, "op", g.path) != to_string(ref->op))
      throw Error(g.path + ": attribute \"op\" = \"" + attr_str(g.attrs, "op", g.path) + "\" but the vector file has " +
                  to_string(ref->op));
  }
  const uint64_t count = kind == Kind::vectors ? g.count() : ref->count();
  if (kind == Kind::results && g.attrs.count("case_count") && g.count() != count)
    throw Error(g.path + ": attribute \"case_count\" = " + std::to_string(g.count()) + " but the vector file has " +
                std::to_string(count) + " cases");
  const auto specs = dataset_specs(spec_src.op, spec_src.attrs, g.path);
  std::set<std::string> known;
  for (const auto& s : specs) {
    if (kind == Kind::results && s.name.rfind("outputs/", 0) != 0) continue;
    known.insert(s.name);
    const std::string where = g.path + "/" + s.name;
    auto it = g.data.find(s.name);
    if (it == g.data.end()) {
      if (s.required) throw Error(where + ": dataset is missing");
      continue;
    }
    const Array& a = it->second;
    if (std::find(s.dtypes.begin(), s.dtypes.end(), a.dtype) == s.dtypes.end()) {
      std::string allowed;
      for (DType t : s.dtypes) allowed += (allowed.empty() ? "" : " or ") + to_string(t);
      throw Error(where + ": dtype " + to_string(a.dtype) + " is not the schema's " + allowed);
    }
    std::vector<uint64_t> want = {count};
    for (uint64_t d : case_dims(s, spec_src.attrs, spec_src.path)) want.push_back(d);
    if (a.dims != want)
      throw Error(where + ": shape " + dims_text(a.dims) + " does not match " + dims_text(want) +
                  " (case_count and the group's attributes)");
  }
  // Status values (8.4): 0 or 1 in a vector file, 0..3 in a results file; checked here so a bad
  // value is an input error naming the file at read time, not a surprise half-way through judging.
  if (auto st = g.data.find("outputs/status"); st != g.data.end() && st->second.dtype == DType::u8)
    for (size_t k = 0; k < st->second.ints.size(); ++k)
      if (st->second.ints[k] > (kind == Kind::vectors ? 1u : 3u))
        throw Error(g.path + "/outputs/status[" + std::to_string(k) + "] = " + std::to_string(st->second.ints[k]) +
                    " is not " + (kind == Kind::vectors ? "0 or 1" : "0, 1, 2 or 3") + " (8.4)");
  if (kind == Kind::vectors && g.data.count("info/exact_mant") != g.data.count("info/exact_exp"))
    throw Error(g.path + "/info: exact_mant and exact_exp come together");
  for (const auto& [name, a] : g.data)
    if (!known.count(name))
      throw Error(g.path + "/" + name + ": is not a dataset of a " + to_string(spec_src.op) + " " +
                  (kind == Kind::results ? "results" : "case") + " group");
}

}  // namespace mls::vectors
