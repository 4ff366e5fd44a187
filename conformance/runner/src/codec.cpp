#include "mls/conformance/codec.hpp"

#include <algorithm>

#include "mls/error.hpp"
#include "mls/json_read.hpp"

namespace mls::conformance {

namespace jr = json_read;

std::string Case::summary() const {
  switch (op) {
    case Op::round:
      return "round " + round.element.name() + " " + rounding_name(round.rounding) + " [" +
             std::to_string(round.x.size()) + "]";
    case Op::quantize:
      return "quantize " + q.format.short_name() + " " + rounding_name(q.rounding) +
             (q.arith == QuantArith::exact ? "" : " arith " + to_string(q.arith)) + " " + shape_string(q.shape);
    case Op::dequantize: return "dequantize " + t.format.short_name() + " " + shape_string(t.shape);
    case Op::gemm: return "gemm " + shape_string(conv.a.shape) + "x" + shape_string(conv.b.shape);
    case Op::conv2d:
      return "conv2d " + to_string(conv.params.pass) + " a" + shape_string(conv.a.shape) + " b" +
             shape_string(conv.b.shape) + " -> " + shape_string(conv.out_shape);
  }
  return "?";
}

int64_t Case::size() const {
  switch (op) {
    case Op::round: return static_cast<int64_t>(round.x.size());
    case Op::quantize: return static_cast<int64_t>(q.x.size());
    case Op::dequantize: return static_cast<int64_t>(t.elements.size());
    default: return static_cast<int64_t>(conv.a.elements.size() + conv.b.elements.size());
  }
}

// ---- capabilities ------------------------------------------------------------------

bool Capabilities::supports_op(Op op) const { return ops.empty() || ops.count(to_string(op)) > 0; }
bool Capabilities::supports_mode(RoundingMode m) const { return modes.empty() || modes.count(to_string(m)) > 0; }
bool Capabilities::supports_format(const Format& f) const {
  return formats.empty() || std::find(formats.begin(), formats.end(), f) != formats.end();
}
bool Capabilities::supports_element(const Minifloat& m) const {
  return elements.empty() || std::find(elements.begin(), elements.end(), m) != elements.end();
}
bool Capabilities::supports_arith(QuantArith a) const {
  return arith.empty() ? a == QuantArith::exact : arith.count(to_string(a)) > 0;
}

std::optional<std::string> Capabilities::declines(const Case& c) const {
  if (!supports_op(c.op)) return "op " + to_string(c.op) + " is not in the backend's supports.ops";
  auto mode = [&](const Rounding& r) -> std::optional<std::string> {
    if (supports_mode(r.mode)) return std::nullopt;
    return "rounding mode " + to_string(r.mode) + " is not in the backend's supports.modes";
  };
  auto fmt = [&](const Format& f) -> std::optional<std::string> {
    if (supports_format(f)) return std::nullopt;
    return "format " + f.short_name() + " is not in the backend's supports.formats";
  };
  switch (c.op) {
    case Op::round:
      if (auto m = mode(c.round.rounding)) return m;
      if (!supports_element(c.round.element)) return "element " + c.round.element.name() + " is not in supports.elements";
      return std::nullopt;
    case Op::quantize:
      if (auto m = mode(c.q.rounding)) return m;
      if (!supports_arith(c.q.arith)) return "arithmetic profile " + to_string(c.q.arith) + " is not in supports.arith";
      return fmt(c.q.format);
    case Op::dequantize: return fmt(c.t.format);
    default:
      if (auto f = fmt(c.conv.a.format)) return f;
      return fmt(c.conv.b.format);
  }
}

// ---- field readers ------------------------------------------------------------------

Format format_field(const nlohmann::json& v, const std::string& field) {
  try {
    if (v.is_string()) return parse_format(v.get<std::string>());
    return format_from_json(v);
  } catch (const Error& e) {
    const std::string m = e.what();
    throw Error(m.rfind("format", 0) == 0 ? field + ": " + m : field + ": " + m);
  }
}

// The grid of a round request: any grid valid as an element or a group-scale format (3.10).
Minifloat element_field(const nlohmann::json& v, const std::string& field) {
  if (v.is_string()) return parse_minifloat(v.get<std::string>(), GridRole::cast, field);
  Minifloat m = minifloat_from_json(v, GridRole::cast, field);
  try {
    m.validate(GridRole::cast);
  } catch (const Error& e) {
    throw Error(field + ": " + e.what());
  }
  return m;
}

ArithProfile arith_field(const nlohmann::json& v, const std::string& field) {
  try {
    if (v.is_null()) return ArithProfile::exact();
    if (v.is_string()) return parse_arith(v.get<std::string>());
    return ArithProfile::from_json(v);
  } catch (const Error& e) {
    const std::string m = e.what();
    throw Error(m.rfind("arith", 0) == 0 ? m : field + ": " + m);
  }
}

std::array<int64_t, 2> pair_field(const nlohmann::json& j, const char* key, int64_t dflt) {
  if (!j.contains(key) || j.at(key).is_null()) return {dflt, dflt};
  const auto& v = j.at(key);
  if (v.is_number_integer()) {
    const int64_t x = jr::integer_value<int64_t>(v, key);
    return {x, x};
  }
  if (v.is_array() && v.size() == 2)
    return {jr::integer_value<int64_t>(v[0], std::string(key) + "[0]"), jr::integer_value<int64_t>(v[1], std::string(key) + "[1]")};
  throw Error(std::string(key) + " must be an integer or an array of 2 integers [h, w]");
}

namespace {

MlsTensor tensor_field(const nlohmann::json& j, const char* key) {
  try {
    return MlsTensor::from_json(jr::member(j, key, "request"));
  } catch (const Error& e) {
    const std::string m = e.what();
    throw Error(std::string(key) + ": " + m);
  }
}

Rounding rounding_field(const nlohmann::json& j) {
  if (!j.contains("rounding") || j.at("rounding").is_null()) return Rounding{};
  const auto& r = j.at("rounding");
  if (r.is_string()) return parse_rounding(r.get<std::string>());
  return rounding_from_json(r);
}

template <class E>
E named_field(const nlohmann::json& j, const char* key, E dflt) {
  if (!j.contains(key) || j.at(key).is_null()) return dflt;
  return enum_from_name<E>(jr::string(j, key, "request"), key);
}

std::vector<uint32_t> rand_field(const nlohmann::json& j, const Rounding& r) {
  if (r.mode != RoundingMode::sr) return {};
  return jr::u32_array(jr::member(j, "rand", "request"), "rand");
}

}  // namespace

// ---- requests ----------------------------------------------------------------------------

Case case_from_json(const nlohmann::json& j) {
  jr::check_object(j, "request");
  Case c;
  c.op = enum_from_name<Op>(jr::string(j, "op", "request"), "op");
  switch (c.op) {
    case Op::round: {
      RoundCase& r = c.round;
      if (j.contains("format") && !j.contains("element")) {  // a format's element grid and policies
        const Format f = format_field(j.at("format"), "format");
        r.element = f.element;
        r.overflow = f.overflow;
        r.signed_zero = f.signed_zero;
      } else {
        r.element = element_field(jr::member(j, "element", "request"), "element");
      }
      r.rounding = rounding_field(j);
      r.overflow = named_field(j, "overflow", r.overflow);
      r.signed_zero = named_field(j, "signed_zero", r.signed_zero);
      if (j.contains("scale") && !j.at("scale").is_null()) {
        r.scale = dyadic_from_json(j.at("scale"), "scale");
        if (r.scale.sign() <= 0) throw Error("scale must be positive");
      }
      r.x = jr::u32_array(jr::member(j, "x", "request"), "x");
      r.rand = rand_field(j, r.rounding);
      if (r.rand.size() != (r.rounding.mode == RoundingMode::sr ? r.x.size() : 0))
        throw Error("rand has " + std::to_string(r.rand.size()) + " words but sr needs one per value (" +
                    std::to_string(r.x.size()) + ")");
      return c;
    }
    case Op::quantize: {
      QuantizeCase& q = c.q;
      q.format = format_field(jr::member(j, "format", "request"), "format");
      q.rounding = rounding_field(j);
      q.arith = named_field(j, "arith", QuantArith::exact);
      q.shape = jr::i64_array(jr::member(j, "shape", "request"), "shape");
      q.x = jr::u32_array(jr::member(j, "x", "request"), "x");
      q.rand = rand_field(j, q.rounding);
      if (j.contains("tensor_scale") && !j.at("tensor_scale").is_null())
        q.static_tensor_scale = jr::integer<uint32_t>(j, "tensor_scale", "request");
      if (element_count(q.shape) != static_cast<int64_t>(q.x.size()))
        throw Error("x has " + std::to_string(q.x.size()) + " values but shape " + shape_string(q.shape) + " has " +
                    std::to_string(element_count(q.shape)) + " elements");
      return c;
    }
    case Op::dequantize: c.t = tensor_field(j, "tensor"); return c;
    case Op::conv2d:
    case Op::gemm: {
      ConvCase& v = c.conv;
      v.gemm = c.op == Op::gemm;
      v.a = tensor_field(j, "a");
      v.b = tensor_field(j, "b");
      v.arith = arith_field(j.contains("arith") ? j.at("arith") : nlohmann::json(), "arith");
      if (v.gemm) {
        v.out_shape = gemm_out_shape(v.a.shape, v.b.shape);
        return c;
      }
      Conv2dParams& p = v.params;
      p.pass = conv_pass_from_string(jr::string(j, "pass", "request"), "pass");
      p.stride = pair_field(j, "stride", 1);
      p.padding = pair_field(j, "padding", 0);
      p.dilation = pair_field(j, "dilation", 1);
      if (j.contains("groups") && !j.at("groups").is_null()) p.groups = jr::integer<int64_t>(j, "groups", "request");
      if (j.contains("out_shape") && !j.at("out_shape").is_null())
        p.out_shape = jr::i64_array(j.at("out_shape"), "out_shape");
      v.out_shape = ConvGeometry::resolve(p, v.a.shape, v.b.shape).out_shape;
      return c;
    }
  }
  return c;
}

Case case_from_text(const std::string& line) { return case_from_json(jr::parse(line, "request")); }

std::vector<Case> cases_from_case_file(const nlohmann::json& j) {
  std::vector<Case> out;
  if (j.is_object() && j.contains("schema")) {
    if (!j.at("schema").is_string() || j.at("schema").get<std::string>() != "mls-case")
      throw Error("schema = " + j.at("schema").dump() + " is not \"mls-case\"");
    out.push_back(case_from_json(jr::member(j, "case", "case file")));
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      try {
        out.push_back(case_from_json(j[i]));
      } catch (const Error& e) {
        throw Error("case [" + std::to_string(i) + "]: " + e.what());
      }
    }
  } else {
    out.push_back(case_from_json(j));
  }
  return out;
}

