// mls-fast: the parts that do not depend on the seeded-bug switch -- exact
// division and fp32 rounding on integers, grid names, group layout, threads.
// Compiled once and shared by every variant.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>

#include "fast.hpp"

namespace mlsfast {

void fail(int32_t status, std::string message) { throw Failure{status, std::move(message)}; }

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

Exact divide(uint64_t xm, int64_t xe, uint64_t dm, int64_t de) {
  const int s = 24 - bitlen64(xm);  // xm into [2^23, 2^24)
  xm <<= s;
  xe -= s;
  // N = xm * 2^103: its high word xm << 39 < 2^63 <= dm, so the quotient fits 64 bits.
  const uint64_t hi = xm << 39;
  uint64_t q, r;
#if defined(__x86_64__)
  __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(uint64_t(0)), "d"(hi), "r"(dm));
#else
  const u128 n = u128(hi) << 64;
  q = static_cast<uint64_t>(n / dm);
  r = static_cast<uint64_t>(n - u128(q) * dm);
#endif
  return Exact{q, xe - 103 - de, r != 0};
}

uint32_t round_fp32(const Exact& v, int dir, bool* overflow) {
  *overflow = false;
  if (v.q == 0) {
    // Only a value below 2^e remains: never more than half of the smallest
    // subnormal here (callers keep q long whenever sticky is set).
    return (v.sticky && dir == 1) ? 1u : 0u;
  }
  const int L = bitlen128(v.q);
  const int64_t p = L - 1 + v.e;  // 2^p <= value < 2^(p+1)
  if (p > 127) {
    *overflow = true;
    return dir == 2 ? 0x7f7fffffu : 0x7f800000u;
  }
  const int64_t ulp = std::max<int64_t>(p - 23, -149);
  const int64_t shift = ulp - v.e;
  u128 I;
  bool above = false, tie = false, inexact = v.sticky;
  if (shift <= 0) {
    I = v.q << (-shift);  // exact: at most 24 significant bits
  } else if (shift > 128) {
    I = 0;
    inexact = true;  // below half an ulp
  } else {
    I = shift == 128 ? 0 : v.q >> shift;
    const u128 rem = shift == 128 ? v.q : v.q & ((u128(1) << shift) - 1);
    const u128 half = u128(1) << (shift - 1);
    inexact = inexact || rem != 0;
    above = rem > half || (rem == half && v.sticky);
    tie = rem == half && !v.sticky;
  }
  // Normal or subnormal alike: bits = (biased exponent - 1) * 2^23 + I.
  uint32_t bits = static_cast<uint32_t>(((ulp + 149) << 23) + static_cast<int64_t>(I));
  bool away = false;
  if (dir == 0)
    away = above || (tie && (bits & 1));
  else if (dir == 1)
    away = inexact;
  bits += away ? 1 : 0;
  if (bits >= 0x7f800000u) {
    *overflow = true;
    return dir == 2 ? 0x7f7fffffu : 0x7f800000u;
  }
  return bits;
}

uint32_t fp32_nearest(uint64_t m, int64_t e) {
  if (m == 0) return 0;
  bool ovf;
  return round_fp32(exact_of(m, e), 0, &ovf);
}

std::string Grid::name() const {
  if (twos) return "i" + std::to_string(M + 1) + (bias != 0 ? "b" + std::to_string(bias) : std::string());
  std::string s = std::string(is_signed ? "e" : "g") + std::to_string(E) + "m" + std::to_string(M);
  const int db = is_signed ? (E == 0 ? 0 : (1 << E) - 1) : (1 << E) - 1;
  if (bias != db) s += "b" + std::to_string(bias);
  const int32_t dz = is_signed ? MLS_ZERO_SUBNORMAL : MLS_ZERO_NONE;
  if (zero != dz) s += zero == MLS_ZERO_ONLY ? "z" : zero == MLS_ZERO_SUBNORMAL ? "s" : "x";
  if (specials == MLS_SPECIALS_NAN_ALL_ONES) s += "n";
  if (specials == MLS_SPECIALS_IEEE) s += "i";
  return s;
}

namespace {
std::string num(int64_t v) { return std::to_string(v); }
}  // namespace

