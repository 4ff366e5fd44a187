// The generator driver: options, planning, sharding, threads, merge (8.8, 8.9).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

#include "gen_internal.hpp"
#include "mls/error.hpp"
#include "mls/interrupt.hpp"
#include "mls/vectors/io.hpp"
#include "mls/vectors/schema.hpp"

namespace mls::vectors {

// ---- options ----

const std::vector<std::string>& variant_formats() {
  // Edge formats beyond the named profiles (8.8): the zero_only gap, the
  // nearest and floor scale policies, positive zeros, the overflow error,
  // E = 1 with a short group-scale range, and a non-default bias.
  static const std::vector<std::string> v = {"e2m1z.g4m1",          "e3m3.g4m1:nearest", "e2m1.g3m0:floor",
                                             "e2m4.g4m1:poszero",   "e2m1.g4m1:ovf_error", "e1m2.g2m1",
                                             "e2m1b2.g4m1"};
  return v;
}

ArithProfile named_arith(const std::string& name) {
  ArithProfile p;
  if (name == "exact") return p;
  if (name == "acc24") {
    p.profile = ArithKind::accumulator;
    p.frac_bits = 8;
    p.width = 24;
    p.alignment = RoundingMode::rtz;
    p.overflow = AccOverflow::saturate;
    p.inter_group = InterGroup::fp32;
    p.final_rounding = RoundingMode::rne;
    return p;
  }
  if (name == "acc12wrap") {
    p.profile = ArithKind::accumulator;
    p.frac_bits = 4;
    p.width = 12;
    p.alignment = RoundingMode::rne;
    p.overflow = AccOverflow::wrap;
    p.inter_group = InterGroup::exact;
    p.final_rounding = RoundingMode::rtz;
    return p;
  }
  if (!name.empty() && name.front() == '{') return parse_arith(name);
  throw Error("arith \"" + name + "\" is not exact, acc24, acc12wrap or a JSON arithmetic profile");
}

void GenOptions::validate() const {
  if (level < 1 || level > 2) throw Error("level = " + std::to_string(level) + " is not 1 or 2");
  if (shard_count < 1) throw Error("shard: the part count N of i/N must be >= 1");
  if (shard_index < 0 || shard_index >= shard_count)
    throw Error("shard: the index i of i/N must be in 0.." + std::to_string(shard_count - 1));
  if (binades) {
    if (binades->first > binades->second) throw Error("binades: the first exponent is above the last");
    if (binades->first < -127 || binades->second > 127)
      throw Error("binades: exponents must lie in -127..127 (-127 = the subnormals)");
  }
  if (jobs < 0) throw Error("jobs must be >= 0");
}

nlohmann::json GenOptions::to_json() const {
  nlohmann::json j;
  std::vector<std::string> o;
  for (Op op : ops) o.push_back(to_string(op));
  j["ops"] = o;
  j["formats"] = formats;
  j["roundings"] = roundings;
  j["ariths"] = ariths;
  j["seed"] = seed;
  j["level"] = level;
  j["exhaustive"] = exhaustive;
  j["binades"] = binades ? nlohmann::json::array({binades->first, binades->second}) : nlohmann::json(nullptr);
  return j;
}

namespace gen {

// ---- random numbers and numeric helpers ----

uint32_t Rng::next() {
  if (used_ == 4) {
    out_ = philox4x32_10({uint32_t(k_), uint32_t(k_ >> 32), stream_, block_++}, key_);
    used_ = 0;
  }
  return out_[used_++];
}

uint32_t fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 16777619u;
  }
  return h;
}

uint32_t fp32_bits_of(const Dyadic& v) {
  const float f = round_to_fp32(v);
  uint32_t b = float_bits(f);
  if ((b & 0x7fffffffu) == 0x7f800000u) b = (b & 0x80000000u) | 0x7f7fffffu;
  return b;
}