nlohmann::json to_json(const Case& c) {
  nlohmann::json j{{"op", to_string(c.op)}};
  switch (c.op) {
    case Op::round: {
      const RoundCase& r = c.round;
      j["element"] = r.element.to_json(GridRole::cast);
      j["rounding"] = rounding_to_json(r.rounding);
      j["overflow"] = to_string(r.overflow);
      j["signed_zero"] = to_string(r.signed_zero);
      if (r.scale != Dyadic::from_int(1)) j["scale"] = dyadic_to_json(r.scale);
      j["x"] = r.x;
      if (r.rounding.mode == RoundingMode::sr) j["rand"] = r.rand;
      break;
    }
    case Op::quantize: {
      const QuantizeCase& q = c.q;
      j["format"] = q.format.to_json();
      j["rounding"] = rounding_to_json(q.rounding);
      if (q.arith != QuantArith::exact) j["arith"] = to_string(q.arith);
      j["shape"] = q.shape;
      j["x"] = q.x;
      if (q.rounding.mode == RoundingMode::sr) j["rand"] = q.rand;
      if (q.static_tensor_scale) j["tensor_scale"] = *q.static_tensor_scale;
      break;
    }
    case Op::dequantize: j["tensor"] = c.t.to_json(); break;
    case Op::conv2d:
    case Op::gemm: {
      const ConvCase& v = c.conv;
      j["a"] = v.a.to_json();
      j["b"] = v.b.to_json();
      j["arith"] = v.arith.to_json();
      if (c.op == Op::conv2d) {
        const Conv2dParams& p = v.params;
        j["pass"] = to_string(p.pass);
        j["stride"] = p.stride;
        j["padding"] = p.padding;
        j["dilation"] = p.dilation;
        j["groups"] = p.groups;
        j["out_shape"] = v.out_shape;
      }
      break;
    }
  }
  return j;
}

