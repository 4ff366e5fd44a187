#include "mls/format.hpp"

#include <cctype>
#include <cstdint>
#include <regex>

#include "mls/error.hpp"
#include "mls/json_read.hpp"

namespace mls {

void Format::validate() const {
  element.validate(GridRole::element);
  group_scale.validate(GridRole::group_scale);
  for (size_t i = 0; i < group_shape.size(); ++i)
    if (group_shape[i] < 0)
      throw Error("group_shape[" + std::to_string(i) + "] = " + std::to_string(group_shape[i]) + " is negative");
  if (block_size < 0) throw Error("block.size = " + std::to_string(block_size) + " is negative");
  if (block_size > 0 && !group_shape.empty()) throw Error("block and group_shape are exclusive: give one layout (2.4)");
  if (block_axis < -64 || block_axis > 63) throw Error("block.axis = " + std::to_string(block_axis) + " is outside -64..63");
  if (overflow == OverflowPolicy::infinity && !element.has_inf())
    throw Error("overflow = infinity needs an element format with Inf (specials = ieee); " + element.name() + " has none");
  if (overflow == OverflowPolicy::nan && !element.has_nan())
    throw Error("overflow = nan needs an element format with a NaN code; " + element.name() + " has none");
  if (nonfinite == NonFiniteInput::propagate) {
    if (tensor_scale != TensorScaleRule::one)
      throw Error("nonfinite = propagate needs tensor_scale = one (a NaN or Inf has no tensor scale, 4.1.2)");
    if (!group_scale.has_nan())
      throw Error("nonfinite = propagate needs a group-scale format with a NaN code; " + group_scale.name() +
                  " has none (4.1.2)");
  }
}

bool Format::spec10() const {
  const Format d;
  return element.specials == Specials::none && element.encoding == Encoding::sign_magnitude && !group_scale.is_signed &&
         group_scale.zero == ZeroMode::none && group_scale.specials == Specials::none &&
         group_scale.bias == Minifloat::default_bias(group_scale.exp_bits) && block_size == 0 &&
         tensor_scale == d.tensor_scale && nonfinite == d.nonfinite && !ocp_divisor() &&
         overflow != OverflowPolicy::infinity && overflow != OverflowPolicy::nan;
}

bool Format::ocp_divisor() const {
  return scale_policy == ScalePolicy::ocp || scale_policy == ScalePolicy::ocp_ceil || scale_policy == ScalePolicy::ocp_even;
}

Dyadic Format::scale_divisor() const { return ocp_divisor() ? Dyadic::pow2(element.emax()) : q_max(); }

std::vector<int64_t> Format::resolved_group_shape(const std::vector<int64_t>& shape) const {
  std::vector<int64_t> g = group_shape;
  if (block_size > 0) {
    const int64_t r = static_cast<int64_t>(shape.size());
    const int64_t axis = block_axis < 0 ? r + block_axis : block_axis;
    if (axis < 0 || axis >= r)
      throw Error("block.axis = " + std::to_string(block_axis) + " does not fit a tensor of rank " + std::to_string(r));
    g.assign(shape.size(), 1);
    g[static_cast<size_t>(axis)] = block_size;
    return g;
  }
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
  if (tensor_elems > 0 && tensor_scale == TensorScaleRule::amax) b += 32.0 / tensor_elems;
  return b;
}

// ---- short names (2.7) -------------------------------------------------------
//   FORMAT  = PROFILE {":" OPTION} | ELEMENT "." GSCALE ["/" LAYOUT] {":" OPTION}
//   ELEMENT, GSCALE = a grid name (1.10) or a named grid (1.8)
//   LAYOUT  = N {"x" N} | "blk" N ["@" AXIS]
//   OPTION  = a scale rule (ceil nearest floor ocp) | "poszero" | "ovf_" overflow
//           | "tscale_" tensor-scale rule | "nonfinite_" policy
// Options print in this order and only when they differ from the default.

namespace {
const Format kDefaults{};

void apply_option(Format& f, const std::string& o) {
  if (enum_has_name<ScalePolicy>(o)) f.scale_policy = enum_from_name<ScalePolicy>(o, "option");
  else if (o == "poszero") f.signed_zero = SignedZero::positive;
  else if (o.rfind("ovf_", 0) == 0 && enum_has_name<OverflowPolicy>(o.substr(4))) f.overflow = enum_from_name<OverflowPolicy>(o.substr(4), "option");
  else if (o.rfind("tscale_", 0) == 0 && enum_has_name<TensorScaleRule>(o.substr(7))) f.tensor_scale = enum_from_name<TensorScaleRule>(o.substr(7), "option");
  else if (o.rfind("nonfinite_", 0) == 0 && enum_has_name<NonFiniteInput>(o.substr(10))) f.nonfinite = enum_from_name<NonFiniteInput>(o.substr(10), "option");
  else {
    std::string all;
    for (const auto& n : enum_names<ScalePolicy>()) all += ":" + n + ", ";
    all += ":poszero, ";
    for (const auto& n : enum_names<OverflowPolicy>()) all += ":ovf_" + n + ", ";
    for (const auto& n : enum_names<TensorScaleRule>()) all += ":tscale_" + n + ", ";
    for (const auto& n : enum_names<NonFiniteInput>()) all += ":nonfinite_" + n + (n == "propagate" ? "" : ", ");
    throw Error("format option \":" + o + "\" is not one of " + all);
  }
}

void apply_options(Format& f, const std::string& opts) {  // ":a:b" -> a, b
  size_t pos = 0;
  while (pos < opts.size()) {
    const size_t next = opts.find(':', pos + 1);
    apply_option(f, opts.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1));
    pos = next == std::string::npos ? opts.size() : next;
  }
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string t;
  for (size_t i = 0; i < s.size(); ++i) t += (i ? "x" : "") + std::to_string(s[i]);
  return t;
}
}  // namespace

