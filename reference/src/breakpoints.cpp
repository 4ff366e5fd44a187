// Breakpoint tables (spec/11-exhaustive.md 11.1-11.4).
#include "mls/breakpoints.hpp"

#include <algorithm>

#include "mls/bits.hpp"
#include "mls/error.hpp"
#include "mls/format.hpp"
#include "mls/json_read.hpp"

namespace mls {

namespace {
Format element_format(const BreakpointSpec& s) {
  Format f;
  f.element = s.element;
  f.overflow = s.overflow;
  f.signed_zero = s.signed_zero;
  return f;
}

nlohmann::json full_minifloat_json(const Minifloat& g) {
  return {{"signed", g.is_signed}, {"exp_bits", g.exp_bits}, {"man_bits", g.man_bits}, {"bias", g.bias},
          {"zero", to_string(g.zero)}, {"specials", to_string(g.specials)}, {"encoding", to_string(g.encoding)}};
}
}  // namespace

void BreakpointSpec::validate() const {
  element.validate(GridRole::any);
  rounding.validate();
  const Dyadic s = scale.normalized();
  if (s.sign() <= 0) throw Error("scale = " + s.to_string() + " must be positive");
  if (s.m > BigInt(INT64_MAX) || s.e < INT32_MIN || s.e > INT32_MAX)
    throw Error("scale = " + s.to_string() + ": the odd mantissa must fit int64 and the exponent int32 (the C ABI cast, 9.3)");
  if (rounding.mode != RoundingMode::sr && word != 0)
    throw Error("word = " + hex32(word) + ": a random word is only used by sr (give 0 for " + rounding_name(rounding) + ")");
  if (overflow == OverflowPolicy::infinity && !element.has_inf())
    throw Error("overflow = infinity needs a grid with an Inf code; " + element.name() + " has none (3.5)");
  if (overflow == OverflowPolicy::nan && !element.has_nan())
    throw Error("overflow = nan needs a grid with a NaN code; " + element.name() + " has none (3.5)");
}

nlohmann::json BreakpointSpec::to_json() const {
  const Dyadic s = scale.normalized();
  return {{"element", full_minifloat_json(element)},
          {"element_name", element.name()},
          {"rounding", rounding_to_json(rounding)},
          {"overflow", to_string(overflow)},
          {"signed_zero", to_string(signed_zero)},
          {"scale", {{"mant", static_cast<int64_t>(s.m)}, {"exp", s.e}}},
          {"word", word},
          {"arith", to_string(arith)}};
}

BreakpointSpec BreakpointSpec::from_json(const nlohmann::json& j) {
  namespace jr = json_read;
  jr::check_keys(j, "spec", {"element", "element_name", "rounding", "overflow", "signed_zero", "scale", "word", "arith"});
  BreakpointSpec s;
  const auto& el = jr::member(j, "element", "spec");
  jr::check_keys(el, "spec.element", {"signed", "exp_bits", "man_bits", "bias", "zero", "specials", "encoding"});
  for (const char* k : {"signed", "exp_bits", "man_bits", "bias", "zero", "specials", "encoding"}) jr::member(el, k, "spec.element");
  s.element = minifloat_from_json(el, GridRole::any, "spec.element");
  const std::string name = jr::string(j, "element_name", "spec");
  if (name != s.element.name())
    throw Error("spec.element_name = \"" + name + "\" does not name spec.element (" + s.element.name() + ")");
  s.rounding = rounding_from_json(jr::member(j, "rounding", "spec"));
  s.overflow = enum_from_name<OverflowPolicy>(jr::string(j, "overflow", "spec"), "spec.overflow");
  s.signed_zero = enum_from_name<SignedZero>(jr::string(j, "signed_zero", "spec"), "spec.signed_zero");
  const auto& sc = jr::member(j, "scale", "spec");
  jr::check_keys(sc, "spec.scale", {"mant", "exp"});
  s.scale = Dyadic(BigInt(jr::integer<int64_t>(sc, "mant", "spec.scale")), jr::integer<int32_t>(sc, "exp", "spec.scale"));
  if (s.scale.normalized().m != s.scale.m || s.scale.normalized().e != s.scale.e)
    throw Error("spec.scale = " + s.scale.to_string() + " is not in lowest terms (an odd mantissa, or 1 * 2^0 ... )");
  s.word = jr::integer<uint32_t>(j, "word", "spec");
  s.arith = enum_from_name<QuantArith>(jr::string(j, "arith", "spec"), "spec.arith");
  s.validate();
  return s;
}

std::string BreakpointSpec::label() const {
  std::string s = element.name() + " " + rounding_name(rounding);
  if (rounding.mode == RoundingMode::sr) s += " word " + hex32(word);
  s += " scale " + scale.normalized().to_string();
  if (overflow != OverflowPolicy::saturate) s += " overflow " + to_string(overflow);
  if (signed_zero != SignedZero::preserve) s += " signed_zero " + to_string(signed_zero);
  if (arith != QuantArith::exact) s += " arith " + to_string(arith);
  return s;
}

BreakpointOutcome breakpoint_outcome(const BreakpointSpec& s, uint32_t x) {
  try {
    const uint32_t w = s.rounding.mode == RoundingMode::sr ? s.word : 0;
    const RoundResult r = s.arith == QuantArith::exact
                              ? round_fp32_input(s.element, x, s.scale, s.rounding, w, s.overflow, s.signed_zero)
                              : quantize_element(element_format(s), x, s.scale, s.rounding, w, s.arith);
    return {static_cast<uint32_t>(r.code), kBreakpointOk};
  } catch (const Error&) {
    return {0, kBreakpointError};
  }
}

InputClass input_class(uint32_t x) {
  const uint32_t m = x & 0x7fffffffu;
  if (m == 0) return InputClass::zero;
  if (m < 0x00800000u) return InputClass::subnormal;
  if (m < 0x7f800000u) return InputClass::normal;
  if (m == 0x7f800000u) return InputClass::inf;
  return InputClass::nan;
}

const std::array<uint32_t, 10>& class_starts() {
  static const std::array<uint32_t, 10> s = [] {
    std::array<uint32_t, 10> a{};
    const uint32_t mags[5] = {0x00000000u, 0x00000001u, 0x00800000u, 0x7f800000u, 0x7f800001u};
    for (int sign = 0; sign < 2; ++sign)
      for (int c = 0; c < 5; ++c) a[sign * 5 + c] = mags[c] | (sign ? 0x80000000u : 0u);
    return a;
  }();
  return s;
}

size_t BreakpointTable::find(uint32_t x) const {
  auto it = std::upper_bound(entries.begin(), entries.end(), x,
                             [](uint32_t v, const BreakpointEntry& e) { return v < e.start; });
  return static_cast<size_t>(it - entries.begin()) - 1;
}

void BreakpointTable::check_structure() const {
  if (entries.empty() || entries[0].start != 0) throw Error("entries: the first entry must start at 0x00000000");
  const auto& cs = class_starts();
  size_t next_class = 0;
  for (size_t k = 0; k < entries.size(); ++k) {
    const BreakpointEntry& e = entries[k];
    const std::string at = "entries[" + std::to_string(k) + "] (start " + hex32(e.start) + ")";
    if (k > 0 && e.start <= entries[k - 1].start) throw Error(at + ": starts must increase");
    if (next_class < cs.size() && cs[next_class] < e.start)
      throw Error("entries: no entry starts the " + to_string(input_class(cs[next_class])) + " inputs at " +
                  hex32(cs[next_class]) + " (11.3)");
    const bool class_start = next_class < cs.size() && cs[next_class] == e.start;
    if (class_start) ++next_class;
    if (k > 0 && !class_start && e.outcome == entries[k - 1].outcome)
      throw Error(at + ": same outcome as the entry before it inside one input class (entries must be merged)");
    if (e.outcome.status != kBreakpointOk && e.outcome.status != kBreakpointError)
      throw Error(at + ": status " + std::to_string(e.outcome.status) + " is not 0 (ok) or 1 (error)");
    if (e.outcome.status == kBreakpointError && e.outcome.code != 0) throw Error(at + ": an error outcome has code 0");
    if (e.outcome.status == kBreakpointOk && !spec.element.is_code(e.outcome.code))
      throw Error(at + ": code " + std::to_string(e.outcome.code) + " is not a code of " + spec.element.name());
  }
  if (next_class != cs.size())
    throw Error("entries: no entry starts the " + to_string(input_class(cs[next_class])) + " inputs at " +
                hex32(cs[next_class]) + " (11.3)");
}

namespace {
// 11.4: the change points of the outcome on [a, b] (one input class of one
// sign), by bisection. With f monotone on [a, b] in the order of 11.2,
// f(a) = f(b) means f is constant on [a, b]; otherwise the halves are
// searched until adjacent patterns differ.
void bisect(const BreakpointSpec& s, uint32_t a, BreakpointOutcome fa, uint32_t b, BreakpointOutcome fb,
            std::vector<BreakpointEntry>& out) {
  struct Seg {
    uint32_t a;
    BreakpointOutcome fa;
    uint32_t b;
    BreakpointOutcome fb;
  };
  std::vector<Seg> stack{{a, fa, b, fb}};  // processed left to right: the right half is pushed first
  while (!stack.empty()) {
    const Seg g = stack.back();
    stack.pop_back();
    if (g.fa == g.fb) continue;  // constant on [a, b]
    if (g.b == g.a + 1) {
      out.push_back({g.b, g.fb});  // the outcome changes at b
      continue;
    }
    const uint32_t m = g.a + (g.b - g.a) / 2;
    const BreakpointOutcome fm = breakpoint_outcome(s, m);
    stack.push_back({m, fm, g.b, g.fb});
    stack.push_back({g.a, g.fa, m, fm});
  }
}
}  // namespace

BreakpointTable compute_breakpoints(const BreakpointSpec& spec, const BreakpointOptions& opt) {
  spec.validate();
  if (spec.element.valid_magnitude_count() > opt.max_magnitudes)
    throw Error("element " + spec.element.name() + " has " + std::to_string(spec.element.valid_magnitude_count()) +
                " magnitudes: more than the " + std::to_string(opt.max_magnitudes) +
                " a breakpoint table is made for (11.4)");
  BreakpointTable t;
  t.spec = spec;
  const auto& cs = class_starts();
  for (size_t c = 0; c < cs.size(); ++c) {
    const uint32_t a = cs[c];
    const uint32_t b = c + 1 < cs.size() ? cs[c + 1] - 1 : 0xffffffffu;
    const BreakpointOutcome fa = breakpoint_outcome(spec, a);
    t.entries.push_back({a, fa});
    if (b != a) bisect(spec, a, fa, b, breakpoint_outcome(spec, b), t.entries);
  }
  t.check_structure();
  return t;
}

int64_t first_difference(const BreakpointTable& a, const BreakpointTable& b) {
  const size_t n = std::min(a.entries.size(), b.entries.size());
  for (size_t k = 0; k < n; ++k)
    if (!(a.entries[k] == b.entries[k])) return static_cast<int64_t>(k);
  return a.entries.size() == b.entries.size() ? -1 : static_cast<int64_t>(n);
}

}  // namespace mls