// ---- replies ---------------------------------------------------------------------------

nlohmann::json to_json(const CodesResult& r) { return {{"codes", r.codes}}; }
nlohmann::json to_json(const QuantizeResult& r) {
  return {{"tensor_scale", r.tensor_scale}, {"group_scales", r.group_scales}, {"elements", r.elements}};
}
nlohmann::json to_json(const TensorResult& r) { return {{"shape", r.shape}, {"y", r.y}}; }

CodesResult codes_reply(const nlohmann::json& rep) {
  return {jr::u32_array(jr::member(rep, "codes", "reply"), "codes")};
}

QuantizeResult quantize_reply(const nlohmann::json& rep) {
  QuantizeResult r;
  r.tensor_scale = jr::integer<uint32_t>(rep, "tensor_scale", "reply");
  r.group_scales = jr::u32_array(jr::member(rep, "group_scales", "reply"), "group_scales");
  r.elements = jr::u32_array(jr::member(rep, "elements", "reply"), "elements");
  return r;
}

TensorResult tensor_reply(const nlohmann::json& rep) {
  TensorResult r;
  r.y = jr::u32_array(jr::member(rep, "y", "reply"), "y");
  if (rep.contains("shape") && !rep.at("shape").is_null()) r.shape = jr::i64_array(rep.at("shape"), "shape");
  return r;
}

