// mls-fast quantize (spec/04-quantize.md, 4.12), in parts: the scan of the
// group maxima, the tensor scale, the group scales (scales.cpp), the
// profile's fp32 pipeline, then the elements by one of three routes:
//   - tables (element grids of at most 256 magnitudes, tables.hpp): per
//     group-scale code (exact profile) or once with S = 1 (the fp32
//     quotient of a 4.12 profile), the smallest |x| reaching each code, and a
//     branch-free search of |x| among them;
//   - exactly: one 128/64-bit division per element with its remainder; 32
//     bits of t below the grid step plus a sticky bit decide every mode;
//   - a 4.12 profile on a wide grid: the fp32 quotient rounded on the grid.
// This file is compiled once per seeded-bug variant (kMutant).
#include <atomic>
#include <cmath>

#include "ops.hpp"
#include "rounding.hpp"
#include "scales.hpp"
#include "tables.hpp"

namespace mlsfast {

namespace {

// Seeded bugs that change how an element is rounded; their variants keep to
// the exact route (the tables implement the spec only).
constexpr bool kElementMutant = kMutant == Mutant::tie_away || kMutant == Mutant::truncate ||
                                kMutant == Mutant::sr_off_by_one || kMutant == Mutant::sr_low_bits ||
                                kMutant == Mutant::flush_subnormals || kMutant == Mutant::rna_even;

// The first element index whose rounding is an error (3.5, 3.10), over threads.
struct FirstError {
  std::atomic<int64_t> at;
  explicit FirstError(int64_t n) : at(n) {}
  void note(int64_t i) {
    int64_t cur = at.load();
    while (i < cur && !at.compare_exchange_weak(cur, i)) {
    }
  }
};

// What the element stage needs, fixed before it starts.
struct ElementJob {
  const Fmt* f;
  const Layout* L;
  const uint32_t* x;
  const uint32_t* rand;  // sr only
  int mode, R;
  ElementRule rule;
  const GroupScan* scan;
  const uint32_t* gs;  // group-scale codes
  Unpacked st;         // the tensor scale
  const Factors* factors = nullptr;          // a 4.12 profile; nullptr: exact
  const std::vector<int64_t>* scale_exp = nullptr;  // scale_unclamped: each group's scale 2^e
  uint32_t* out;
  FirstError* error;
};

// ---- one run through a table ------------------------------------------------------
// key[k]: the fp32 magnitude looked up for element start + k (|x|, or the
// profile's quotient); its sign and word are element start + k's.
void table_run(const ElementJob& j, const Tables& tab, const uint32_t* key, int64_t start, int64_t len) {
  const Tables::List& lp = tab.list(j.mode, false);
  const Tables::List& ln = tab.list(j.mode, true);
  const uint32_t* x = j.x;
  uint32_t* out = j.out;
  auto finish = [&](int64_t k, int idx) {
    const int64_t i = start + k;
    const uint32_t xa = key[k];
    const bool neg = (x[i] >> 31) != 0;
    if (xa >= 0x7f800000u) {  // 3.10: an infinite input or a non-finite quotient
      bool err = false;
      out[i] = j.rule.nonfinite(xa | (x[i] & 0x80000000u), &err);
      if (err) j.error->note(i);
      return;
    }
    if (j.mode == MLS_SR) idx = tab.sr_step(idx, xa, j.rand[i], j.R);
    if (tab.error_policy && (idx == tab.V || xa >= tab.sat)) j.error->note(i);
    out[i] = neg ? tab.code_neg[static_cast<size_t>(idx)] : tab.code_pos[static_cast<size_t>(idx)];
  };
  // Eight searches interleaved step by step: independent chains of loads.
  int64_t k = 0;
  const uint32_t span = std::max(lp.span, ln.span);
  for (; k + 8 <= len; k += 8) {
    const uint32_t* t[8];
    uint32_t xa[8], idx[8];
    for (int q = 0; q < 8; ++q) {
      xa[q] = key[k + q];
      const Tables::List* l = (x[start + k + q] >> 31) ? &ln : &lp;
      t[q] = l->t.data();
      idx[q] = l->start[xa[q] >> l->shift];
    }
    for (uint32_t s = span; s > 0; s >>= 1)
      for (int q = 0; q < 8; ++q) idx[q] += s & (0u - static_cast<uint32_t>(t[q][idx[q] + s] <= xa[q]));
    for (int q = 0; q < 8; ++q) finish(k + q, static_cast<int>(idx[q]));
  }
  for (; k < len; ++k) finish(k, Tables::find((x[start + k] >> 31) ? ln : lp, key[k]));
}

// ---- the exact profile ------------------------------------------------------------

// Tables per distinct group-scale code, when building them costs less than the
// elements they serve. Empty: every group takes the division route.
struct ScaleTables {
  std::vector<int32_t> of;  // group-scale code -> index into tabs, or -1
  std::vector<Tables> tabs;
};

ScaleTables exact_tables(const ElementJob& j) {
  ScaleTables s;
  const Fmt& f = *j.f;
  if (kElementMutant || j.scale_exp || !Tables::usable(f.el) || f.gs.code_count > (uint64_t(1) << 20)) return s;
  s.of.assign(static_cast<size_t>(f.gs.code_count), -1);
  std::vector<uint32_t> codes;
  for (int64_t g = 0; g < j.L->groups; ++g) {
    const uint32_t c = j.gs[g];
    if (j.scan->nan[static_cast<size_t>(g)] || s.of[c] >= 0) continue;
    s.of[c] = static_cast<int32_t>(codes.size());
    codes.push_back(c);
  }
  const double per_code = static_cast<double>(j.L->count) / static_cast<double>(std::max<size_t>(codes.size(), 1));
  if (codes.empty() || per_code < (1 << (f.el.E + f.el.M)) * 16) {
    s.of.clear();
    return s;
  }
  const bool buckets = per_code >= 4096;
  s.tabs.resize(codes.size());
  parallel_for(static_cast<int64_t>(codes.size()), 300.0 * (1 << (f.el.E + f.el.M)), [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      uint64_t sgm;
      int64_t sge;
      f.gs.decode(codes[static_cast<size_t>(c)], sgm, sge);
      if (sgm == 0) continue;  // a zero scale: its groups are zeros
      s.tabs[static_cast<size_t>(c)].build(f.el, j.rule.overflow, j.rule.poszero, j.st.m * sgm, j.st.e + sge, j.mode,
                                           j.R, buckets);
    }
  });
  return s;
}

void exact_group(const ElementJob& j, const ScaleTables& st, int64_t g) {
  const Fmt& f = *j.f;
  uint64_t sgm;
  int64_t sge;
  if (j.scale_exp) {
    sgm = 1;
    sge = (*j.scale_exp)[static_cast<size_t>(g)];
  } else {
    f.gs.decode(j.gs[g] & f.gs.mag_mask, sgm, sge);
  }
  const uint32_t* x = j.x;
  uint32_t* out = j.out;
  if (sgm == 0) {  // 4.5.1: a zero group scale makes every element of its group a zero
    const uint32_t nz = f.el.encode(!j.rule.poszero, 0);
    j.L->for_each_run(g, [&](int64_t start, int64_t len) {
      for (int64_t i = start; i < start + len; ++i) out[i] = (x[i] >> 31) ? nz : 0;
    });
    return;
  }
  if (!st.of.empty()) {
    const Tables& tab = st.tabs[static_cast<size_t>(st.of[j.gs[g]])];
    j.L->for_each_run(g, [&](int64_t start, int64_t len) {
      // |x| as the key: the table's own sign handling reads x.
      uint32_t key[256];
      for (int64_t c = 0; c < len; c += 256) {
        const int64_t m = std::min<int64_t>(256, len - c);
        for (int64_t k = 0; k < m; ++k) key[k] = x[start + c + k] & 0x7fffffffu;
        table_run(j, tab, key, start + c, m);
      }
    });
    return;
  }
  // The division route: one exact division per element.
  uint64_t dm = j.st.m * sgm;  // S_t S_g: below 2^48
  int64_t de = j.st.e + sge;
  normalise64(dm, de);
  j.L->for_each_run(g, [&](int64_t start, int64_t len) {
    for (int64_t i = start; i < start + len; ++i) {
      bool err = false;
      out[i] = j.rule.quotient<kMutant>(x[i], dm, de, j.mode, j.R, j.rand ? j.rand[i] : 0, &err);
      if (err) j.error->note(i);
    }
  });
}

// ---- a 4.12 profile: q = RN_fp32(|x| / v) or RN_fp32(|x| * v), then rounded ------

void factor_group(const ElementJob& j, const Tables* tab, int64_t g) {
  const float v = bits_float(j.factors->value[static_cast<size_t>(g)]);
  const bool mul = j.factors->multiply;
  const uint32_t* x = j.x;
  uint32_t* out = j.out;
  j.L->for_each_run(g, [&](int64_t start, int64_t len) {
    uint32_t key[256];
    for (int64_t c = 0; c < len; c += 256) {
      const int64_t m = std::min<int64_t>(256, len - c);
      for (int64_t k = 0; k < m; ++k) {
        // A zero stays a zero (4.12: 0 * Inf never arises); hardware fp32, nearest even.
        const uint32_t ax = x[start + c + k] & 0x7fffffffu;
        const float q = mul ? bits_float(ax) * v : bits_float(ax) / v;
        const uint32_t qa = float_bits(q) & 0x7fffffffu;
        key[k] = ax == 0 ? 0 : qa > 0x7f800000u ? 0x7fc00000u : qa;
      }
      if (tab) {
        table_run(j, *tab, key, start + c, m);
        continue;
      }
      for (int64_t k = 0; k < m; ++k) {
        const int64_t i = start + c + k;
        const uint32_t qb = key[k] | (x[i] & 0x80000000u);
        bool err = false;
        if (fp32_nonfinite(qb)) {
          out[i] = j.rule.nonfinite(qb, &err);
        } else {
          const Unpacked u = unpack_fp32(qb);
          const bool neg = (qb >> 31) != 0;
          bool over = false;
          const uint32_t mag = u.m == 0 ? 0
                                        : round_mag<kMutant>(j.f->el, exact_of(u.m, u.e), neg, j.mode, j.R,
                                                          j.rand ? j.rand[i] : 0, &over);
          out[i] = j.rule.code(neg, mag, over, &err);
        }
        if (err) j.error->note(i);
      }
    }
  });
}

// ---- the parts ----------------------------------------------------------------------

// 4.4 with the scale seeded bugs: every group's code (NaN groups: the NaN code).
void group_scales(const Fmt& f, const Layout& L, const GroupScan& scan, uint32_t st_bits, int32_t qarith,
                  uint32_t* gs_out, std::vector<int64_t>* scale_exp) {
  int32_t policy = f.policy;
  if (policy == MLS_SCALE_CEIL && kMutant == Mutant::gscale_floor) policy = MLS_SCALE_FLOOR;
  if (policy == MLS_SCALE_CEIL && kMutant == Mutant::gscale_nearest) policy = MLS_SCALE_NEAREST;
  // The OCP rule on E8M0 computed by a kernel's exponent arithmetic (seeded bugs).
  const bool ocp_e8m0 = f.policy == MLS_SCALE_OCP && f.gs.M == 0 && !f.gs.has_zero() && qarith == MLS_QARITH_EXACT &&
                        st_bits == 0x3f800000u;
  const int64_t emax = bitlen64(f.el.max_m) - 1 + f.el.max_e;
  if (kMutant == Mutant::scale_unclamped && ocp_e8m0) scale_exp->assign(static_cast<size_t>(L.groups), 0);
  parallel_for(L.groups, 60, [&](int64_t b, int64_t e) {
    for (int64_t g = b; g < e; ++g) {
      const uint32_t a = scan.amax[static_cast<size_t>(g)];
      if (scan.nan[static_cast<size_t>(g)]) {  // 4.1.2: the group's scale is NaN
        gs_out[g] = f.gs.nan_mag;
        continue;
      }
      gs_out[g] = exact_group_scale(f, policy, a, st_bits);
      if constexpr (kMutant == Mutant::scale_log2_fp32) {
        if (ocp_e8m0 && a != 0 && a < 0x7f800000u) {
          const int64_t lg = static_cast<int64_t>(std::floor(static_cast<float>(std::log2(static_cast<double>(bits_float(a))))));
          gs_out[g] = static_cast<uint32_t>(std::clamp<int64_t>(lg - emax + f.gs.bias, 0, f.gs.max_mag));
        }
      }
      if constexpr (kMutant == Mutant::scale_unclamped) {
        if (ocp_e8m0) {
          uint64_t m;
          int64_t ex;
          f.gs.decode(gs_out[g], m, ex);
          (*scale_exp)[static_cast<size_t>(g)] = ex;
          if (a != 0 && a < 0x7f800000u) {
            const int64_t x = ilog2_fp32(a) - emax;
            const int64_t n = static_cast<int64_t>(f.gs.code_count);
            gs_out[g] = static_cast<uint32_t>(((x + f.gs.bias) % n + n) % n);
            (*scale_exp)[static_cast<size_t>(g)] = x;
          }
        }
      }
    }
  });
}

[[noreturn]] void element_error(const Fmt& f, const uint32_t* x, int64_t i, bool quotient) {
  const std::string at = "x[" + std::to_string(i) + "]";
  if (fp32_nonfinite(x[i]))
    bad(at + " is " + ((x[i] & 0x7fffff) ? "NaN" : (x[i] >> 31) ? "-Inf" : "+Inf") + " and cannot be rounded to " +
        f.el.name() + " under overflow = error (3.10)");
  if (quotient) bad(at + " = " + hex32(x[i]) + ": its fp32 quotient is not finite and " + f.el.name() +
                    " has no code for it (3.10, 4.12)");
  bad(at + " = " + hex32(x[i]) + ": magnitude above the largest element value (overflow policy error, 3.5)");
}

}  // namespace

