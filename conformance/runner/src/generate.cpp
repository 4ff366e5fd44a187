#include "mls/conformance/generate.hpp"

#include <algorithm>
#include <cmath>

#include "mls/conformance/judge.hpp"
#include "mls/error.hpp"
#include "mls/philox.hpp"

namespace mls::conformance {

namespace {
namespace gen = rc::gen;

uint32_t fbits(float f) { return float_bits(f); }

rc::Gen<uint32_t> gen_value() {
  return gen::weightedOneOf<uint32_t>({
      // small integers times powers of two: grid points, midpoints and ties
      {4, gen::apply([](bool neg, int m, int e) { return fbits((neg ? -1.0f : 1.0f) * std::ldexp(float(m), e)); },
                     gen::arbitrary<bool>(), gen::inRange(0, 32), gen::inRange(-8, 4))},
      // ordinary values of moderate range
      {3, gen::apply([](bool neg, int e, uint32_t m) { return (neg ? 0x80000000u : 0u) | (uint32_t(e) << 23) | (m & 0x7fffffu); },
                     gen::arbitrary<bool>(), gen::inRange(110, 140), gen::arbitrary<uint32_t>())},
      {1, gen::element<uint32_t>(0u, 0x80000000u)},
      // fp32 extremes: subnormals, the smallest normal, the largest finite
      {1, gen::element<uint32_t>(1u, 0x80000001u, 0x007fffffu, 0x00800000u, 0x80800000u, 0x7f7fffffu, 0xff7fffffu, 0x3f800000u)},
      // any finite fp32
      {1, gen::map(gen::arbitrary<uint32_t>(), [](uint32_t b) { return ((b >> 23) & 0xff) == 0xff ? b & 0xbfffffffu : b; })},
  });
}

// The MLS-style random formats of spec 1.0 (element E1..4, group scale g1..6).
rc::Gen<Format> gen_mls_format() {
  return gen::apply(
      [](int e, int m, int zo, int ge, int gm, int pol, int sz) {
        Format f;
        f.element = Minifloat::element(e, (e == 0 && m == 0) ? 1 : m);
        if (zo && e >= 1) f.element.zero = ZeroMode::zero_only;
        f.group_scale = Minifloat::group_scale(ge, gm);
        f.scale_policy = pol == 0 ? ScalePolicy::ceil : pol == 1 ? ScalePolicy::nearest : ScalePolicy::floor;
        f.signed_zero = sz ? SignedZero::positive : SignedZero::preserve;
        return f;
      },
      gen::inRange(1, 5), gen::inRange(0, 5), gen::weightedElement<int>({{9, 0}, {1, 1}}), gen::inRange(1, 7),
      gen::inRange(0, 3), gen::weightedElement<int>({{8, 0}, {1, 1}, {1, 2}}), gen::weightedElement<int>({{9, 0}, {1, 1}}));
}

// Family variations of the named MX / NVFP4 profiles: other scale rules and
// block sizes, the other overflow policies an element with NaN/Inf allows.
rc::Gen<Format> gen_family_variant() {
  std::vector<Format> base;
  for (const auto& p : named_profiles())
    if (p.format.block_size > 0) base.push_back(p.format);
  return gen::apply(
      [](Format f, int pol, int blk, int ovf) {
        if (pol == 1) f.scale_policy = ScalePolicy::ceil;
        if (pol == 2) f.scale_policy = ScalePolicy::floor;
        if (pol == 3) f.scale_policy = ScalePolicy::nearest;
        if (blk > 0) f.block_size = blk;
        if (ovf == 1 && f.element.has_nan()) f.overflow = OverflowPolicy::nan;
        if (ovf == 2 && f.element.has_inf()) f.overflow = OverflowPolicy::infinity;
        return f;
      },
      gen::elementOf(base), gen::weightedElement<int>({{6, 0}, {2, 1}, {1, 2}, {1, 3}}),
      gen::weightedElement<int>({{6, 0}, {1, 4}, {1, 8}, {1, 16}}), gen::weightedElement<int>({{4, 0}, {1, 1}, {1, 2}}));
}

rc::Gen<Format> gen_format(const GeneratorOptions& opt) {
  if (!opt.formats.empty()) {
    std::vector<Format> fs;
    for (const auto& s : opt.formats) fs.push_back(parse_format(s));
    return gen::elementOf(fs);
  }
  std::vector<Format> named;
  for (const auto& p : named_profiles()) named.push_back(p.format);
  return gen::weightedOneOf<Format>({{2, gen::elementOf(named)}, {2, gen_mls_format()}, {1, gen_family_variant()}});
}

rc::Gen<Rounding> gen_rounding(const GeneratorOptions& opt) {
  std::vector<Rounding> modes;
  for (const auto& m : opt.modes.empty() ? enum_names<RoundingMode>() : opt.modes)
    modes.push_back(Rounding{enum_from_name<RoundingMode>(m, "--modes"), 8});
  return gen::apply(
      [](Rounding r, int bits) {
        if (r.mode == RoundingMode::sr) r.sr_bits = bits;
        return r;
      },
      gen::elementOf(modes), gen::element(8, 1, 2, 3, 4, 5, 6, 7, 10, 12, 16, 23, 32));
}

rc::Gen<Shape> gen_shape(int max_rank, int64_t max_dim) {
  return gen::mapcat(gen::inRange(1, max_rank + 1), [max_dim](int r) {
    return gen::container<Shape>(static_cast<size_t>(r), gen::inRange<int64_t>(1, max_dim + 1));
  });
}

// A shape for a format: block layouts get a long blocked axis (several
// blocks, a partial last one) and short other axes.
rc::Gen<Shape> gen_shape_for(const Format& f) {
  if (f.block_size == 0) return gen_shape(4, 6);
  const int64_t b = f.block_size;
  return gen::mapcat(gen::inRange(1, 4), [b](int r) {
    return gen::apply(
        [r](Shape lead, int64_t last) {
          lead.resize(static_cast<size_t>(r - 1));
          lead.push_back(last);
          return lead;
        },
        gen::container<Shape>(3, gen::inRange<int64_t>(1, 4)), gen::inRange<int64_t>(1, 3 * b + 2));
  });
}

rc::Gen<Shape> gen_group_shape(const Format& f, const Shape& s) {
  if (f.block_size > 0) return gen::just(Shape{});  // the profile's block layout
  return gen::weightedOneOf<Shape>(
      {{2, gen::just(Shape{})}, {1, gen::container<Shape>(s.size(), gen::element<int64_t>(0, 1, 2, 3, 5))}});
}

// Words at the stochastic-rounding decision threshold +/- 1 for the elements
// marked in `kind` (1, 2, 3 = threshold - 1, threshold, threshold + 1).
void craft_threshold_words(QuantizeCase& c, const std::vector<int>& kind) {
  if (c.rounding.mode != RoundingMode::sr) return;
  try {
    const QuantizeSteps p = quantize_steps(c);
    const Dyadic st = Dyadic::from_float(bits_float(p.tensor_scale));
    const int R = c.rounding.sr_bits;
    const std::vector<int64_t> gi = p.layout.group_index();
    for (size_t i = 0; i < c.x.size(); ++i) {
      if (kind[i] == 0 || p.group_nan[gi[i]]) continue;
      const Dyadic s = st * c.format.group_scale.decode(p.group_scale[gi[i]].code);
      const RoundResult r = quantize_element(c.format, c.x[i], s, Rounding{RoundingMode::rtz, 8}, 0);
      if (r.exact || r.t_den.sign() <= 0) continue;
      const int64_t rstar = static_cast<int64_t>(sr_threshold(r.t_num, r.t_den, R)) + (kind[i] - 2);
      const int64_t rmax = (int64_t(1) << R) - 1;
      c.rand[i] = sr_word(static_cast<uint64_t>(std::clamp<int64_t>(rstar, 0, rmax)), R, c.rand[i]);
    }
  } catch (const Error&) {
  }
}

// Exact ties: element i (not a group's maximum) becomes the midpoint of the
// gap it falls in (tie = 1) or of the gap between zero and the smallest
// non-zero value (tie = 2, the zero_only special case), times S_t S_g, when
// that is an fp32 value below the group maximum -- so the scales stay as they were.
void craft_ties(QuantizeCase& c, const std::vector<int>& tie) {
  try {
    const QuantizeSteps p = quantize_steps(c);
    const Dyadic st = Dyadic::from_float(bits_float(p.tensor_scale));
    const auto& e = c.format.element;
    const std::vector<int64_t> gi = p.layout.group_index();
    for (size_t i = 0; i < c.x.size(); ++i) {
      const int64_t grp = gi[i];
      if (tie[i] == 0 || p.group_nan[grp] || !fp32_is_finite(c.x[i])) continue;
      const float xi = bits_float(c.x[i]);
      if (std::fabs(xi) >= p.group_amax[grp]) continue;
      const Dyadic s = st * c.format.group_scale.decode(p.group_scale[grp].code);
      if (s.is_zero()) continue;
      uint64_t lo = 0, hi = e.nth_magnitude(1);
      if (tie[i] == 1) {
        const RoundResult r = quantize_element(c.format, c.x[i], s, Rounding{RoundingMode::rtz, 8}, 0);
        if (r.rule == Rule::saturated || !e.is_valid_code(r.code)) continue;
        lo = r.lo;
        hi = r.exact ? e.nth_magnitude(std::min(e.index_of_magnitude(r.lo) + 1, e.valid_magnitude_count() - 1)) : r.hi;
        if (hi == lo || !e.is_valid_magnitude(hi)) continue;
      }
      const Dyadic mid = ldexp(e.magnitude_value(lo) + e.magnitude_value(hi), -1) * s;
      const float f = round_to_fp32(mid);
      if (!std::isfinite(f) || Dyadic::from_float(f) != mid || f >= p.group_amax[grp]) continue;
      c.x[i] = float_bits(std::signbit(xi) ? -f : f);
    }
  } catch (const Error&) {
  }
}

// Block edges (family formats): element 0 of the case becomes a block
// maximum m * 2^k with m at or just below a power of two, at q_max's
// mantissa or at the midpoints past it (E4M3: 448, 464, 480 after scaling),
// with k near the scale's lower limit or ordinary; NaN and Inf where the
// format takes them.
void craft_block_edges(QuantizeCase& c, int pattern, int k_pick, int where) {
  if (c.x.empty() || pattern == 0) return;
  const Format& f = c.format;
  const Dyadic qm = f.q_max();
  const int64_t qe = qm.ilog2();
  // q_max's significand in [1, 2) and the next grid value above it (the overflow position).
  const Dyadic qsig = ldexp(qm, -qe);
  const Dyadic next = ldexp(f.element.magnitude_value(f.element.overflow_position()), -qe);
  Dyadic m;
  switch (pattern) {
    case 1: m = Dyadic::from_int(1); break;                                   // a power of two
    case 2: m = Dyadic(BigInt((1 << 24) - 1), -23); break;                    // just below 2
    case 3: m = qsig; break;                                                  // q_max exactly
    case 4: m = ldexp(qsig + next, -1); break;                                // the tie past q_max (464)
    case 5: m = next; break;                                                  // the overflow position (480)
    case 6: m = Dyadic(BigInt((1 << 24) - 3), -23); break;                    // a little below 2
    default: break;
  }
  const int k = k_pick == 0 ? -140 + (where % 20) : k_pick == 1 ? -126 : (where % 40) - 20;
  const size_t i = static_cast<size_t>(where) % c.x.size();
  if (pattern == 7 || pattern == 8) {
    const bool nan = pattern == 7;
    if (f.nonfinite != NonFiniteInput::propagate) return;
    c.x[i] = nan ? 0x7fc00000u : ((where & 1) ? 0xff800000u : 0x7f800000u);
    return;
  }
  const float v = round_to_fp32(ldexp(m, k));
  if (!std::isfinite(v) || v == 0) return;
  c.x[i] = float_bits((where & 1) ? -v : v);
}

rc::Gen<QuantizeCase> gen_quantize_exact(const GeneratorOptions& opt);

// The quantize cases, each with an arithmetic profile of opt.arith (4.12) when
// given; without it the stream is the exact one, case for case.
rc::Gen<QuantizeCase> gen_quantize(const GeneratorOptions& opt) {
  if (opt.arith.empty()) return gen_quantize_exact(opt);
  std::vector<QuantArith> as;
  for (const auto& a : opt.arith) as.push_back(enum_from_name<QuantArith>(a, "--arith"));
  return gen::apply([](QuantizeCase c, QuantArith a) { c.arith = a; return c; }, gen_quantize_exact(opt), gen::elementOf(as));
}

rc::Gen<QuantizeCase> gen_quantize_exact(const GeneratorOptions& opt) {
  return gen::mapcat(gen_format(opt), [opt](Format f) {
    return gen::mapcat(gen_shape_for(f), [opt, f](Shape shape) {
      const size_t n = static_cast<size_t>(element_count(shape));
      return gen::apply(
          [shape, f](Shape gs, std::vector<uint32_t> x, Rounding r, std::vector<uint32_t> words, std::vector<int> kind,
                     int static_scale, std::vector<int> tie, int edge, int k_pick, int where) {
            QuantizeCase c;
            c.format = f;
            if (!gs.empty()) c.format.group_shape = gs;
            c.rounding = r;
            c.shape = shape;
            c.x = std::move(x);
            if (f.block_size > 0) craft_block_edges(c, edge, k_pick, where);
            if (r.mode == RoundingMode::sr) c.rand = std::move(words);
            craft_ties(c, tie);
            if (r.mode == RoundingMode::sr) {
              // A tie (t = 1/2) with the word exactly at the threshold is where
              // ">=" and ">" differ: mark half the tie elements so.
              for (size_t i = 0; i < kind.size(); ++i)
                if (tie[i] != 0 && kind[i] == 0 && i % 2 == 0) kind[i] = 2;
              craft_threshold_words(c, kind);
            }
            if (static_scale > 0 && f.nonfinite == NonFiniteInput::error)
              c.static_tensor_scale = fbits(std::ldexp(1.0f, static_scale - 6));
            return c;
          },
          gen_group_shape(f, shape), gen::container<std::vector<uint32_t>>(n, gen_value()), gen_rounding(opt),
          gen::container<std::vector<uint32_t>>(n, gen::weightedOneOf<uint32_t>({{6, gen::arbitrary<uint32_t>()},
                                                                                 {1, gen::element<uint32_t>(0u, 0xffffffffu, 0x80000000u)}})),
          gen::container<std::vector<int>>(n, gen::weightedElement<int>({{5, 0}, {1, 1}, {1, 2}, {1, 3}})),
          gen::weightedOneOf<int>({{9, gen::just(0)}, {1, gen::inRange(1, 10)}}),
          gen::container<std::vector<int>>(n, gen::weightedElement<int>({{6, 0}, {2, 1}, {1, 2}})),
          gen::weightedElement<int>({{4, 0}, {1, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 5}, {1, 6}, {1, 7}, {1, 8}}),
          gen::inRange(0, 3), gen::inRange(0, 1 << 16));
    });
  });
}

// ---- round: scalar casts -------------------------------------------------------------

rc::Gen<Minifloat> gen_element(const GeneratorOptions& opt) {
  if (!opt.formats.empty()) {
    std::vector<Minifloat> es;
    for (const auto& s : opt.formats) {
      try {
        es.push_back(parse_format(s).element);
      } catch (const Error&) {
        es.push_back(parse_minifloat(s, GridRole::cast, "--formats"));  // any grid a cast takes (3.10)
      }
    }
    return gen::elementOf(es);
  }
  std::vector<Minifloat> named;
  for (const auto& g : named_grids())
    if (g.grid.is_signed && g.grid.total_bits() <= 8) named.push_back(g.grid);
  return gen::weightedOneOf<Minifloat>(
      {{3, gen::elementOf(named)}, {1, gen::map(gen_mls_format(), [](const Format& f) { return f.element; })}});
}

std::vector<OverflowPolicy> overflow_policies(const Minifloat& e) {
  std::vector<OverflowPolicy> p{OverflowPolicy::saturate};
  if (e.has_nan()) p.push_back(OverflowPolicy::nan);
  if (e.has_inf()) p.push_back(OverflowPolicy::infinity);
  return p;
}

// Values for a cast: grid points, midpoints and the overflow region of the
// element (scaled), NaN/Inf where the grid and policy take them, fp32 edges.
uint32_t grid_value(const Minifloat& e, const Dyadic& scale, uint64_t pick, int kind, bool neg) {
  const uint64_t n = e.valid_magnitude_count();
  const uint64_t a = e.nth_magnitude(pick % n), b = e.nth_magnitude(std::min(pick % n + 1, n - 1));
  Dyadic v;
  switch (kind) {
    case 0: v = e.magnitude_value(a); break;                                                   // on the grid
    case 1: v = ldexp(e.magnitude_value(a) + e.magnitude_value(b), -1); break;                 // a tie
    case 2: v = ldexp(e.max_value() + e.magnitude_value(e.overflow_position()), -1); break;    // the tie past the max
    default: v = e.magnitude_value(e.overflow_position()); break;                              // the overflow position
  }
  const float f = round_to_fp32(v * scale);
  return float_bits(neg ? -f : f);
}

// The values of a cast of n values to e: fp32 values, grid points, ties,
// the overflow region, NaN/Inf where the grid and policy take them.
rc::Gen<RoundCase> gen_round_values(const GeneratorOptions& opt, const Minifloat& e, size_t n) {
  return gen::apply(
      [e](Rounding r, OverflowPolicy ovf, int sz, int scale_kind, int k, uint32_t sbits, std::vector<uint32_t> x,
          std::vector<uint32_t> words, std::vector<int> kinds, std::vector<uint64_t> picks) {
        RoundCase c;
        c.element = e;
        c.rounding = r;
        c.overflow = ovf;
        c.signed_zero = sz ? SignedZero::positive : SignedZero::preserve;
        if (scale_kind == 1) c.scale = Dyadic::pow2(k);
        if (scale_kind == 2) c.scale = Dyadic::from_float(std::fabs(bits_float(sbits & 0x7f7fffffu))) * Dyadic::pow2(k % 8);
        if (c.scale.is_zero()) c.scale = Dyadic::from_int(1);
        c.x = std::move(x);
        for (size_t i = 0; i < c.x.size(); ++i) {
          const int kind = kinds[i];
          if (kind >= 1 && kind <= 4) c.x[i] = grid_value(e, c.scale, picks[i], kind - 1, (picks[i] >> 40) & 1);
          if (kind == 5 && e.has_nan()) c.x[i] = (picks[i] & 1) ? 0xffc00000u : 0x7fc00000u;
          const bool inf_ok = ovf == OverflowPolicy::saturate || (ovf == OverflowPolicy::nan && e.has_nan()) ||
                              (ovf == OverflowPolicy::infinity && e.has_inf());
          if (kind == 6 && inf_ok) c.x[i] = (picks[i] & 1) ? 0xff800000u : 0x7f800000u;
        }
        if (r.mode == RoundingMode::sr) c.rand = std::move(words);
        // Words at the sr threshold for some grid ties.
        if (r.mode == RoundingMode::sr)
          for (size_t i = 0; i < c.x.size(); ++i) {
            if (kinds[i] != 2 || !fp32_is_finite(c.x[i]) || (!e.is_signed && (c.x[i] >> 31))) continue;  // (unsigned: error)
            const RoundResult t = round_fp32_input(e, c.x[i], c.scale, Rounding{RoundingMode::rtz, 8}, 0,
                                                   OverflowPolicy::saturate, SignedZero::preserve);
            if (t.exact || t.t_den.sign() <= 0) continue;
            c.rand[i] = sr_word(std::min<uint64_t>(sr_threshold(t.t_num, t.t_den, r.sr_bits), (uint64_t(1) << r.sr_bits) - 1),
                                r.sr_bits, c.rand[i]);
          }
        return c;
      },
      gen_rounding(opt), gen::elementOf(overflow_policies(e)), gen::weightedElement<int>({{9, 0}, {1, 1}}),
      gen::weightedElement<int>({{3, 0}, {2, 1}, {1, 2}}), gen::inRange(-130, 130), gen::arbitrary<uint32_t>(),
      gen::container<std::vector<uint32_t>>(n, gen_value()),
      gen::container<std::vector<uint32_t>>(n, gen::arbitrary<uint32_t>()),
      gen::container<std::vector<int>>(n, gen::weightedElement<int>({{5, 0}, {3, 1}, {3, 2}, {1, 3}, {1, 4}, {1, 5}, {1, 6}})),
      gen::container<std::vector<uint64_t>>(n, gen::arbitrary<uint64_t>()));
}

// A grid without zero or without sign (a group-scale grid as the cast's
// target, e.g. E8M0): +0, -0 and values below its smallest value (which give
// that value, 3.5) mixed in; on an unsigned grid no negative non-zero value
// except, one case in ten, one (the error path, 3.6).
RoundCase cast_only_values(RoundCase c, int negative_case, const std::vector<int>& kinds, const std::vector<uint32_t>& r) {
  const Minifloat& e = c.element;
  const uint32_t lo = float_bits(round_to_fp32(e.min_positive() * c.scale));  // the grid's smallest value, scaled
  for (size_t i = 0; i < c.x.size(); ++i) {
    if (kinds[i] == 1) c.x[i] = (r[i] & 1) ? 0x80000000u : 0u;
    if (kinds[i] == 2) c.x[i] = (lo > 1 ? r[i] % (lo - 1) + 1 : 0u) | (r[i] & 0x80000000u);  // (0, smallest)
    if (!e.is_signed && !fp32_is_nan(c.x[i])) c.x[i] &= 0x7fffffffu;
  }
  if (!e.is_signed && negative_case == 0) c.x[r[0] % c.x.size()] |= 0x80000000u;
  return c;
}

rc::Gen<RoundCase> gen_round(const GeneratorOptions& opt) {
  return gen::mapcat(gen_element(opt), [opt](Minifloat e) {
    return gen::mapcat(gen::inRange<size_t>(1, 48), [opt, e](size_t n) -> rc::Gen<RoundCase> {
      if (!e.is_signed || !e.has_zero())
        return gen::apply(cast_only_values, gen_round_values(opt, e, n), gen::inRange(0, 10),
                          gen::container<std::vector<int>>(n, gen::weightedElement<int>({{6, 0}, {1, 1}, {1, 2}})),
                          gen::container<std::vector<uint32_t>>(n, gen::arbitrary<uint32_t>()));
      return gen_round_values(opt, e, n);
    });
  });
}

// ---- conv2d and gemm ---------------------------------------------------------------------

MlsTensor quantize_operand(Format f, const Shape& shape, const std::vector<uint32_t>& bits, int64_t block_axis) {
  f.group_shape.clear();
  if (f.block_size > 0) f.block_axis = block_axis;
  QuantizeCase q;  // the values are finite, so the operand is too (6.11)
  q.format = f;
  q.shape = shape;
  q.x = bits;
  return quantize(q);
}

struct ConvDims {
  ConvPass pass;
  int64_t N, G, Cg, Og, H, W, KH, KW, s0, s1, p0, p1, d0, d1;
};

rc::Gen<ConvCase> gen_conv(const GeneratorOptions& opt) {
  auto dims = gen::apply(
      [](int pass, std::vector<int64_t> v) {
        ConvDims d{pass == 0 ? ConvPass::fwd : pass == 1 ? ConvPass::bwd_data : ConvPass::bwd_weight, v[0], v[1], v[2],
                   v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10] - 1, v[11] - 1, v[12], v[13]};
        // Keep the dilated kernel inside the padded input (at least one output).
        d.KH = std::min(d.KH, (d.H + 2 * d.p0 - 1) / d.d0 + 1);
        d.KW = std::min(d.KW, (d.W + 2 * d.p1 - 1) / d.d1 + 1);
        return d;
      },
      gen::inRange(0, 3),
      gen::apply([](int64_t n, int64_t g, int64_t cg, int64_t og, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t s0,
                    int64_t s1, int64_t p0, int64_t p1, int64_t d0, int64_t d1) {
                   return std::vector<int64_t>{n, g, cg, og, h, w, kh, kw, s0, s1, p0, p1, d0, d1};
                 },
                 gen::inRange<int64_t>(1, 3), gen::inRange<int64_t>(1, 3), gen::inRange<int64_t>(1, 4),
                 gen::inRange<int64_t>(1, 4), gen::inRange<int64_t>(1, 7), gen::inRange<int64_t>(1, 7),
                 gen::inRange<int64_t>(1, 4), gen::inRange<int64_t>(1, 4), gen::inRange<int64_t>(1, 3),
                 gen::inRange<int64_t>(1, 3), gen::inRange<int64_t>(1, 3), gen::inRange<int64_t>(1, 3),
                 gen::inRange<int64_t>(1, 3), gen::inRange<int64_t>(1, 3)));
  return gen::mapcat(dims, [opt](ConvDims d) {
    const int64_t C = d.G * d.Cg, O = d.G * d.Og;
    const int64_t OH = conv_output_size(d.H, d.KH, d.s0, d.p0, d.d0);
    const int64_t OW = conv_output_size(d.W, d.KW, d.s1, d.p1, d.d1);
    const Shape X{d.N, C, d.H, d.W}, Wt{O, d.Cg, d.KH, d.KW}, dY{d.N, O, OH, OW};
    Shape as = X, bs = Wt;
    if (d.pass == ConvPass::bwd_data) { as = dY; bs = Wt; }
    if (d.pass == ConvPass::bwd_weight) { as = X; bs = dY; }
    const size_t na = static_cast<size_t>(element_count(as)), nb = static_cast<size_t>(element_count(bs));
    return gen::apply(
        [d, as, bs, X, Wt](Format fa, Format fb, std::vector<uint32_t> xa, std::vector<uint32_t> xb) {
          ConvCase c;
          c.params.pass = d.pass;
          c.params.stride = {d.s0, d.s1};
          c.params.padding = {d.p0, d.p1};
          c.params.dilation = {d.d0, d.d1};
          c.params.groups = d.G;
          // Blocks of the family run along the channel axis of every operand (axis 1).
          c.a = quantize_operand(fa, as, xa, 1);
          c.b = quantize_operand(fb, bs, xb, 1);
          if (d.pass == ConvPass::bwd_data) c.params.out_shape = X;
          if (d.pass == ConvPass::bwd_weight) c.params.out_shape = Wt;
          c.out_shape = ConvGeometry::resolve(c.params, c.a.shape, c.b.shape).out_shape;
          return c;
        },
        gen_format(opt), gen_format(opt), gen::container<std::vector<uint32_t>>(na, gen_value()),
        gen::container<std::vector<uint32_t>>(nb, gen_value()));
  });
}

rc::Gen<ConvCase> gen_gemm(const GeneratorOptions& opt) {
  return gen::mapcat(gen::container<std::vector<int64_t>>(3, gen::inRange<int64_t>(1, 7)), [opt](std::vector<int64_t> mkn) {
    return gen::mapcat(gen::weightedElement<int64_t>({{3, 1}, {1, 40}}), [opt, mkn](int64_t kscale) {
      const Shape as{mkn[0], mkn[1] * kscale}, bs{mkn[1] * kscale, mkn[2]};
      return gen::apply(
          [as, bs](Format fa, Format fb, std::vector<uint32_t> xa, std::vector<uint32_t> xb) {
            ConvCase c;
            c.gemm = true;
            // Blocks along the reduction axis K: A's last axis, B's first.
            c.a = quantize_operand(fa, as, xa, 1);
            c.b = quantize_operand(fb, bs, xb, 0);
            c.out_shape = gemm_out_shape(as, bs);
            return c;
          },
          gen_format(opt), gen_format(opt),
          gen::container<std::vector<uint32_t>>(static_cast<size_t>(element_count(as)), gen_value()),
          gen::container<std::vector<uint32_t>>(static_cast<size_t>(element_count(bs)), gen_value()));
    });
  });
}

}  // namespace

