// The campaign loop (spec/10-conformance.md 10.2-10.6): one case at a time
// through the backend and the judge, failures disambiguated, shrunk and
// saved, backend failures counted, results streamed to the sink.
#include "mls/conformance/campaign.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "mls/conformance/generate.hpp"
#include "mls/error.hpp"
#include "mls/interrupt.hpp"
#include "shrink.hpp"

namespace mls::conformance {

bool CaseResult::passed() const {
  if (status == Status::rejected) return golden_rejects;
  return status == Status::ok && !golden_rejects && verdict.pass;
}

nlohmann::json CaseResult::to_json() const {
  nlohmann::json j{{"status", to_string(status)}, {"passed", passed()}};
  if (!message.empty()) j["message"] = message;
  if (golden_rejects) j["golden_rejects"] = true;
  if (status == Status::ok && !golden_rejects) j["verdict"] = verdict.to_json();
  return j;
}

void count_progress(progress::Meter* m, const CaseResult& r) {
  if (!m) return;
  if (r.status == Status::failure) m->add_failure();
  else if (r.status == Status::unsupported) m->add_skipped();
  else if (!r.passed()) m->add_mismatch();
  m->add();
}

void CampaignReport::mark_interrupted() {
  interrupted = true;
  interrupt_signal = interrupt::signal_name();
  interrupt_exit = interrupt::exit_code();
}

uint64_t CampaignReport::cases_done() const {
  uint64_t n = 0;
  for (const auto& [op, t] : per_op) n += static_cast<uint64_t>(t.passed + t.mismatched + t.skipped + t.backend_failures);
  return n;
}

void Tally::add(const CaseResult& r) {
  switch (r.status) {
    case Status::unsupported: ++skipped; return;
    case Status::failure: ++backend_failures; return;
    default: break;
  }
  if (r.passed()) ++passed; else ++mismatched;
  if (r.status == Status::ok && !r.golden_rejects) {
    if (static_cast<int>(r.verdict.tier) > static_cast<int>(worst_tier)) worst_tier = r.verdict.tier;
    if (!std::isfinite(r.verdict.worst_ulps) || r.verdict.worst_ulps > worst_ulps) worst_ulps = r.verdict.worst_ulps;
  }
}

namespace {

// The backend's answer and the golden one for a case of op `c.op`, judged.
template <class T, class Golden, class Judge>
CaseResult judge_answer(const Outcome<T>& o, Golden golden, Judge judge) {
  CaseResult r;
  r.status = o.status;
  r.message = o.message;
  if (o.status == Status::unsupported || o.status == Status::failure) return r;
  try {
    const auto expected = golden();
    if (o.status == Status::ok) {
      r.verdict = judge(expected, o.value);
    } else {
      r.verdict.pass = false;
      r.verdict.cause_id = "rejected_valid";
      r.verdict.cause = "the backend rejected a valid case: " + o.message;
    }
  } catch (const Error& e) {
    r.golden_rejects = true;
    if (r.status == Status::ok) {
      r.verdict.pass = false;
      r.verdict.cause_id = "accepted_invalid";
      r.verdict.cause = std::string("the backend answered a case the spec makes an error: ") + e.what();
    }
  }
  return r;
}

CaseResult run_case_raw(Backend& backend, const Case& c, const TierRequirement& tier) {
  if (auto why = backend.capabilities().declines(c)) {
    CaseResult r;
    r.status = Status::unsupported;
    r.message = *why;
    return r;
  }
  switch (c.op) {
    case Op::round:
      return judge_answer(backend.round(c.round), [&] { return golden_round(c.round); },
                          [&](const CodesResult& e, const CodesResult& g) { return judge_round(c.round, e, g); });
    case Op::quantize:
      return judge_answer(backend.quantize(c.q), [&] { return golden_quantize(c.q); },
                          [&](const QuantizeResult& e, const QuantizeResult& g) { return judge_quantize(c.q, e, g); });
    case Op::dequantize:
      return judge_answer(backend.dequantize(c.t), [&] { return 0; },
                          [&](int, const TensorResult& g) { return judge_dequantize(c.t, g); });
    case Op::conv2d:
    case Op::gemm:
      return judge_answer(backend.conv(c.conv), [&] { return golden_conv(c.conv); },
                          [&](const ReductionResult& e, const TensorResult& g) { return judge_conv(c.conv, e, g, tier); });
  }
  return {};
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void print_failure(std::ostream& log, const std::string& op, const Case& c, const CaseResult& r,
                   const detail::Shrunk* s, const std::string& saved) {
  log << "MISMATCH " << op << ": " << c.summary() << "\n";
  if (s) log << "  shrunk in " << s->steps << " steps (" << s->calls << " backend calls) to " << s->c.summary() << "\n";
  print_mismatch(log, s ? s->r : r);
  if (!saved.empty()) log << "  replay: mls check --replay " << saved << " <backend>\n";
}

nlohmann::json failure_entry(const CaseResult& r, const Case& c, int64_t index) {
  nlohmann::json f = r.to_json();
  f["summary"] = c.summary();
  f["case_index"] = index;
  f["cause"] = r.verdict.cause;
  f["cause_id"] = r.verdict.cause_id;
  return f;
}

// Counts consecutive backend failures; true when the run must stop (10.5).
struct FailureStreak {
  int64_t limit, n = 0;
  bool add(const CaseResult& r) {
    n = r.status == Status::failure ? n + 1 : 0;
    return limit > 0 && n >= limit;
  }
};

// Several deviations explain the failing case: run further cases until the
// backend's answers leave one (a differential diagnosis, 10.7).
void disambiguate(Backend& backend, Op op, uint64_t seed, int64_t i, const GeneratorOptions& gopt, int64_t budget,
                  CaseResult& r, std::ostream& log) {
  std::vector<int> cand = r.verdict.candidates;
  int64_t extra = 0;
  for (int64_t j = 1; j <= budget && cand.size() > 1 && !interrupt::requested(); ++j) {
    Case d;
    try {
      d = generate_case(op, seed ^ 0x9e3779b97f4a7c15ull, i * 1000 + j, gopt);
    } catch (const Error&) {
      continue;
    }
    ++extra;
    std::vector<int> keep;
    if (op == Op::quantize) {
      auto o = backend.quantize(d.q);
      if (o.status != Status::ok) continue;
      keep = matching_hypotheses(d.q, o.value, &cand);
    } else {
      auto o = backend.round(d.round);
      if (o.status != Status::ok) continue;
      keep = matching_round_hypotheses(d.round, o.value, &cand);
    }
    if (!keep.empty()) cand = keep;
  }
  set_cause(r.verdict, cand.front());
  r.verdict.candidates = cand;
  log << "  (" << to_string(op) << " case " << i << ": " << cand.size() << " candidate cause(s) left after " << extra
      << " disambiguating cases)\n";
}

}  // namespace

CaseResult run_case(Backend& backend, const Case& c, const TierRequirement& tier) {
  CaseResult r = run_case_raw(backend, c, tier);
  if (r.status == Status::ok && r.verdict.cause_id == "wrong_shape") {
    // Arrays of the wrong length are a malformed answer (spec 7.5), not a mismatch.
    r.status = Status::failure;
    r.message = "malformed reply: " + r.verdict.cause;
  }
  return r;
}

CampaignReport run_random_campaign(Backend& backend, const CampaignOptions& opt, const CaseSink& sink, std::ostream& log) {
  CampaignReport rep;
  const auto t0 = std::chrono::steady_clock::now();
  rep.backend = backend.describe();
  try {
    rep.backend = backend.capabilities().name + " (" + backend.describe() + ")";
  } catch (const Error& e) {
    rep.aborted = true;
    rep.abort_reason = e.what();
    return rep;
  }
  const GeneratorOptions gopt{opt.formats, opt.modes, opt.arith};
  FailureStreak streak{opt.limits.max_backend_failures};
  progress::Meter* const meter = opt.progress;
  rep.cases_planned = static_cast<uint64_t>(std::max<int64_t>(0, opt.cases)) * opt.ops.size();
  if (meter) meter->set_total(rep.cases_planned);
  uint64_t op_start = 0;  // the meter's count where this op began
  for (const auto& op_name : opt.ops) {
    const Op op = enum_from_name<Op>(op_name, "--ops");
    Tally& tally = rep.per_op[op_name];
    if (meter) {
      meter->set_label("check " + op_name);
      meter->set_done(op_start);
    }
    op_start += static_cast<uint64_t>(std::max<int64_t>(0, opt.cases));
    if (!backend.capabilities().supports_op(op)) {
      tally.skipped = opt.cases;
      if (meter) meter->add_skipped(opt.cases);
      log << "skip " << op_name << ": the backend does not declare it\n";
      continue;
    }
    int64_t mismatches = 0;
    for (int64_t i = 0; i < opt.cases; ++i) {
      if (interrupt::requested()) {  // a case boundary: the report so far (10.8)
        rep.mark_interrupted();
        break;
      }
      const rc::Shrinkable<Case> sh = generate_shrinkable(op, opt.seed, i, gopt);
      Case c;
      try {
        c = sh.value();
      } catch (const Error& e) {
        throw Error("case generator failed for " + op_name + " case " + std::to_string(i) + ": " + e.what());
      }
      CaseResult r = run_case(backend, c, opt.tier);
      if (r.status == Status::failure)
        log << "BACKEND FAILURE on " << op_name << " case " << i << " (" << c.summary() << "): " << r.message << "\n";
      const bool mismatch = !r.passed() && (r.status == Status::ok || r.status == Status::rejected);
      if (mismatch) {
        if ((op == Op::quantize || op == Op::round) && r.status == Status::ok && r.verdict.candidates.size() > 1)
          disambiguate(backend, op, opt.seed, i, gopt, opt.limits.disambiguation_cases, r, log);
        const detail::Shrunk s = detail::shrink(backend, sh, r, opt.tier, opt.limits.max_shrinks);
        const std::string saved =
            detail::save_case(opt.save_dir, op_name, tally.mismatched + 1, s.c, s.r,
                              "mls check failure: campaign seed " + std::to_string(opt.seed) + ", " + op_name + " case " +
                                  std::to_string(i));
        print_failure(log, op_name, c, r, &s, saved);
        // The minimal case may be explained by several deviations; the
        // diagnosis is the one the whole campaign singled out.
        CaseResult sr = s.r;
        if (!r.verdict.cause_id.empty() && r.verdict.cause_id != sr.verdict.cause_id) {
          log << "  diagnosis (from the whole campaign) [" << r.verdict.cause_id << "]: " << r.verdict.cause << "\n";
          if (!r.verdict.candidates.empty()) {
            sr.verdict.cause_id = r.verdict.cause_id;
            sr.verdict.cause = r.verdict.cause;
          }
        }
        nlohmann::json f = failure_entry(sr, s.c, i);
        f["shrink_steps"] = s.steps;
        if (!saved.empty()) {
          f["replay_file"] = saved;
          f["case_file"] = saved.substr(0, saved.rfind('.')) + ".json";
        }
        tally.failures.push_back(f);
      }
      tally.add(r);
      count_progress(meter, r);
      if (sink) sink(op_name, c, r);
      if (streak.add(r)) {
        rep.aborted = true;
        rep.abort_reason = std::to_string(streak.n) + " consecutive backend failures; last: " + r.message;
        rep.seconds = seconds_since(t0);
        return rep;
      }
      if (mismatch && opt.limits.max_failures > 0 && ++mismatches >= opt.limits.max_failures) {
        log << "stopping " << op_name << " after " << mismatches << " mismatch(es) (--max-failures)\n";
        break;
      }
    }
    if (rep.interrupted) break;
  }
  rep.seconds = seconds_since(t0);
  return rep;
}

CampaignReport run_replay(Backend& backend, const std::vector<Case>& cases, const TierRequirement& tier,
                          const Limits& limits, const CaseSink& sink, std::ostream& log, const std::string& label,
                          progress::Meter* meter) {
  CampaignReport rep;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    rep.backend = backend.capabilities().name + " (" + backend.describe() + ")";
  } catch (const Error& e) {
    rep.backend = backend.describe();
    rep.aborted = true;
    rep.abort_reason = e.what();
    return rep;
  }
  FailureStreak streak{limits.max_backend_failures};
  rep.cases_planned = cases.size();
  if (meter) meter->set_total(cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    if (interrupt::requested()) {  // a case boundary: the report so far (10.8)
      rep.mark_interrupted();
      break;
    }
    const Case& c = cases[i];
    const std::string op_name = to_string(c.op);
    Tally& tally = rep.per_op[op_name];
    const CaseResult r = run_case(backend, c, tier);
    tally.add(r);
    count_progress(meter, r);
    if (sink) sink(op_name, c, r);
    if (r.status == Status::failure)
      log << "BACKEND FAILURE on " << label << " case " << i << " (" << c.summary() << "): " << r.message << "\n";
    if (streak.add(r)) {
      rep.aborted = true;
      rep.abort_reason = std::to_string(streak.n) + " consecutive backend failures; last: " + r.message;
      break;
    }
    if (!r.passed() && r.status != Status::unsupported && r.status != Status::failure &&
        tally.failures.size() < limits.max_reported_failures) {
      print_failure(log, op_name, c, r, nullptr, "");
      tally.failures.push_back(failure_entry(r, c, static_cast<int64_t>(i)));
    }
  }
  rep.seconds = seconds_since(t0);
  return rep;
}

}  // namespace mls::conformance
