#include "mls/vectors/suite.hpp"

#include <algorithm>
#include <limits>

#include "mls/error.hpp"

namespace mls::vectors {

std::string to_string(Op op) {
  switch (op) {
    case Op::conv: return "conv";
    case Op::dequantize: return "dequantize";
    case Op::gemm: return "gemm";
    case Op::philox: return "philox";
    case Op::quantize: return "quantize";
    case Op::round: return "round";
  }
  return "?";
}

const std::vector<Op>& all_ops() {
  static const std::vector<Op> ops = {Op::conv, Op::dequantize, Op::gemm, Op::philox, Op::quantize, Op::round};
  return ops;
}

Op op_from_string(const std::string& s, const std::string& field) {
  for (Op op : all_ops())
    if (to_string(op) == s) return op;
  std::string names;
  for (Op op : all_ops()) names += (names.empty() ? "" : ", ") + to_string(op);
  throw Error(field + " = \"" + s + "\" is not one of " + names);
}

std::string to_string(Kind k) { return k == Kind::vectors ? "vectors" : "results"; }

std::string to_string(DType t) {
  switch (t) {
    case DType::u8: return "uint8";
    case DType::u32: return "uint32";
    case DType::u64: return "uint64";
    case DType::i64: return "int64";
    case DType::str: return "string";
  }
  return "?";
}

Array Array::make(DType t, std::vector<uint64_t> dims) {
  Array a;
  a.dtype = t;
  a.dims = std::move(dims);
  if (t == DType::str) a.strs.assign(a.size(), std::string());
  else a.ints.assign(a.size(), 0);
  return a;
}

uint64_t Array::row_size() const {
  uint64_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
  return n;
}

// ---- attributes ----

namespace {
const AttrValue& find_attr(const Attrs& a, const std::string& name, const std::string& where) {
  auto it = a.find(name);
  if (it == a.end()) throw Error(where + ": attribute \"" + name + "\" is missing");
  return it->second;
}
}  // namespace

std::string attr_str(const Attrs& a, const std::string& name, const std::string& where) {
  const AttrValue& v = find_attr(a, name, where);
  if (auto s = std::get_if<std::string>(&v)) return *s;
  throw Error(where + ": attribute \"" + name + "\" must be a string");
}

int64_t attr_int(const Attrs& a, const std::string& name, const std::string& where) {
  const AttrValue& v = find_attr(a, name, where);
  if (auto i = std::get_if<int64_t>(&v)) return *i;
  if (auto u = std::get_if<uint64_t>(&v)) {
    if (*u > uint64_t(std::numeric_limits<int64_t>::max()))
      throw Error(where + ": attribute \"" + name + "\" = " + std::to_string(*u) + " is out of range");
    return static_cast<int64_t>(*u);
  }
  throw Error(where + ": attribute \"" + name + "\" must be a scalar integer");
}

uint64_t attr_uint(const Attrs& a, const std::string& name, const std::string& where) {
  const AttrValue& v = find_attr(a, name, where);
  if (auto u = std::get_if<uint64_t>(&v)) return *u;
  if (auto i = std::get_if<int64_t>(&v)) {
    if (*i < 0) throw Error(where + ": attribute \"" + name + "\" = " + std::to_string(*i) + " must not be negative");
    return static_cast<uint64_t>(*i);
  }
  throw Error(where + ": attribute \"" + name + "\" must be a scalar integer");
}

std::vector<int64_t> attr_ints(const Attrs& a, const std::string& name, const std::string& where) {
  const AttrValue& v = find_attr(a, name, where);
  if (auto x = std::get_if<std::vector<int64_t>>(&v)) return *x;
  if (auto i = std::get_if<int64_t>(&v)) return {*i};  // a one-element array may be stored as a scalar
  throw Error(where + ": attribute \"" + name + "\" must be an integer array");
}

int64_t rounding_mode_code(RoundingMode m) { return enum_code(m); }

RoundingMode rounding_mode_from_code(int64_t c, const std::string& where) {
  return enum_from_code<RoundingMode>(c, where);
}

void put_layout_attrs(Attrs& a, const std::string& p, const Format& f, const Shape& shape) {
  const GroupLayout L(f, shape);
  a[p + "shape"] = std::vector<int64_t>(shape.begin(), shape.end());
  a[p + "tile"] = std::vector<int64_t>(L.group_shape.begin(), L.group_shape.end());
  a[p + "group_count"] = L.group_count;
}

void put_format_attrs(Attrs& a, const std::string& p, const Format& f) {
  a[p + "format"] = f.to_json().dump();
  a[p + "format_short"] = f.short_name();
  a[p + "element_bits"] = int64_t(f.element.total_bits());
  a[p + "element_exp_bits"] = int64_t(f.element.exp_bits);
  a[p + "element_man_bits"] = int64_t(f.element.man_bits);
  a[p + "element_bias"] = int64_t(f.element.bias);
  a[p + "element_zero"] = int64_t(enum_code(f.element.zero));
  a[p + "group_bits"] = int64_t(f.group_scale.total_bits());
  a[p + "group_exp_bits"] = int64_t(f.group_scale.exp_bits);
  a[p + "group_man_bits"] = int64_t(f.group_scale.man_bits);
  a[p + "group_bias"] = int64_t(f.group_scale.bias);
  a[p + "scale_policy"] = int64_t(enum_code(f.scale_policy));
  a[p + "signed_zero"] = int64_t(enum_code(f.signed_zero));
  a[p + "overflow"] = int64_t(enum_code(f.overflow));
  // Spec 1.1 fields (8.3.2): written for every format outside spec 1.0, so
  // that every spec-1.0 group keeps exactly its old attributes.
  if (f.spec10()) return;
  a[p + "element_specials"] = int64_t(enum_code(f.element.specials));
  a[p + "element_encoding"] = int64_t(enum_code(f.element.encoding));
  a[p + "group_signed"] = int64_t(f.group_scale.is_signed ? 1 : 0);
  a[p + "group_zero"] = int64_t(enum_code(f.group_scale.zero));
  a[p + "group_specials"] = int64_t(enum_code(f.group_scale.specials));
  a[p + "block_size"] = f.block_size;
  a[p + "block_axis"] = f.block_axis;
  a[p + "tensor_scale_rule"] = int64_t(enum_code(f.tensor_scale));
  a[p + "nonfinite"] = int64_t(enum_code(f.nonfinite));
}

void put_rounding_attrs(Attrs& a, const Rounding& r) {
  a["rounding"] = rounding_to_json(r).dump();
  a["rounding_name"] = rounding_name(r);
  a["rounding_mode"] = rounding_mode_code(r.mode);
  a["rounding_bits"] = int64_t(r.mode == RoundingMode::sr ? r.sr_bits : 0);
}

void put_arith_attrs(Attrs& a, const ArithProfile& p) {
  a["arith"] = p.to_json().dump();
  a["arith_profile"] = int64_t(enum_code(p.profile));
  if (p.profile == ArithKind::exact) {  // no choices: every other numeric field is 0
    for (const char* k : {"arith_frac_bits", "arith_width", "arith_alignment", "arith_overflow", "arith_inter_group",
                          "arith_final_rounding"})
      a[k] = int64_t(0);
    return;
  }
  a["arith_frac_bits"] = p.frac_bits;
  a["arith_width"] = p.width;
  a["arith_alignment"] = rounding_mode_code(p.alignment);
  a["arith_overflow"] = int64_t(enum_code(p.overflow));
  a["arith_inter_group"] = int64_t(enum_code(p.inter_group));
  a["arith_final_rounding"] = rounding_mode_code(p.final_rounding);
}

// ---- CaseGroup / Suite ----

uint64_t CaseGroup::count() const { return attr_uint(attrs, "case_count", path); }

const Array& CaseGroup::at(const std::string& name) const {
  auto it = data.find(name);
  if (it == data.end()) throw Error(path + "/" + name + ": dataset is missing");
  return it->second;
}
Array& CaseGroup::at(const std::string& name) {
  auto it = data.find(name);
  if (it == data.end()) throw Error(path + "/" + name + ": dataset is missing");
  return it->second;
}

namespace {
nlohmann::json parse_json_attr(const Attrs& a, const std::string& name, const std::string& where) {
  const std::string text = attr_str(a, name, where);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": attribute \"" + name + "\" is not valid JSON: " + e.what());
  }
}
// The numeric attributes must agree with the JSON text (spec 8.3).
void check_numeric(const Attrs& a, const Attrs& expect, const std::string& where) {
  for (const auto& [k, v] : expect) {
    if (auto ev = std::get_if<int64_t>(&v)) {  // the text attributes are derived, not compared
      if (attr_int(a, k, where) != *ev)
        throw Error(where + ": attribute \"" + k + "\" = " + std::to_string(attr_int(a, k, where)) +
                    " does not match the JSON description (" + std::to_string(*ev) + ")");
    }
  }
}
}  // namespace

