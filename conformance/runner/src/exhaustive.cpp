// The exhaustive checking engine (spec/11-exhaustive.md 11.7, 11.8): batches
// of consecutive fp32 bit patterns through the backend's C ABI on every
// core, each answer compared with the breakpoint table entry by entry.
#include "mls/conformance/exhaustive.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>

#include "exhaustive_internal.hpp"
#include "mls/bits.hpp"
#include "mls/conformance/abi.hpp"
#include "mls/conformance/backend.hpp"
#include "mls/error.hpp"
#include "mls/vectors/breakpoints_file.hpp"
#include "mls_backend.h"

namespace mls::conformance {

using detail::ClassKey;
using detail::last_error;
using detail::Tally;
using detail::Worker;

namespace detail {

std::string last_error(const mls_backend_v2* api) {
  const char* e = api->last_error();
  return e && *e ? e : "(no message)";
}

Worker::Worker(const BreakpointTable& t, const mls_backend_v2* api, uint64_t batch, size_t first_inputs)
    : t_(t), api_(api), k_first_(first_inputs), x_(batch), codes_(batch), status_(batch) {
  sr_ = t.spec.rounding.mode == RoundingMode::sr;
  if (sr_) rand_.assign(batch, t.spec.word);
}

void Worker::process_range(uint64_t lo, uint64_t hi, Tally& tally) {
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  tally_ = &tally;
  const auto& e = t_.entries;
  size_t k = t_.find(static_cast<uint32_t>(lo));
  uint64_t pos = lo;
  while (pos <= hi) {
    if (e[k].outcome.status != kBreakpointOk) {  // inputs the spec makes errors: one call each
      const uint64_t end = std::min<uint64_t>(hi, t_.last(k));
      singles(pos, end, e[k].outcome, tally);
      pos = end + 1;
      ++k;
      continue;
    }
    size_t k2 = k;  // a stretch of entries with codes: one call
    uint64_t end = pos;
    while (k2 < e.size() && e[k2].start <= hi && e[k2].outcome.status == kBreakpointOk) {
      end = std::min<uint64_t>(hi, t_.last(k2));
      ++k2;
    }
    const size_t n = static_cast<size_t>(end - pos + 1);
    std::iota(x_.begin(), x_.begin() + static_cast<ptrdiff_t>(n), static_cast<uint32_t>(pos));
    failed_ = false;
    const auto t0 = Clock::now();
    call(0, n, tally);
    backend_s += since(t0);
    const auto t1 = Clock::now();
    for (size_t j = k; j < k2; ++j) {
      const uint64_t a = std::max<uint64_t>(pos, e[j].start), b = std::min<uint64_t>(end, t_.last(j));
      compare(static_cast<size_t>(a - pos), static_cast<size_t>(b - a + 1), e[j].outcome.code, tally);
    }
    compare_s += since(t1);
    pos = end + 1;
    k = k2;
  }
  tally_ = nullptr;
}

void Worker::call(size_t off, size_t n, Tally& tally) {
  const int32_t st = call_backend(off, n);
  if (st == MLS_OK) {
    if (failed_) std::memset(status_.data() + off, 0, n);
    return;
  }
  if (!failed_) {  // from now on this stretch carries statuses
    failed_ = true;
    std::memset(status_.data(), 0, status_.size());
  }
  if (n == 1) {
    status_[off] = static_cast<uint8_t>(std::clamp(st, 0, 255));
    if (st != MLS_ERR_INPUT && st != MLS_ERR_UNSUPPORTED && tally.failure_messages.size() < 3)
      tally.failure_messages.push_back(hex32(x_[off]) + ": status " + std::to_string(st) + ": " + last_error(api_));
    return;
  }
  call(off, n / 2, tally);
  call(off + n / 2, n - n / 2, tally);
}

void Worker::compare(size_t off, size_t n, uint32_t want, Tally& tally) {
  const uint32_t* c = codes_.data() + off;
  if (!failed_) {
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) bad += c[i] != want;  // the memory-speed path
    if (bad == 0) {
      tally.matched += n;
      return;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const uint8_t st = failed_ ? status_[off + i] : 0;
    if (st == MLS_OK && c[i] == want) {
      ++tally.matched;
      continue;
    }
    record({want, kBreakpointOk}, st, st == MLS_OK ? c[i] : 0, x_[off + i], tally);
  }
}

void Worker::singles(uint64_t a, uint64_t b, const BreakpointOutcome& want, Tally& tally) {
  using Clock = std::chrono::steady_clock;
  for (uint64_t v = a; v <= b; ++v) {
    x_[0] = static_cast<uint32_t>(v);
    const auto t0 = Clock::now();
    const int32_t st = call_backend(0, 1);
    backend_s += std::chrono::duration<double>(Clock::now() - t0).count();
    if (st == MLS_ERR_INPUT) {
      ++tally.matched;
      continue;
    }
    if (st != MLS_OK && st != MLS_ERR_UNSUPPORTED && tally.failure_messages.size() < 3)
      tally.failure_messages.push_back(hex32(x_[0]) + ": status " + std::to_string(st) + ": " + last_error(api_));
    record(want, static_cast<uint8_t>(std::clamp(st, 0, 255)), st == MLS_OK ? codes_[0] : 0, x_[0], tally);
  }
}

void Worker::record(const BreakpointOutcome& want, uint8_t st, uint32_t got, uint32_t x, Tally& tally,
                    ClassKey::Kind kind) {
  if (st == MLS_ERR_UNSUPPORTED) {
    ++tally.skipped;
    return;
  }
  tally.add({kind, want.status, want.code, st, got}, x, k_first_);
}

}  // namespace detail

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The function table of a C ABI library. make_library_backend() checks the
// library, its entry point, version and table (and never unloads it); the
// same handle is then asked for the table this engine calls directly.
struct Api {
  const mls_backend_v2* api = nullptr;
  std::string name;
};
Api load_api(const std::string& path) {
  Api a;
  try {
    auto b = make_library_backend(path);
    a.name = b->capabilities().name;
  } catch (const Error& e) {
    throw BackendUnavailable(e.what());
  }
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  auto get = h ? reinterpret_cast<mls_backend_get_fn>(dlsym(h, MLS_BACKEND_ENTRY)) : nullptr;
  a.api = get ? get(MLS_BACKEND_ABI_VERSION) : nullptr;
  if (!a.api) throw BackendUnavailable("backend library " + path + ": cannot be loaded a second time");
  return a;
}


// ---- the plan: what to run, in batches ----

std::vector<PatternRange> subtract(const PatternRange& target, const std::vector<PatternRange>& covered) {
  std::vector<PatternRange> out;
  uint64_t pos = target.first;
  for (const auto& c : covered) {
    if (c.last < pos || c.first > target.last) continue;
    if (c.first > pos) out.push_back({pos, c.first - 1});
    pos = c.last + 1;
    if (pos > target.last) break;
  }
  if (pos <= target.last) out.push_back({pos, target.last});
  return out;
}

std::vector<PatternRange> batches_of(const std::vector<PatternRange>& todo, uint64_t batch) {
  std::vector<PatternRange> b;
  for (const auto& r : todo)
    for (uint64_t a = r.first; a <= r.last; a += batch) b.push_back({a, std::min(r.last, a + batch - 1)});
  return b;
}

// `round` (mls_cast_v2): the cast of 3 / 4.5.
class RoundWorker final : public Worker {
 public:
  RoundWorker(const BreakpointTable& t, const mls_backend_v2* api, const mls_cast_v2& cast, uint64_t batch, size_t k)
      : Worker(t, api, batch, k), cast_(cast) {}