uint32_t fp32_next(uint32_t bits) {
  const uint32_t mag = bits & 0x7fffffffu;
  return mag >= 0x7f7fffffu ? bits : bits + 1;
}
uint32_t fp32_prev(uint32_t bits) {
  const uint32_t mag = bits & 0x7fffffffu;
  return mag == 0 ? bits : bits - 1;
}

uint32_t random_finite_fp32(Rng& r) {
  for (;;) {
    const uint32_t b = r.next();
    if ((b & 0x7f800000u) != 0x7f800000u) return b;
  }
}

uint32_t random_fp32_in_binades(Rng& r, int lo, int hi) {
  lo = std::clamp(lo, -149, 127);
  hi = std::clamp(hi, lo, 127);
  const int e = r.range(lo, hi);
  const Dyadic v(BigInt((uint64_t(1) << 23) | (r.next() & 0x7fffffu)), e - 23);
  return fp32_bits_of(v) & 0x7fffffffu;
}

uint32_t group_scale_one(const Format& f) {
  // The scale 1.0 (MLS: bias << Mg), or the nearest scale when 1 is not on the grid.
  return static_cast<uint32_t>(round_to_grid(f.group_scale, RoundInput{false, Dyadic::from_int(1), Dyadic::from_int(1)},
                                             Rounding{RoundingMode::rne, 8}, 0, OverflowPolicy::saturate)
                                   .code);
}

std::vector<uint32_t> scale_codes(const Minifloat& g) {
  std::vector<uint32_t> v;
  for (uint64_t i = g.has_zero() ? 1 : 0; i < g.valid_magnitude_count(); ++i)
    v.push_back(static_cast<uint32_t>(g.encode(false, g.nth_magnitude(i))));
  return v;
}

std::vector<uint32_t> special_codes(const Minifloat& m) {
  std::vector<uint32_t> v;
  if (m.has_nan()) v.push_back(static_cast<uint32_t>(m.nan_code(false)));
  if (m.has_nan() && m.is_signed) v.push_back(static_cast<uint32_t>(m.nan_code(true)));
  if (m.has_inf()) {
    v.push_back(static_cast<uint32_t>(m.inf_code(false)));
    v.push_back(static_cast<uint32_t>(m.inf_code(true)));
  }
  return v;
}

std::vector<uint32_t> valid_element_codes(const Minifloat& m) {
  std::vector<uint32_t> v;
  for (uint64_t c = 0; c < m.code_count(); ++c)
    if (m.is_valid_code(c)) v.push_back(static_cast<uint32_t>(c));
  return v;
}

uint32_t threshold_word(Rng& r, uint64_t thr, int R) {
  const uint64_t top = uint64_t(1) << R;
  uint64_t v = thr;
  switch (r.below(3)) {
    case 0: v = thr; break;
    case 1: v = thr == 0 ? 0 : thr - 1; break;
    default: v = thr + 1; break;
  }
  if (v >= top) v = top - 1;
  if (R == 32) return static_cast<uint32_t>(v);
  uint32_t low = 0;
  switch (r.below(3)) {
    case 0: low = 0; break;
    case 1: low = 0xffffffffu; break;
    default: low = r.next(); break;
  }
  return sr_word(v, R, low);
}

uint8_t rule_code(Rule r) { return static_cast<uint8_t>(enum_code(r)); }

Attrs base_attrs(Op op, const std::string& label) {
  Attrs a;
  a["op"] = to_string(op);
  a["label"] = label;
  return a;
}

Context resolve(const GenOptions& o) {
  Context c;
  c.opt = o;
  std::vector<std::string> texts = o.formats.empty() ? std::vector<std::string>{"profiles"} : o.formats;
  for (const auto& t : texts) {
    if (t == "profiles") {
      for (const auto& p : named_profiles()) c.formats.push_back({p.name, p.format});
    } else if (t == "variants") {
      for (const auto& v : variant_formats()) c.formats.push_back({v, parse_format(v)});
    } else {
      c.formats.push_back({t, parse_format(t)});
    }
  }
  const std::vector<std::string> rtexts =
      o.roundings.empty() ? std::vector<std::string>{"rne", "rna", "rtz", "rup", "rdn", "rto", "sr8"} : o.roundings;
  for (const auto& t : rtexts) c.roundings.push_back(parse_rounding(t));
  const std::vector<std::string> atexts =
      o.ariths.empty() ? std::vector<std::string>{"exact", "acc24", "acc12wrap"} : o.ariths;
  for (const auto& t : atexts) c.ariths.push_back({t, named_arith(t)});
  return c;
}