// ---- hello (9.2.3) ----------------------------------------------------------------------

Capabilities hello_from_json(const nlohmann::json& h) {
  if (!h.is_object() || !h.contains("protocol") || !h.at("protocol").is_number_integer() || h.at("protocol").get<int64_t>() != 1)
    throw Error("hello reply does not declare protocol 1: " + h.dump().substr(0, 200));
  Capabilities c;
  c.raw = h;
  c.name = h.contains("name") && h.at("name").is_string() ? h.at("name").get<std::string>() : "";
  if (!h.contains("supports") || !h.at("supports").is_object()) return c;
  const auto& s = h.at("supports");
  auto names = [&](const char* key) {
    std::vector<std::string> out;
    if (!s.contains(key)) return out;
    const auto& a = s.at(key);
    if (a.is_string() && a.get<std::string>() == "any") return out;
    if (!a.is_array()) throw Error("hello: supports." + std::string(key) + " must be an array of names or \"any\"");
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_string() && !a[i].is_object())
        throw Error("hello: supports." + std::string(key) + "[" + std::to_string(i) + "] must be a name");
      out.push_back(a[i].is_string() ? a[i].get<std::string>() : a[i].dump());
    }
    return out;
  };
  for (const auto& o : names("ops"))
    if (o != "hello") c.ops.insert(to_string(enum_from_name<Op>(o, "hello: supports.ops")));
  for (const auto& m : names("modes")) c.modes.insert(to_string(enum_from_name<RoundingMode>(m, "hello: supports.modes")));
  for (const auto& f : names("formats")) c.formats.push_back(parse_format(f));
  for (const auto& e : names("elements")) c.elements.push_back(parse_minifloat(e, GridRole::cast, "hello: supports.elements"));
  for (const auto& a : names("arith")) c.arith.insert(to_string(enum_from_name<QuantArith>(a, "hello: supports.arith")));
  return c;
}

nlohmann::json hello_to_json(const Capabilities& c) {
  nlohmann::json s = nlohmann::json::object();
  auto list = [](const auto& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& x : v) a.push_back(x);
    return a;
  };
  s["ops"] = c.ops.empty() ? nlohmann::json(enum_names<Op>()) : list(c.ops);
  s["modes"] = c.modes.empty() ? nlohmann::json(enum_names<RoundingMode>()) : list(c.modes);
  if (c.formats.empty()) s["formats"] = "any";
  else {
    s["formats"] = nlohmann::json::array();
    for (const auto& f : c.formats) s["formats"].push_back(f.short_name());
  }
  if (c.elements.empty()) s["elements"] = "any";
  else {
    s["elements"] = nlohmann::json::array();
    for (const auto& e : c.elements) s["elements"].push_back(e.name());
  }
  s["arith"] = c.arith.empty() ? nlohmann::json::array({"exact"}) : list(c.arith);
  s["passes"] = enum_names<ConvPass>();
  nlohmann::json h = c.raw.is_object() ? c.raw : nlohmann::json::object();
  h["protocol"] = 1;
  h["name"] = c.name;
  h["supports"] = s;
  return h;
}

}  // namespace mls::conformance