 private:
  int32_t call_backend(size_t off, size_t n) override {
    return api_->round(&cast_, x_.data() + off, n, sr_ ? rand_.data() + off : nullptr, sr_ ? n : 0,
                       codes_.data() + off, n);
  }
  mls_cast_v2 cast_;
};

mls_cast_v2 cast_of(const BreakpointSpec& s) {
  mls_cast_v2 c{};
  c.element = abi_minifloat(s.element);
  c.rounding = abi_rounding(s.rounding);
  c.overflow = enum_code(s.overflow);
  c.signed_zero = enum_code(s.signed_zero);
  const Dyadic sc = s.scale.normalized();
  c.scale_mant = static_cast<int64_t>(sc.m);
  c.scale_exp = static_cast<int32_t>(sc.e);
  return c;
}

// The backend must compute the op for this spec before anything is run.
void probe_round(const Api& a, const BreakpointTable& t) {
  const BreakpointSpec& s = t.spec;
  if (s.arith != QuantArith::exact)
    throw Error("the table's spec has arith = " + to_string(s.arith) +
                ": a cast (round) is exact; check a quantizer profile with --stage quantize");
  mls_cast_v2 c = cast_of(s);
  mls_format_v2 f{};
  f.element = c.element;
  f.overflow = c.overflow;
  f.signed_zero = c.signed_zero;
  const int32_t st = a.api->supports(MLS_OP_ROUND, &f, &c.rounding, MLS_QARITH_EXACT, nullptr);
  if (st != MLS_OK)
    throw BackendUnavailable(a.name + " does not compute round for " + s.label() + " (supports answered " +
                             (st == MLS_ERR_UNSUPPORTED ? "MLS_ERR_UNSUPPORTED" : "status " + std::to_string(st)) +
                             ": " + last_error(a.api) + "): nothing checked");
  // One input with a code: a library whose round entry declines everything says so here.
  uint32_t x = 0, code = 0;
  for (const auto& e : t.entries)
    if (e.outcome.status == kBreakpointOk) {
      x = e.start;
      break;
    }
  const uint32_t w = s.word;
  const int32_t r = a.api->round(&c, &x, 1, s.rounding.mode == RoundingMode::sr ? &w : nullptr,
                                 s.rounding.mode == RoundingMode::sr ? 1 : 0, &code, 1);
  if (r == MLS_ERR_UNSUPPORTED)
    throw BackendUnavailable(a.name + ": round answered MLS_ERR_UNSUPPORTED for " + hex32(x) + " (" + s.label() +
                             "): " + last_error(a.api) + ": nothing checked");
}

// A plain loop that only makes and reads the inputs, batch by batch on the
// same threads: the memory-bound limit of any check (11.9).
double baseline_rate(const std::vector<PatternRange>& batches, int threads, uint64_t batch) {
  uint64_t total = 0;
  for (const auto& b : batches) total += b.size();
  if (total == 0) return 0;
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> sink{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i)
    pool.emplace_back([&] {
      std::vector<uint32_t> x(batch);
      uint64_t s = 0;
      for (size_t b; (b = next.fetch_add(1)) < batches.size();) {
        const size_t n = static_cast<size_t>(batches[b].size());
        std::iota(x.begin(), x.begin() + static_cast<ptrdiff_t>(n), static_cast<uint32_t>(batches[b].first));
        const uint32_t* p = x.data();
        for (size_t j = 0; j < n; ++j) s += p[j];
      }
      sink += s;
    });
  for (auto& t : pool) t.join();
  const double dt = since(t0);
  return dt > 0 ? double(total) / dt : 0;
}

}  // namespace

