#include "inspect_stats.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "mls/error.hpp"
#include "mls/interrupt.hpp"
#include "mls/philox.hpp"

namespace mls::inspect {

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}
std::string g17(double v) { return fmt("%.17g", v); }
std::string db_text(double db, bool exact) { return exact ? "inf" : fmt("%.2f", db); }

std::string index_text(const Shape& shape, int64_t i) {
  std::vector<int64_t> idx(shape.size());
  for (size_t a = shape.size(); a-- > 0;) {
    idx[a] = i % shape[a];
    i /= shape[a];
  }
  std::string s = "(";
  for (size_t a = 0; a < idx.size(); ++a) s += (a ? "," : "") + std::to_string(idx[a]);
  return s + ")";
}

// One pass of statistics over a quantized tensor; pooled across seeds by repeated add().
struct Accumulator {
  double sx2 = 0, se2 = 0, se = 0, max_abs = 0, max_rel = 0;
  uint64_t samples = 0, flushed = 0, at_qmax = 0, subnormal = 0;
  std::map<uint32_t, uint64_t> ehist, ghist;
  std::vector<double> nz_errors;  // errors of the x != 0 elements, for the histogram

  void add(const std::vector<float>& x, const MlsTensor& q, const std::vector<double>& deq) {
    const Minifloat& el = q.format.element;
    const uint64_t sign = el.sign_bit(), top = el.max_magnitude_code();
    const uint64_t fmask = (uint64_t(1) << el.man_bits) - 1;
    for (size_t i = 0; i < x.size(); ++i) {
      const double xi = x[i], e = deq[i] - xi;
      sx2 += xi * xi;
      se2 += e * e;
      se += e;
      max_abs = std::max(max_abs, std::fabs(e));
      if (xi != 0) {
        max_rel = std::max(max_rel, std::fabs(e) / std::fabs(xi));
        if (deq[i] == 0) ++flushed;
        nz_errors.push_back(e);
      }
      const uint64_t m = q.elements[i] & ~sign;
      if (m == top) ++at_qmax;
      if (el.zero == ZeroMode::subnormal && (m >> el.man_bits) == 0 && (m & fmask) != 0) ++subnormal;
      ++ehist[q.elements[i]];
    }
    for (uint32_t g : q.group_scales) ++ghist[g];
    samples += x.size();
  }

  void finish(Stats& s, int bins) const {
    const double n = static_cast<double>(samples);
    s.signal_energy = sx2;
    s.error_energy = se2;
    s.mse = se2 / n;
    s.exact = se2 == 0;
    s.sqnr_db = s.exact ? std::numeric_limits<double>::infinity() : 10 * std::log10(sx2 / se2);
    s.max_abs_error = max_abs;
    s.max_rel_error = max_rel;
    s.mean_error = se / n;
    s.frac_flushed_to_zero = flushed / n;
    s.frac_at_qmax = at_qmax / n;
    s.frac_subnormal = subnormal / n;
    s.element_hist = ehist;
    s.group_scale_hist = ghist;
    ErrorHistogram& h = s.error_hist;
    h.lo = -max_abs;
    h.hi = max_abs;
    h.counts.assign(std::max(bins, 1), 0);
    h.samples = nz_errors.size();
    for (double e : nz_errors) {
      if (e == 0) ++h.exact;
      const double width = h.hi - h.lo;
      int64_t b = width > 0 ? static_cast<int64_t>((e - h.lo) / width * h.counts.size()) : int64_t(h.counts.size() / 2);
      b = std::clamp<int64_t>(b, 0, static_cast<int64_t>(h.counts.size()) - 1);
      ++h.counts[b];
    }
  }
};

void fill_shape_info(Stats& s, const Format& f, const Shape& shape, int64_t n) {
  s.count = n;
  s.groups = GroupLayout(f, shape).group_count;
  s.bits_per_element = f.bits_per_element(double(n) / double(s.groups), double(n));  // 2.11
}

}  // namespace

std::string Case::label() const {
  if (!format.spec10())  // a family profile by its name (mxfp4, nvfp4, ...); MLS formats by their short name
    for (const Profile& p : named_profiles())
      if (p.format == format) return p.name + " " + rounding_name(rounding);
  return format.short_name() + " " + rounding_name(rounding);
}

