#include "mls/format.hpp"

#include <cctype>
#include <cstdint>
#include <type_traits>
#include <regex>

#include "mls/error.hpp"

namespace mls {

void Format::validate() const {
  element.validate("element");
  group_scale.validate("group_scale");
  for (size_t i = 0; i < group_shape.size(); ++i)
    if (group_shape[i] < 0)
      throw Error("group_shape[" + std::to_string(i) + "] = " + std::to_string(group_shape[i]) + " is negative");
  if (overflow == OverflowPolicy::infinity) throw Error("overflow = infinity is not allowed for an MLS format");
}

std::vector<int64_t> Format::resolved_group_shape(const std::vector<int64_t>& shape) const {
  std::vector<int64_t> g = group_shape;
  if (g.empty()) {
    g.assign(shape.size(), 0);
    if (shape.size() >= 2) g[0] = g[1] = 1;
  }
  if (g.size() != shape.size())
    throw Error("group_shape has " + std::to_string(g.size()) + " entries but the tensor has rank " +
                std::to_string(shape.size()));
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i] < 0) throw Error("group_shape[" + std::to_string(i) + "] is negative");
  return g;
}

double Format::bits_per_element(double group_elems, double tensor_elems) const {
  double b = element.total_bits() + group_scale.total_bits() / group_elems;
  if (tensor_elems > 0) b += 32.0 / tensor_elems;
  return b;
}

std::string to_string(ScalePolicy p) {
  switch (p) {
    case ScalePolicy::ceil: return "ceil";
    case ScalePolicy::nearest: return "nearest";
    case ScalePolicy::floor: return "floor";
  }
  return "?";
}
ScalePolicy scale_policy_from_string(const std::string& s, const std::string& field) {
  if (s == "ceil") return ScalePolicy::ceil;
  if (s == "nearest") return ScalePolicy::nearest;
  if (s == "floor") return ScalePolicy::floor;
  throw Error(field + " = \"" + s + "\" is not one of ceil, nearest, floor");
}

// Short name: ELEMENT "." GSCALE ["/" SHAPE] {":" OPTION}
//   ELEMENT = "e" E "m" M ["b" BIAS] ["z"]      (z: zero_only)
//   GSCALE  = "g" E "m" M
//   SHAPE   = N {"x" N}                           (0 = whole axis)
//   OPTION  = nearest | floor | poszero | ovf_error
std::string Format::short_name() const {
  std::string s = element.name() + "." + group_scale.name();
  if (!group_shape.empty()) {
    s += "/";
    for (size_t i = 0; i < group_shape.size(); ++i) s += (i ? "x" : "") + std::to_string(group_shape[i]);
  }
  if (scale_policy != ScalePolicy::ceil) s += ":" + to_string(scale_policy);
  if (signed_zero == SignedZero::positive) s += ":poszero";
  if (overflow == OverflowPolicy::error) s += ":ovf_error";
  return s;
}

Format parse_short_name(const std::string& text) {
  static const std::regex re(R"(^e(\d+)m(\d+)(?:b(-?\d+))?(z?)\.g(\d+)m(\d+)(?:/(\d+(?:x\d+)*))?((?::[a-z_]+)*)$)");
  std::smatch m;
  if (!std::regex_match(text, m, re))
    throw Error("format \"" + text + "\" is not a profile name, a short name like e2m1.g4m1/1x1x0x0, or JSON");
  Format f;
  auto num = [&](int i, const char* field) {
    const std::string s = m[i].str();
    if (s.size() > 7) throw Error(std::string(field) + " = " + s + " is out of range");  // "-100000" fits
    return std::stoi(s);
  };
  f.element = Minifloat::element(num(1, "element.exp_bits"), num(2, "element.man_bits"));
  if (m[3].matched) f.element.bias = num(3, "element.bias");
  if (m[4].str() == "z") f.element.zero = ZeroMode::zero_only;
  const int ge = num(5, "group_scale.exp_bits");
  if (ge < 1 || ge > 8) throw Error("group_scale.exp_bits = " + std::to_string(ge) + " is outside 1..8");
  f.group_scale = Minifloat::group_scale(ge, num(6, "group_scale.man_bits"));
  if (m[7].matched) {
    std::string s = m[7].str();
    size_t pos = 0;
    while (pos <= s.size()) {
      const size_t x = s.find('x', pos);
      const std::string part = s.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
      if (part.size() > 12) throw Error("group_shape entry " + part + " is out of range");
      f.group_shape.push_back(std::stoll(part));
      if (x == std::string::npos) break;
      pos = x + 1;
    }
  }
  std::string opts = m[8].str();
  size_t pos = 0;
  while (pos < opts.size()) {
    const size_t next = opts.find(':', pos + 1);
    const std::string o = opts.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    if (o == "nearest") f.scale_policy = ScalePolicy::nearest;
    else if (o == "floor") f.scale_policy = ScalePolicy::floor;
    else if (o == "ceil") f.scale_policy = ScalePolicy::ceil;
    else if (o == "poszero") f.signed_zero = SignedZero::positive;
    else if (o == "ovf_error") f.overflow = OverflowPolicy::error;
    else throw Error("format option \":" + o + "\" is not one of :ceil, :nearest, :floor, :poszero, :ovf_error");
    pos = next == std::string::npos ? opts.size() : next;
  }
  f.validate();
  return f;
}

