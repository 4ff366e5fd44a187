// mls-fast: the parts that do not depend on the seeded-bug switch -- exact
// division and fp32 rounding on integers, descriptor checks, group layout,
// threads. Compiled once and shared by every variant.
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
  // N = xm * 2^87: high word xm << 23 < 2^47 <= dm, so the quotient fits 64 bits.
  const uint64_t hi = xm << 23;
  uint64_t q, r;
#if defined(__x86_64__)
  __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(uint64_t(0)), "d"(hi), "r"(dm));
#else
  const u128 n = u128(hi) << 64;
  q = static_cast<uint64_t>(n / dm);
  r = static_cast<uint64_t>(n - u128(q) * dm);
#endif
  return Exact{q, xe - 87 - de, r != 0};
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

namespace {
std::string num(int64_t v) { return std::to_string(v); }
void range(int64_t v, int64_t lo, int64_t hi, const std::string& field) {
  if (v < lo || v > hi) bad(field + " = " + num(v) + " is outside " + num(lo) + ".." + num(hi));
}
}  // namespace

namespace {
void check_minifloat(const mls_minifloat_v2& m, const std::string& what, bool scale) {
  range(m.is_signed, 0, 1, what + ".signed");
  range(m.exp_bits, scale ? 1 : 0, 8, what + ".exp_bits");
  range(m.man_bits, 0, 23, what + ".man_bits");
  range(m.bias, -100000, 100000, what + ".bias");
  range(m.zero, MLS_ZERO_SUBNORMAL, MLS_ZERO_NONE, what + ".zero");
  range(m.specials, MLS_SPECIALS_NONE, MLS_SPECIALS_NAN_ALL_ONES, what + ".specials");
  range(m.encoding, MLS_ENCODING_SIGN_MAGNITUDE, MLS_ENCODING_TWOS_COMPLEMENT, what + ".encoding");
}
}  // namespace

Fmt make_format(const mls_format_v2* f, const std::string& what) {
  if (!f) bad(what + " is NULL");
  Fmt r;
  check_minifloat(f->element, what + ".element", false);
  check_minifloat(f->scale, what + ".group_scale", true);
  range(f->tensor_scale, MLS_TSCALE_AMAX, MLS_TSCALE_ONE, what + ".tensor_scale");
  range(f->scale_policy, MLS_SCALE_CEIL, MLS_SCALE_OCP, what + ".scale_policy");
  range(f->signed_zero, 0, 1, what + ".signed_zero");
  range(f->overflow, MLS_OVERFLOW_SATURATE, MLS_OVERFLOW_NAN, what + ".overflow");
  range(f->nonfinite, MLS_NONFINITE_ERROR, MLS_NONFINITE_PROPAGATE, what + ".nonfinite");
  if (f->group_rank < 0) bad(what + ".group_rank = " + num(f->group_rank) + " is negative");
  if (f->group_rank > 0 && !f->group_shape) bad(what + ".group_shape is NULL but group_rank = " + num(f->group_rank));
  const mls_minifloat_v2& el = f->element;
  const mls_minifloat_v2& sc = f->scale;
  if (!el.is_signed) bad(what + ".element.signed must be 1 for an element format");
  if (el.zero == MLS_ZERO_NONE) bad(what + ".element.zero = none is not allowed for an element format");
  // The members of the family this build computes: MLS (spec 1.0) formats.
  const bool mls = el.specials == MLS_SPECIALS_NONE && el.encoding == MLS_ENCODING_SIGN_MAGNITUDE && !sc.is_signed &&
                   sc.zero == MLS_ZERO_NONE && sc.specials == MLS_SPECIALS_NONE &&
                   sc.encoding == MLS_ENCODING_SIGN_MAGNITUDE && sc.bias == (1 << sc.exp_bits) - 1 &&
                   f->tensor_scale == MLS_TSCALE_AMAX && f->scale_policy != MLS_SCALE_OCP &&
                   f->overflow <= MLS_OVERFLOW_ERROR && f->nonfinite == MLS_NONFINITE_ERROR;
  if (!mls) fail(MLS_ERR_UNSUPPORTED, "mls-fast 0.1 computes the spec-1.0 (MLS) members of the family only");
  ElemFmt& e = r.el;
  e.E = el.exp_bits;
  e.M = el.man_bits;
  e.bias = el.bias;
  e.zero_only = el.zero == MLS_ZERO_ONLY;
  if (e.zero_only && e.E == 0)
    bad(what + ".element.zero = zero_only needs exp_bits >= 1 (with E = 0 every code has exponent field 0)");
  if (e.E == 0 && e.M == 0)
    bad(what +
        ".element.man_bits = 0 with exp_bits = 0 leaves only the value zero (an element format needs a "
        "non-zero value)");
  e.emaxf = e.E == 0 ? 0 : (1 << e.E) - 1;
  e.u0 = 1 - int64_t(e.bias) - e.M;
  e.mag_mask = static_cast<uint32_t>((uint64_t(1) << (e.E + e.M)) - 1);
  e.sign_bit = static_cast<uint32_t>(uint64_t(1) << (e.E + e.M));
  e.max_mag = e.mag_mask;
  if (e.E == 0) {
    e.qmax_int = (uint64_t(1) << e.M) - 1;
    e.qmax_m = e.qmax_int;
    e.qmax_e = e.u0;
  } else {
    e.qmax_int = (uint64_t(2) << e.M) - 1;
    e.qmax_m = e.qmax_int;
    e.qmax_e = int64_t(e.emaxf) - e.bias - e.M;
  }
  ScaleFmt& g = r.gs;
  g.Eg = sc.exp_bits;
  g.Mg = sc.man_bits;
  g.bias = sc.bias;
  g.max_code = static_cast<uint32_t>((uint64_t(1) << (g.Eg + g.Mg)) - 1);
  r.policy = f->scale_policy;
  r.poszero = f->signed_zero == MLS_SIGNED_ZERO_POSITIVE;
  r.ovf_error = f->overflow == MLS_OVERFLOW_ERROR;
  for (int32_t i = 0; i < f->group_rank; ++i) {
    if (f->group_shape[i] < 0) bad(what + ".group_shape[" + num(i) + "] = " + num(f->group_shape[i]) + " is negative");
    r.group_shape.push_back(f->group_shape[i]);
  }
  return r;
}

void check_rounding(const mls_rounding_v2* r) {
  if (!r) bad("rounding is NULL");
  range(r->mode, MLS_RNE, MLS_SR, "rounding.mode");
  if (r->mode == MLS_SR) range(r->sr_bits, 1, 32, "rounding.bits");
}

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

}  // namespace mlsfast