Format CaseGroup::format(const std::string& prefix) const {
  const std::string where = path;
  Format f;
  try {
    f = format_from_json(parse_json_attr(attrs, prefix + "format", where));
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(where, 0) == 0) throw;
    throw Error(where + ": attribute \"" + prefix + "format\": " + msg);
  }
  Attrs expect;
  put_format_attrs(expect, prefix, f);
  check_numeric(attrs, expect, where);
  return f;
}

Rounding CaseGroup::rounding() const {
  Rounding r;
  try {
    r = rounding_from_json(parse_json_attr(attrs, "rounding", path));
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(path, 0) == 0) throw;
    throw Error(path + ": attribute \"rounding\": " + msg);
  }
  Attrs expect;
  put_rounding_attrs(expect, r);
  check_numeric(attrs, expect, path);
  return r;
}

ArithProfile CaseGroup::arith() const {
  ArithProfile p;
  try {
    p = ArithProfile::from_json(parse_json_attr(attrs, "arith", path));
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(path, 0) == 0) throw;
    throw Error(path + ": attribute \"arith\": " + msg);
  }
  Attrs expect;
  put_arith_attrs(expect, p);
  check_numeric(attrs, expect, path);
  return p;
}

QuantArith CaseGroup::quant_arith() const {
  auto it = attrs.find("quant_arith");
  if (it == attrs.end()) return QuantArith::exact;  // spec 1.0 files: the exact profile
  const auto* v = std::get_if<std::string>(&it->second);
  if (!v) throw Error(path + ": attribute \"quant_arith\" must be a string");
  return enum_from_name<QuantArith>(*v, path + ": attribute \"quant_arith\"");
}

