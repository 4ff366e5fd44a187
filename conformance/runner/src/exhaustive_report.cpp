// Exhaustive reports (spec/11-exhaustive.md 11.9): the JSON form, the human
// summary, the progress line, merging shards and resumed runs, diagnosis.
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "exhaustive_internal.hpp"
#include "mls/bits.hpp"
#include "mls/conformance/codec.hpp"
#include "mls/conformance/judge.hpp"
#include "mls/json_read.hpp"
#include "mls/vectors/breakpoints_file.hpp"

namespace mls::conformance {

namespace jr = json_read;
using detail::ClassKey;
using detail::Tally;

// ---- ranges and shards ----

namespace {
uint64_t parse_pattern(const std::string& s, const std::string& field, const std::string& whole) {
  const bool hex = s.size() > 2 && (s.rfind("0x", 0) == 0 || s.rfind("0X", 0) == 0);
  const std::string digits = hex ? s.substr(2) : s;
  const char* allowed = hex ? "0123456789abcdefABCDEF" : "0123456789";
  if (digits.empty() || digits.size() > 20 || digits.find_first_not_of(allowed) != std::string::npos)
    throw Error(field + " \"" + whole + "\": \"" + s + "\" is not a bit pattern (hex with 0x, or decimal)");
  uint64_t v = 0;
  for (char c : digits) {
    const uint64_t d = hex ? std::stoull(std::string(1, c), nullptr, 16) : uint64_t(c - '0');
    if (v > (UINT64_MAX - d) / (hex ? 16 : 10))
      throw Error(field + " \"" + whole + "\": " + s + " is outside the fp32 space 0x00000000..0xffffffff");
    v = v * (hex ? 16 : 10) + d;
  }
  if (v > 0xffffffffu) throw Error(field + " \"" + whole + "\": " + s + " is outside the fp32 space 0x00000000..0xffffffff");
  return v;
}

std::string pat(uint64_t v) { return hex32(static_cast<uint32_t>(v)); }
std::string range_text(const PatternRange& r) { return pat(r.first) + ".." + pat(r.last); }

nlohmann::json range_json(const PatternRange& r) { return nlohmann::json::array({pat(r.first), pat(r.last)}); }
PatternRange range_from_json(const nlohmann::json& j, const std::string& field) {
  if (!j.is_array() || j.size() != 2 || !j[0].is_string() || !j[1].is_string())
    throw Error(field + " must be [\"0x........\", \"0x........\"]");
  PatternRange r{parse_pattern(j[0].get<std::string>(), field, j.dump()), parse_pattern(j[1].get<std::string>(), field, j.dump())};
  if (r.last < r.first) throw Error(field + ": the last pattern is below the first");
  return r;
}

std::string status_name(uint8_t st) {
  switch (st) {
    case 0: return "ok";
    case 1: return "error";
    case 2: return "unsupported";
    case 3: return "buffer";
    case 4: return "internal";
    default: return "status " + std::to_string(st);
  }
}
uint8_t status_from_name(const std::string& s, const std::string& field) {
  for (int i = 0; i < 5; ++i)
    if (status_name(static_cast<uint8_t>(i)) == s) return static_cast<uint8_t>(i);
  if (s.rfind("status ", 0) == 0 && s.size() > 7 && s.size() <= 10 && s.find_first_not_of("0123456789", 7) == std::string::npos) {
    const int v = std::stoi(s.substr(7));
    if (v < 256) return static_cast<uint8_t>(v);
  }
  throw Error(field + " = \"" + s + "\" is not a status (ok, error, unsupported, buffer, internal, status N)");
}

nlohmann::json outcome_json(uint8_t status, uint32_t code) {
  nlohmann::json j{{"status", status_name(status)}};
  if (status == 0) j["code"] = code;
  return j;
}
}  // namespace

PatternRange parse_pattern_range(const std::string& text, const std::string& field) {
  const size_t c = text.find(':');
  if (c == std::string::npos || text.find(':', c + 1) != std::string::npos)
    throw Error(field + " \"" + text + "\" is not of the form FIRST:LAST (inclusive bit patterns, e.g. 0x3f800000:0x3fffffff)");
  PatternRange r{parse_pattern(text.substr(0, c), field, text), parse_pattern(text.substr(c + 1), field, text)};
  if (r.last < r.first) throw Error(field + " \"" + text + "\": the last pattern is below the first");
  return r;
}

PatternRange shard_part(const PatternRange& r, int index, int count) {
  if (count < 1 || static_cast<uint64_t>(count) > r.size())
    throw Error("--shard " + std::to_string(index) + "/" + std::to_string(count) + ": N must be 1.." +
                std::to_string(r.size()) + " (the inputs of the range)");
  if (index < 0 || index >= count)
    throw Error("--shard " + std::to_string(index) + "/" + std::to_string(count) + ": i must be 0.." + std::to_string(count - 1));
  const uint64_t n = r.size();
  const uint64_t a = r.first + n * uint64_t(index) / uint64_t(count);
  const uint64_t b = r.first + n * uint64_t(index + 1) / uint64_t(count) - 1;
  return {a, b};
}

// ---- tallies ----

namespace detail {

std::string kind_name(ClassKey::Kind k) {
  return k == ClassKey::element ? "element" : k == ClassKey::group_scale ? "group_scale" : "tensor_scale";
}
ClassKey::Kind kind_from_name(const std::string& s, const std::string& field) {
  for (auto k : {ClassKey::element, ClassKey::group_scale, ClassKey::tensor_scale})
    if (kind_name(k) == s) return k;
  throw Error(field + " = \"" + s + "\" is not one of element, group_scale, tensor_scale");
}

void Tally::add(const ClassKey& k, uint32_t x, size_t first_inputs) {
  if (k.kind != ClassKey::element) ++scale_mismatches;
  else if (k.got_status == 0 || k.got_status == 1) ++mismatched;
  else ++backend_failures;
  ClassAcc& a = classes[k];
  ++a.count;
  if (a.first.size() < first_inputs) a.first.push_back(x);
}

void Tally::merge(const Tally& o, size_t first_inputs) {
  matched += o.matched;
  mismatched += o.mismatched;
  skipped += o.skipped;
  backend_failures += o.backend_failures;
  out_of_reach += o.out_of_reach;
  scale_mismatches += o.scale_mismatches;
  classes_dropped += o.classes_dropped;
  for (const auto& [k, a] : o.classes) {
    ClassAcc& m = classes[k];
    m.count += a.count;
    std::vector<uint32_t> f;
    std::merge(m.first.begin(), m.first.end(), a.first.begin(), a.first.end(), std::back_inserter(f));
    f.erase(std::unique(f.begin(), f.end()), f.end());
    if (f.size() > first_inputs) f.resize(first_inputs);
    m.first = std::move(f);
  }
  for (const auto& s : o.failure_messages)
    if (failure_messages.size() < 3) failure_messages.push_back(s);
}

std::vector<PatternRange> join_ranges(std::vector<PatternRange> r) {
  std::sort(r.begin(), r.end(), [](const PatternRange& a, const PatternRange& b) { return a.first < b.first; });
  std::vector<PatternRange> out;
  for (const auto& x : r) {
    if (!out.empty() && x.first <= out.back().last + 1) out.back().last = std::max(out.back().last, x.last);
    else out.push_back(x);
  }
  return out;
}

void fill_from_tally(ExhaustiveReport& r, const Tally& t, size_t max_classes) {
  r.matched = t.matched;
  r.mismatched = t.mismatched;
  r.skipped = t.skipped;
  r.backend_failures = t.backend_failures;
  r.out_of_reach = t.out_of_reach;
  r.scale_mismatches = t.scale_mismatches;
  r.checked = t.matched + t.mismatched + t.backend_failures;
  r.classes.clear();
  for (const auto& [k, a] : t.classes) {
    MismatchClass c;
    c.kind = kind_name(k.kind);
    c.expected = {k.want_code, k.want_status};
    c.got_status = k.got_status;
    c.got_code = k.got_code;
    c.count = a.count;
    c.first = a.first;
    r.classes.push_back(std::move(c));
  }
  std::sort(r.classes.begin(), r.classes.end(), [](const MismatchClass& a, const MismatchClass& b) {
    return std::tie(a.first[0], a.kind, a.got_code) < std::tie(b.first[0], b.kind, b.got_code);
  });
  r.classes_dropped = t.classes_dropped;
  if (r.classes.size() > max_classes) {
    r.classes_dropped += r.classes.size() - max_classes;
    r.classes.resize(max_classes);
  }
}

Tally tally_of(const ExhaustiveReport& r) {
  Tally t;
  t.matched = r.matched;
  t.mismatched = r.mismatched;
  t.skipped = r.skipped;
  t.backend_failures = r.backend_failures;
  t.out_of_reach = r.out_of_reach;
  t.scale_mismatches = r.scale_mismatches;
  t.classes_dropped = r.classes_dropped;
  for (const auto& c : r.classes) {
    ClassKey k{kind_from_name(c.kind, "class.kind"), c.expected.status, c.expected.code, c.got_status, c.got_code};
    ClassAcc& a = t.classes[k];
    a.count += c.count;
    a.first = c.first;
  }
  return t;
}

}  // namespace detail

// ---- the report ----

PatternRange ExhaustiveReport::target() const {
  return shard ? shard_part(requested, shard->first, shard->second) : requested;
}

bool ExhaustiveReport::complete() const { return covered.size() == 1 && covered[0] == target(); }

std::string ExhaustiveReport::result() const {
  if (backend_failures > 0) return "backend_failure";
  if (mismatched > 0 || scale_mismatches > 0) return "mismatch";
  if (!complete()) return "incomplete";
  if (checked == 0) return "backend_failure";  // nothing could be compared (10.4)
  return "pass";
}

int ExhaustiveReport::exit_code() const {
  const std::string r = result();
  return r == "pass" ? 0 : r == "mismatch" ? 1 : 2;
}

nlohmann::json ExhaustiveReport::to_json() const {
  nlohmann::json cov = nlohmann::json::array();
  for (const auto& c : covered) cov.push_back(range_json(c));
  nlohmann::json cls = nlohmann::json::array();
  for (const auto& c : classes) {
    nlohmann::json f = nlohmann::json::array();
    for (uint32_t x : c.first) f.push_back(hex32(x));
    nlohmann::json j{{"kind", c.kind}, {"expected", outcome_json(c.expected.status, c.expected.code)},
                     {"got", outcome_json(c.got_status, c.got_code)}, {"count", c.count}, {"first_inputs", f},
                     {"input_class", to_string(input_class(c.first.at(0)))}};
    if (!c.cause_id.empty()) {
      j["cause_id"] = c.cause_id;
      j["cause"] = c.cause;
    }
    if (!c.detail.is_null()) j["detail"] = c.detail;
    cls.push_back(std::move(j));
  }
  nlohmann::json j{{"schema", "mls-exhaustive-report"},
                   {"schema_version", 1},
                   {"table", {{"spec", spec.to_json()}, {"label", spec.label()}, {"table_sha256", table_sha256}}},
                   {"implementation", implementation},
                   {"stage", stage},
                   {"requested", range_json(requested)},
                   {"covered", cov},
                   {"complete", complete()},
                   {"inputs", {{"checked", checked}, {"matched", matched}, {"mismatched", mismatched},
                               {"skipped", skipped}, {"backend_failures", backend_failures}, {"out_of_reach", out_of_reach},
                               {"scale_mismatches", scale_mismatches}}},
                   {"classes", cls},
                   {"classes_dropped", classes_dropped},
                   {"diagnosis", diagnosis},
                   {"result", result()},
                   {"exit_code", exit_code()},
                   {"run", run}};
  if (shard) j["shard"] = {{"index", shard->first}, {"count", shard->second}};
  return j;
}

ExhaustiveReport ExhaustiveReport::from_json(const nlohmann::json& j, const std::string& w) {
  jr::check_keys(j, w, {"schema", "schema_version", "table", "implementation", "stage", "requested", "covered", "complete",
                        "inputs", "classes", "classes_dropped", "diagnosis", "result", "exit_code", "run", "shard"});
  if (jr::string(j, "schema", w) != "mls-exhaustive-report")
    throw Error(w + ": schema = \"" + j["schema"].get<std::string>() + "\" is not \"mls-exhaustive-report\"");
  if (jr::integer<int64_t>(j, "schema_version", w) != 1)
    throw Error(w + ": unknown schema_version " + j["schema_version"].dump() + " (this reader knows version 1)");
  ExhaustiveReport r;
  const auto& t = jr::member(j, "table", w);
  jr::check_keys(t, w + ".table", {"spec", "label", "table_sha256"});
  try {
    r.spec = BreakpointSpec::from_json(jr::member(t, "spec", w + ".table"));
  } catch (const Error& e) {
    throw Error(w + ".table: " + e.what());
  }
  r.table_sha256 = jr::string(t, "table_sha256", w + ".table");
  if (r.table_sha256.size() != 64 || r.table_sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw Error(w + ".table.table_sha256 must be 64 lowercase hex digits");
  r.implementation = jr::string(j, "implementation", w);
  r.stage = jr::member(j, "stage", w);
  jr::check_object(r.stage, w + ".stage");
  r.requested = range_from_json(jr::member(j, "requested", w), w + ".requested");
  if (j.contains("shard")) {
    const auto& s = j["shard"];
    jr::check_keys(s, w + ".shard", {"index", "count"});
    r.shard = std::make_pair(jr::integer<int>(s, "index", w + ".shard"), jr::integer<int>(s, "count", w + ".shard"));
    r.target();  // checks the shard
  }
  const auto& cov = jr::member(j, "covered", w);
  if (!cov.is_array()) throw Error(w + ".covered must be an array of ranges");
  for (size_t i = 0; i < cov.size(); ++i) r.covered.push_back(range_from_json(cov[i], w + ".covered[" + std::to_string(i) + "]"));
  const auto joined = detail::join_ranges(r.covered);
  if (joined.size() != r.covered.size()) throw Error(w + ".covered: ranges must be sorted, disjoint and not adjacent");
  const auto& in = jr::member(j, "inputs", w);
  jr::check_keys(in, w + ".inputs",
                 {"checked", "matched", "mismatched", "skipped", "backend_failures", "out_of_reach", "scale_mismatches"});
  r.checked = jr::integer<uint64_t>(in, "checked", w + ".inputs");
  r.matched = jr::integer<uint64_t>(in, "matched", w + ".inputs");
  r.mismatched = jr::integer<uint64_t>(in, "mismatched", w + ".inputs");
  r.skipped = jr::integer<uint64_t>(in, "skipped", w + ".inputs");
  r.backend_failures = jr::integer<uint64_t>(in, "backend_failures", w + ".inputs");
  r.out_of_reach = jr::integer<uint64_t>(in, "out_of_reach", w + ".inputs");
  r.scale_mismatches = jr::integer<uint64_t>(in, "scale_mismatches", w + ".inputs");
  if (r.checked != r.matched + r.mismatched + r.backend_failures)
    throw Error(w + ".inputs: checked = " + std::to_string(r.checked) + " is not matched + mismatched + backend_failures");
  uint64_t cov_n = 0;
  for (const auto& c : r.covered) cov_n += c.size();
  if (cov_n != r.checked + r.skipped + r.out_of_reach)
    throw Error(w + ": covered holds " + std::to_string(cov_n) + " inputs but checked + skipped + out_of_reach = " +
                std::to_string(r.checked + r.skipped + r.out_of_reach));
  const auto& cls = jr::member(j, "classes", w);
  if (!cls.is_array()) throw Error(w + ".classes must be an array");
  uint64_t in_classes = 0;
  for (size_t i = 0; i < cls.size(); ++i) {
    const std::string cw = w + ".classes[" + std::to_string(i) + "]";
    const auto& c = cls[i];
    jr::check_keys(c, cw, {"kind", "expected", "got", "count", "first_inputs", "input_class", "cause_id", "cause", "detail"});
    MismatchClass m;
    m.kind = detail::kind_name(detail::kind_from_name(jr::string(c, "kind", cw), cw + ".kind"));
    auto outcome = [&](const char* key, uint8_t& st, uint32_t& code) {
      const auto& o = jr::member(c, key, cw);
      jr::check_keys(o, cw + "." + key, {"status", "code"});
      st = status_from_name(jr::string(o, "status", cw + "." + key), cw + "." + key + ".status");
      code = st == 0 ? jr::integer<uint32_t>(o, "code", cw + "." + key) : 0;
    };
    outcome("expected", m.expected.status, m.expected.code);
    if (m.expected.status > 1) throw Error(cw + ".expected.status must be ok or error");
    outcome("got", m.got_status, m.got_code);
    m.count = jr::integer<uint64_t>(c, "count", cw);
    const auto& f = jr::member(c, "first_inputs", cw);
    if (!f.is_array() || f.empty()) throw Error(cw + ".first_inputs must be a non-empty array");
    for (size_t k = 0; k < f.size(); ++k) {
      if (!f[k].is_string()) throw Error(cw + ".first_inputs[" + std::to_string(k) + "] must be a hex string");
      m.first.push_back(static_cast<uint32_t>(parse_pattern(f[k].get<std::string>(), cw + ".first_inputs", f[k].get<std::string>())));
      if (k > 0 && m.first[k] <= m.first[k - 1]) throw Error(cw + ".first_inputs must increase");
    }
    if (m.count < m.first.size()) throw Error(cw + ".count is below the number of first_inputs");
    if (c.contains("cause_id")) m.cause_id = jr::string(c, "cause_id", cw);
    if (c.contains("cause")) m.cause = jr::string(c, "cause", cw);
    if (c.contains("detail")) m.detail = c["detail"];
    in_classes += m.count;
    r.classes.push_back(std::move(m));
  }
  r.classes_dropped = jr::integer<uint64_t>(j, "classes_dropped", w);
  if (r.classes_dropped == 0 && in_classes != r.mismatched + r.backend_failures + r.scale_mismatches)
    throw Error(w + ": the classes hold " + std::to_string(in_classes) +
                " but mismatched + backend_failures + scale_mismatches = " +
                std::to_string(r.mismatched + r.backend_failures + r.scale_mismatches));
  if (j.contains("diagnosis")) r.diagnosis = j["diagnosis"];
  if (j.contains("run")) r.run = j["run"];
  return r;
}

// ---- diagnosis ----

namespace {
nlohmann::json golden_message(const BreakpointSpec& s, uint32_t x) {
  try {
    const uint32_t w = s.rounding.mode == RoundingMode::sr ? s.word : 0;
    round_fp32_input(s.element, x, s.scale, s.rounding, w, s.overflow, s.signed_zero);
    return nullptr;
  } catch (const Error& e) {
    return e.what();
  }
}

void diagnose_round(const ExhaustiveReport& r, MismatchClass& c) {
  RoundCase rc;
  rc.element = r.spec.element;
  rc.rounding = r.spec.rounding;
  rc.overflow = r.spec.overflow;
  rc.signed_zero = r.spec.signed_zero;
  rc.scale = r.spec.scale;
  rc.x = c.first;
  if (rc.rounding.mode == RoundingMode::sr) rc.rand.assign(rc.x.size(), r.spec.word);
  const CodesResult got{std::vector<uint32_t>(rc.x.size(), c.got_code)};
  const Verdict v = judge_round(rc, golden_round(rc), got);
  c.cause_id = v.cause_id;
  c.cause = v.cause;
  c.detail = v.detail;
}

void diagnose_quantize(const ExhaustiveReport& r, MismatchClass& c) {
  const QuantizeStage st = QuantizeStage::from_json(r.stage, "stage");
  QuantizeCase q;
  q.format = st.format;
  q.rounding = r.spec.rounding;
  q.arith = r.spec.arith;
  q.x.push_back(st.anchor);
  for (uint32_t x : c.first) q.x.push_back(x);
  const int64_t n = static_cast<int64_t>(q.x.size());
  q.shape = {1, n};
  if (q.rounding.mode == RoundingMode::sr) q.rand.assign(q.x.size(), r.spec.word);
  q.static_tensor_scale = st.tensor_scale;
  const QuantizeResult want = golden_quantize(q);
  QuantizeResult got = want;
  if (c.kind == "element")
    for (size_t i = 1; i < got.elements.size(); ++i) got.elements[i] = c.got_code;
  else if (c.kind == "group_scale")
    for (auto& g : got.group_scales) g = c.got_code;
  else
    got.tensor_scale = c.got_code;
  const Verdict v = judge_quantize(q, want, got);
  c.cause_id = v.cause_id;
  c.cause = v.cause;
  c.detail = v.detail;
}
}  // namespace

namespace {
// The hypotheses that reproduce the first input of every element class with
// both statuses ok, taken together as one case.
std::vector<int> overall_candidates(const ExhaustiveReport& r, bool quantize, size_t* used) {
  std::vector<const MismatchClass*> cls;
  for (const auto& c : r.classes)
    if (c.kind == "element" && c.expected.status == kBreakpointOk && c.got_status == 0 && cls.size() < 64) cls.push_back(&c);
  *used = cls.size();
  if (cls.size() < 2) return {};
  if (!quantize) {
    RoundCase rc;
    rc.element = r.spec.element;
    rc.rounding = r.spec.rounding;
    rc.overflow = r.spec.overflow;
    rc.signed_zero = r.spec.signed_zero;
    rc.scale = r.spec.scale;
    CodesResult got;
    for (const MismatchClass* c : cls) {
      rc.x.push_back(c->first[0]);
      got.codes.push_back(c->got_code);
    }
    if (rc.rounding.mode == RoundingMode::sr) rc.rand.assign(rc.x.size(), r.spec.word);
    return matching_round_hypotheses(rc, got);
  }
  const QuantizeStage st = QuantizeStage::from_json(r.stage, "stage");
  QuantizeCase q;
  q.format = st.format;
  q.rounding = r.spec.rounding;
  q.arith = r.spec.arith;
  q.x.push_back(st.anchor);
  for (const MismatchClass* c : cls) q.x.push_back(c->first[0]);
  q.shape = {1, static_cast<int64_t>(q.x.size())};
  if (q.rounding.mode == RoundingMode::sr) q.rand.assign(q.x.size(), r.spec.word);
  q.static_tensor_scale = st.tensor_scale;
  QuantizeResult got = golden_quantize(q);
  for (size_t i = 0; i < cls.size(); ++i) got.elements[i + 1] = cls[i]->got_code;
  return matching_hypotheses(q, got);
}
}  // namespace

void diagnose_exhaustive(ExhaustiveReport& r) {
  const bool quantize = r.stage.value("op", "round") == "quantize";
  r.diagnosis = nullptr;
  try {
    size_t used = 0;
    const std::vector<int> all = overall_candidates(r, quantize, &used);
    if (!all.empty()) {
      Verdict v;
      set_cause(v, all.front());
      r.diagnosis = {{"cause_id", v.cause_id}, {"cause", v.cause}, {"classes", used}};
    }
  } catch (const Error&) {
  }
  for (auto& c : r.classes) {
    c.detail = nullptr;
    if (c.got_status > 1) {
      c.cause_id = "backend_failure";
      c.cause = "the backend answered status " + status_name(c.got_status) +
                " (not a result, not an input error): a backend failure (10.5)";
      continue;
    }
    if (c.expected.status == kBreakpointOk && c.got_status == 1) {
      c.cause_id = "rejected_valid";
      c.cause = "the backend rejected (MLS_ERR_INPUT) inputs the spec gives a code";
      continue;
    }
    if (c.expected.status == kBreakpointError) {
      c.cause_id = "accepted_invalid";
      c.cause = "the backend answered a code where the spec makes the input an error";
      c.detail = {{"x", hex32(c.first[0])}, {"spec_error", golden_message(r.spec, c.first[0])}, {"got_code", c.got_code}};
      continue;
    }
    try {
      if (quantize) diagnose_quantize(r, c);
      else diagnose_round(r, c);
    } catch (const Error& e) {
      c.cause_id = "unknown";
      c.cause = std::string("no diagnosis: ") + e.what();
    }
  }
}

// ---- merging ----

ExhaustiveReport merge_exhaustive(const std::vector<ExhaustiveReport>& parts, const std::vector<std::string>& names,
                                  bool require_complete) {
  if (parts.empty()) throw Error("merge: no reports");
  auto name = [&](size_t i) { return i < names.size() ? names[i] : "report " + std::to_string(i + 1); };
  const ExhaustiveReport& a = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    const ExhaustiveReport& b = parts[i];
    auto differ = [&](const std::string& what, const std::string& x, const std::string& y) {
      throw Error("merge: " + name(i) + " is of another check than " + name(0) + ": " + what + " " + y + " vs " + x);
    };
    if (b.table_sha256 != a.table_sha256) differ("table_sha256", a.table_sha256, b.table_sha256);
    if (b.implementation != a.implementation) differ("implementation", a.implementation, b.implementation);
    if (b.stage != a.stage) differ("stage", a.stage.dump(), b.stage.dump());
    if (!(b.requested == a.requested)) differ("requested range", range_text(a.requested), range_text(b.requested));
    if (!require_complete && b.shard != a.shard) differ("shard", "", "");
  }
  struct Piece {
    PatternRange r;
    size_t part;
  };
  std::vector<Piece> pieces;
  for (size_t i = 0; i < parts.size(); ++i) {
    for (const auto& c : parts[i].covered) {
      const PatternRange t = parts[i].target();
      if (c.first < t.first || c.last > t.last)
        throw Error("merge: " + name(i) + " covers " + range_text(c) + ", outside its part " + range_text(t));
      pieces.push_back({c, i});
    }
  }
  std::sort(pieces.begin(), pieces.end(), [](const Piece& x, const Piece& y) { return x.r.first < y.r.first; });
  for (size_t k = 1; k < pieces.size(); ++k)
    if (pieces[k].r.first <= pieces[k - 1].r.last)
      throw Error("merge: inputs " + range_text({pieces[k].r.first, std::min(pieces[k].r.last, pieces[k - 1].r.last)}) +
                  " are in both " + name(pieces[k - 1].part) + " and " + name(pieces[k].part) +
                  " (the same shard twice, or overlapping ranges)");
  ExhaustiveReport m = a;
  std::vector<PatternRange> all;
  for (const auto& p : pieces) all.push_back(p.r);
  m.covered = detail::join_ranges(all);
  if (require_complete) {
    m.shard.reset();
    const std::vector<PatternRange> want{m.requested};
    if (m.covered != want) {
      uint64_t pos = m.requested.first;
      PatternRange gap{pos, m.requested.last};
      for (const auto& c : m.covered) {
        if (c.first > pos) {
          gap = {pos, c.first - 1};
          break;
        }
        pos = c.last + 1;
        gap = {pos, m.requested.last};
      }
      throw Error("merge: the reports do not cover the requested range " + range_text(m.requested) + ": inputs " +
                  range_text(gap) + " are in none of them (a shard is missing or incomplete)");
    }
  }
  Tally t;
  size_t first_inputs = 1;
  for (const auto& p : parts) {
    for (const auto& c : p.classes) first_inputs = std::max(first_inputs, c.first.size());
    t.merge(detail::tally_of(p), SIZE_MAX);
  }
  for (auto& [k, acc] : t.classes)
    if (acc.first.size() > first_inputs) acc.first.resize(first_inputs);
  detail::fill_from_tally(m, t, SIZE_MAX);
  nlohmann::json from = nlohmann::json::array();
  double seconds = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    from.push_back(name(i));
    if (parts[i].run.contains("seconds") && parts[i].run["seconds"].is_number()) seconds += parts[i].run["seconds"].get<double>();
  }
  m.run = {{"merged_from", from}, {"sum_of_seconds", seconds}};
  diagnose_exhaustive(m);
  return m;
}