void check_tensor(const std::string& name, const Shape& shape, const std::vector<float>& x) {
  if (x.empty()) throw Error(name + ": empty tensor (0 elements); mls inspect needs at least one value");
  int64_t n = 1;
  for (size_t a = 0; a < shape.size(); ++a) {
    if (shape[a] < 1) throw Error(name + ": shape[" + std::to_string(a) + "] = " + std::to_string(shape[a]) + " (empty tensor)");
    n *= shape[a];
  }
  if (shape.empty() || n != static_cast<int64_t>(x.size()))
    throw Error(name + ": shape " + shape_string(shape) + " does not match its " + std::to_string(x.size()) + " values");
  const auto bad_it = std::find_if(x.begin(), x.end(), [](float v) { return !std::isfinite(v); });
  if (const std::optional<int64_t> bad = bad_it == x.end() ? std::nullopt : std::optional<int64_t>(bad_it - x.begin()))
    throw Error(name + ": element " + std::to_string(*bad) + " " + index_text(shape, *bad) + " is " +
                (std::isnan(x[*bad]) ? "NaN" : "Inf") + "; MLS quantization needs finite input (spec 4.1)");
}

Stats stats_of(const std::vector<float>& x, const MlsTensor& q, int bins) {
  if (q.elements.size() != x.size()) throw Error("stats_of: tensor and input sizes differ");
  Stats s;
  fill_shape_info(s, q.format, q.shape, static_cast<int64_t>(x.size()));
  Accumulator acc;
  acc.add(x, q, dequantize_fp64(q));
  acc.finish(s, bins);
  return s;
}

Stats inspect_tensor(const Shape& shape, const std::vector<float>& x, const Case& c, const Options& o) {
  const bool sr = c.rounding.mode == RoundingMode::sr;
  if (sr && o.seeds < 1) throw Error("--seeds " + std::to_string(o.seeds) + " is not >= 1");
  const int seeds = sr ? o.seeds : 1;
  Stats s;
  fill_shape_info(s, c.format, shape, static_cast<int64_t>(x.size()));
  s.seeds = seeds;
  Accumulator acc;
  std::vector<double> sum(sr ? x.size() : 0, 0.0);
  int next_k = 1;
  for (int j = 0; j < seeds; ++j) {
    const std::vector<uint32_t> words = sr ? random_words(o.seed + j, o.stream, x.size()) : std::vector<uint32_t>{};
    const MlsTensor q = quantize(c.format, shape, x, c.rounding, words);
    const std::vector<double> deq = dequantize_fp64(q);
    acc.add(x, q, deq);
    if (!sr) continue;
    double bias = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      bias += deq[i] - double(x[i]);
      sum[i] += deq[i];
    }
    s.seed_mean_errors.push_back(bias / x.size());
    if (j + 1 == next_k || j + 1 == seeds) {
      const int k = j + 1;
      double se = 0, se2 = 0, sx2 = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        const double e = sum[i] / k - double(x[i]);
        se += e;
        se2 += e * e;
        sx2 += double(x[i]) * x[i];
      }
      AveragePoint p;
      p.k = k;
      p.mean_error = se / x.size();
      p.rms_error = std::sqrt(se2 / x.size());
      p.exact = se2 == 0;
      p.sqnr_db = p.exact ? std::numeric_limits<double>::infinity() : 10 * std::log10(sx2 / se2);
      s.averaging.push_back(p);
      while (next_k <= k) next_k *= 2;
    }
  }
  acc.finish(s, o.bins);
  return s;
}

std::vector<std::string> sweep_elements() {
  std::vector<std::string> out;
  for (int e = 0; e <= 4; ++e)
    for (int m = 0; m <= 7; ++m)
      if (e + m >= 1) out.push_back("e" + std::to_string(e) + "m" + std::to_string(m));
  return out;
}

