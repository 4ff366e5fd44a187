#include "mls/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "mls/error.hpp"

namespace mls {

uint32_t float_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
float bits_float(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

int64_t element_count(const Shape& shape, const std::string& what) {
  if (shape.empty()) throw Error(what + " is empty (rank 0)");
  int64_t n = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 1) throw Error(what + "[" + std::to_string(i) + "] = " + std::to_string(shape[i]) + " is not >= 1");
    if (n > (int64_t(1) << 40) / shape[i]) throw Error(what + " has more than 2^40 elements");
    n *= shape[i];
  }
  return n;
}

std::string shape_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

GroupLayout::GroupLayout(const Format& f, const Shape& s) : shape(s) {
  element_count(s);
  group_shape = f.resolved_group_shape(s);
  tiles.resize(s.size());
  group_count = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (group_shape[i] == 0 || group_shape[i] > s[i]) group_shape[i] = s[i];
    tiles[i] = (s[i] + group_shape[i] - 1) / group_shape[i];
    group_count *= tiles[i];
  }
}

int64_t GroupLayout::group_of(int64_t linear) const {
  int64_t g = 0, stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    const int64_t idx = linear % shape[i];
    linear /= shape[i];
    g += (idx / group_shape[i]) * stride;
    stride *= tiles[i];
  }
  return g;
}

int64_t GroupLayout::group_of(const Shape& index) const {
  int64_t g = 0;
  for (size_t i = 0; i < shape.size(); ++i) g = g * tiles[i] + index[i] / group_shape[i];
  return g;
}

void MlsTensor::validate() const {
  format.validate();
  const int64_t n = element_count(shape);
  const GroupLayout layout(format, shape);
  if (static_cast<int64_t>(elements.size()) != n)
    throw Error("elements has " + std::to_string(elements.size()) + " codes but shape " + shape_string(shape) +
                " has " + std::to_string(n) + " elements");
  if (static_cast<int64_t>(group_scales.size()) != layout.group_count)
    throw Error("group_scales has " + std::to_string(group_scales.size()) + " codes but the layout has " +
                std::to_string(layout.group_count) + " groups");
  const float st = bits_float(tensor_scale);
  if (!std::isfinite(st) || !(st > 0)) throw Error("tensor_scale " + hex32(tensor_scale) + " is not a positive finite fp32");
  for (size_t i = 0; i < group_scales.size(); ++i)
    if (!format.group_scale.is_valid_code(group_scales[i]))
      throw Error("group_scales[" + std::to_string(i) + "] = " + std::to_string(group_scales[i]) +
                  " is not a valid code of " + format.group_scale.name());
  for (size_t i = 0; i < elements.size(); ++i)
    if (!format.element.is_valid_code(elements[i]))
      throw Error("elements[" + std::to_string(i) + "] = " + std::to_string(elements[i]) +
                  " is not a valid code of " + format.element.name());
}

Dyadic MlsTensor::tensor_scale_value() const { return Dyadic::from_float(bits_float(tensor_scale)); }
Dyadic MlsTensor::group_scale_value(int64_t g) const { return format.group_scale.decode(group_scales.at(g)); }
Dyadic MlsTensor::value(int64_t i) const {
  const GroupLayout layout(format, shape);
  return tensor_scale_value() * group_scale_value(layout.group_of(i)) * format.element.decode(elements.at(i));
}

nlohmann::json MlsTensor::to_json() const {
  return {{"format", format.to_json()}, {"shape", shape}, {"tensor_scale", tensor_scale},
          {"group_scales", group_scales}, {"elements", elements}};
}

MlsTensor MlsTensor::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("an MLS tensor must be a JSON object");
  MlsTensor t;
  auto need = [&](const char* k) -> const nlohmann::json& {
    if (!j.contains(k)) throw Error(std::string("MLS tensor field \"") + k + "\" is missing");
    return j.at(k);
  };
  t.format = format_from_json(need("format"));
  // Integers only, in range: nlohmann's get<> would truncate 1.5 or wrap 2^32 + c to c (spec 7.1).
  auto integer = [](const nlohmann::json& v, const std::string& field, int64_t lo, int64_t hi) -> int64_t {
    const bool ok = (v.is_number_unsigned() && v.get<uint64_t>() <= static_cast<uint64_t>(hi)) ||
                    (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() >= lo && v.get<int64_t>() <= hi);
    if (!ok) throw Error("MLS tensor field " + field + " is not an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
    return v.get<int64_t>();
  };
  auto array = [&](const char* k, int64_t lo, int64_t hi) {
    const auto& a = need(k);
    if (!a.is_array()) throw Error(std::string("MLS tensor field \"") + k + "\" must be an array");
    std::vector<int64_t> out;
    for (size_t i = 0; i < a.size(); ++i) out.push_back(integer(a[i], std::string(k) + "[" + std::to_string(i) + "]", lo, hi));
    return out;
  };
  t.shape = array("shape", INT64_MIN, INT64_MAX);
  t.tensor_scale = static_cast<uint32_t>(integer(need("tensor_scale"), "tensor_scale", 0, UINT32_MAX));
  for (int64_t c : array("group_scales", 0, UINT32_MAX)) t.group_scales.push_back(static_cast<uint32_t>(c));
  for (int64_t c : array("elements", 0, UINT32_MAX)) t.elements.push_back(static_cast<uint32_t>(c));
  t.validate();
  return t;
}

