// The scalar element-rounding suite ("round", 8.8.1), TestFloat style: one
// fp32 value, its scale (tensor scale x group scale), the rounding mode and
// the random word per case; the expected element code by spec 4.5.
#include <algorithm>
#include <cfloat>
#include <set>

#include "gen_internal.hpp"
#include "mls/error.hpp"

namespace mls::vectors::gen {
namespace {

struct Point {
  uint32_t x, ts, gs;
  uint8_t word_kind;  // 0: none (random word for sr), 1: near the sr threshold, 2: 0, 3: all ones
};

struct Scale {
  uint32_t ts, gs;
};

class RoundMaker : public Maker {
 public:
  RoundMaker(Format f, Rounding r, uint64_t seed, uint32_t stream, std::vector<Point> table, uint64_t n_random,
             std::optional<std::pair<int, int>> binades)
      : f_(std::move(f)), r_(r), seed_(seed), stream_(stream), table_(std::move(table)), n_random_(n_random), binades_(binades) {
    gs_one_ = group_scale_one(f_);
    scales_ = scale_codes(f_.group_scale);
    // Magnitudes of the element grid, for the random generator.
    for (uint64_t i = 0; i < f_.element.valid_magnitude_count(); ++i)
      mags_.push_back(f_.element.magnitude_value(f_.element.nth_magnitude(i)));
  }

  uint64_t count() const {
    uint64_t n = table_.size() + n_random_;
    if (binades_) n += enum_count();
    return n;
  }

  void fill(std::map<std::string, Array>& d, uint64_t row, uint64_t k) const override {
    Rng rng(seed_, stream_, k);
    Point p{};
    if (k < table_.size()) {
      p = table_[k];
    } else if (k < table_.size() + n_random_) {
      p = random_point(rng);
    } else {
      p = enum_point(k - table_.size() - n_random_);
    }
    const Dyadic S = Dyadic::from_float(bits_float(p.ts)) * f_.group_scale.decode(p.gs);
    uint32_t word = 0;
    if (r_.mode == RoundingMode::sr) {
      switch (p.word_kind) {
        case 1: {
          RoundResult probe;
          try {
            probe = quantize_element(f_, p.x, S, r_, 0);
          } catch (const Error&) {
            probe.exact = true;
          }
          const bool gap = !probe.exact && probe.rule != Rule::saturated && probe.rule != Rule::clamped_min;
          word = gap ? threshold_word(rng, sr_threshold(probe.t_num, probe.t_den, r_.sr_bits), r_.sr_bits) : rng.next();
          break;
        }
        case 2: word = 0; break;
        case 3: word = 0xffffffffu; break;
        default: word = rng.next();
      }
    }
    d["inputs/x"].ints[row] = p.x;
    d["inputs/tensor_scale"].ints[row] = p.ts;
    d["inputs/group_scale"].ints[row] = p.gs;
    d["inputs/rand"].ints[row] = word;
    try {
      const RoundResult res = quantize_element(f_, p.x, S, r_, word);
      d["outputs/status"].ints[row] = kStatusOk;
      d["outputs/code"].ints[row] = res.code;
      d["info/rule"].ints[row] = rule_code(res.rule);
    } catch (const Error&) {  // overflow under the `error` policy (3.5)
      d["outputs/status"].ints[row] = kStatusError;
      d["outputs/code"].ints[row] = 0;
      d["info/rule"].ints[row] = 255;
    }
  }

 private:
  uint64_t enum_count() const { return uint64_t(binades_->second - binades_->first + 1) << 24; }

  // Every fp32 value of the binades, in order: binade, mantissa, then + and -.
  Point enum_point(uint64_t j) const {
    const uint32_t sign = static_cast<uint32_t>(j & 1) << 31;
    const uint64_t m = (j >> 1) & 0x7fffffu;
    const int e = binades_->first + static_cast<int>(j >> 24);
    const uint32_t field = static_cast<uint32_t>(e + 127);  // -127 -> 0: the subnormals
    return Point{sign | field << 23 | static_cast<uint32_t>(m), 0x3f800000u, gs_one_, 0};
  }