std::vector<Case> build_cases(const SweepSpec& s) {
  std::vector<Format> formats;
  for (const std::string& f : s.formats) {
    try {
      formats.push_back(parse_format(f));
    } catch (const Error& e) {
      throw Error("--format \"" + f + "\": " + e.what());
    }
  }
  std::vector<std::string> elements = s.elements;
  if (s.sweep_elements)
    for (const auto& e : sweep_elements()) elements.push_back(e);
  if (formats.empty() && elements.empty()) formats.push_back(parse_format("mls-e2m1"));
  const std::vector<std::string> gs = s.group_scales.empty() ? std::vector<std::string>{"g4m1"} : s.group_scales;
  const std::vector<std::string> shapes = s.group_shapes.empty() ? std::vector<std::string>{"default"} : s.group_shapes;
  const std::vector<std::string> pols = s.scale_policies.empty() ? std::vector<std::string>{"ceil"} : s.scale_policies;
  for (const auto& el : elements)
    for (const auto& g : gs)
      for (const auto& sh : shapes)
        for (const auto& p : pols) {
          if (p != "ceil" && p != "nearest" && p != "floor")
            throw Error("--scale-policies: \"" + p + "\" is not ceil, nearest or floor");
          const std::string name = el + "." + g + (sh == "default" || sh.empty() ? "" : "/" + sh) + ":" + p;
          try {
            formats.push_back(parse_short_name(name));
          } catch (const Error& e) {
            throw Error("sweep format \"" + name + "\" (from --elements/--group-scales/--group-shapes): " + e.what());
          }
        }
  std::vector<Rounding> modes;
  for (const auto& m : s.modes.empty() ? std::vector<std::string>{"rne"} : s.modes) {
    try {
      modes.push_back(parse_rounding(m));
    } catch (const Error& e) {
      throw Error("--modes \"" + m + "\": " + e.what());
    }
  }
  std::vector<Case> cases;
  std::set<std::string> seen;
  for (const Format& f : formats)
    for (const Rounding& r : modes) {
      Case c{f, r};
      const std::string key = f.to_json().dump() + rounding_name(r);
      if (seen.insert(key).second) cases.push_back(c);
    }
  return cases;
}

Report run(std::vector<TensorInfo> tensors, std::vector<Case> cases, const Options& o) {
  if (tensors.empty()) throw Error("no input tensors");
  if (cases.empty()) throw Error("no formats to inspect");
  if (o.bins < 1 || o.bins > 100000) throw Error("--bins " + std::to_string(o.bins) + " is not in 1..100000");
  if (o.seeds < 1 || o.seeds > 100000) throw Error("--seeds " + std::to_string(o.seeds) + " is not in 1..100000");
  for (const auto& t : tensors) check_tensor(t.name, t.shape, t.data);
  Report r;
  r.tensors = std::move(tensors);
  r.cases = std::move(cases);
  r.options = o;
  const size_t total = r.tensors.size() * r.cases.size();
  r.rows.resize(total);
  std::vector<std::string> errors(total);
  std::atomic<size_t> next{0};
  if (o.progress) o.progress->set_total(total);
  auto worker = [&] {
    for (size_t i; !interrupt::requested() && (i = next.fetch_add(1)) < total;) {
      Row& row = r.rows[i];
      row.tensor = i / r.cases.size();
      row.case_index = i % r.cases.size();
      const TensorInfo& t = r.tensors[row.tensor];
      const Case& c = r.cases[row.case_index];
      try {
        row.stats = inspect_tensor(t.shape, t.data, c, o);
      } catch (const std::exception& e) {
        errors[i] = "tensor " + t.name + " " + shape_string(t.shape) + ", format " + c.format.short_name() + ", rounding " +
                    rounding_name(c.rounding) + ": " + e.what();
      }
      if (o.progress) o.progress->add();
    }
  };
  unsigned n = o.threads > 0 ? unsigned(o.threads) : std::max(1u, std::thread::hardware_concurrency());
  n = static_cast<unsigned>(std::min<size_t>(n, total));
  std::vector<std::thread> pool;
  for (unsigned k = 1; k < n; ++k) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (interrupt::requested())
    throw interrupt::Interrupted("inspect: interrupted (" + interrupt::signal_name() + "); nothing written");
  for (const auto& e : errors)
    if (!e.empty()) throw Error(e);
  return r;
}

namespace {
bool better(const Stats& a, const Stats& b) {  // fewer bits, then higher SQNR
  if (a.bits_per_element != b.bits_per_element) return a.bits_per_element < b.bits_per_element;
  return a.sqnr_db > b.sqnr_db;
}
}  // namespace

std::vector<long> choice_per_tensor(const Report& r) {
  std::vector<long> best(r.tensors.size(), -1);
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const Row& row = r.rows[i];
    if (!(row.stats.sqnr_db >= r.options.target_db)) continue;
    long& b = best[row.tensor];
    if (b < 0 || better(row.stats, r.rows[b].stats)) b = static_cast<long>(i);
  }
  return best;
}