std::optional<int64_t> first_nonfinite(const std::vector<float>& x) {
  for (size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i])) return static_cast<int64_t>(i);
  return std::nullopt;
}

uint32_t dynamic_tensor_scale(const Format& f, float amax) {
  if (amax == 0) return 0x3f800000u;  // 4.2
  const Dyadic a = Dyadic::from_float(std::fabs(amax));
  try {
    return static_cast<uint32_t>(round_to_grid(Minifloat::binary32(), RoundInput{false, a, f.q_max() * f.g_max()},
                                               Rounding{RoundingMode::rup, 8}, 0, OverflowPolicy::error)
                                     .code);
  } catch (const Error&) {
    throw Error("tensor_scale: max|x| / (q_max * g_max) = " + a.to_decimal() + " / " +
                (f.q_max() * f.g_max()).to_decimal() + " overflows fp32 (4.3)");
  }
}

RoundResult select_group_scale(const Format& f, const Dyadic& st, float group_amax) {
  RoundingMode m = RoundingMode::rup;  // 4.4 ceil: the smallest value >= ratio
  if (f.scale_policy == ScalePolicy::nearest) m = RoundingMode::rne;
  if (f.scale_policy == ScalePolicy::floor) m = RoundingMode::rdn;
  return round_to_grid(f.group_scale, RoundInput{false, Dyadic::from_float(std::fabs(group_amax)), st * f.q_max()},
                       Rounding{m, 8}, 0, OverflowPolicy::saturate);
}

RoundResult quantize_element(const Format& f, float x, const Dyadic& scale_product, const Rounding& r, uint32_t word) {
  return round_to_grid(f.element, RoundInput{std::signbit(x), Dyadic::from_float(std::fabs(x)), scale_product}, r, word,
                       f.overflow, f.signed_zero);
}

namespace {
struct Prepared {
  GroupLayout layout;
  uint32_t st_bits;
  std::vector<float> group_amax;
};

Prepared prepare(const Format& f, const Shape& shape, const std::vector<float>& x, const Rounding& r,
                 const std::vector<uint32_t>& rand, std::optional<uint32_t> static_ts) {
  f.validate();
  r.validate();
  const int64_t n = element_count(shape);
  if (static_cast<int64_t>(x.size()) != n)
    throw Error("x has " + std::to_string(x.size()) + " values but shape " + shape_string(shape) + " has " +
                std::to_string(n) + " elements");
  if (auto bad = first_nonfinite(x))
    throw Error("x[" + std::to_string(*bad) + "] is " + (std::isnan(x[*bad]) ? "NaN" : "Inf") +
                ": MLS quantization needs finite input (4.1)");
  if (r.mode == RoundingMode::sr && static_cast<int64_t>(rand.size()) != n)
    throw Error("rand has " + std::to_string(rand.size()) + " words but sr needs one per element (" +
                std::to_string(n) + ")");
  Prepared p{GroupLayout(f, shape), 0, {}};
  p.group_amax.assign(p.layout.group_count, 0.0f);
  float amax = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float a = std::fabs(x[i]);
    amax = std::max(amax, a);
    float& g = p.group_amax[p.layout.group_of(i)];
    g = std::max(g, a);
  }
  if (static_ts) {
    const float s = bits_float(*static_ts);
    if (!std::isfinite(s) || !(s > 0))
      throw Error("tensor_scale " + hex32(*static_ts) + " is not a positive finite fp32 (4.6)");
    p.st_bits = *static_ts;
  } else {
    p.st_bits = dynamic_tensor_scale(f, amax);
  }
  return p;
}
}  // namespace