  Point random_point(Rng& r) const {
    Point p{};
    // Scale: 1.0, powers of two, random mantissas, and extremes.
    const uint32_t sc = r.below(100);
    if (sc < 30) p.ts = 0x3f800000u;
    else if (sc < 60) p.ts = static_cast<uint32_t>(127 + r.range(-30, 30)) << 23;
    else if (sc < 90) p.ts = random_fp32_in_binades(r, -30, 30);
    else p.ts = r.chance(50) ? (r.next() & 0x7fffffu) | 1u : random_fp32_in_binades(r, -149, 127);
    p.gs = scales_[r.below(static_cast<uint32_t>(scales_.size()))];
    const Dyadic S = Dyadic::from_float(bits_float(p.ts)) * f_.group_scale.decode(p.gs);
    const uint32_t sign = r.chance(50) ? 0x80000000u : 0;
    const uint32_t cat = r.below(100);
    if (cat < 40) {
      // Relative to the grid: on a point, at a tie, near a gap's ends, or anywhere in it.
      const size_t i = r.below(static_cast<uint32_t>(mags_.size() - 1));
      const Dyadic gap = mags_[i + 1] - mags_[i];
      Dyadic v;
      switch (r.below(4)) {
        case 0: v = mags_[i]; break;
        case 1: v = mags_[i] + ldexp(gap, -1); break;
        case 2: {
          const Dyadic eps = ldexp(gap * Dyadic::from_int(r.range(1, 15)), -20);
          v = r.chance(50) ? mags_[i] + eps : mags_[i + 1] - eps;
          break;
        }
        default: v = mags_[i] + ldexp(gap * Dyadic::from_int(r.next() & 0xffffff), -24);
      }
      uint32_t x = fp32_bits_of(v * S);
      if (r.chance(50)) {
        const int steps = r.range(1, 3);
        for (int s = 0; s < steps; ++s) x = r.chance(50) ? fp32_next(x) : fp32_prev(x);
      }
      p.x = x | sign;
    } else if (cat < 50) {
      // Beyond q_max: saturation (or the overflow error).
      const Dyadic v = f_.q_max() * Dyadic(BigInt(r.range(1, 64)) + 64, -6);
      p.x = fp32_bits_of(v * S) | sign;
    } else if (cat < 80) {
      // Log-uniform over the grid's range and a little beyond.
      const int lo = static_cast<int>(f_.element.min_positive().ilog2() + S.ilog2()) - 3;
      const int hi = static_cast<int>(f_.q_max().ilog2() + S.ilog2()) + 2;
      p.x = random_fp32_in_binades(r, lo, hi) | sign;
    } else if (cat < 90) {
      p.x = random_finite_fp32(r);
    } else {
      static const uint32_t specials[] = {0x00000000u, 0x00000001u, 0x007fffffu, 0x00800000u, 0x7f7fffffu, 0x3f800000u};
      p.x = specials[r.below(6)] | sign;
      if (r.chance(30)) p.x = (r.next() & 0x7fffffu) | sign;  // a random subnormal
    }
    p.word_kind = r.chance(50) ? 1 : 0;
    return p;
  }

