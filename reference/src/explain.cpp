#include "mls/explain.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "mls/error.hpp"
#include "mls/fp32_ops.hpp"

namespace mls {

std::string approx_decimal(const Dyadic& num, const Dyadic& den) {
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

namespace {
std::string ratio_text(const Dyadic& num, const Dyadic& den) {
  return "(" + num.to_string() + ") / (" + den.to_string() + ")";
}

std::string scale_rule_text(const Format& f, const RoundResult& gs) {
  if (gs.rule == Rule::nan_input) return "the group holds a NaN: the scale is NaN (4.1.2)";
  if (gs.rule == Rule::exact) return "the ratio is a group-scale value (4.4)";
  if (gs.rule == Rule::clamped_min) return "ratio below the smallest scale: the smallest scale (4.4)";
  if (gs.rule == Rule::saturated) return "ratio above the largest scale: the largest scale, elements may saturate (4.4)";
  switch (f.scale_policy) {
    case ScalePolicy::ceil: return "the smallest group-scale value >= ratio (4.4 ceil)";
    case ScalePolicy::floor: return "the largest group-scale value <= ratio (4.4 floor)";
    case ScalePolicy::ocp: return "the largest group-scale value <= a_G / (S_t 2^emax_elem) (4.4 ocp, OCP MX 6.3)";
    case ScalePolicy::ocp_ceil: return "the smallest group-scale value >= a_G / (S_t 2^emax_elem) (4.4 ocp_ceil)";
    case ScalePolicy::ocp_even:
      return "a_G rounded to M_elem + 1 bits (ties away), then the largest group-scale value <= it / (S_t 2^emax_elem) (4.4 ocp_even)";
    case ScalePolicy::nearest: return "the nearest group-scale value, ties to the even code (4.4 nearest)";
  }
  return "";
}

std::string code_value(const Minifloat& g, uint64_t code) {
  if (g.is_nan_code(code)) return "NaN";
  if (g.is_inf_code(code)) return g.split(code).first ? "-Inf" : "+Inf";
  return g.decode(code).to_decimal();
}
}  // namespace

nlohmann::json explain(const QuantizeInput& in, int64_t index) {
  const QuantizeSteps p = quantize_steps(in);
  const Format& f = in.format;
  if (index < 0 || index >= static_cast<int64_t>(in.x.size()))
    throw Error("index " + std::to_string(index) + " is outside 0.." + std::to_string(in.x.size() - 1));
  const Dyadic st = Dyadic::from_float(bits_float(p.tensor_scale));
  const int64_t g = p.layout.group_of(index);
  const RoundResult& gs = p.group_scale[g];
  const uint32_t xb = in.x[index];
  const uint32_t word = in.rounding.mode == RoundingMode::sr ? in.rand[index] : 0;
  nlohmann::json j;
  j["format"] = f.short_name();
  j["rounding"] = rounding_name(in.rounding);
  j["arith"] = to_string(in.arith);
  j["index"] = index;
  j["x"] = {{"bits", hex32(xb)},
            {"value", fp32_is_finite(xb) ? Dyadic::from_float(bits_float(xb)).to_decimal() : code_value(Minifloat::binary32(), xb)}};
  const char* ts_rule = in.static_tensor_scale ? "static (4.6)"
                        : f.tensor_scale == TensorScaleRule::one ? "tensor_scale = one: 1.0 (4.3)"
                                                                 : "RU_fp32(amax / (q_max * g_max)) (4.3)";
  j["tensor"] = {{"amax", Dyadic::from_float(p.amax).to_decimal()},
                 {"q_max", f.q_max().to_decimal()},
                 {"g_max", f.g_max().to_decimal()},
                 {"tensor_scale", {{"bits", hex32(p.tensor_scale)}, {"value", st.to_decimal()}, {"rule", ts_rule}}}};
  const Dyadic ga = std::isinf(p.group_amax[g]) ? Dyadic() : Dyadic::from_float(p.group_amax[g]);
  const Dyadic den = st * f.scale_divisor();
  j["group"] = {{"index", g},
                {"amax", std::isinf(p.group_amax[g]) ? "+Inf" : ga.to_decimal()},
                {"divisor", f.ocp_divisor() ? "2^emax_elem = " + f.scale_divisor().to_decimal()
                                                               : "q_max = " + f.q_max().to_decimal()},
                {"ratio", ratio_text(ga, den)},
                {"ratio_approx", approx_decimal(ga, den)},
                {"policy", to_string(f.scale_policy)},
                {"code", gs.code},
                {"value", code_value(f.group_scale, gs.code)},
                {"rule", scale_rule_text(f, gs)}};
  nlohmann::json el;
  if (p.group_nan[g]) {
    el["decision"] = "the group's scale is NaN: every element of the group is code 0 (4.1.2)";
    el["rule"] = to_string(Rule::nan_input);
    el["reason"] = describe(Rule::nan_input);
    el["code"] = 0;
    el["value"] = "0";
    el["dequantized"] = "NaN";
    j["element"] = el;
    return j;
  }
  const Dyadic sg = f.group_scale.decode(gs.code);
  const Dyadic s = st * sg;
  const RoundResult e = quantize_element(in, p, g, static_cast<size_t>(index));
  const bool neg = (xb >> 31) != 0;
  if (fp32_is_finite(xb)) {
    const Dyadic ax = Dyadic::from_float(std::fabs(bits_float(xb)));
    el["quotient"] = {{"exact", std::string(neg ? "-" : "") + (s.is_zero() ? "(zero scale)" : ratio_text(ax, s))},
                      {"approx", s.is_zero() ? "-" : (neg ? "-" : "") + approx_decimal(ax, s)}};
    if (in.arith != QuantArith::exact) {
      // 4.12: the profile's fp32 factor for the group and the fp32 quotient, each one rounding.
      const ElementFactor& fac = p.factor[g];
      const uint32_t ax = xb & 0x7fffffffu;
      const uint32_t q = ax == 0 ? 0 : fac.multiply ? fp32::mul(ax, fac.value) : fp32::div(ax, fac.value);
      el["pipeline"] = {{"profile", to_string(in.arith)},
                        {"factor", std::string(fac.multiply ? "multiply by " : "divide by ") + hex32(fac.value) + " = " +
                                       (fp32_is_finite(fac.value) ? Dyadic::from_float(bits_float(fac.value)).to_decimal() : "Inf/NaN")},
                        {"quotient_fp32", hex32(q)},
                        {"quotient_fp32_value", fp32_is_finite(q) ? Dyadic::from_float(bits_float(q)).to_decimal() : "Inf/NaN"}};
    }
  }
  if (!e.exact || e.lo != e.hi) {
    el["lower"] = {{"code", e.lo}, {"value", f.element.magnitude_value(e.lo).to_decimal()}};
    el["upper"] = {{"code", e.hi}, {"value", f.element.magnitude_value(e.hi).to_decimal()}};
  }
  if (!e.exact && e.t_den.sign() > 0)
    el["t"] = {{"exact", ratio_text(e.t_num, e.t_den)}, {"approx", approx_decimal(e.t_num, e.t_den)}};
  if (in.rounding.mode == RoundingMode::sr) {
    el["random_word"] = hex32(word);
    el["r"] = e.r;
    el["R"] = in.rounding.sr_bits;
  }
  el["decision"] = e.exact ? "exact" : (e.away ? "away from zero (upper)" : "toward zero (lower)");
  el["rule"] = to_string(e.rule);
  el["reason"] = describe(e.rule);
  el["code"] = e.code;
  el["value"] = code_value(f.element, e.code);
  el["dequantized"] = f.element.is_valid_code(e.code) ? (s * f.element.decode(e.code)).to_decimal() : code_value(f.element, e.code);
  j["element"] = el;
  return j;
}

nlohmann::json explain(const Format& f, const Shape& shape, const std::vector<float>& x, const Rounding& r,
                       const std::vector<uint32_t>& rand, int64_t index, std::optional<uint32_t> static_ts) {
  QuantizeInput in{f, r, QuantArith::exact, shape, {}, rand, static_ts};
  for (float v : x) in.x.push_back(float_bits(v));
  return explain(in, index);
}

std::string explain_text(const nlohmann::json& j) {
  std::ostringstream o;
  const auto& t = j["tensor"];
  const auto& g = j["group"];
  const auto& e = j["element"];
  auto s = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  o << "element " << j["index"] << " of a tensor quantized as " << s(j["format"]) << " with " << s(j["rounding"]);
  if (j.contains("arith") && j["arith"] != "exact") o << ", arithmetic profile " << s(j["arith"]);
  o << "\n";
  o << "  x                 = " << s(j["x"]["value"]) << "  (fp32 " << s(j["x"]["bits"]) << ")\n";
  o << "1 tensor max |x|    = " << s(t["amax"]) << ";  q_max = " << s(t["q_max"]) << ", g_max = " << s(t["g_max"]) << "\n";
  o << "  tensor scale S_t  = " << s(t["tensor_scale"]["value"]) << "  (fp32 " << s(t["tensor_scale"]["bits"])
    << ")  by " << s(t["tensor_scale"]["rule"]) << "\n";
  o << "2 group " << g["index"] << " max |x|  = " << s(g["amax"]) << ";  ratio a_G / (S_t D), D = " << s(g["divisor"])
    << ": " << s(g["ratio"]) << " ~ " << s(g["ratio_approx"]) << "\n";
  o << "  group scale S_g   = " << s(g["value"]) << "  (code " << g["code"] << ", rule " << s(g["policy"]) << ": "
    << s(g["rule"]) << ")\n";
  if (e.contains("quotient"))
    o << "3 quotient x/(S_t S_g) = " << s(e["quotient"]["exact"]) << " ~ " << s(e["quotient"]["approx"]) << "\n";
  if (e.contains("pipeline"))
    o << "  fp32 pipeline " << s(e["pipeline"]["profile"]) << ": |x| " << s(e["pipeline"]["factor"]) << " -> quotient "
      << s(e["pipeline"]["quotient_fp32"]) << " = " << s(e["pipeline"]["quotient_fp32_value"]) << " (4.12)\n";
  if (e.contains("lower"))
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