void put_quant_arith_attrs(Attrs& a, QuantArith q) {
  if (q != QuantArith::exact) a["quant_arith"] = to_string(q);
}

Shape CaseGroup::shape(const std::string& name) const {
  Shape s = attr_ints(attrs, name, path);
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] < 1)
      throw Error(path + ": attribute \"" + name + "\"[" + std::to_string(i) + "] = " + std::to_string(s[i]) +
                  " is not >= 1");
  return s;
}

std::string CaseGroup::label() const {
  auto it = attrs.find("label");
  if (it != attrs.end())
    if (auto s = std::get_if<std::string>(&it->second)) return *s;
  return path;
}

Kind Suite::kind() const {
  const std::string k = attr_str(attrs, "kind", "/");
  if (k == "vectors") return Kind::vectors;
  if (k == "results") return Kind::results;
  throw Error("/: attribute \"kind\" = \"" + k + "\" is not \"vectors\" or \"results\"");
}

uint64_t Suite::case_count() const {
  uint64_t n = 0;
  for (const auto& g : groups) n += g.count();
  return n;
}

const CaseGroup* Suite::find(const std::string& path) const {
  for (const auto& g : groups)
    if (g.path == path) return &g;
  return nullptr;
}

// ---- typed access ----

namespace {
void check_case(const CaseGroup& g, uint64_t k, Op op) {
  if (g.op != op) throw Error(g.path + ": is a " + to_string(g.op) + " group, not " + to_string(op));
  const uint64_t n = g.count();
  if (k >= n) throw Error(g.path + ": case " + std::to_string(k) + " is outside 0.." + std::to_string(n) + "-1");
}
std::vector<uint32_t> row_u32(const Array& a, uint64_t k) {
  const uint64_t n = a.row_size();
  std::vector<uint32_t> v(n);
  for (uint64_t i = 0; i < n; ++i) v[i] = static_cast<uint32_t>(a.ints[k * n + i]);
  return v;
}
template <class T>
void put_row(const std::string& where, Array& a, uint64_t k, const std::vector<T>& v) {
  const uint64_t n = a.row_size();
  if (v.size() != n)
    throw Error(where + ": a case has " + std::to_string(n) + " values, got " + std::to_string(v.size()));
  for (uint64_t i = 0; i < n; ++i) a.ints[k * n + i] = static_cast<uint64_t>(v[i]);
}
MlsTensor tensor_of(const CaseGroup& g, uint64_t k, const std::string& p, const std::string& fp,
                    const std::string& shape_attr) {
  MlsTensor t;
  t.format = g.format(fp);
  t.shape = g.shape(shape_attr);
  t.tensor_scale = static_cast<uint32_t>(g.at("inputs/" + p + "tensor_scale").u(k));
  t.group_scales = row_u32(g.at("inputs/" + p + "group_scales"), k);
  t.elements = row_u32(g.at("inputs/" + p + "elements"), k);
  return t;
}
}  // namespace