namespace {

bool selected(const GenOptions& o, Op op) { return o.ops.empty() || std::find(o.ops.begin(), o.ops.end(), op) != o.ops.end(); }

std::vector<GroupPlan> make_plan(const GenOptions& o) {
  o.validate();
  const Context c = resolve(o);
  std::map<Op, std::vector<GroupPlan>> per;
  if (selected(o, Op::round)) plan_round(c, per[Op::round]);
  if (selected(o, Op::quantize) || selected(o, Op::dequantize)) {
    std::vector<GroupPlan> q, d;
    plan_tensor(c, q, d);
    if (selected(o, Op::quantize)) per[Op::quantize] = std::move(q);
    if (selected(o, Op::dequantize)) per[Op::dequantize] = std::move(d);
  }
  if (selected(o, Op::philox)) plan_philox(c, per[Op::philox]);
  if (selected(o, Op::conv) || selected(o, Op::gemm)) {
    std::vector<GroupPlan> cv, gm;
    plan_reduction(c, cv, gm);
    if (selected(o, Op::conv)) per[Op::conv] = std::move(cv);
    if (selected(o, Op::gemm)) per[Op::gemm] = std::move(gm);
  }
  std::vector<GroupPlan> all;
  for (Op op : all_ops()) {  // all_ops() is in path order
    auto& v = per[op];
    size_t width = 4;
    while (v.size() > 1 && std::to_string(v.size() - 1).size() > width) ++width;
    for (size_t i = 0; i < v.size(); ++i) {
      std::string n = std::to_string(i);
      n.insert(0, width - n.size(), '0');
      v[i].summary.path = "/" + to_string(op) + "/" + n;
      v[i].summary.op = op;
      all.push_back(std::move(v[i]));
    }
  }
  return all;
}

// Bytes of case data per case of a group (the memory the output needs).
uint64_t bytes_per_case(const GroupPlan& p) {
  uint64_t b = 0;
  for (const auto& s : dataset_specs(p.summary.op, p.attrs, p.summary.path)) {
    uint64_t n = 1;
    for (uint64_t d : case_dims(s, p.attrs, p.summary.path)) n *= d;
    b += n * (s.dtypes.front() == DType::str ? 24 : 8);
  }
  return b;
}

}  // namespace
}  // namespace gen

std::vector<GroupSummary> plan_suite(const GenOptions& o) {
  std::vector<GroupSummary> v;
  for (auto& p : gen::make_plan(o)) v.push_back(p.summary);
  return v;
}

namespace {
// The options with every default and list word spelled out, so that equal
// suites record equal options however they were asked for.
GenOptions resolved_options(const GenOptions& o) {
  GenOptions r = o;
  if (r.ops.empty()) r.ops = all_ops();
  std::sort(r.ops.begin(), r.ops.end());
  r.ops.erase(std::unique(r.ops.begin(), r.ops.end()), r.ops.end());
  const gen::Context c = gen::resolve(o);
  r.formats.clear();
  for (const auto& f : c.formats) r.formats.push_back(f.first);
  r.roundings.clear();
  for (const auto& x : c.roundings) r.roundings.push_back(rounding_name(x));
  r.ariths.clear();
  for (const auto& a : c.ariths) r.ariths.push_back(a.first);
  return r;
}

Attrs root_attrs(const GenOptions& o, uint64_t suite_groups, uint64_t suite_cases) {
  Attrs a;
  a["schema"] = std::string(kSchemaName);
  a["schema_version"] = kSchemaVersion;
  a["kind"] = std::string("vectors");
  a["generator"] = std::string("mls-ref ") + MLS_VERSION;
  a["generator_version"] = std::string(MLS_VERSION);
  a["spec_version"] = std::string(MLS_SPEC_VERSION);
  a["seed"] = o.seed;
  a["level"] = int64_t(o.level);
  a["exhaustive"] = int64_t(o.exhaustive ? 1 : 0);
  a["options"] = resolved_options(o).to_json().dump();
  a["shard_index"] = int64_t(o.shard_index);
  a["shard_count"] = int64_t(o.shard_count);
  a["suite_group_count"] = suite_groups;
  a["suite_case_count"] = suite_cases;
  return a;
}

uint64_t shard_bound(uint64_t total, int i, int n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(total) * static_cast<unsigned>(i)) / static_cast<unsigned>(n));
}
}  // namespace