namespace {
nlohmann::json minifloat_json(const Minifloat& m, bool element) {
  nlohmann::json j{{"exp_bits", m.exp_bits}, {"man_bits", m.man_bits}};
  if (element) {
    j["bias"] = m.bias;
    j["zero"] = to_string(m.zero);
  }
  return j;
}

// An integer JSON number within [lo, hi]; floats and booleans are not integers
// (nlohmann's get<int> would truncate 2.7 or convert true silently: spec 7.1).
bool is_int_in(const nlohmann::json& v, int64_t lo, int64_t hi) {
  if (v.is_number_unsigned()) return v.get<uint64_t>() <= static_cast<uint64_t>(hi);
  if (v.is_number_integer()) return v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
  return false;
}

template <class T>
T get_field(const nlohmann::json& j, const char* key, const std::string& path) {
  bool ok = j.contains(key);
  if (ok) {
    const auto& v = j.at(key);
    if constexpr (std::is_same_v<T, int>) ok = is_int_in(v, INT32_MIN, INT32_MAX);
    if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
      ok = v.is_array();
      for (const auto& x : v) ok = ok && is_int_in(x, INT64_MIN, INT64_MAX);
    }
  }
  try {
    if (ok) return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
  }
  throw Error(path + "." + key + " is missing or has the wrong type");
}

void check_keys(const nlohmann::json& j, const std::string& path, std::initializer_list<const char*> allowed) {
  if (!j.is_object()) throw Error(path + " must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok) throw Error(path + "." + it.key() + " is not a known field");
  }
}
}  // namespace

nlohmann::json Format::to_json() const {
  nlohmann::json j{{"element", minifloat_json(element, true)},
                   {"group_scale", minifloat_json(group_scale, false)},
                   {"scale_policy", to_string(scale_policy)},
                   {"signed_zero", to_string(signed_zero)},
                   {"overflow", to_string(overflow)}};
  j["group_shape"] = group_shape;
  return j;
}

Format format_from_json(const nlohmann::json& j) {
  check_keys(j, "format", {"element", "group_scale", "group_shape", "scale_policy", "signed_zero", "overflow"});
  Format f;
  if (!j.contains("element")) throw Error("format.element is missing");
  const auto& e = j.at("element");
  check_keys(e, "format.element", {"exp_bits", "man_bits", "bias", "zero", "signed"});
  f.element = Minifloat::element(get_field<int>(e, "exp_bits", "format.element"),
                                 get_field<int>(e, "man_bits", "format.element"));
  if (e.contains("bias")) f.element.bias = get_field<int>(e, "bias", "format.element");
  if (e.contains("zero")) f.element.zero = zero_mode_from_string(get_field<std::string>(e, "zero", "format.element"), "format.element.zero");
  if (e.contains("signed")) f.element.is_signed = get_field<bool>(e, "signed", "format.element");
  if (j.contains("group_scale")) {
    const auto& g = j.at("group_scale");
    check_keys(g, "format.group_scale", {"exp_bits", "man_bits", "bias", "zero", "signed"});
    const int ge = get_field<int>(g, "exp_bits", "format.group_scale");
    if (ge < 1 || ge > 8) throw Error("format.group_scale.exp_bits = " + std::to_string(ge) + " is outside 1..8");
    f.group_scale = Minifloat::group_scale(ge, get_field<int>(g, "man_bits", "format.group_scale"));
    if (g.contains("bias")) f.group_scale.bias = get_field<int>(g, "bias", "format.group_scale");
    if (g.contains("zero")) f.group_scale.zero = zero_mode_from_string(get_field<std::string>(g, "zero", "format.group_scale"), "format.group_scale.zero");
    if (g.contains("signed")) f.group_scale.is_signed = get_field<bool>(g, "signed", "format.group_scale");
  }
  if (j.contains("group_shape")) f.group_shape = get_field<std::vector<int64_t>>(j, "group_shape", "format");
  if (j.contains("scale_policy")) f.scale_policy = scale_policy_from_string(get_field<std::string>(j, "scale_policy", "format"), "format.scale_policy");
  if (j.contains("signed_zero")) f.signed_zero = signed_zero_from_string(get_field<std::string>(j, "signed_zero", "format"), "format.signed_zero");
  if (j.contains("overflow")) f.overflow = overflow_from_string(get_field<std::string>(j, "overflow", "format"), "format.overflow");
  try {
    f.validate();
  } catch (const Error& err) {
    throw Error(std::string("format.") + err.what());
  }
  return f;
}