  Format f_;
  Rounding r_;
  uint64_t seed_;
  uint32_t stream_;
  std::vector<Point> table_;
  uint64_t n_random_;
  std::optional<std::pair<int, int>> binades_;
  uint32_t gs_one_ = 0;
  std::vector<uint32_t> scales_;
  std::vector<Dyadic> mags_;
};

// The scales of the edge table (8.8.1): the tensor scale's fp32 bits and a
// group-scale code, chosen so that products are exact (ties stay ties),
// inexact (near-ties), huge, tiny and subnormal.
std::vector<Scale> table_scales(const Format& f, int level, bool exhaustive) {
  const std::vector<uint32_t> codes = scale_codes(f.group_scale);
  const uint32_t one = group_scale_one(f), gmax = codes.back(), gmin = codes.front();
  std::vector<Scale> v = {{0x3f800000u, one}, {0x3e400000u /* 1.5 * 2^-3 */, gmax}, {0x35800000u /* 2^-20 */, gmin}};
  if (level >= 2 || exhaustive) {
    const uint32_t mid = gmax / 2;
    v.push_back({0x71800000u /* 2^100 */, mid});
    v.push_back({0x00800000u /* 2^-126 */, one});
    v.push_back({0x00000200u /* 2^-140, subnormal */, one});
    v.push_back({0x3f800001u /* 1 + 2^-23 */, mid});
    v.push_back({0x7e800000u /* 2^126 */, gmax});
    v.push_back({0x3fc90fdbu /* pi/2 */, std::min<uint32_t>(3, gmax)});
  }
  if (exhaustive)
    for (uint32_t g = 0; g <= gmax; ++g) {
      v.push_back({0x3f800000u, g});
      v.push_back({0x3e400000u, g});
    }
  // Drop repeats while keeping the order.
  std::vector<Scale> out;
  for (const auto& s : v) {
    bool seen = false;
    for (const auto& o : out) seen = seen || (o.ts == s.ts && o.gs == s.gs);
    if (!seen) out.push_back(s);
  }
  return out;
}

std::vector<Point> edge_table(const Format& f, const Rounding& r, int level, bool exhaustive) {
  std::vector<Point> table;
  const Minifloat& el = f.element;
  const uint64_t n = el.valid_magnitude_count();
  for (const Scale& sc : table_scales(f, level, exhaustive)) {
    const Dyadic S = Dyadic::from_float(bits_float(sc.ts)) * f.group_scale.decode(sc.gs);
    std::set<uint32_t> mags;  // fp32 magnitudes, ordered: deterministic
    auto around = [&](const Dyadic& v) {
      const uint32_t x = fp32_bits_of(v * S);
      mags.insert(fp32_prev(x));
      mags.insert(x);
      mags.insert(fp32_next(x));
    };
    for (uint64_t i = 0; i < n; ++i) {
      const Dyadic lo = el.magnitude_value(el.nth_magnitude(i));
      around(lo);  // every grid point (q_max included)
      if (i + 1 < n) around(ldexp(lo + el.magnitude_value(el.nth_magnitude(i + 1)), -1));  // every tie
    }
    around(ldexp(f.q_max(), 1));  // well beyond q_max
    for (uint32_t s : {0x00000000u, 0x00000001u, 0x007fffffu, 0x00800000u, 0x7f7fffffu}) mags.insert(s);
    for (uint32_t m : mags)
      for (uint32_t sign : {0u, 0x80000000u}) {
        const Point p{m | sign, sc.ts, sc.gs, 0};
        if (r.mode != RoundingMode::sr) {
          table.push_back(p);
          continue;
        }
        // sr: words at the decision threshold (r*, r*-1, r*+1 with varied low
        // bits, three draws), and the extreme words 0 and 2^32-1.
        for (uint8_t kind : {uint8_t(1), uint8_t(1), uint8_t(1), uint8_t(2), uint8_t(3)}) table.push_back({p.x, p.ts, p.gs, kind});
      }
  }
  return table;
}

std::pair<int, int> default_binades(const Format& f) {
  const int lo = static_cast<int>(f.element.min_positive().ilog2()) - 2;
  const int hi = static_cast<int>(f.q_max().ilog2()) + 1;
  return {std::max(lo, -127), std::min(hi, 127)};
}

}  // namespace

void plan_round(const Context& c, std::vector<GroupPlan>& out) {
  const uint64_t n_random = c.opt.level >= 2 ? 100000 : 1000;
  for (const auto& [name, f] : c.formats)
    for (const Rounding& r : c.roundings) {
      const std::string label = "round " + f.short_name() + " " + rounding_name(r);
      std::optional<std::pair<int, int>> binades = c.opt.binades;
      if (!binades && c.opt.exhaustive) binades = default_binades(f);
      auto maker = std::make_shared<RoundMaker>(f, r, c.opt.seed, fnv1a(label), edge_table(f, r, c.opt.level, c.opt.exhaustive),
                                                n_random, binades);
      GroupPlan p;
      p.summary.label = label;
      p.summary.total = maker->count();
      p.attrs = base_attrs(Op::round, label);
      p.attrs["profile"] = name;
      p.attrs["stream"] = int64_t(fnv1a(label));
      if (binades) p.attrs["binades"] = std::vector<int64_t>{binades->first, binades->second};
      put_format_attrs(p.attrs, "", f);
      put_rounding_attrs(p.attrs, r);
      p.maker = maker;
      out.push_back(std::move(p));
    }
}

}  // namespace mls::vectors::gen
