#include "mls/conformance/vectors_bridge.hpp"

#include <chrono>
#include <cstdio>

#include "mls/error.hpp"
#include "mls/interrupt.hpp"
#include "mls/vectors/single.hpp"

namespace mls::conformance {

using namespace mls::vectors;
using VOp = vectors::Op;

namespace {
Dyadic round_scale(const Format& f, const RoundRow& rc) {
  return Dyadic::from_float(bits_float(rc.tensor_scale)) * f.group_scale.decode(rc.group_scale);
}
}  // namespace

Case case_from_group(const CaseGroup& g, uint64_t k) {
  Case c;
  switch (g.op) {
    case VOp::round: {
      const RoundRow rc = round_case(g, k);
      const Format f = g.format();
      c.op = conformance::Op::round;
      c.round.element = f.element;
      c.round.rounding = g.rounding();
      c.round.overflow = f.overflow;
      c.round.signed_zero = f.signed_zero;
      c.round.scale = round_scale(f, rc);
      c.round.x = {rc.x};
      if (c.round.rounding.mode == RoundingMode::sr) c.round.rand = {rc.rand};
      return c;
    }
    case VOp::quantize: {
      const auto q = quantize_case(g, k);
      c.op = conformance::Op::quantize;
      c.q.format = g.format();
      c.q.rounding = g.rounding();
      c.q.arith = g.quant_arith();
      c.q.shape = q.shape;
      c.q.x = q.x;
      if (c.q.rounding.mode == RoundingMode::sr) c.q.rand = q.rand;
      return c;
    }
    case VOp::dequantize:
      c.op = conformance::Op::dequantize;
      c.t = dequantize_case(g, k);
      return c;
    case VOp::conv:
    case VOp::gemm: {
      const auto r = reduction_case(g, k);
      c.op = g.op == VOp::gemm ? conformance::Op::gemm : conformance::Op::conv2d;
      c.conv.gemm = g.op == VOp::gemm;
      c.conv.a = r.a;
      c.conv.b = r.b;
      c.conv.arith = r.arith;
      c.conv.params = r.params;
      c.conv.out_shape = c.conv.gemm ? gemm_out_shape(r.a.shape, r.b.shape)
                                     : ConvGeometry::resolve(r.params, r.a.shape, r.b.shape).out_shape;
      return c;
    }
    default:
      throw Error(g.path + ": " + to_string(g.op) + " cases are not protocol ops");
  }
}

std::vector<Case> cases_from_suite(const Suite& s) {
  std::vector<Case> out;
  for (const auto& g : s.groups) {
    if (g.op == VOp::philox) continue;  // philox words are inputs of the other ops, not an op
    if (g.op != VOp::round) {
      for (uint64_t k = 0; k < g.count(); ++k) out.push_back(case_from_group(g, k));
      continue;
    }
    // round: consecutive rows with one scale and a result (status 0) travel
    // as one batch; a row the spec makes an error stands alone.
    const Array& status = g.at("outputs/status");
    for (uint64_t k = 0; k < g.count(); ++k) {
      Case c = case_from_group(g, k);
      if (status.ints[k] == kStatusOk && !out.empty() && out.back().op == conformance::Op::round &&
          out.back().round.x.size() < 4096 && out.back().round.scale == c.round.scale &&
          out.back().round.element == c.round.element && out.back().round.rounding == c.round.rounding &&
          out.back().round.overflow == c.round.overflow && out.back().round.signed_zero == c.round.signed_zero &&
          k > 0 && status.ints[k - 1] == kStatusOk) {
        auto& b = out.back().round;
        b.x.push_back(c.round.x[0]);
        if (!c.round.rand.empty()) b.rand.push_back(c.round.rand[0]);
        continue;
      }
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::optional<Suite> case_to_suite(const Case& c, const std::string& source) {
  const std::string label = "mls check failure: " + c.summary();
  CaseGroup g;
  switch (c.op) {
    case conformance::Op::round: {
      // The round table holds S_t (fp32) and a group-scale code: the scale must be an fp32 value.
      const Dyadic& s = c.round.scale;
      const uint32_t st = round_to_fp32_bits(s, RoundingMode::rne, OverflowPolicy::infinity);
      if (!fp32_is_finite(st) || Dyadic::from_float(bits_float(st)) != s) return std::nullopt;
      Format f;
      f.element = c.round.element;
      f.overflow = c.round.overflow;
      f.signed_zero = c.round.signed_zero;
      try {
        f.validate();
      } catch (const Error&) {
        return std::nullopt;
      }
      g = single_round_group(f, c.round.rounding, c.round.x, st, c.round.rand, label);
      break;
    }
    case conformance::Op::quantize:
      if (c.q.static_tensor_scale) return std::nullopt;  // the quantize table has no static-scale input (8.4.2)
      g = single_quantize_group(c.q.format, c.q.rounding, c.q.arith, c.q.shape, c.q.x, c.q.rand, label);
      break;
    case conformance::Op::dequantize: g = single_dequantize_group(c.t, label); break;
    case conformance::Op::gemm: g = single_gemm_group(c.conv.a, c.conv.b, c.conv.arith, label); break;
    case conformance::Op::conv2d: g = single_conv_group(c.conv.a, c.conv.b, conv_params(c.conv), c.conv.arith, label); break;
  }
  return single_case_suite({std::move(g)}, source);
}

// ---- mls verify -----------------------------------------------------------------

namespace {

// A backend whose one answer is set before each case: the outputs an
// implementation wrote into its results file. Asked anything else, it fails.
class ResultsBackend : public Backend {
 public:
  explicit ResultsBackend(std::string name) { caps_.name = std::move(name); }
  const Capabilities& capabilities() override { return caps_; }
  Outcome<CodesResult> round(const RoundCase&) override { return take(none_); }  // round rows: judge_row
  Outcome<QuantizeResult> quantize(const QuantizeCase&) override { return take(q_); }
  Outcome<TensorResult> dequantize(const MlsTensor&) override { return take(t_); }
  Outcome<TensorResult> conv(const ConvCase&) override { return take(t_); }
  std::string describe() const override { return "results file"; }

  std::optional<Outcome<CodesResult>> none_;
  std::optional<Outcome<QuantizeResult>> q_;
  std::optional<Outcome<TensorResult>> t_;

 private:
  template <class T>
  static Outcome<T> take(std::optional<Outcome<T>>& slot) {
    if (!slot) return Outcome<T>{Status::failure, "a results file answers only the cases of its vector file", {}};
    Outcome<T> o = std::move(*slot);
    slot.reset();
    return o;
  }
  Capabilities caps_;
};

std::vector<uint32_t> row32(const Array& a, uint64_t k) {
  const uint64_t n = a.row_size();
  std::vector<uint32_t> v(n);
  for (uint64_t i = 0; i < n; ++i) v[i] = static_cast<uint32_t>(a.ints[k * n + i]);
  return v;
}

// Case k of outputs/<name> bit for bit; differences go into the verdict
// (named "name" for one value per case, else "name[i]").
void compare_bits(const CaseGroup& vg, const CaseGroup& rg, uint64_t k, const std::string& name, Verdict& v) {
  const Array& e = vg.at(name);
  const Array& g = rg.at(name);
  const uint64_t n = e.row_size();
  for (uint64_t i = 0; i < n; ++i)
    if (e.ints[k * n + i] != g.ints[k * n + i])
      v.add_diff(name.substr(8) + (e.dims.size() > 1 ? "[" + std::to_string(i) + "]" : ""), e.ints[k * n + i], g.ints[k * n + i]);
}

// round and philox rows: the results file against the vector file's outputs
// bit for bit, with the status rules of 8.5; a differing round code is then
// diagnosed like a live round case (10.7).
CaseResult judge_row(const CaseGroup& vg, const CaseGroup& rg, uint64_t k) {
  CaseResult r;
  const uint64_t vs = vg.at("outputs/status").ints[k], rs = rg.at("outputs/status").ints[k];
  if (rs == kStatusError) {
    r.status = conformance::Status::rejected;
    r.message = "the implementation reported an error (status 1)";
    r.golden_rejects = vs == kStatusError;
    if (!r.golden_rejects) {
      r.verdict.pass = false;
      r.verdict.cause_id = "rejected_valid";
      r.verdict.cause = "the implementation reported an error for a case the spec gives a result";
    }
    return r;
  }
  r.status = conformance::Status::ok;
  if (vs == kStatusError) {
    r.golden_rejects = true;
    r.verdict.pass = false;
    r.verdict.cause_id = "accepted_invalid";
    r.verdict.cause = "the spec makes this case an error (status 1); the implementation produced outputs";
    return r;
  }
  if (vg.op == VOp::philox) {
    compare_bits(vg, rg, k, philox_is_block(vg) ? "outputs/block" : "outputs/word", r.verdict);
    r.verdict.pass = r.verdict.diff_count == 0;
    if (!r.verdict.pass) {
      r.verdict.cause_id = "philox";
      r.verdict.cause = "the random words differ: check the Philox4x32-10 rounds, key schedule and counter layout (5)";
    }
    return r;
  }
  const Case c = case_from_group(vg, k);
  const CodesResult expected{{static_cast<uint32_t>(vg.at("outputs/code").ints[k])}};
  const CodesResult got{{static_cast<uint32_t>(rg.at("outputs/code").ints[k])}};
  r.verdict = judge_round(c.round, expected, got);
  if (!r.verdict.pass && vg.has("info/rule"))
    r.verdict.detail["rule_in_file"] = to_string(enum_from_code<Rule>(static_cast<int64_t>(vg.at("info/rule").ints[k]),
                                                                      vg.path + "/info/rule"));
  return r;
}

std::string op_name(VOp op) { return op == VOp::conv ? "conv2d" : to_string(op); }  // the report's row

}  // namespace

CampaignReport verify_results(const Suite& vec, const Suite& res, const TierRequirement& tier, const Limits& limits,
                              const CaseSink& sink, std::ostream& log, progress::Meter* meter) {
  CampaignReport rep;
  const auto t0 = std::chrono::steady_clock::now();
  const auto gen = res.attrs.find("generator");
  const std::string name = gen != res.attrs.end() && std::holds_alternative<std::string>(gen->second)
                               ? std::get<std::string>(gen->second)
                               : std::string("unnamed implementation");
  ResultsBackend backend(name);
  rep.backend = name + " (results file)";
  rep.cases_planned = vec.case_count();
  if (meter) meter->set_total(rep.cases_planned);
  for (const auto& vg : vec.groups) {
    if (rep.interrupted || interrupt::requested()) {  // a case boundary: the report so far (10.8)
      if (!rep.interrupted) rep.mark_interrupted();
      break;
    }
    const std::string op = op_name(vg.op);
    Tally& tally = rep.per_op[op];
    const CaseGroup* rg = res.find(vg.path);
    if (!rg) {
      tally.skipped += static_cast<int64_t>(vg.count());
      tally.not_run += static_cast<int64_t>(vg.count());
      if (meter) {
        meter->add_skipped(static_cast<int64_t>(vg.count()));
        meter->add(vg.count());
      }
      continue;
    }
    for (uint64_t k = 0; k < vg.count(); ++k) {
      if (interrupt::requested()) {  // a case boundary: the report so far (10.8)
        rep.mark_interrupted();
        break;
      }
      const uint64_t rs = rg->at("outputs/status").ints[k];
      const std::string where = vg.path + " case " + std::to_string(k);
      if (rs == kStatusUnsupported || rs == kStatusNotRun) {
        ++tally.skipped;
        if (rs == kStatusNotRun) ++tally.not_run;
        if (meter) {
          meter->add_skipped();
          meter->add();
        }
        continue;
      }
      if (rs != kStatusOk && rs != kStatusError)
        throw Error(vg.path + "/outputs/status[" + std::to_string(k) + "] = " + std::to_string(rs) + " is not 0, 1, 2 or 3");
      CaseResult r;
      Case c;
      if (vg.op == VOp::philox || vg.op == VOp::round) {
        r = judge_row(vg, *rg, k);
        if (vg.op == VOp::round) c = case_from_group(vg, k);
      } else {
        c = case_from_group(vg, k);
        const bool err = rs == kStatusError;
        const auto st = err ? conformance::Status::rejected : conformance::Status::ok;
        const std::string msg = err ? "the implementation reported an error (status 1)" : "";
        if (vg.op == VOp::quantize) {
          const QuantizeOutput o = quantize_output(*rg, k);
          backend.q_ = Outcome<QuantizeResult>{st, msg, QuantizeResult{o.tensor_scale, o.group_scales, o.elements}};
        } else if (vg.op == VOp::dequantize) {
          backend.t_ = Outcome<TensorResult>{st, msg, TensorResult{c.t.shape, row32(rg->at("outputs/fp32"), k)}};
        } else {
          backend.t_ = Outcome<TensorResult>{st, msg, TensorResult{c.conv.out_shape, row32(rg->at("outputs/y"), k)}};
        }
        r = run_case(backend, c, tier);
        backend.q_.reset();
        backend.t_.reset();
        // dequantize: the fp64 output is compared bit for bit as well (4.7).
        if (vg.op == VOp::dequantize && r.status == Status::ok && r.verdict.pass) {
          compare_bits(vg, *rg, k, "outputs/fp64", r.verdict);
          if (r.verdict.diff_count > 0) {
            r.verdict.pass = false;
            r.verdict.cause_id = "fp64_rounding";
            r.verdict.cause = "the fp64 dequantized value is not RN_fp64(S_t S_g elem) (4.7)";
          }
        }
      }
      tally.add(r);
      count_progress(meter, r);
      if (sink) sink(op, c, r);
      if (!r.passed() && r.status != conformance::Status::unsupported && tally.failures.size() < limits.max_reported_failures) {
        log << "MISMATCH " << where << " (" << vg.label() << ")\n";
        print_mismatch(log, r);
        nlohmann::json f = r.to_json();
        f["where"] = where;
        f["summary"] = where + " (" + vg.label() + ")";
        f["group_label"] = vg.label();
        f["cause"] = r.verdict.cause;
        f["cause_id"] = r.verdict.cause_id;
        tally.failures.push_back(f);
      }
    }
  }
  bool any = false;
  for (const auto& [op, t] : rep.per_op) any = any || t.passed + t.mismatched > 0;
  if (!any && !rep.interrupted) {
    rep.aborted = true;
    rep.abort_reason = "the results file holds no result to compare (every case missing, unsupported or not run)";
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace mls::conformance