RoundRow round_case(const CaseGroup& g, uint64_t k) {
  check_case(g, k, Op::round);
  return RoundRow{static_cast<uint32_t>(g.at("inputs/x").u(k)), static_cast<uint32_t>(g.at("inputs/tensor_scale").u(k)),
                   static_cast<uint32_t>(g.at("inputs/group_scale").u(k)), static_cast<uint32_t>(g.at("inputs/rand").u(k))};
}
RoundOutput round_output(const CaseGroup& g, uint64_t k) {
  check_case(g, k, Op::round);
  return RoundOutput{static_cast<uint8_t>(g.at("outputs/status").u(k)), static_cast<uint32_t>(g.at("outputs/code").u(k))};
}
void set_round_output(CaseGroup& g, uint64_t k, const RoundOutput& o) {
  check_case(g, k, Op::round);
  g.at("outputs/status").ints[k] = o.status;
  g.at("outputs/code").ints[k] = o.code;
}

std::vector<float> QuantizeRow::x_float() const {
  std::vector<float> v(x.size());
  for (size_t i = 0; i < x.size(); ++i) v[i] = bits_float(x[i]);
  return v;
}
QuantizeRow quantize_case(const CaseGroup& g, uint64_t k) {
  check_case(g, k, Op::quantize);
  return QuantizeRow{g.shape(), row_u32(g.at("inputs/x"), k), row_u32(g.at("inputs/rand"), k)};
}
QuantizeOutput quantize_output(const CaseGroup& g, uint64_t k) {
  check_case(g, k, Op::quantize);
  return QuantizeOutput{static_cast<uint8_t>(g.at("outputs/status").u(k)),
                        static_cast<uint32_t>(g.at("outputs/tensor_scale").u(k)), row_u32(g.at("outputs/group_scales"), k),
                        row_u32(g.at("outputs/elements"), k)};
}
void set_quantize_output(CaseGroup& g, uint64_t k, const QuantizeOutput& o) {
  check_case(g, k, Op::quantize);
  g.at("outputs/status").ints[k] = o.status;
  g.at("outputs/tensor_scale").ints[k] = o.tensor_scale;
  put_row(g.path + "/outputs/group_scales", g.at("outputs/group_scales"), k, o.group_scales);
  put_row(g.path + "/outputs/elements", g.at("outputs/elements"), k, o.elements);
}