std::map<std::string, long> choice_per_role(const Report& r) {
  std::map<std::string, std::vector<size_t>> roles;  // role -> tensors
  for (size_t t = 0; t < r.tensors.size(); ++t) roles[r.tensors[t].role.empty() ? "(no role)" : r.tensors[t].role].push_back(t);
  std::map<std::string, long> out;
  const size_t nc = r.cases.size();
  for (const auto& [role, ts] : roles) {
    long best = -1;
    double best_bits = 0, best_min_db = 0;
    for (size_t c = 0; c < nc; ++c) {
      double bits = 0, min_db = std::numeric_limits<double>::infinity();
      for (size_t t : ts) {
        const Stats& s = r.rows[t * nc + c].stats;
        bits = std::max(bits, s.bits_per_element);
        min_db = std::min(min_db, s.sqnr_db);
      }
      if (!(min_db >= r.options.target_db)) continue;
      if (best < 0 || bits < best_bits || (bits == best_bits && min_db > best_min_db)) {
        best = static_cast<long>(c);
        best_bits = bits;
        best_min_db = min_db;
      }
    }
    out[role] = best;
  }
  return out;
}

namespace {
nlohmann::json hist_json(const std::map<uint32_t, uint64_t>& h) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& [code, count] : h) a.push_back({code, count});
  return a;
}
nlohmann::json db_json(double db, bool exact) { return exact ? nlohmann::json(nullptr) : nlohmann::json(db); }
std::string group_shape_text(const Format& f, const Shape& shape) {
  std::string s;
  for (int64_t g : f.resolved_group_shape(shape)) s += (s.empty() ? "" : "x") + std::to_string(g);
  return s;
}
std::string given_shape_text(const Format& f) {  // as in the format: "default" for the per-rank default
  std::string s;
  for (int64_t g : f.group_shape) s += (s.empty() ? "" : "x") + std::to_string(g);
  return s.empty() ? "default" : s;
}
std::string role_of(const TensorInfo& t) { return t.role.empty() ? "(no role)" : t.role; }
}  // namespace