std::string Format::short_name() const {
  std::string s = element.name() + "." + group_scale.name();
  if (block_size > 0) s += "/blk" + std::to_string(block_size) + (block_axis != -1 ? "@" + std::to_string(block_axis) : "");
  else if (!group_shape.empty()) s += "/" + shape_text(group_shape);
  if (scale_policy != kDefaults.scale_policy) s += ":" + to_string(scale_policy);
  if (signed_zero == SignedZero::positive) s += ":poszero";
  if (overflow != kDefaults.overflow) s += ":ovf_" + to_string(overflow);
  if (tensor_scale != kDefaults.tensor_scale) s += ":tscale_" + to_string(tensor_scale);
  if (nonfinite != kDefaults.nonfinite) s += ":nonfinite_" + to_string(nonfinite);
  return s;
}

Format parse_short_name(const std::string& text) {
  static const std::regex re(R"(^([a-z0-9_-]+)\.([a-z0-9_-]+)(?:/(?:(\d+(?:x\d+)*)|blk(\d+)(?:@(-?\d+))?))?((?::[a-z_]+)*)$)");
  std::smatch m;
  if (!std::regex_match(text, m, re))
    throw Error("format \"" + text + "\" is not a profile name, a short name like e2m1.g4m1/1x1x0x0, or JSON");
  Format f;
  f.element = parse_minifloat(m[1].str(), GridRole::element, "format element");
  f.group_scale = parse_minifloat(m[2].str(), GridRole::group_scale, "format group scale");
  auto number = [](const std::string& s, const char* field) {
    if (s.size() > 12) throw Error(std::string(field) + " = " + s + " is out of range");
    return std::stoll(s);
  };
  if (m[3].matched) {
    const std::string s = m[3].str();
    size_t pos = 0;
    for (;;) {
      const size_t x = s.find('x', pos);
      f.group_shape.push_back(number(s.substr(pos, x == std::string::npos ? std::string::npos : x - pos), "group_shape entry"));
      if (x == std::string::npos) break;
      pos = x + 1;
    }
  }
  if (m[4].matched) {
    f.block_size = number(m[4].str(), "block.size");
    if (f.block_size < 1) throw Error("block.size = 0 must be at least 1");
    if (m[5].matched) f.block_axis = number(m[5].str(), "block.axis");
  }
  apply_options(f, m[6].str());
  f.validate();
  return f;
}

// ---- JSON (2.8) ----------------------------------------------------------------