MlsTensor dequantize_case(const CaseGroup& g, uint64_t k) {
  check_case(g, k, Op::dequantize);
  return tensor_of(g, k, "", "", "shape");
}
DequantizeOutput dequantize_output(const CaseGroup& g, uint64_t k) {
  check_case(g, k, Op::dequantize);
  DequantizeOutput o;
  o.status = static_cast<uint8_t>(g.at("outputs/status").u(k));
  o.fp32 = row_u32(g.at("outputs/fp32"), k);
  const Array& a = g.at("outputs/fp64");
  const uint64_t n = a.row_size();
  o.fp64.assign(a.ints.begin() + k * n, a.ints.begin() + (k + 1) * n);
  return o;
}
void set_dequantize_output(CaseGroup& g, uint64_t k, const DequantizeOutput& o) {
  check_case(g, k, Op::dequantize);
  g.at("outputs/status").ints[k] = o.status;
  put_row(g.path + "/outputs/fp32", g.at("outputs/fp32"), k, o.fp32);
  put_row(g.path + "/outputs/fp64", g.at("outputs/fp64"), k, o.fp64);
}

bool philox_is_block(const CaseGroup& g) {
  const std::string v = attr_str(g.attrs, "variant", g.path);
  if (v == "block") return true;
  if (v == "word") return false;
  throw Error(g.path + ": attribute \"variant\" = \"" + v + "\" is not \"word\" or \"block\"");
}
PhiloxRow philox_case(const CaseGroup& g, uint64_t k) {
  check_case(g, k, Op::philox);
  PhiloxRow c;
  if (philox_is_block(g)) {
    for (int i = 0; i < 4; ++i) c.counter[i] = static_cast<uint32_t>(g.at("inputs/counter").u(4 * k + i));
    for (int i = 0; i < 2; ++i) c.key[i] = static_cast<uint32_t>(g.at("inputs/key").u(2 * k + i));
  } else {
    c.seed = g.at("inputs/seed").u(k);
    c.stream = static_cast<uint32_t>(g.at("inputs/stream").u(k));
    c.index = g.at("inputs/index").u(k);
  }
  return c;
}
PhiloxOutput philox_output(const CaseGroup& g, uint64_t k) {
  check_case(g, k, Op::philox);
  PhiloxOutput o;
  o.status = static_cast<uint8_t>(g.at("outputs/status").u(k));
  if (philox_is_block(g))
    for (int i = 0; i < 4; ++i) o.block[i] = static_cast<uint32_t>(g.at("outputs/block").u(4 * k + i));
  else
    o.word = static_cast<uint32_t>(g.at("outputs/word").u(k));
  return o;
}
void set_philox_output(CaseGroup& g, uint64_t k, const PhiloxOutput& o) {
  check_case(g, k, Op::philox);
  g.at("outputs/status").ints[k] = o.status;
  if (philox_is_block(g))
    for (int i = 0; i < 4; ++i) g.at("outputs/block").ints[4 * k + i] = o.block[i];
  else
    g.at("outputs/word").ints[k] = o.word;
}