nlohmann::json to_json(const Report& r) {
  using nlohmann::json;
  json j;
  j["mls_inspect"] = 1;
  j["spec"] = "1.0";
  j["definitions"] =
      "e = dequantized fp64 - fp32 input; sqnr_db = 10 log10(sum x^2 / sum e^2), null with exact = true when every e is 0; "
      "fractions over all elements (pooled over seeds for sr); max_rel_error over x != 0; error_hist over x != 0; "
      "bits_per_element = 1+E+M + (Eg+Mg) groups/n + 32/n (no 32/n without a tensor scale); histograms are [code, count] pairs";
  j["options"] = {{"seeds", r.options.seeds}, {"seed", r.options.seed}, {"stream", r.options.stream},
                  {"bins", r.options.bins}, {"target_sqnr_db", r.options.target_db}};
  json ts = json::array();
  for (const auto& t : r.tensors) {
    double amax = 0, s2 = 0;
    size_t zeros = 0;
    for (float v : t.data) {
      amax = std::max(amax, double(std::fabs(v)));
      s2 += double(v) * v;
      zeros += v == 0;
    }
    ts.push_back({{"name", t.name}, {"shape", t.shape}, {"count", t.data.size()}, {"role", t.role}, {"layer", t.layer},
                  {"phase", t.phase}, {"amax", amax}, {"rms", std::sqrt(s2 / t.data.size())},
                  {"zero_fraction", double(zeros) / t.data.size()}});
  }
  j["tensors"] = ts;
  json cs = json::array();
  for (const auto& c : r.cases)
    cs.push_back({{"format", c.format.short_name()}, {"element", c.format.element.name()}, {"E", c.format.element.exp_bits},
                  {"M", c.format.element.man_bits}, {"group_scale", c.format.group_scale.name()},
                  {"scale_policy", to_string(c.format.scale_policy)}, {"rounding", rounding_name(c.rounding)},
                  {"format_json", c.format.to_json()}});
  j["cases"] = cs;
  json rows = json::array();
  for (const Row& row : r.rows) {
    const Stats& s = row.stats;
    const TensorInfo& t = r.tensors[row.tensor];
    const Case& c = r.cases[row.case_index];
    json o = {{"tensor", t.name}, {"tensor_index", row.tensor}, {"role", t.role}, {"case", row.case_index},
              {"label", c.label()}, {"format", c.format.short_name()}, {"element", c.format.element.name()}, {"E", c.format.element.exp_bits},
              {"M", c.format.element.man_bits}, {"group_scale", c.format.group_scale.name()},
              {"group_shape", group_shape_text(c.format, t.shape)}, {"group_shape_given", given_shape_text(c.format)},
              {"scale_policy", to_string(c.format.scale_policy)},
              {"rounding", rounding_name(c.rounding)}, {"seeds", s.seeds}, {"count", s.count}, {"groups", s.groups},
              {"bits_per_element", s.bits_per_element}, {"mse", s.mse}, {"sqnr_db", db_json(s.sqnr_db, s.exact)},
              {"exact", s.exact}, {"max_abs_error", s.max_abs_error}, {"max_rel_error", s.max_rel_error},
              {"mean_error", s.mean_error}, {"frac_flushed_to_zero", s.frac_flushed_to_zero},
              {"frac_at_qmax", s.frac_at_qmax}, {"frac_subnormal", s.frac_subnormal},
              {"element_hist", hist_json(s.element_hist)}, {"group_scale_hist", hist_json(s.group_scale_hist)},
              {"error_hist", {{"lo", s.error_hist.lo}, {"hi", s.error_hist.hi}, {"counts", s.error_hist.counts},
                              {"exact", s.error_hist.exact}, {"samples", s.error_hist.samples}}}};
    if (c.rounding.mode == RoundingMode::sr) {
      json av = json::array();
      for (const auto& p : s.averaging)
        av.push_back({{"k", p.k}, {"mean_error", p.mean_error}, {"rms_error", p.rms_error},
                      {"sqnr_db", db_json(p.sqnr_db, p.exact)}, {"exact", p.exact}});
      o["sr"] = {{"seed_first", r.options.seed}, {"stream", r.options.stream}, {"seed_mean_errors", s.seed_mean_errors},
                 {"averaging", av}};
    }
    rows.push_back(o);
  }
  j["results"] = rows;
  json ch = json::array();
  const auto pt = choice_per_tensor(r);
  for (size_t t = 0; t < pt.size(); ++t) {
    json o = {{"tensor", r.tensors[t].name}, {"role", r.tensors[t].role}};
    if (pt[t] >= 0) {
      const Row& row = r.rows[pt[t]];
      o["format"] = r.cases[row.case_index].format.short_name();
      o["rounding"] = rounding_name(r.cases[row.case_index].rounding);
      o["bits_per_element"] = row.stats.bits_per_element;
      o["sqnr_db"] = db_json(row.stats.sqnr_db, row.stats.exact);
    } else {
      o["format"] = nullptr;
    }
    ch.push_back(o);
  }
  j["choice_per_tensor"] = ch;
  json cr = json::object();
  for (const auto& [role, c] : choice_per_role(r))
    cr[role] = c < 0 ? json(nullptr)
                     : json({{"format", r.cases[c].format.short_name()}, {"rounding", rounding_name(r.cases[c].rounding)}});
  j["choice_per_role"] = cr;
  return j;
}

std::string to_csv(const Report& r) {
  std::ostringstream os;
  os << "tensor,role,layer,phase,shape,count,format,element,E,M,group_scale,group_shape,scale_policy,rounding,seeds,"
        "groups,bits_per_element,mse,sqnr_db,exact,max_abs_error,max_rel_error,mean_error,frac_flushed_to_zero,"
        "frac_at_qmax,frac_subnormal,element_hist,group_scale_hist,sr_mean_error_by_k\n";
  auto hist = [](const std::map<uint32_t, uint64_t>& h) {
    std::string s;
    for (const auto& [code, count] : h) s += (s.empty() ? "" : ";") + std::to_string(code) + ":" + std::to_string(count);
    return s;
  };
  for (const Row& row : r.rows) {
    const Stats& s = row.stats;
    const TensorInfo& t = r.tensors[row.tensor];
    const Case& c = r.cases[row.case_index];
    std::string shape;
    for (int64_t d : t.shape) shape += (shape.empty() ? "" : "x") + std::to_string(d);
    std::string avg;
    for (const auto& p : s.averaging) avg += (avg.empty() ? "" : ";") + std::to_string(p.k) + ":" + g17(p.mean_error);
    os << t.name << "," << t.role << "," << t.layer << "," << t.phase << "," << shape << "," << s.count << ","
       << c.format.short_name() << "," << c.format.element.name() << "," << c.format.element.exp_bits << ","
       << c.format.element.man_bits << "," << c.format.group_scale.name() << "," << group_shape_text(c.format, t.shape)
       << "," << to_string(c.format.scale_policy) << "," << rounding_name(c.rounding) << "," << s.seeds << "," << s.groups
       << "," << g17(s.bits_per_element) << "," << g17(s.mse) << "," << (s.exact ? "inf" : g17(s.sqnr_db)) << ","
       << (s.exact ? "true" : "false") << "," << g17(s.max_abs_error) << "," << g17(s.max_rel_error) << ","
       << g17(s.mean_error) << "," << g17(s.frac_flushed_to_zero) << "," << g17(s.frac_at_qmax) << ","
       << g17(s.frac_subnormal) << "," << hist(s.element_hist) << "," << hist(s.group_scale_hist) << "," << avg << "\n";
  }
  return os.str();
}