Format parse_format(const std::string& text) {
  std::string t = text;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.erase(t.begin());
  if (!t.empty() && t.front() == '{') {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(t);
    } catch (const nlohmann::json::exception& e) {
      throw Error(std::string("format JSON does not parse: ") + e.what());
    }
    return format_from_json(j);
  }
  for (const auto& p : named_profiles())
    if (p.name == t) return p.format;
  return parse_short_name(t);
}

const std::vector<Profile>& named_profiles() {
  // The paper (Zhong et al., arXiv 2006.02804) gives the element formats; the
  // group-scale widths below are this project's choice, not the paper's.
  static const std::vector<Profile> profiles = [] {
    std::vector<Profile> v;
    auto add = [&](std::string name, std::string desc, int e, int m, int ge, int gm) {
      Format f;
      f.element = Minifloat::element(e, m);
      f.group_scale = Minifloat::group_scale(ge, gm);
      v.push_back({std::move(name), std::move(desc), f});
    };
    add("mls-e2m1", "paper's CIFAR-10 element format E2M1; group scale E4M1 is this project's choice", 2, 1, 4, 1);
    add("mls-e2m4", "paper's ImageNet element format E2M4; group scale E4M1 is this project's choice", 2, 4, 4, 1);
    add("mls-e3m3", "element E3M3 (paper's wider configuration); group scale E4M1 is this project's choice", 3, 3, 4, 1);
    add("mls-e2m1-g3m0", "E2M1 elements with power-of-two (shift-only) group scales g3m0 (k = 0..7), one bit cheaper per group", 2, 1, 3, 0);
    add("mls-fixed4", "E0M3: 4-bit sign-magnitude fixed-point elements, group scale E4M1", 0, 3, 4, 1);
    return v;
  }();
  return profiles;
}

nlohmann::json rounding_to_json(const Rounding& r) {
  nlohmann::json j{{"mode", to_string(r.mode)}};
  if (r.mode == RoundingMode::sr) j["bits"] = r.sr_bits;
  return j;
}

Rounding rounding_from_json(const nlohmann::json& j) {
  check_keys(j, "rounding", {"mode", "bits"});
  Rounding r;
  r.mode = rounding_mode_from_string(get_field<std::string>(j, "mode", "rounding"), "rounding.mode");
  if (j.contains("bits")) r.sr_bits = get_field<int>(j, "bits", "rounding");
  r.validate();
  return r;
}

Rounding parse_rounding(const std::string& text) {
  Rounding r;
  if (text.rfind("sr", 0) == 0 && text.size() > 2) {
    std::string b = text.substr(text[2] == ':' ? 3 : 2);
    if (b.empty() || b.size() > 3 || b.find_first_not_of("0123456789") != std::string::npos)
      throw Error("rounding \"" + text + "\": the stochastic-rounding bit count must be a number, e.g. sr8");
    r.mode = RoundingMode::sr;
    r.sr_bits = std::stoi(b);
  } else {
    r.mode = rounding_mode_from_string(text, "rounding");
  }
  r.validate();
  return r;
}

std::string rounding_name(const Rounding& r) {
  return r.mode == RoundingMode::sr ? "sr" + std::to_string(r.sr_bits) : to_string(r.mode);
}

}  // namespace mls