// ---- for people ----

void ExhaustiveReport::print_summary(std::ostream& os) const {
  uint64_t cov = 0;
  for (const auto& c : covered) cov += c.size();
  const PatternRange t = target();
  os << "exhaustive check: " << implementation << " against the table of " << spec.label() << " ("
     << stage.value("op", "round") << ", table_sha256 " << table_sha256.substr(0, 16) << "...)\n";
  os << "  range " << range_text(t) << (t == kAllPatterns ? " (all 2^32 fp32 inputs)" : "");
  if (shard) os << ", shard " << shard->first << "/" << shard->second << " of " << range_text(requested);
  os << ": covered " << cov << " of " << t.size() << " inputs" << (complete() ? "" : " (INCOMPLETE)") << "\n";
  os << "  checked " << checked << ": " << matched << " matched, " << mismatched << " mismatched, " << backend_failures
     << " backend failures; " << skipped << " skipped (unsupported)";
  if (out_of_reach) os << ", " << out_of_reach << " out of reach of the fixed group scale";
  if (scale_mismatches) os << "; " << scale_mismatches << " groups with a wrong tensor or group scale";
  os << "\n";
  for (size_t i = 0; i < classes.size(); ++i) {
    const MismatchClass& c = classes[i];
    os << "  MISMATCH class " << i + 1 << ": " << c.count << " inputs (" << c.kind << "), expected "
       << (c.expected.status ? std::string("an input error") : "code " + std::to_string(c.expected.code) + " (" + hex32(c.expected.code) + ")")
       << ", got " << (c.got_status ? "status " + status_name(c.got_status) : "code " + std::to_string(c.got_code) + " (" + hex32(c.got_code) + ")")
       << "\n    first inputs:";
    for (uint32_t x : c.first) os << " " << hex32(x);
    os << "\n";
    if (!c.cause_id.empty()) os << "    likely cause [" << c.cause_id << "]: " << c.cause << "\n";
    if (!c.detail.is_null()) os << "    first input step by step: " << c.detail.dump() << "\n";
  }
  if (classes_dropped) os << "  ... " << classes_dropped << " more classes (counted above, not listed)\n";
  if (diagnosis.is_object())
    os << "  likely cause of all " << diagnosis.value("classes", 0) << " classes together [" << diagnosis.value("cause_id", "")
       << "]: " << diagnosis.value("cause", "") << "\n";
  if (run.contains("inputs_per_s")) {
    os << std::fixed << std::setprecision(1) << "  " << run["inputs_per_s"].get<double>() / 1e6 << " M inputs/s";
    if (run.contains("baseline_inputs_per_s"))
      os << " (a loop that only reads the inputs: " << run["baseline_inputs_per_s"].get<double>() / 1e6 << " M/s)";
    os << ", " << std::setprecision(2) << run.value("seconds", 0.0) << " s on " << run.value("threads", 0) << " threads\n";
    os.unsetf(std::ios::floatfield);
  }
  const std::string res = result();
  os << "result: " << (res == "pass" ? "PASS" : res == "mismatch" ? "MISMATCH" : res == "incomplete" ? "INCOMPLETE" : "BACKEND FAILURE")
     << "\n";
}

}  // namespace mls::conformance