std::string to_text(const Report& r) {
  std::ostringstream os;
  const size_t nc = r.cases.size();
  size_t w = 6;
  for (const auto& c : r.cases) w = std::max(w, c.label().size());
  char line[512];
  for (size_t t = 0; t < r.tensors.size(); ++t) {
    const TensorInfo& ti = r.tensors[t];
    double amax = 0;
    size_t zeros = 0;
    for (float v : ti.data) {
      amax = std::max(amax, double(std::fabs(v)));
      zeros += v == 0;
    }
    os << "== " << ti.name << "  " << shape_string(ti.shape);
    if (!ti.role.empty()) os << "  role " << ti.role;
    os << "  max|x| " << fmt("%.4g", amax) << "  zeros " << fmt("%.1f", 100.0 * zeros / ti.data.size()) << "%\n";
    std::snprintf(line, sizeof line, "%-*s %7s %8s %10s %10s %9s %10s %7s %7s %7s\n", int(w), "format rounding", "bits/el",
                  "SQNR dB", "MSE", "max|err|", "max rel", "bias", "flush%", "qmax%", "subn%");
    os << line;
    for (size_t c = 0; c < nc; ++c) {
      const Stats& s = r.rows[t * nc + c].stats;
      std::snprintf(line, sizeof line, "%-*s %7.3f %8s %10.3e %10.3e %9.3g %10.2e %7.2f %7.2f %7.2f\n", int(w),
                    r.cases[c].label().c_str(), s.bits_per_element, db_text(s.sqnr_db, s.exact).c_str(), s.mse,
                    s.max_abs_error, s.max_rel_error, s.mean_error, 100 * s.frac_flushed_to_zero, 100 * s.frac_at_qmax,
                    100 * s.frac_subnormal);
      os << line;
      if (!s.averaging.empty()) {
        os << std::string(w, ' ') << "   sr, mean of k of the " << s.seeds << " quantizations: bias (tensor-mean error) and per-element rms error:";
        for (const auto& p : s.averaging)
          os << "  k=" << p.k << " bias " << fmt("%.2e", p.mean_error) << " rms " << fmt("%.2e", p.rms_error);
        os << "\n";
      }
    }
    os << "\n";
  }
  const auto pt = choice_per_tensor(r);
  os << "Cheapest format with SQNR >= " << fmt("%g", r.options.target_db) << " dB (fewest bits per element):\n";
  for (size_t t = 0; t < pt.size(); ++t) {
    os << "  " << r.tensors[t].name << " [" << role_of(r.tensors[t]) << "]: ";
    if (pt[t] < 0) {
      os << "none of the " << nc << " cases\n";
    } else {
      const Stats& s = r.rows[pt[t]].stats;
      os << r.cases[r.rows[pt[t]].case_index].label() << " (" << fmt("%.3f", s.bits_per_element) << " bits, "
         << db_text(s.sqnr_db, s.exact) << " dB)\n";
    }
  }
  os << "Per role (one case meeting the target on every tensor of the role):\n";
  for (const auto& [role, c] : choice_per_role(r))
    os << "  " << role << ": " << (c < 0 ? std::string("none") : r.cases[c].label()) << "\n";
  return os.str();
}

}  // namespace mls::inspect