MlsTensor quantize(const Format& f, const Shape& shape, const std::vector<float>& x, const Rounding& r,
                   const std::vector<uint32_t>& rand, std::optional<uint32_t> static_ts) {
  const Prepared p = prepare(f, shape, x, r, rand, static_ts);
  MlsTensor t;
  t.format = f;
  t.shape = shape;
  t.tensor_scale = p.st_bits;
  const Dyadic st = t.tensor_scale_value();
  std::vector<Dyadic> scale(p.layout.group_count);
  t.group_scales.resize(p.layout.group_count);
  for (int64_t g = 0; g < p.layout.group_count; ++g) {
    t.group_scales[g] = static_cast<uint32_t>(select_group_scale(f, st, p.group_amax[g]).code);
    scale[g] = st * f.group_scale.decode(t.group_scales[g]);
  }
  t.elements.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const uint32_t word = r.mode == RoundingMode::sr ? rand[i] : 0;
    try {
      t.elements[i] = static_cast<uint32_t>(quantize_element(f, x[i], scale[p.layout.group_of(i)], r, word).code);
    } catch (const Error& e) {
      throw Error("x[" + std::to_string(i) + "]: " + e.what());
    }
  }
  return t;
}

std::vector<double> dequantize_fp64(const MlsTensor& t) {
  t.validate();
  const GroupLayout layout(t.format, t.shape);
  const Dyadic st = t.tensor_scale_value();
  std::vector<double> out(t.elements.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const uint64_t code = t.elements[i];
    const Dyadic v = st * t.group_scale_value(layout.group_of(i)) * t.format.element.decode(code);
    // 4.7: a zero element keeps its code's sign (-0 dequantizes to -0.0), as in dequantize_fp32.
    out[i] = v.is_zero() ? ((code & t.format.element.sign_bit()) ? -0.0 : 0.0) : round_to_fp64(v);
  }
  return out;
}

std::vector<float> dequantize_fp32(const MlsTensor& t) {
  t.validate();
  const GroupLayout layout(t.format, t.shape);
  const Dyadic st = t.tensor_scale_value();
  std::vector<float> out(t.elements.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const uint64_t code = t.elements[i];
    const Dyadic v = st * t.group_scale_value(layout.group_of(i)) * t.format.element.decode(code);
    // A zero element keeps its code's sign (-0 dequantizes to -0.0).
    out[i] = v.is_zero() ? ((code & t.format.element.sign_bit()) ? -0.0f : 0.0f) : round_to_fp32(v);
  }
  return out;
}

namespace {
std::string approx(const Dyadic& num, const Dyadic& den) {
  // A 17-significant-digit decimal of num/den for humans (never used in a decision).
  if (num.is_zero()) return "0";
  auto top = [](const Dyadic& d, int64_t& e) {
    const auto l = static_cast<int64_t>(boost::multiprecision::msb(boost::multiprecision::abs(d.m)));
    const int64_t sh = std::max<int64_t>(0, l - 60);
    e = d.e + sh;
    return static_cast<double>(static_cast<int64_t>(d.m >> static_cast<unsigned>(sh)));
  };
  int64_t en, ed;
  const double n = top(num, en), d = top(den, ed);
  const double v = std::ldexp(n / d, static_cast<int>(std::clamp<int64_t>(en - ed, -3000, 3000)));
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}
std::string ratio_text(const Dyadic& num, const Dyadic& den) {
  return "(" + num.to_string() + ") / (" + den.to_string() + ")";
}
}  // namespace