Suite generate(const GenOptions& o) {
  const std::vector<gen::GroupPlan> plan = gen::make_plan(o);
  uint64_t T = 0;
  for (const auto& p : plan) T += p.summary.total;
  const uint64_t lo = shard_bound(T, o.shard_index, o.shard_count), hi = shard_bound(T, o.shard_index + 1, o.shard_count);

  Suite s;
  s.attrs = root_attrs(o, plan.size(), T);
  struct Work {
    size_t group;  // index into s.groups
    const gen::Maker* maker;
    uint64_t first_k, rows;
  };
  std::vector<Work> work;
  uint64_t start = 0, bytes = 0;
  for (const auto& p : plan) {
    const uint64_t a = std::max(lo, start), b = std::min(hi, start + p.summary.total);
    if (a < b) bytes += (b - a) * gen::bytes_per_case(p);
    start += p.summary.total;
  }
  if (bytes > o.max_bytes)
    throw Error("the output would hold " + std::to_string(hi - lo) + " cases (about " + std::to_string(bytes >> 20) +
                " MiB in memory); split it with --shard i/N or narrow it (--binades, --ops, --formats)");
  start = 0;
  for (const auto& p : plan) {
    const uint64_t a = std::max(lo, start), b = std::min(hi, start + p.summary.total);
    if (a < b) {
      CaseGroup g;
      g.path = p.summary.path;
      g.op = p.summary.op;
      g.attrs = p.attrs;
      g.attrs["case_offset"] = a - start;
      g.attrs["case_total"] = p.summary.total;
      g.attrs["case_count"] = b - a;
      for (const auto& spec : dataset_specs(g.op, g.attrs, g.path)) {
        std::vector<uint64_t> dims = {b - a};
        for (uint64_t d : case_dims(spec, g.attrs, g.path)) dims.push_back(d);
        g.data[spec.name] = Array::make(spec.dtypes.back(), dims);  // exact_mant starts as strings
      }
      work.push_back({s.groups.size(), p.maker.get(), a - start, b - a});
      s.groups.push_back(std::move(g));
    }
    start += p.summary.total;
  }

  // Chunks of cases, computed by a pool of threads; each row is written by
  // exactly one chunk, so the result does not depend on the schedule.
  struct Chunk {
    size_t work;
    uint64_t row0, rows;
  };
  std::vector<Chunk> chunks;
  for (size_t w = 0; w < work.size(); ++w)
    for (uint64_t r = 0; r < work[w].rows; r += 256) chunks.push_back({w, r, std::min<uint64_t>(256, work[w].rows - r)});
  std::atomic<size_t> next{0};
  if (o.progress) o.progress->set_total(hi - lo);
  std::mutex err_mu;
  size_t err_chunk = SIZE_MAX;
  std::exception_ptr err;
  auto worker = [&] {
    for (;;) {
      if (interrupt::requested()) return;  // a chunk boundary: generate() throws Interrupted below
      const size_t i = next.fetch_add(1);
      if (i >= chunks.size()) return;
      const Chunk& ch = chunks[i];
      const Work& w = work[ch.work];
      try {
        auto& data = s.groups[w.group].data;
        for (uint64_t r = ch.row0; r < ch.row0 + ch.rows; ++r) w.maker->fill(data, r, w.first_k + r);
        if (o.progress) o.progress->add(ch.rows);
      } catch (...) {
        std::lock_guard<std::mutex> lock(err_mu);
        if (i < err_chunk) {
          err_chunk = i;
          err = std::current_exception();
        }
      }
    }
  };
  unsigned n = o.jobs > 0 ? static_cast<unsigned>(o.jobs) : std::max(1u, std::thread::hardware_concurrency());
  n = static_cast<unsigned>(std::min<size_t>(n, std::max<size_t>(1, chunks.size())));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < n; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (err) std::rethrow_exception(err);
  if (interrupt::requested()) {
    uint64_t made = 0;
    if (o.progress) made = o.progress->snapshot().done;
    throw interrupt::Interrupted("gen: interrupted (" + interrupt::signal_name() + ")" +
                                 (o.progress ? " after " + std::to_string(made) + " of " + std::to_string(hi - lo) + " cases" : "") +
                                 "; nothing written");
  }
  for (auto& g : s.groups)
    if (g.data.count("info/exact_mant")) compact_exact(g.data["info/exact_mant"]);
  finalize_suite(s);
  return s;
}