void quantize_op(const Fmt& f0, const std::vector<int64_t>& shape, const uint32_t* x, const mls_rounding_v2& r,
                 int32_t qarith, const uint32_t* rand, const uint32_t* static_ts, uint32_t* ts_out, uint32_t* gs_out,
                 uint32_t* el_out) {
  Fmt f = f0;
  if (kMutant == Mutant::overflow_nan && f.overflow == MLS_OVERFLOW_SATURATE && f.el.has_nan())
    f.overflow = MLS_OVERFLOW_NAN;
  if (kMutant == Mutant::zero_sign_lost) f.poszero = true;
  if (kMutant == Mutant::fp32_reciprocal && qarith == MLS_QARITH_EXACT) qarith = MLS_QARITH_FP32_RECIPROCAL;
  const Layout L(f, shape, "format");
  const int64_t n = L.count;

  // nan_block: a NaN handled as a finite value (its block scaled without it).
  std::vector<uint32_t> x_nan_free;
  const bool nan_as_finite = kMutant == Mutant::nan_block && f.nonfinite == MLS_NONFINITE_PROPAGATE;
  if (nan_as_finite) {
    x_nan_free.assign(x, x + n);
    for (auto& v : x_nan_free)
      if ((v & 0x7fffffffu) > 0x7f800000u) v = 0;
  }
  const uint32_t* xs = nan_as_finite ? x_nan_free.data() : x;

  // 4.1-4.2: group maxima and NaN flags; non-finite input is an error unless propagated.
  const GroupScan scan = scan_groups(L, xs);
  if (f.nonfinite == MLS_NONFINITE_ERROR && scan.any_nonfinite) {
    const int64_t i = first_index(n, 0.3, [&](int64_t k) { return fp32_nonfinite(x[k]); });
    bad("x[" + std::to_string(i) + "] is " + ((x[i] & 0x7fffff) ? "NaN" : "Inf") +
        ": this format needs finite input (4.1)");
  }
  uint32_t amax = scan.tensor_amax;
  if constexpr (kMutant == Mutant::amax_signed) {
    float best = 0;
    for (int64_t i = 0; i < n; ++i) best = std::max(best, bits_float(x[i]));
    amax = float_bits(best) & 0x7fffffffu;
  }

  // 4.3 / 4.6: the tensor scale; 4.4: the group scales; 4.12: the profile's own steps.
  *ts_out = static_ts ? static_tensor_scale(*static_ts)
                      : dynamic_tensor_scale(f, amax, kMutant == Mutant::tscale_nearest ? 0 : 1);
  std::vector<int64_t> scale_exp;
  group_scales(f, L, scan, *ts_out, qarith, gs_out, &scale_exp);
  Factors factors;
  if (qarith != MLS_QARITH_EXACT) run_pipeline(qarith, f, scan, static_ts != nullptr, ts_out, gs_out, factors);

  // 4.5: the elements.
  FirstError error(n);
  ElementJob j{&f, &L, xs, r.mode == MLS_SR ? rand : nullptr, r.mode, r.mode == MLS_SR ? r.sr_bits : 8,
               ElementRule{&f.el, f.overflow, f.poszero}, &scan, gs_out, unpack_fp32(*ts_out),
               qarith != MLS_QARITH_EXACT ? &factors : nullptr, scale_exp.empty() ? nullptr : &scale_exp, el_out,
               &error};
  const double per_group = static_cast<double>(n) / static_cast<double>(L.groups);
  auto nan_group = [&](int64_t g) {  // 4.1.2: every element of a NaN group is code 0
    L.for_each_run(g, [&](int64_t start, int64_t len) { std::fill(el_out + start, el_out + start + len, 0u); });
  };
  if (!j.factors) {
    const ScaleTables tabs = exact_tables(j);
    parallel_for(L.groups, 8.0 * per_group + 60, [&](int64_t b, int64_t e) {
      for (int64_t g = b; g < e; ++g) scan.nan[static_cast<size_t>(g)] ? nan_group(g) : exact_group(j, tabs, g);
    });
  } else {
    Tables one;  // S = 1: the quotient is an fp32 value
    const bool use_table = !kElementMutant && Tables::usable(f.el) && n >= (1 << (f.el.E + f.el.M)) * 16;
    if (use_table) one.build(f.el, f.overflow, f.poszero, 1, 0, r.mode, j.R, n >= 4096);
    parallel_for(L.groups, 10.0 * per_group + 60, [&](int64_t b, int64_t e) {
      for (int64_t g = b; g < e; ++g)
        scan.nan[static_cast<size_t>(g)] ? nan_group(g) : factor_group(j, use_table ? &one : nullptr, g);
    });
  }
  if (error.at.load() < n) element_error(f, x, error.at.load(), j.factors != nullptr);

  if (nan_as_finite) {  // the NaN elements: the element's NaN code, or 0 without one
    const uint32_t nan_code = f.el.has_nan() ? f.el.nan_mag : 0;
    for (int64_t i = 0; i < n; ++i)
      if ((x[i] & 0x7fffffffu) > 0x7f800000u) el_out[i] = nan_code;
  }
}

}  // namespace mlsfast