nlohmann::json explain(const Format& f, const Shape& shape, const std::vector<float>& x, const Rounding& r,
                       const std::vector<uint32_t>& rand, int64_t index, std::optional<uint32_t> static_ts) {
  const Prepared p = prepare(f, shape, x, r, rand, static_ts);
  if (index < 0 || index >= static_cast<int64_t>(x.size()))
    throw Error("index " + std::to_string(index) + " is outside 0.." + std::to_string(x.size() - 1));
  const Dyadic st = Dyadic::from_float(bits_float(p.st_bits));
  const int64_t g = p.layout.group_of(index);
  const RoundResult gs = select_group_scale(f, st, p.group_amax[g]);
  const Dyadic sg = f.group_scale.decode(gs.code);
  const Dyadic den = st * sg;
  const float xi = x[index];
  const uint32_t word = r.mode == RoundingMode::sr ? rand[index] : 0;
  const RoundResult e = quantize_element(f, xi, den, r, word);
  nlohmann::json j;
  j["format"] = f.short_name();
  j["rounding"] = rounding_name(r);
  j["index"] = index;
  j["x"] = {{"bits", hex32(float_bits(xi))}, {"value", Dyadic::from_float(xi).to_decimal()}};
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  j["tensor"] = {{"amax", Dyadic::from_float(amax).to_decimal()},
                 {"q_max", f.q_max().to_decimal()},
                 {"g_max", f.g_max().to_decimal()},
                 {"tensor_scale", {{"bits", hex32(p.st_bits)}, {"value", st.to_decimal()},
                                   {"rule", static_ts ? "static (4.6)" : "RU_fp32(amax / (q_max * g_max)) (4.3)"}}}};
  j["group"] = {{"index", g},
                {"amax", Dyadic::from_float(p.group_amax[g]).to_decimal()},
                {"ratio", ratio_text(Dyadic::from_float(p.group_amax[g]), st * f.q_max())},
                {"ratio_approx", approx(Dyadic::from_float(p.group_amax[g]), st * f.q_max())},
                {"policy", to_string(f.scale_policy)},
                {"code", gs.code},
                {"value", sg.to_decimal()},
                {"rule", [&]() -> std::string {
                   if (gs.rule == Rule::exact) return "the ratio is a group-scale value (4.4)";
                   if (gs.rule == Rule::clamped_min) return "ratio <= g_min: g_min (4.4)";
                   if (gs.rule == Rule::saturated) return "ratio > g_max: g_max, elements may saturate (4.4, 4.6)";
                   if (f.scale_policy == ScalePolicy::ceil) return "the smallest group-scale value >= ratio (4.4 ceil)";
                   if (f.scale_policy == ScalePolicy::floor) return "the largest group-scale value <= ratio (4.4 floor)";
                   return "the nearest group-scale value, ties to even code (4.4 nearest)";
                 }()}};
  const Dyadic ax = Dyadic::from_float(std::fabs(xi));
  nlohmann::json el;
  el["quotient"] = {{"exact", std::string(std::signbit(xi) ? "-" : "") + ratio_text(ax, den)},
                    {"approx", (std::signbit(xi) ? "-" : "") + approx(ax, den)}};
  el["lower"] = {{"code", e.lo}, {"value", f.element.magnitude_value(e.lo).to_decimal()}};
  el["upper"] = {{"code", e.hi}, {"value", f.element.magnitude_value(e.hi).to_decimal()}};
  if (!e.exact && e.rule != Rule::saturated && e.rule != Rule::clamped_min) {
    el["t"] = {{"exact", ratio_text(e.t_num, e.t_den)}, {"approx", approx(e.t_num, e.t_den)}};
  }
  if (r.mode == RoundingMode::sr) {
    el["random_word"] = hex32(word);
    el["r"] = e.r;
    el["R"] = r.sr_bits;
  }
  el["decision"] = e.exact ? "exact" : (e.away ? "away from zero (upper)" : "toward zero (lower)");
  el["rule"] = to_string(e.rule);
  el["reason"] = describe(e.rule);
  el["code"] = e.code;
  el["value"] = f.element.decode(e.code).to_decimal();
  el["dequantized"] = (st * sg * f.element.decode(e.code)).to_decimal();
  j["element"] = el;
  return j;
}

std::string explain_text(const nlohmann::json& j) {
  std::ostringstream o;
  const auto& t = j["tensor"];
  const auto& g = j["group"];
  const auto& e = j["element"];
  auto s = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  o << "element " << j["index"] << " of a tensor quantized as " << s(j["format"]) << " with " << s(j["rounding"]) << "\n";
  o << "  x                 = " << s(j["x"]["value"]) << "  (fp32 " << s(j["x"]["bits"]) << ")\n";
  o << "1 tensor max |x|    = " << s(t["amax"]) << ";  q_max = " << s(t["q_max"]) << ", g_max = " << s(t["g_max"]) << "\n";
  o << "  tensor scale S_t  = " << s(t["tensor_scale"]["value"]) << "  (fp32 " << s(t["tensor_scale"]["bits"])
    << ")  by " << s(t["tensor_scale"]["rule"]) << "\n";
  o << "2 group " << g["index"] << " max |x|  = " << s(g["amax"]) << ";  ratio a_G / (S_t q_max) = " << s(g["ratio"])
    << " ~ " << s(g["ratio_approx"]) << "\n";
  o << "  group scale S_g   = " << s(g["value"]) << "  (code " << g["code"] << ", policy " << s(g["policy"]) << ": "
    << s(g["rule"]) << ")\n";
  o << "3 quotient x/(S_t S_g) = " << s(e["quotient"]["exact"]) << " ~ " << s(e["quotient"]["approx"]) << "\n";
  o << "  neighbours        lower code " << e["lower"]["code"] << " = " << s(e["lower"]["value"]) << ", upper code "
    << e["upper"]["code"] << " = " << s(e["upper"]["value"]) << "\n";
  if (e.contains("t")) o << "  t = (|v|-lo)/(hi-lo) = " << s(e["t"]["exact"]) << " ~ " << s(e["t"]["approx"]) << "\n";
  if (e.contains("random_word"))
    o << "  random word " << s(e["random_word"]) << ", R = " << e["R"] << ", r = " << e["r"] << "\n";
  o << "4 decision: " << s(e["decision"]) << " -- " << s(e["reason"]) << "\n";
  o << "  element code " << e["code"] << " = " << s(e["value"]) << ";  dequantized S_t S_g elem = " << s(e["dequantized"])
    << "\n";
  return o.str();
}

}  // namespace mls