nlohmann::json Format::to_json() const {
  nlohmann::json j{{"element", element.to_json(GridRole::element)},
                   {"group_scale", group_scale.to_json(GridRole::group_scale)},
                   {"scale_policy", to_string(scale_policy)},
                   {"signed_zero", to_string(signed_zero)},
                   {"overflow", to_string(overflow)}};
  j["group_shape"] = group_shape;
  // Members added in spec 1.1 appear only away from their defaults, so every
  // spec-1.0 format prints exactly as before.
  if (block_size > 0) j["block"] = {{"size", block_size}, {"axis", block_axis}};
  if (tensor_scale != kDefaults.tensor_scale) j["tensor_scale"] = to_string(tensor_scale);
  if (nonfinite != kDefaults.nonfinite) j["nonfinite"] = to_string(nonfinite);
  return j;
}

Format format_from_json(const nlohmann::json& j) {
  namespace jr = json_read;
  jr::check_keys(j, "format", {"element", "group_scale", "group_shape", "block", "scale_policy", "signed_zero",
                               "overflow", "tensor_scale", "nonfinite"});
  Format f;
  f.element = minifloat_from_json(jr::member(j, "element", "format"), GridRole::element, "format.element");
  if (j.contains("group_scale"))
    f.group_scale = minifloat_from_json(j.at("group_scale"), GridRole::group_scale, "format.group_scale");
  if (j.contains("group_shape")) f.group_shape = jr::i64_array(j.at("group_shape"), "format.group_shape");
  if (j.contains("block")) {
    const auto& b = j.at("block");
    jr::check_keys(b, "format.block", {"size", "axis"});
    f.block_size = jr::integer<int64_t>(b, "size", "format.block");
    if (f.block_size < 1) throw Error("format.block.size = " + std::to_string(f.block_size) + " must be at least 1");
    if (b.contains("axis")) f.block_axis = jr::integer<int64_t>(b, "axis", "format.block");
  }
  auto named = [&]<class E>(E& out, const char* key) {
    if (j.contains(key)) out = enum_from_name<E>(jr::string(j, key, "format"), std::string("format.") + key);
  };
  named(f.scale_policy, "scale_policy");
  named(f.signed_zero, "signed_zero");
  named(f.overflow, "overflow");
  named(f.tensor_scale, "tensor_scale");
  named(f.nonfinite, "nonfinite");
  try {
    f.validate();
  } catch (const Error& err) {
    const std::string msg = err.what();
    throw Error(msg.rfind("format.", 0) == 0 ? msg : "format." + msg);
  }
  return f;
}

Format parse_format(const std::string& text) {
  std::string t = text;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.erase(t.begin());
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  if (!t.empty() && t.front() == '{') return format_from_json(json_read::parse(t, "format"));
  const std::string head = t.substr(0, t.find(':'));
  if (const Profile* p = find_profile(head)) {
    Format f = p->format;
    if (head.size() < t.size()) apply_options(f, t.substr(head.size()));
    f.validate();
    return f;
  }
  return parse_short_name(t);
}

// ---- named profiles (2.9) --------------------------------------------------------