ReductionRow reduction_case(const CaseGroup& g, uint64_t k) {
  if (g.op != Op::conv && g.op != Op::gemm) throw Error(g.path + ": is a " + to_string(g.op) + " group, not conv or gemm");
  check_case(g, k, g.op);
  ReductionRow c;
  c.a = tensor_of(g, k, "a_", "a_", "a_shape");
  c.b = tensor_of(g, k, "b_", "b_", "b_shape");
  c.arith = g.arith();
  if (g.op == Op::conv) {
    c.params.pass = conv_pass_from_string(attr_str(g.attrs, "pass", g.path), g.path + ": attribute \"pass\"");
    auto pair = [&](const char* name) {
      const auto v = attr_ints(g.attrs, name, g.path);
      if (v.size() != 2) throw Error(g.path + ": attribute \"" + std::string(name) + "\" must have 2 entries");
      return std::array<int64_t, 2>{v[0], v[1]};
    };
    c.params.stride = pair("stride");
    c.params.padding = pair("padding");
    c.params.dilation = pair("dilation");
    c.params.groups = attr_int(g.attrs, "groups", g.path);
    c.params.out_shape = g.shape("y_shape");
  }
  return c;
}
ReductionOutput reduction_output(const CaseGroup& g, uint64_t k) {
  check_case(g, k, g.op);
  return ReductionOutput{static_cast<uint8_t>(g.at("outputs/status").u(k)), row_u32(g.at("outputs/y"), k)};
}
void set_reduction_output(CaseGroup& g, uint64_t k, const ReductionOutput& o) {
  check_case(g, k, g.op);
  g.at("outputs/status").ints[k] = o.status;
  put_row(g.path + "/outputs/y", g.at("outputs/y"), k, o.y);
}
std::vector<Dyadic> reduction_exact(const CaseGroup& g, uint64_t k) {
  check_case(g, k, g.op);
  const Array& m = g.at("info/exact_mant");
  const Array& e = g.at("info/exact_exp");
  const uint64_t n = m.row_size();
  std::vector<Dyadic> v(n);
  for (uint64_t i = 0; i < n; ++i) v[i] = get_exact(m, e, k * n + i);
  return v;
}

// ---- exact columns ----

void set_exact(Array& mant, Array& exp, uint64_t i, const Dyadic& v) {
  const Dyadic d = v.normalized();
  if (mant.dtype == DType::str) mant.strs[i] = d.m.str();
  else mant.ints[i] = static_cast<uint64_t>(static_cast<int64_t>(d.m));
  exp.ints[i] = static_cast<uint64_t>(d.e);
}

Dyadic get_exact(const Array& mant, const Array& exp, uint64_t i) {
  const int64_t e = static_cast<int64_t>(exp.ints[i]);
  if (mant.dtype == DType::str) {
    const std::string& s = mant.strs[i];
    const bool ok = !s.empty() && s.find_first_not_of("-0123456789") == std::string::npos &&
                    s.find('-', 1) == std::string::npos && s != "-";
    if (!ok) throw Error("exact_mant[" + std::to_string(i) + "] = \"" + s + "\" is not a decimal integer");
    return Dyadic(BigInt(s), e);
  }
  return Dyadic(BigInt(static_cast<int64_t>(mant.ints[i])), e);
}

Dyadic finite_value_or_zero(const MlsTensor& t, int64_t i) {
  const GroupLayout L(t.format, t.shape);
  const uint32_t gs = t.group_scales[static_cast<size_t>(L.group_of(i))], el = t.elements[static_cast<size_t>(i)];
  if (!t.format.group_scale.is_valid_code(gs) || !t.format.element.is_valid_code(el)) return Dyadic();
  return t.tensor_scale_value() * t.format.group_scale.decode(gs) * t.format.element.decode(el);
}

void compact_exact(Array& mant) {
  if (mant.dtype != DType::str) return;
  static const BigInt lo = BigInt(std::numeric_limits<int64_t>::min()), hi = BigInt(std::numeric_limits<int64_t>::max());
  std::vector<uint64_t> ints(mant.strs.size());
  for (size_t i = 0; i < mant.strs.size(); ++i) {
    const BigInt v(mant.strs[i]);
    if (v < lo || v > hi) return;
    ints[i] = static_cast<uint64_t>(static_cast<int64_t>(v));
  }
  mant.dtype = DType::i64;
  mant.ints = std::move(ints);
  mant.strs.clear();
}

}  // namespace mls::vectors