// ---- merge ----

namespace {
const std::set<std::string> kShardRootAttrs = {"shard_index", "shard_count", "group_count", "case_count", "content_sha256"};
const std::set<std::string> kShardGroupAttrs = {"case_offset", "case_count", "sha256"};

std::string attr_text(const AttrValue& v) {
  if (auto s = std::get_if<std::string>(&v)) return "\"" + *s + "\"";
  if (auto i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto u = std::get_if<uint64_t>(&v)) return std::to_string(*u);
  return shape_string(std::get<std::vector<int64_t>>(v));
}

void compare_attrs(const Attrs& a, const Attrs& b, const std::set<std::string>& skip, const std::string& where) {
  std::set<std::string> keys;
  for (const auto& [k, v] : a) keys.insert(k);
  for (const auto& [k, v] : b) keys.insert(k);
  for (const auto& k : keys) {
    if (skip.count(k)) continue;
    const auto ia = a.find(k), ib = b.find(k);
    if (ia == a.end() || ib == b.end()) throw Error(where + ": attribute \"" + k + "\" is present in only one shard");
    if (!(ia->second == ib->second))
      throw Error(where + ": attribute \"" + k + "\" differs between shards (" + attr_text(ia->second) + " vs " +
                  attr_text(ib->second) + ")");
  }
}

void append(Array& dst, const Array& src, const std::string& where) {
  if (dst.dims.size() != src.dims.size() || !std::equal(dst.dims.begin() + 1, dst.dims.end(), src.dims.begin() + 1))
    throw Error(where + ": per-case dims differ between shards");
  Array s = src;
  if (dst.dtype != s.dtype) {
    // exact_mant: int64 in one shard, decimal strings in another (8.4).
    auto to_str = [](Array& a) {
      if (a.dtype != DType::i64) return;
      a.strs.resize(a.ints.size());
      for (size_t i = 0; i < a.ints.size(); ++i) a.strs[i] = std::to_string(static_cast<int64_t>(a.ints[i]));
      a.ints.clear();
      a.dtype = DType::str;
    };
    to_str(dst);
    to_str(s);
    if (dst.dtype != s.dtype) throw Error(where + ": dtype differs between shards");
  }
  dst.dims[0] += s.dims[0];
  dst.ints.insert(dst.ints.end(), s.ints.begin(), s.ints.end());
  dst.strs.insert(dst.strs.end(), s.strs.begin(), s.strs.end());
}
}  // namespace