const std::vector<Profile>& named_profiles() {
  static const std::vector<Profile> profiles = [] {
    std::vector<Profile> v;
    const std::string paper = "Zhong et al., arXiv 2006.02804 (MLS)";
    const std::string mls_choice = "the group-scale format, the group layout and every rounding rule (02-04) are this project's";
    auto mls = [&](std::string name, std::string desc, int e, int m, int ge, int gm) {
      Format f;
      f.element = Minifloat::element(e, m);
      f.group_scale = Minifloat::group_scale(ge, gm);
      v.push_back({std::move(name), std::move(desc), paper, mls_choice, f});
    };
    mls("mls-e2m1", "paper's CIFAR-10 element format E2M1; group scale E4M1 is this project's choice", 2, 1, 4, 1);
    mls("mls-e2m4", "paper's ImageNet element format E2M4; group scale E4M1 is this project's choice", 2, 4, 4, 1);
    mls("mls-e3m3", "element E3M3 (paper's wider configuration); group scale E4M1 is this project's choice", 3, 3, 4, 1);
    mls("mls-e2m1-g3m0", "E2M1 elements with power-of-two (shift-only) group scales g3m0 (k = 0..7), one bit cheaper per group", 2, 1, 3, 0);
    mls("mls-fixed4", "E0M3: 4-bit sign-magnitude fixed-point elements, group scale E4M1", 0, 3, 4, 1);

    auto grid = [](const char* name) {
      for (const auto& g : named_grids())
        if (g.name == name) return g.grid;
      throw Error(std::string("named grid ") + name + " missing");
    };
    const std::string ocp_choice =
        "ours: partial last blocks allowed; a scale beyond E8M0 clamps (2^-127, 2^127); an all-zero block has scale "
        "2^-127; a NaN input makes its block's scale NaN (0xff) and its elements 0; an Inf input is an element input "
        "(saturate or Inf/NaN by the element's overflow policy); elements above q_max saturate";
    auto mx = [&](std::string name, std::string desc, const char* elem, std::string section) {
      Format f;
      f.element = grid(elem);
      f.group_scale = grid("e8m0");
      f.block_size = 32;
      f.block_axis = -1;
      f.tensor_scale = TensorScaleRule::one;
      f.scale_policy = ScalePolicy::ocp;
      f.nonfinite = NonFiniteInput::propagate;
      v.push_back({std::move(name), std::move(desc), "OCP Microscaling Formats (MX) v1.0, " + section + " and 6.3",
                   ocp_choice, f});
    };
    mx("mxfp8-e4m3", "MXFP8 (E4M3 elements, E8M0 scale per 32 elements along the last axis)", "fp8_e4m3", "5.3.1");
    mx("mxfp8-e5m2", "MXFP8 (E5M2 elements, E8M0 scale per 32 elements along the last axis)", "fp8_e5m2", "5.3.1");
    mx("mxfp6-e2m3", "MXFP6 (E2M3 elements, E8M0 scale per 32)", "fp6_e2m3", "5.3.2");
    mx("mxfp6-e3m2", "MXFP6 (E3M2 elements, E8M0 scale per 32)", "fp6_e3m2", "5.3.2");
    mx("mxfp4", "MXFP4 (E2M1 elements, E8M0 scale per 32)", "fp4_e2m1", "5.3.3");
    mx("mxint8", "MXINT8 (two's complement INT8 elements times 2^-6, E8M0 scale per 32; -128 never produced)", "int8", "5.3.4");
    {
      Format f;
      f.element = grid("fp4_e2m1");
      f.group_scale = grid("fp8_e4m3");  // a signed byte whose sign is always 0 (NVIDIA stores an fp8 E4M3)
      f.block_size = 16;
      f.block_axis = -1;
      f.tensor_scale = TensorScaleRule::amax;
      f.scale_policy = ScalePolicy::nearest;
      v.push_back({"nvfp4",
                   "NVFP4: E2M1 elements, an E4M3 scale per 16 elements along the last axis, an fp32 tensor scale",
                   "NVIDIA: NVFP4 (Blackwell) documentation, Transformer Engine NVFP4 recipe",
                   "ours: S_t = RU_fp32(amax / (6 * 448)) exactly (NVIDIA's kernels divide in fp32: the arithmetic "
                   "profile torchao_nvfp4); the block scale is a_G / (6 S_t) rounded to nearest even on E4M3 (it "
                   "never exceeds 448 with the RU tensor scale); a block scale that rounds to 0 makes its elements "
                   "zeros; NaN/Inf inputs are errors",
                   f});
    }
    return v;
  }();
  return profiles;
}

const Profile* find_profile(const std::string& name) {
  for (const auto& p : named_profiles())
    if (p.name == name) return &p;
  return nullptr;
}

// ---- roundings (3.8) -----------------------------------------------------------------

nlohmann::json rounding_to_json(const Rounding& r) {
  nlohmann::json j{{"mode", to_string(r.mode)}};
  if (r.mode == RoundingMode::sr) j["bits"] = r.sr_bits;
  return j;
}

Rounding rounding_from_json(const nlohmann::json& j) {
  json_read::check_keys(j, "rounding", {"mode", "bits"});
  Rounding r;
  r.mode = enum_from_name<RoundingMode>(json_read::string(j, "mode", "rounding"), "rounding.mode");
  if (j.contains("bits")) r.sr_bits = json_read::integer<int>(j, "bits", "rounding");
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
    r.mode = enum_from_name<RoundingMode>(text, "rounding");
  }
  r.validate();
  return r;
}

std::string rounding_name(const Rounding& r) {
  return r.mode == RoundingMode::sr ? "sr" + std::to_string(r.sr_bits) : to_string(r.mode);
}

}  // namespace mls