ExhaustiveReport run_exhaustive(const BreakpointTable& table, const std::string& backend_lib,
                                const std::optional<QuantizeStage>& quantize, const ExhaustiveOptions& o) {
  table.check_structure();
  if (o.batch < 1 || o.batch > (uint64_t(1) << 26)) throw Error("batch = " + std::to_string(o.batch) + " is outside 1..2^26");
  const Api api = load_api(backend_lib);
  if (quantize) detail::probe_quantize(api.api, api.name, table, *quantize);
  else probe_round(api, table);

  ExhaustiveReport rep;
  rep.spec = table.spec;
  rep.table_sha256 = vectors::breakpoint_digest(table);
  rep.implementation = api.name;
  if (quantize) {
    rep.stage = quantize->to_json();
    rep.stage["op"] = "quantize";
  }
  rep.requested = o.range;
  rep.shard = o.shard;
  const PatternRange target = rep.target();
  std::vector<PatternRange> prior;
  Tally tally;
  if (o.resume) {
    const ExhaustiveReport& r = *o.resume;
    if (r.table_sha256 != rep.table_sha256 || r.implementation != rep.implementation || r.stage != rep.stage ||
        !(r.requested == rep.requested) || r.shard != rep.shard)
      throw Error("--resume: the partial report is of another check (table, implementation, stage, range or shard differ)");
    prior = r.covered;
    tally = detail::tally_of(r);
  }
  const std::vector<PatternRange> batches = batches_of(subtract(target, prior), o.batch);
  const int threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  uint64_t total = 0;
  for (const auto& b : batches) total += b.size();
  if (o.baseline) rep.run["baseline_inputs_per_s"] = baseline_rate(batches, threads, o.batch);

  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint8_t> done(batches.size(), 0);
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> done_inputs{0}, mismatches{tally.mismatched + tally.backend_failures};
  double backend_s = 0, compare_s = 0;
  std::string worker_error;
  int running = threads;
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i)
    pool.emplace_back([&] {
      try {
        std::unique_ptr<Worker> w;
        if (quantize) w = detail::make_quantize_worker(table, api.api, *quantize, o.batch, o.first_inputs);
        else w = std::make_unique<RoundWorker>(table, api.api, cast_of(table.spec), o.batch, o.first_inputs);
        for (size_t b; (b = next.fetch_add(1)) < batches.size();) {
          if (o.stop && o.stop->load()) break;
          Tally local;
          w->process(batches[b].first, batches[b].last, local);
          std::lock_guard<std::mutex> lk(mu);
          tally.merge(local, o.first_inputs);
          done[b] = 1;
          done_inputs += batches[b].size();
          mismatches = tally.mismatched + tally.backend_failures;
          if (o.after_batch) o.after_batch(done_inputs.load());
        }
        std::lock_guard<std::mutex> lk(mu);
        backend_s += w->backend_s;
        compare_s += w->compare_s;
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lk(mu);
        if (worker_error.empty()) worker_error = e.what();
      }
      std::lock_guard<std::mutex> lk(mu);
      --running;
      cv.notify_all();
    });

  // Snapshot of what is covered so far: the prior report's ranges and every finished batch.
  auto snapshot = [&](bool final) {
    ExhaustiveReport r = rep;
    std::vector<PatternRange> cov = prior;
    for (size_t b = 0; b < batches.size(); ++b)
      if (done[b]) cov.push_back(batches[b]);
    r.covered = detail::join_ranges(cov);
    detail::fill_from_tally(r, tally, o.max_classes);
    const double dt = since(t0);
    r.run["seconds"] = dt;
    r.run["threads"] = threads;
    r.run["batch"] = o.batch;
    r.run["inputs_this_run"] = done_inputs.load();
    r.run["inputs_per_s"] = dt > 0 ? double(done_inputs.load()) / dt : 0.0;
    r.run["backend_thread_seconds"] = backend_s;
    r.run["compare_thread_seconds"] = compare_s;
    if (compare_s > 0) r.run["compare_inputs_per_s_per_thread"] = double(done_inputs.load()) / compare_s;
    if (r.run.contains("baseline_inputs_per_s") && r.run["baseline_inputs_per_s"].get<double>() > 0)
      r.run["fraction_of_baseline"] = r.run["inputs_per_s"].get<double>() / r.run["baseline_inputs_per_s"].get<double>();
    if (!final) r.run["partial"] = true;
    return r;
  };
  auto last_state = Clock::now();
  {
    std::unique_lock<std::mutex> lk(mu);
    while (running > 0) {
      cv.wait_for(lk, std::chrono::milliseconds(250));
      if (o.progress) o.progress({done_inputs.load(), total, mismatches.load(), since(t0), false});
      if (!o.state_path.empty() && since(last_state) >= o.state_every_s && running > 0) {
        const ExhaustiveReport part = snapshot(false);
        lk.unlock();
        vectors::write_text_file_atomic(o.state_path, part.to_json().dump(1) + "\n");
        lk.lock();
        last_state = Clock::now();
      }
    }
  }
  for (auto& t : pool) t.join();
  if (!worker_error.empty()) throw Error("exhaustive check: " + worker_error);
  ExhaustiveReport r = snapshot(true);
  if (!tally.failure_messages.empty()) r.run["backend_failure_messages"] = tally.failure_messages;
  if (o.progress) o.progress({done_inputs.load(), total, mismatches.load(), since(t0), true});
  diagnose_exhaustive(r);
  return r;
}

}  // namespace mls::conformance