std::vector<int64_t> read_shape(int32_t rank, const int64_t* shape, const std::string& what) {
  if (rank < 1) bad(what + " has rank " + num(rank) + " (at least 1 needed)");
  if (!shape) bad(what + " is NULL");
  if (rank > 16) fail(MLS_ERR_UNSUPPORTED, what + " has rank " + num(rank) + "; mls-fast handles rank <= 16");
  std::vector<int64_t> s(shape, shape + rank);
  int64_t n = 1;
  for (int32_t i = 0; i < rank; ++i) {
    if (s[i] < 1) bad(what + "[" + num(i) + "] = " + num(s[i]) + " is not >= 1");
    if (n > (int64_t(1) << 40) / s[i]) bad(what + " has more than 2^40 elements");
    n *= s[i];
  }
  return s;
}

Layout::Layout(const Fmt& f, const std::vector<int64_t>& s, const std::string& what) {
  const size_t r = s.size();
  std::vector<int64_t> g = f.group_shape;
  if (g.empty()) {
    g.assign(r, 0);
    if (r >= 2) g[0] = g[1] = 1;
  }
  if (g.size() != r)
    bad(what + ".group_shape has " + num(static_cast<int64_t>(g.size())) + " entries but the tensor has rank " +
        num(static_cast<int64_t>(r)));
  for (size_t i = 0; i < r; ++i)
    if (g[i] == 0 || g[i] > s[i]) g[i] = s[i];
  // Merge axis i into the (merged) axis after it when that one is one whole tile.
  std::vector<int64_t> ms, mg;
  ms.push_back(s[r - 1]);
  mg.push_back(g[r - 1]);
  for (size_t i = r - 1; i-- > 0;) {
    if (mg.back() == ms.back()) {
      ms.back() *= s[i];
      mg.back() *= g[i];
    } else {
      ms.push_back(s[i]);
      mg.push_back(g[i]);
    }
  }
  shape.assign(ms.rbegin(), ms.rend());
  gsz.assign(mg.rbegin(), mg.rend());
  tiles.resize(shape.size());
  stride.resize(shape.size());
  groups = 1;
  count = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    tiles[i] = (shape[i] + gsz[i] - 1) / gsz[i];
    stride[i] = count;
    count *= shape[i];
    groups *= tiles[i];
  }
}

std::vector<int64_t> Layout::group_index() const {
  std::vector<int64_t> out(static_cast<size_t>(count));
  for (int64_t g = 0; g < groups; ++g)
    for_each_run(g, [&](int64_t start, int64_t len) {
      for (int64_t i = 0; i < len; ++i) out[static_cast<size_t>(start + i)] = g;
    });
  return out;
}

int thread_count() {
  static const int n = [] {
    if (const char* env = std::getenv("MLS_FAST_THREADS")) {
      const int v = std::atoi(env);
      if (v >= 1 && v <= 1024) return v;
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return hw ? static_cast<int>(std::min(hw, 256u)) : 1;
  }();
  return n;
}

void parallel_for(int64_t n, double cost_per_item, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  // About 50 microseconds of work (in units of ~1 ns) per thread before splitting pays.
  const double work = static_cast<double>(n) * cost_per_item;
  int64_t t = std::min<int64_t>(thread_count(), n);
  t = std::min<int64_t>(t, std::max<int64_t>(1, static_cast<int64_t>(work / 50000.0)));
  if (t <= 1) {
    fn(0, n);
    return;
  }
  std::exception_ptr error;
  std::mutex m;
  auto run = [&](int64_t b, int64_t e) {
    try {
      fn(b, e);
    } catch (...) {
      std::lock_guard<std::mutex> lock(m);
      if (!error) error = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(t - 1));
  for (int64_t i = 1; i < t; ++i) pool.emplace_back(run, n * i / t, n * (i + 1) / t);
  run(0, n / t);
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

int64_t first_index(int64_t n, double cost_per_item, const std::function<bool(int64_t)>& fn) {
  std::atomic<int64_t> first{n};
  parallel_for(n, cost_per_item, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e && i < first.load(std::memory_order_relaxed); ++i)
      if (fn(i)) {
        int64_t cur = first.load();
        while (i < cur && !first.compare_exchange_weak(cur, i)) {
        }
        return;
      }
  });
  return first.load();
}

}  // namespace mlsfast