rc::Gen<Case> gen_case(Op op, const GeneratorOptions& opt) {
  switch (op) {
    case Op::round:
      return gen::map(gen_round(opt), [](RoundCase r) { Case c; c.op = Op::round; c.round = std::move(r); return c; });
    case Op::quantize:
      return gen::map(gen_quantize(opt), [](QuantizeCase q) { Case c; c.op = Op::quantize; c.q = std::move(q); return c; });
    case Op::dequantize:
      return gen::map(gen_quantize(opt), [](QuantizeCase q) {
        Case c;
        c.op = Op::dequantize;
        c.t = quantize(q);
        return c;
      });
    case Op::conv2d:
      return gen::map(gen_conv(opt), [](ConvCase v) { Case c; c.op = Op::conv2d; c.conv = std::move(v); return c; });
    case Op::gemm:
      return gen::map(gen_gemm(opt), [](ConvCase v) { Case c; c.op = Op::gemm; c.conv = std::move(v); return c; });
  }
  throw Error("gen_case: unknown op");
}

rc::Random case_random(uint64_t seed, Op op, int64_t index) {
  // Independent, reproducible streams per (seed, op, case index).
  uint64_t h = 1469598103934665603ull;
  for (char ch : to_string(op)) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  const uint32_t w0 = random_word(seed, static_cast<uint32_t>(h), static_cast<uint64_t>(index) * 2);
  const uint32_t w1 = random_word(seed, static_cast<uint32_t>(h), static_cast<uint64_t>(index) * 2 + 1);
  return rc::Random((uint64_t(w0) << 32) | w1);
}

int case_size(int64_t index) { return static_cast<int>(20 + index % 81); }

rc::Shrinkable<Case> generate_shrinkable(Op op, uint64_t seed, int64_t index, const GeneratorOptions& opt) {
  return gen_case(op, opt)(case_random(seed, op, index), case_size(index));
}

Case generate_case(Op op, uint64_t seed, int64_t index, const GeneratorOptions& opt) {
  return generate_shrinkable(op, seed, index, opt).value();
}

}  // namespace mls::conformance
