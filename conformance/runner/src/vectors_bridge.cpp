#include "mls/conformance/vectors_bridge.hpp"

#include <chrono>
#include <cstdio>

#include "mls/error.hpp"
#include "mls/vectors/single.hpp"

namespace mls::conformance {

using namespace mls::vectors;

Case case_from_group(const CaseGroup& g, uint64_t k) {
  Case c;
  switch (g.op) {
    case Op::quantize: {
      const auto q = quantize_case(g, k);
      c.op = "quantize";
      c.q.format = g.format();
      c.q.rounding = g.rounding();
      c.q.shape = q.shape;
      c.q.x = q.x;
      if (c.q.rounding.mode == RoundingMode::sr) c.q.rand = q.rand;
      return c;
    }
    case Op::dequantize:
      c.op = "dequantize";
      c.t = dequantize_case(g, k);
      return c;
    case Op::conv:
    case Op::gemm: {
      const auto r = reduction_case(g, k);
      c.op = g.op == Op::gemm ? "gemm" : "conv2d";
      c.conv.op = c.op;
      c.conv.a = r.a;
      c.conv.b = r.b;
      c.conv.arith = r.arith.to_json();
      if (g.op == Op::conv) {
        c.conv.pass = to_string(r.params.pass);
        c.conv.stride = {r.params.stride[0], r.params.stride[1]};
        c.conv.padding = {r.params.padding[0], r.params.padding[1]};
        c.conv.dilation = {r.params.dilation[0], r.params.dilation[1]};
        c.conv.groups = r.params.groups;
        c.conv.out_shape = ConvGeometry::resolve(r.params, r.a.shape, r.b.shape).out_shape;
      } else {
        c.conv.out_shape = gemm_out_shape(r.a.shape, r.b.shape);
      }
      return c;
    }
    default:
      throw Error(g.path + ": " + to_string(g.op) + " cases are not protocol ops");
  }
}

std::vector<Case> cases_from_suite(const Suite& s) {
  std::vector<Case> out;
  for (const auto& g : s.groups) {
    // round: one element with given scales has no protocol op (a 1-element
    // quantize recomputes the scales); philox words are inputs, not outputs.
    if (g.op == Op::round || g.op == Op::philox) continue;
    for (uint64_t k = 0; k < g.count(); ++k) out.push_back(case_from_group(g, k));
  }
  return out;
}

std::optional<Suite> case_to_suite(const Case& c, const std::string& source) {
  const std::string label = "mls check failure: " + c.summary();
  CaseGroup g;
  if (c.op == "quantize") {
    if (c.q.static_tensor_scale) return std::nullopt;  // the quantize table has no static-scale input (8.4.2)
    g = single_quantize_group(c.q.format, c.q.rounding, c.q.shape, c.q.x, c.q.rand, label);
  } else if (c.op == "dequantize") {
    g = single_dequantize_group(c.t, label);
  } else if (c.op == "gemm") {
    g = single_gemm_group(c.conv.a, c.conv.b, ArithProfile::from_json(c.conv.arith), label);
  } else if (c.op == "conv2d") {
    Conv2dParams p;
    p.pass = conv_pass_from_string(c.conv.pass);
    for (int i = 0; i < 2; ++i) {
      p.stride[i] = c.conv.stride.at(i);
      p.padding[i] = c.conv.padding.at(i);
      p.dilation[i] = c.conv.dilation.at(i);
    }
    p.groups = c.conv.groups;
    p.out_shape = c.conv.out_shape;
    g = single_conv_group(c.conv.a, c.conv.b, p, ArithProfile::from_json(c.conv.arith), label);
  } else {
    throw Error("case_to_suite: unknown op \"" + c.op + "\"");
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
  Outcome<QuantizeResult> quantize(const QuantizeCase&) override { return take(q_); }
  Outcome<TensorResult> dequantize(const MlsTensor&) override { return take(t_); }
  Outcome<TensorResult> conv(const ConvCase&) override { return take(t_); }
  std::string describe() const override { return "results file"; }

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

std::string hex(uint64_t v, int digits) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%0*llx", digits, static_cast<unsigned long long>(v));
  return b;
}

std::vector<uint32_t> row32(const Array& a, uint64_t k) {
  const uint64_t n = a.row_size();
  std::vector<uint32_t> v(n);
  for (uint64_t i = 0; i < n; ++i) v[i] = static_cast<uint32_t>(a.ints[k * n + i]);
  return v;
}

// The rules of info/rule (8.4.1) and the cause a departure from each suggests.
const char* round_rule_name(uint64_t rule) {
  static const char* names[] = {"exact", "nearest_lower", "nearest_upper", "tie_even", "tie_zero", "tie_away",
                                "toward_zero", "away_directed", "odd", "sr_away", "sr_keep", "saturated",
                                "clamped_min", "overflow_inf"};
  return rule < 14 ? names[rule] : "error";
}

void diagnose_round(Verdict& v, uint64_t rule) {
  const std::string r = round_rule_name(rule);
  if (r == "tie_even" || r == "tie_zero" || r == "tie_away") {
    v.cause_id = "tie_rule";
    v.cause = "the quotient is a tie (rule " + r + ") and the other neighbour was chosen: the tie rule differs";
  } else if (r == "sr_away" || r == "sr_keep") {
    v.cause_id = "sr_threshold";
    v.cause = "stochastic rounding decided the other way (rule " + r +
              "): the threshold t + r/2^R >= 1 or the bits of the word taken differ";
  } else if (r == "nearest_lower" || r == "nearest_upper") {
    v.cause_id = "truncation";
    v.cause = "the nearest neighbour (rule " + r + ") was not chosen: truncation or a rounded quotient";
  } else if (r == "saturated" || r == "clamped_min") {
    v.cause_id = "saturation";
    v.cause = "the quotient is outside the grid (rule " + r + ") and was not saturated/clamped as 3.5 says";
  } else {
    v.cause_id = "unknown";
    v.cause = "the element code differs (rule " + r + ")";
  }
}

// Case k of outputs/<name> bit for bit; differences go into the verdict
// (named "name" for one value per case, else "name[i]").
void compare_bits(const CaseGroup& vg, const CaseGroup& rg, uint64_t k, const std::string& name, Verdict& v) {
  const Array& e = vg.at(name);
  const Array& g = rg.at(name);
  const uint64_t n = e.row_size();
  for (uint64_t i = 0; i < n; ++i) {
    if (e.ints[k * n + i] == g.ints[k * n + i]) continue;
    ++v.diff_count;
    if (v.diffs.size() < 8)
      v.diffs.push_back({name.substr(8) + (e.dims.size() > 1 ? "[" + std::to_string(i) + "]" : ""), e.ints[k * n + i], g.ints[k * n + i]});
  }
}

// round and philox: bit-for-bit comparison of the outputs, with the status rules.
CaseResult judge_plain(const CaseGroup& vg, const CaseGroup& rg, uint64_t k, const std::vector<std::string>& outs) {
  CaseResult r;
  const uint64_t vs = vg.at("outputs/status").ints[k], rs = rg.at("outputs/status").ints[k];
  if (rs == kStatusError) {
    r.status = Status::rejected;
    r.message = "the implementation reported an error (status 1)";
    r.golden_rejects = vs == kStatusError;
    if (!r.golden_rejects) {
      r.verdict.pass = false;
      r.verdict.cause_id = "rejected_valid";
      r.verdict.cause = "the implementation reported an error for a case the spec gives a result";
    }
    return r;
  }
  r.status = Status::ok;
  if (vs == kStatusError) {
    r.golden_rejects = true;
    r.verdict.pass = false;
    r.verdict.cause_id = "accepted_invalid";
    r.verdict.cause = "the spec makes this case an error (status 1); the implementation produced outputs";
    return r;
  }
  for (const auto& name : outs) compare_bits(vg, rg, k, name, r.verdict);
  r.verdict.pass = r.verdict.diff_count == 0;
  if (!r.verdict.pass) {
    if (vg.op == Op::round) {
      const uint64_t rule = vg.has("info/rule") ? vg.at("info/rule").ints[k] : 255;
      diagnose_round(r.verdict, rule);
      const RoundCase rc = round_case(vg, k);
      r.verdict.detail = {{"x", hex(rc.x, 8)}, {"tensor_scale", hex(rc.tensor_scale, 8)}, {"group_scale", rc.group_scale},
                          {"rand", hex(rc.rand, 8)}, {"rule", round_rule_name(rule)}};
    } else {
      r.verdict.cause_id = "philox";
      r.verdict.cause = "the random words differ: check the Philox4x32-10 rounds, key schedule and counter layout (5)";
    }
  }
  return r;
}

std::string op_name(Op op) { return op == Op::conv ? "conv2d" : to_string(op); }

}  // namespace

CampaignReport verify_results(const Suite& vec, const Suite& res, Tier conv_tier, const CaseSink& sink,
                              std::ostream& log) {
  CampaignReport rep;
  const auto t0 = std::chrono::steady_clock::now();
  const auto gen = res.attrs.find("generator");
  const std::string name = gen != res.attrs.end() && std::holds_alternative<std::string>(gen->second)
                               ? std::get<std::string>(gen->second)
                               : std::string("unnamed implementation");
  ResultsBackend backend(name);
  rep.backend = name + " (results file)";
  for (const auto& vg : vec.groups) {
    const std::string op = op_name(vg.op);
    Tally& tally = rep.per_op[op];
    const CaseGroup* rg = res.find(vg.path);
    if (!rg) {
      tally.skipped += static_cast<int64_t>(vg.count());
      tally.not_run += static_cast<int64_t>(vg.count());
      continue;
    }
    for (uint64_t k = 0; k < vg.count(); ++k) {
      const uint64_t rs = rg->at("outputs/status").ints[k];
      const std::string where = vg.path + " case " + std::to_string(k);
      if (rs == kStatusUnsupported || rs == kStatusNotRun) {
        ++tally.skipped;
        if (rs == kStatusNotRun) ++tally.not_run;
        continue;
      }
      if (rs != kStatusOk && rs != kStatusError)
        throw Error(vg.path + "/outputs/status[" + std::to_string(k) + "] = " + std::to_string(rs) + " is not 0, 1, 2 or 3");
      CaseResult r;
      Case c;
      if (vg.op == Op::round) {
        r = judge_plain(vg, *rg, k, {"outputs/code"});
        c.op = "round";
      } else if (vg.op == Op::philox) {
        r = judge_plain(vg, *rg, k, {philox_is_block(vg) ? "outputs/block" : "outputs/word"});
        c.op = "philox";
      } else {
        c = case_from_group(vg, k);
        const bool err = rs == kStatusError;
        const std::string msg = "the implementation reported an error (status 1)";
        if (vg.op == Op::quantize) {
          const QuantizeOutput o = quantize_output(*rg, k);
          backend.q_ = Outcome<QuantizeResult>{err ? Status::rejected : Status::ok, err ? msg : "",
                                               QuantizeResult{o.tensor_scale, o.group_scales, o.elements}};
        } else if (vg.op == Op::dequantize) {
          backend.t_ = Outcome<TensorResult>{err ? Status::rejected : Status::ok, err ? msg : "",
                                             TensorResult{c.t.shape, row32(rg->at("outputs/fp32"), k)}};
        } else {
          backend.t_ = Outcome<TensorResult>{err ? Status::rejected : Status::ok, err ? msg : "",
                                             TensorResult{c.conv.out_shape, row32(rg->at("outputs/y"), k)}};
        }
        r = run_case(backend, c, conv_tier);
        backend.q_.reset();
        backend.t_.reset();
        // dequantize: the fp64 output is compared bit for bit as well (4.7).
        if (vg.op == Op::dequantize && r.status == Status::ok && r.verdict.pass) {
          compare_bits(vg, *rg, k, "outputs/fp64", r.verdict);
          if (r.verdict.diff_count > 0) {
            r.verdict.pass = false;
            r.verdict.cause_id = "fp64_rounding";
            r.verdict.cause = "the fp64 dequantized value is not RN_fp64(S_t S_g elem) (4.7)";
          }
        }
      }
      tally.add(r, op);
      if (sink) sink(op, c, r);
      if (!r.passed() && r.status != Status::unsupported && tally.failures.size() < 20) {
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
  if (!any) {
    rep.aborted = true;
    rep.abort_reason = "the results file holds no result to compare (every case missing, unsupported or not run)";
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace mls::conformance