Suite merge_shards(const std::vector<Suite>& shards) {
  if (shards.empty()) throw Error("merge: no shards given");
  const int64_t n = attr_int(shards[0].attrs, "shard_count", "shard 0 /");
  std::vector<const Suite*> by_index(static_cast<size_t>(std::max<int64_t>(n, 0)), nullptr);
  for (size_t i = 0; i < shards.size(); ++i) {
    const Suite& s = shards[i];
    const std::string w = "input " + std::to_string(i + 1);
    if (s.kind() != Kind::vectors) throw Error("merge: " + w + " is not a vector file");
    if (attr_int(s.attrs, "shard_count", w) != n)
      throw Error("merge: " + w + " is part of a split into " + std::to_string(attr_int(s.attrs, "shard_count", w)) +
                  " shards, input 1 of " + std::to_string(n));
    const int64_t idx = attr_int(s.attrs, "shard_index", w);
    if (idx < 0 || idx >= n) throw Error("merge: " + w + " has shard_index " + std::to_string(idx) + " outside 0.." + std::to_string(n - 1));
    if (by_index[idx]) throw Error("merge: shard " + std::to_string(idx) + "/" + std::to_string(n) + " is given twice");
    by_index[idx] = &s;
    compare_attrs(shards[0].attrs, s.attrs, kShardRootAttrs, "merge: " + w + " (shard " + std::to_string(idx) + ") /");
  }
  for (int64_t i = 0; i < n; ++i)
    if (!by_index[i]) throw Error("merge: shard " + std::to_string(i) + "/" + std::to_string(n) + " is missing");

  Suite out;
  out.attrs = shards[0].attrs;
  out.attrs["shard_index"] = int64_t(0);
  out.attrs["shard_count"] = int64_t(1);
  std::map<std::string, std::vector<std::pair<int64_t, const CaseGroup*>>> parts;
  for (int64_t i = 0; i < n; ++i)
    for (const auto& g : by_index[i]->groups) parts[g.path].push_back({i, &g});
  for (auto& [path, list] : parts) {
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      return attr_uint(a.second->attrs, "case_offset", "") < attr_uint(b.second->attrs, "case_offset", "");
    });
    CaseGroup g = *list.front().second;
    const uint64_t total = attr_uint(g.attrs, "case_total", path);
    uint64_t next = 0;
    for (size_t j = 0; j < list.size(); ++j) {
      const CaseGroup& p = *list[j].second;
      const std::string w = "merge: shard " + std::to_string(list[j].first) + " " + path;
      compare_attrs(g.attrs, p.attrs, kShardGroupAttrs, w);
      const uint64_t off = attr_uint(p.attrs, "case_offset", w);
      if (off != next)
        throw Error(w + ": holds cases from " + std::to_string(off) + " but the previous part ends at " + std::to_string(next) +
                    (off > next ? " (a shard is missing cases)" : " (shards overlap)"));
      next += p.count();
      if (j == 0) continue;
      for (auto& [name, a] : g.data) {
        auto it = p.data.find(name);
        if (it == p.data.end()) throw Error(w + "/" + name + ": dataset is missing in this shard");
        append(a, it->second, w + "/" + name);
      }
    }
    if (next != total)
      throw Error("merge: " + path + ": the shards hold " + std::to_string(next) + " of its " + std::to_string(total) + " cases");
    g.attrs["case_offset"] = uint64_t(0);
    if (g.data.count("info/exact_mant")) compact_exact(g.data["info/exact_mant"]);
    out.groups.push_back(std::move(g));
  }
  finalize_suite(out);
  const uint64_t want_groups = attr_uint(out.attrs, "suite_group_count", "/");
  const uint64_t want_cases = attr_uint(out.attrs, "suite_case_count", "/");
  if (out.groups.size() != want_groups || out.case_count() != want_cases)
    throw Error("merge: the shards hold " + std::to_string(out.groups.size()) + " groups and " +
                std::to_string(out.case_count()) + " cases, the suite has " + std::to_string(want_groups) + " and " +
                std::to_string(want_cases));
  return out;
}

}  // namespace mls::vectors
