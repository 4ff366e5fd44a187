// Tensor suites (8.8.2, 8.8.3): dynamic quantization of fp32 tensors and
// dequantization of MLS tensors, batched per shape.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "gen_internal.hpp"
#include "mls/error.hpp"

namespace mls::vectors::gen {
namespace {

struct ShapeSpec {
  Shape shape;
  std::vector<int64_t> tile;  // empty: the format's own layout
};

// 8.8.2: one-element groups (rank 2 default), whole-tensor groups (rank 1),
// per-channel maps, partial edge tiles and per-sample groups.
std::vector<ShapeSpec> tensor_shapes(int level) {
  std::vector<ShapeSpec> v = {{{8}, {}}, {{3, 5}, {}}, {{2, 3, 4, 4}, {}}, {{1, 2, 5, 7}, {1, 1, 2, 4}}, {{2, 4, 3, 3}, {1, 0, 0, 0}}};
  if (level >= 2) {
    v.push_back({{4, 16, 8, 8}, {}});
    v.push_back({{2, 32, 7, 7}, {1, 8, 0, 0}});
    v.push_back({{64}, {16}});
    v.push_back({{16, 16}, {4, 4}});
  }
  return v;
}

std::vector<std::vector<int64_t>> group_members(const GroupLayout& L, int64_t n) {
  std::vector<std::vector<int64_t>> m(L.group_count);
  for (int64_t i = 0; i < n; ++i) m[L.group_of(i)].push_back(i);
  return m;
}

float signed_float(uint32_t mag_bits, bool neg) { return bits_float(mag_bits | (neg ? 0x80000000u : 0)); }

uint64_t random_count(int level, int64_t numel, uint64_t l1) {
  if (level < 2) return l1;
  return static_cast<uint64_t>(std::clamp<int64_t>(50000 / numel, 8, 300));
}

std::string tile_text(const Shape& s) {
  std::string t;
  for (size_t i = 0; i < s.size(); ++i) t += (i ? "x" : "") + std::to_string(s[i]);
  return t;
}

// ---- quantize ----

enum class AmaxMode { normal, wide, underflow, on_scale, one_group };
enum class ElemMode { mixed, ties, grid_near };

class QuantizeMaker : public Maker {
 public:
  static constexpr uint64_t kRecipes = 14;
  static constexpr uint64_t kFamilyRecipes = 6;
  // The edge recipes of a format: the family's own for the members spec 1.0 lacks.
  static uint64_t recipes(const Format& f) { return kRecipes + (f.spec10() ? 0 : kFamilyRecipes); }

  QuantizeMaker(Format f, Rounding r, Shape shape, uint64_t seed, uint32_t stream)
      : f_(std::move(f)), r_(r), shape_(std::move(shape)), layout_(f_, shape_), seed_(seed), stream_(stream) {
    n_ = element_count(shape_);
    members_ = group_members(layout_, n_);
    for (uint64_t i = 0; i < f_.element.valid_magnitude_count(); ++i)
      mags_.push_back(f_.element.magnitude_value(f_.element.nth_magnitude(i)));
  }

  void fill(std::map<std::string, Array>& d, uint64_t row, uint64_t k) const override {
    Rng rng(seed_, stream_, k);
    std::vector<float> x = k < kRecipes ? recipe(k, rng) : k < recipes(f_) ? family_recipe(k - kRecipes, rng) : random_tensor(rng);
    std::vector<uint32_t> words(n_, 0);
    if (r_.mode == RoundingMode::sr) words = sr_words(x, rng);
    Array& xi = d["inputs/x"];
    Array& ri = d["inputs/rand"];
    for (int64_t i = 0; i < n_; ++i) {
      xi.ints[row * n_ + i] = float_bits(x[i]);
      ri.ints[row * n_ + i] = words[i];
    }
    const uint64_t G = static_cast<uint64_t>(layout_.group_count);
    try {
      const MlsTensor t = quantize(f_, shape_, x, r_, words);
      d["outputs/status"].ints[row] = kStatusOk;
      d["outputs/tensor_scale"].ints[row] = t.tensor_scale;
      for (uint64_t g = 0; g < G; ++g) d["outputs/group_scales"].ints[row * G + g] = t.group_scales[g];
      for (int64_t i = 0; i < n_; ++i) d["outputs/elements"].ints[row * n_ + i] = t.elements[i];
    } catch (const Error&) {  // e.g. a tensor scale overflowing fp32 (4.3)
      d["outputs/status"].ints[row] = kStatusError;
    }
  }

 private:
  std::vector<float> recipe(uint64_t k, Rng& r) const {
    std::vector<float> x(n_, 0.0f);
    switch (k) {
      case 0: break;                                                            // all +0 (4.2)
      case 1: for (int64_t i = 0; i < n_; ++i) x[i] = (i % 2) ? -0.0f : 0.0f; break;  // signed zeros
      case 2: std::fill(x.begin(), x.end(), 1.0f); break;                      // all equal
      case 3: std::fill(x.begin(), x.end(), -0x1.8p-100f); break;              // all equal, negative, tiny
      case 4:                                                                   // one huge value: the rest underflow
        for (int64_t i = 0; i < n_; ++i) x[i] = signed_float(random_fp32_in_binades(r, -2, 1), r.chance(50));
        x[0] = FLT_MAX;
        break;
      case 5: for (int64_t i = 0; i < n_; ++i) x[i] = (i % 2) ? -FLT_MAX : FLT_MAX; break;  // extremes
      case 6:                                                                   // fp32 subnormals only
        for (int64_t i = 0; i < n_; ++i) x[i] = signed_float((r.next() & 0x7fffffu) | 1u, r.chance(50));
        break;
      case 7: x[n_ - 1] = bits_float(1); break;                                 // one smallest subnormal
      case 8: return crafted(r, AmaxMode::one_group, ElemMode::mixed);
      case 9: return crafted(r, AmaxMode::normal, ElemMode::ties);
      case 10: return crafted(r, AmaxMode::normal, ElemMode::grid_near);
      case 11: return crafted(r, AmaxMode::wide, ElemMode::mixed);
      case 12: return crafted(r, AmaxMode::underflow, ElemMode::mixed);
      default: return crafted(r, AmaxMode::on_scale, ElemMode::mixed);
    }
    return x;
  }

  // The family's edges (8.8.2): a NaN or an Inf in a block (4.1.2), block
  // maxima at and just below powers of two, at q_max's significand and the
  // tie and overflow position past it (E4M3: 448, 464, 480 after scaling),
  // and tiny blocks near the scale's lower limit (fp32 subnormals).
  std::vector<float> family_recipe(uint64_t j, Rng& r) const {
    const int64_t G = layout_.group_count;
    std::vector<float> x(n_, 0.0f);
    const Dyadic qm = f_.q_max();
    const int64_t qe = qm.ilog2();
    const Dyadic qsig = ldexp(qm, -qe);
    const Dyadic next = ldexp(f_.element.magnitude_value(f_.element.overflow_position()), -qe);
    for (int64_t g = 0; g < G; ++g) {
      const int k = j == 5 ? r.range(-149, -118) : r.range(-20, 20);
      Dyadic m;
      switch (j) {
        case 2: m = Dyadic::from_int(1); break;
        case 3: m = Dyadic(BigInt((1 << 24) - 1), -23); break;
        case 4: m = g % 3 == 0 ? qsig : g % 3 == 1 ? ldexp(qsig + next, -1) : next; break;
        default: m = Dyadic(BigInt((1 << 23) | (r.next() & 0x7fffffu)), -23); break;
      }
      const uint32_t amax = fp32_bits_of(ldexp(m, k)) & 0x7fffffffu;
      const auto& mem = members_[g];
      for (size_t i = 0; i < mem.size(); ++i) {
        uint32_t a = amax;
        if (i > 0) {
          const int e = std::max(-149, static_cast<int>(Dyadic::from_float(bits_float(std::max(amax, 1u))).ilog2()));
          a = std::min(amax, random_fp32_in_binades(r, std::max(-149, e - 8), e));
        }
        x[mem[i]] = signed_float(a, r.chance(50));
      }
    }
    if (j == 0) x[members_[0][r.below(static_cast<uint32_t>(members_[0].size()))]] = bits_float(0x7fc00000u);
    if (j == 1) x[members_[G - 1][0]] = bits_float(r.chance(50) ? 0x7f800000u : 0xff800000u);
    return x;
  }

  std::vector<float> random_tensor(Rng& r) const {
    if (r.chance(60)) {
      static const AmaxMode am[] = {AmaxMode::normal, AmaxMode::normal, AmaxMode::wide, AmaxMode::underflow,
                                    AmaxMode::on_scale, AmaxMode::one_group};
      static const ElemMode em[] = {ElemMode::mixed, ElemMode::mixed, ElemMode::ties, ElemMode::grid_near};
      const AmaxMode a = am[r.below(6)];
      return crafted(r, a, em[r.below(4)]);
    }
    // Smooth data: bell-shaped or log-uniform values, optional per-group
    // attenuation, a sprinkle of zeros, -0 and subnormals.
    std::vector<float> x(n_);
    const int e0 = r.range(-40, 40);
    const bool bell = r.chance(50), attenuate = r.chance(30);
    std::vector<int> att(layout_.group_count, 0);
    if (attenuate)
      for (auto& a : att) a = r.range(0, 30);
    for (int64_t i = 0; i < n_; ++i) {
      const uint32_t c = r.below(100);
      const bool neg = r.chance(50);
      if (c < 4) { x[i] = neg ? -0.0f : 0.0f; continue; }
      if (c < 6) { x[i] = signed_float((r.next() & 0x7fffffu) | 1u, neg); continue; }
      const int e = e0 - att[layout_.group_of(i)];
      if (bell) {
        // Sum of four uniforms: an exact dyadic with 26 significant bits, rounded to fp32.
        BigInt s = 0;
        for (int j = 0; j < 4; ++j) s += BigInt(r.next() >> 8);
        x[i] = bits_float(fp32_bits_of(Dyadic(s, e - 26)) | (neg ? 0x80000000u : 0));
      } else {
        x[i] = signed_float(random_fp32_in_binades(r, e - 20, e), neg);
      }
    }
    return x;
  }

  // Tensors built backwards from their scales (8.8.2): group maxima first,
  // then the scales they give, then elements placed on grid points, ties and
  // their fp32 neighbours, so the edge cases survive the dynamic scaling.
  std::vector<float> crafted(Rng& r, AmaxMode mode, ElemMode emode) const {
    const int64_t G = layout_.group_count;
    std::vector<float> x(n_, 0.0f);
    std::vector<uint32_t> A(G, 0);
    const int e0 = r.range(-40, 40);
    for (int64_t g = 0; g < G; ++g) {
      switch (mode) {
        case AmaxMode::normal: A[g] = random_fp32_in_binades(r, e0 - 3, e0); break;
        case AmaxMode::wide: A[g] = random_fp32_in_binades(r, -60, 60); break;
        case AmaxMode::underflow: A[g] = random_fp32_in_binades(r, g == 0 ? e0 : e0 - r.range(20, 60), g == 0 ? e0 : e0 - 20); break;
        case AmaxMode::on_scale: A[g] = random_fp32_in_binades(r, e0, e0); break;
        case AmaxMode::one_group: A[g] = g == 0 ? random_fp32_in_binades(r, e0 - 3, e0) : 0; break;
      }
    }
    std::vector<int64_t> pos(G);
    for (int64_t g = 0; g < G; ++g) pos[g] = members_[g][r.below(static_cast<uint32_t>(members_[g].size()))];
    const uint32_t amax = *std::max_element(A.begin(), A.end());
    Dyadic St;
    try {
      St = Dyadic::from_float(bits_float(dynamic_tensor_scale(f_, bits_float(amax))));
    } catch (const Error&) {  // S_t overflows (4.3): the case expects the error
      for (int64_t g = 0; g < G; ++g) x[pos[g]] = signed_float(A[g], r.chance(50));
      return x;
    }
    if (mode == AmaxMode::on_scale) {
      // Group maxima at S_t * q_max * (a group-scale value), and one fp32 step off.
      const uint32_t top = A[0];
      for (int64_t g = 1; g < G; ++g) {
        const std::vector<uint32_t> codes = scale_codes(f_.group_scale);
        const uint32_t code = codes[r.below(static_cast<uint32_t>(codes.size()))];
        uint32_t a = fp32_bits_of(St * f_.q_max() * f_.group_scale.decode(code));
        const uint32_t v = r.below(3);
        if (v == 1) a = fp32_prev(a);
        if (v == 2) a = fp32_next(a);
        A[g] = std::min(a, top);
      }
    }
    for (int64_t g = 0; g < G; ++g) x[pos[g]] = signed_float(A[g], r.chance(50));
    for (int64_t g = 0; g < G; ++g) {
      if (A[g] == 0) {
        for (int64_t i : members_[g]) x[i] = r.chance(50) ? -0.0f : 0.0f;
        continue;
      }
      const Dyadic S = St * f_.group_scale.decode(select_group_scale(f_, St, bits_float(A[g])).code);
      if (S.is_zero()) {  // a zero group scale (4.5.1): every element of the group is a zero
        for (int64_t i : members_[g])
          if (i != pos[g]) x[i] = signed_float(std::min(A[g], random_fp32_in_binades(r, -149, -126)), r.chance(50));
        continue;
      }
      // The largest grid index whose value times S stays within the group maximum.
      const uint64_t top_code =
          round_to_grid(f_.element, RoundInput{false, Dyadic::from_float(bits_float(A[g])), S}, Rounding{RoundingMode::rtz, 8}, 0)
              .code;
      const size_t top = static_cast<size_t>(f_.element.index_of_magnitude(top_code));
      for (int64_t i : members_[g]) {
        if (i == pos[g]) continue;
        uint32_t kind = r.below(6);
        if (emode == ElemMode::ties) kind = r.chance(80) ? 1 : kind;
        if (emode == ElemMode::grid_near) kind = r.chance(80) ? (r.chance(50) ? 0 : 2) : kind;
        const size_t j = r.below(static_cast<uint32_t>(top + 1));
        Dyadic v = mags_[j];
        uint32_t bits = 0;
        switch (kind) {
          case 0: bits = fp32_bits_of(v * S); break;                       // on the grid
          case 1:                                                           // a tie
            if (j + 1 < mags_.size()) v = ldexp(mags_[j] + mags_[j + 1], -1);
            bits = fp32_bits_of(v * S);
            break;
          case 2:                                                           // one fp32 step off a tie or a grid point
            if (j + 1 < mags_.size() && r.chance(50)) v = ldexp(mags_[j] + mags_[j + 1], -1);
            bits = fp32_bits_of(v * S);
            bits = r.chance(50) ? fp32_next(bits) : fp32_prev(bits);
            break;
          case 3:                                                           // anywhere in a gap
            if (j + 1 < mags_.size()) v = v + ldexp((mags_[j + 1] - mags_[j]) * Dyadic::from_int(r.next() & 0xffffff), -24);
            bits = fp32_bits_of(v * S);
            break;
          case 4: bits = 0; break;                                          // zero
          default: bits = A[g];                                             // equal to the maximum
        }
        bits = std::min(bits & 0x7fffffffu, A[g]);  // never above the group maximum
        x[i] = signed_float(bits, r.chance(50));
      }
    }
    return x;
  }

  // sr words: half at the decision threshold of their element, half random.
  std::vector<uint32_t> sr_words(const std::vector<float>& x, Rng& r) const {
    std::vector<uint32_t> w(n_);
    float amax = 0;
    std::vector<float> gmax(layout_.group_count, 0.0f);
    for (int64_t i = 0; i < n_; ++i) {
      const float a = std::fabs(x[i]);
      amax = std::max(amax, a);
      gmax[layout_.group_of(i)] = std::max(gmax[layout_.group_of(i)], a);
    }
    Dyadic St;
    try {
      St = Dyadic::from_float(bits_float(dynamic_tensor_scale(f_, amax)));
    } catch (const Error&) {
      for (auto& v : w) v = r.next();
      return w;
    }
    std::vector<Dyadic> S(layout_.group_count);
    for (int64_t g = 0; g < layout_.group_count; ++g)
      S[g] = St * f_.group_scale.decode(select_group_scale(f_, St, gmax[g]).code);
    for (int64_t i = 0; i < n_; ++i) {
      if (r.chance(50)) {
        w[i] = r.next();
        continue;
      }
      try {
        const RoundResult p = quantize_element(f_, float_bits(x[i]), S[layout_.group_of(i)], r_, 0);
        const bool gap = !p.exact && p.rule != Rule::saturated && p.rule != Rule::clamped_min;
        w[i] = gap ? threshold_word(r, sr_threshold(p.t_num, p.t_den, r_.sr_bits), r_.sr_bits) : r.next();
      } catch (const Error&) {
        w[i] = r.next();
      }
    }
    return w;
  }

  Format f_;
  Rounding r_;
  Shape shape_;
  GroupLayout layout_;
  uint64_t seed_;
  uint32_t stream_;
  int64_t n_ = 0;
  std::vector<std::vector<int64_t>> members_;
  std::vector<Dyadic> mags_;
};

// ---- dequantize ----

uint32_t random_tensor_scale(Rng& r) {
  const uint32_t c = r.below(100);
  if (c < 30) return 0x3f800000u;
  if (c < 55) return static_cast<uint32_t>(127 + r.range(-40, 40)) << 23;
  if (c < 85) return random_fp32_in_binades(r, -40, 40);
  if (c < 92) return (r.next() & 0x7fffffu) | 1u;           // subnormal
  return random_fp32_in_binades(r, 100, 127);               // huge: fp32 results may overflow
}

void put_dequantized(std::map<std::string, Array>& d, uint64_t row, const MlsTensor& t) {
  const int64_t n = static_cast<int64_t>(t.elements.size());
  const std::vector<float> f32 = dequantize_fp32(t);
  const std::vector<double> f64 = dequantize_fp64(t);
  const GroupLayout L(t.format, t.shape);
  const Dyadic st = t.tensor_scale_value();
  Array& a32 = d["outputs/fp32"];
  Array& a64 = d["outputs/fp64"];
  Array& m = d["info/exact_mant"];
  Array& e = d["info/exact_exp"];
  for (int64_t i = 0; i < n; ++i) {
    a32.ints[row * n + i] = float_bits(f32[i]);
    uint64_t b;
    std::memcpy(&b, &f64[i], 8);
    a64.ints[row * n + i] = b;
    set_exact(m, e, row * n + i, finite_value_or_zero(t, i));
  }
  d["outputs/status"].ints[row] = kStatusOk;
}

void put_tensor_inputs(std::map<std::string, Array>& d, uint64_t row, const MlsTensor& t) {
  const uint64_t n = t.elements.size(), G = t.group_scales.size();
  d["inputs/tensor_scale"].ints[row] = t.tensor_scale;
  for (uint64_t g = 0; g < G; ++g) d["inputs/group_scales"].ints[row * G + g] = t.group_scales[g];
  for (uint64_t i = 0; i < n; ++i) d["inputs/elements"].ints[row * n + i] = t.elements[i];
}

class DequantizeMaker : public Maker {
 public:
  static constexpr uint64_t kRecipes = 6;
  // Spec-1.1 members: one more recipe with NaN scales and NaN/Inf elements (4.7.1).
  static uint64_t recipes(const Format& f) {
    return kRecipes + (f.group_scale.has_nan() || f.element.specials != Specials::none ? 1 : 0);
  }
  DequantizeMaker(Format f, Shape shape, uint64_t seed, uint32_t stream)
      : f_(std::move(f)), shape_(std::move(shape)), layout_(f_, shape_), seed_(seed), stream_(stream),
        codes_(valid_element_codes(f_.element)) {}

  void fill(std::map<std::string, Array>& d, uint64_t row, uint64_t k) const override {
    Rng r(seed_, stream_, k);
    MlsTensor t;
    t.format = f_;
    t.shape = shape_;
    const int64_t n = element_count(shape_), G = layout_.group_count;
    const std::vector<uint32_t> scodes = scale_codes(f_.group_scale);
    const uint32_t gmax = scodes.back(), gmin = scodes.front();
    const uint32_t sign = static_cast<uint32_t>(f_.element.sign_bit());
    const uint32_t qmax = static_cast<uint32_t>(f_.element.max_magnitude_code());
    const uint32_t minsub = static_cast<uint32_t>(f_.element.nth_magnitude(1));
    t.group_scales.assign(G, 0);
    t.elements.assign(n, 0);
    for (auto& g : t.group_scales) g = scodes[r.below(static_cast<uint32_t>(scodes.size()))];
    for (auto& e : t.elements) e = r.chance(10) ? (r.chance(50) ? sign : 0) : codes_[r.below(static_cast<uint32_t>(codes_.size()))];
    switch (k) {
      case 0:  // all +0, g_min everywhere, S_t = 1
        t.tensor_scale = 0x3f800000u;
        std::fill(t.group_scales.begin(), t.group_scales.end(), gmin);
        std::fill(t.elements.begin(), t.elements.end(), 0);
        break;
      case 1:  // all -0
        t.tensor_scale = random_tensor_scale(r);
        std::fill(t.elements.begin(), t.elements.end(), sign);
        break;
      case 2:  // +-q_max at g_max and the largest S_t: fp32 overflows to infinity
        t.tensor_scale = 0x7f7fffffu;
        std::fill(t.group_scales.begin(), t.group_scales.end(), gmax);
        for (int64_t i = 0; i < n; ++i) t.elements[i] = qmax | ((i % 2) ? sign : 0);
        break;
      case 3:  // the smallest magnitudes: fp32 underflows
        t.tensor_scale = 0x00000001u;
        std::fill(t.group_scales.begin(), t.group_scales.end(), gmin);
        for (int64_t i = 0; i < n; ++i) t.elements[i] = minsub | ((i % 2) ? sign : 0);
        break;
      case 4: t.tensor_scale = 0x3f800001u; break;  // inexact fp32 products
      case 5: t.tensor_scale = 0x00800000u; break;  // subnormal fp32 results
      case 6:  // only for formats with special codes: NaN scales, NaN and Inf elements
        if (k < recipes(f_)) {
          t.tensor_scale = random_tensor_scale(r);
          if (f_.group_scale.has_nan()) t.group_scales[0] = static_cast<uint32_t>(f_.group_scale.nan_code(false));
          const std::vector<uint32_t> sp = special_codes(f_.element);
          for (size_t i = 0; i < sp.size() && i < static_cast<size_t>(n); ++i) t.elements[static_cast<size_t>(n) - 1 - i] = sp[i];
          break;
        }
        t.tensor_scale = random_tensor_scale(r);
        break;
      default: t.tensor_scale = random_tensor_scale(r);
    }
    put_tensor_inputs(d, row, t);
    put_dequantized(d, row, t);
  }

 private:
  Format f_;
  Shape shape_;
  GroupLayout layout_;
  uint64_t seed_;
  uint32_t stream_;
  std::vector<uint32_t> codes_;
};

// Every (group-scale code, element code) pair: row i of the [Ng, Ne] tensor
// is group i (tile 1x0) with scale code i; column j is the j-th valid code.
class AllPairsMaker : public Maker {
 public:
  AllPairsMaker(Format f, Shape shape, std::vector<uint32_t> scales)
      : f_(std::move(f)), shape_(std::move(shape)), scales_(std::move(scales)), rows_(scale_rows(f_)),
        codes_(element_columns(f_)) {}
  // Every scale code (NaN too, where the grid has it) and every element code (NaN and Inf too).
  static std::vector<uint32_t> scale_rows(const Format& f) {
    std::vector<uint32_t> v = scale_codes(f.group_scale);
    if (f.group_scale.has_nan()) v.push_back(static_cast<uint32_t>(f.group_scale.nan_code(false)));
    return v;
  }
  static std::vector<uint32_t> element_columns(const Format& f) {
    std::vector<uint32_t> v = valid_element_codes(f.element);
    for (uint32_t c : special_codes(f.element)) v.push_back(c);
    return v;
  }
  void fill(std::map<std::string, Array>& d, uint64_t row, uint64_t k) const override {
    MlsTensor t;
    t.format = f_;
    t.shape = shape_;
    t.tensor_scale = scales_[k];
    for (int64_t g = 0; g < shape_[0]; ++g) t.group_scales.push_back(rows_[static_cast<size_t>(g)]);
    for (int64_t g = 0; g < shape_[0]; ++g)
      for (uint32_t c : codes_) t.elements.push_back(c);
    put_tensor_inputs(d, row, t);
    put_dequantized(d, row, t);
  }

 private:
  Format f_;
  Shape shape_;
  std::vector<uint32_t> scales_;
  std::vector<uint32_t> rows_;
  std::vector<uint32_t> codes_;
};

std::vector<uint32_t> all_pairs_scales(int level, bool exhaustive) {
  std::vector<uint32_t> v = {0x3f800000u, 0x3f800001u, 0x00000001u, 0x7f7fffffu};
  if (level >= 2 || exhaustive)
    for (uint32_t s : {0x00800000u, 0x3e400000u, 0x00000200u, 0x3fc90fdbu}) v.push_back(s);
  if (exhaustive) {
    for (int e = -149; e <= 127; ++e) {
      const uint32_t b = fp32_bits_of(Dyadic::pow2(e));
      if (std::find(v.begin(), v.end(), b) == v.end()) v.push_back(b);
    }
  }
  return v;
}


}  // namespace

void plan_tensor(const Context& c, std::vector<GroupPlan>& quant, std::vector<GroupPlan>& deq) {
  for (const auto& [name, f0] : c.formats) {
    for (const ShapeSpec& s : tensor_shapes(c.opt.level)) {
      Format f = f0;
      if (f.block_size > 0) {
        if (!s.tile.empty()) continue;  // a block layout is the format's own; shapes vary the blocked axis
      } else if (f.group_shape.empty()) {
        f.group_shape = s.tile;
      } else if (f.group_shape.size() != s.shape.size()) {
        continue;  // the format fixes its own rank
      }
      const GroupLayout L(f, s.shape);
      const std::string where = shape_string(s.shape) + " tile " + tile_text(L.group_shape);
      for (const Rounding& r : c.roundings) {
        const std::string label = "quantize " + f.short_name() + " " + rounding_name(r) + " " + where;
        GroupPlan p;
        p.summary.label = label;
        p.summary.total = QuantizeMaker::recipes(f) + random_count(c.opt.level, element_count(s.shape), 12);
        p.attrs = base_attrs(Op::quantize, label);
        p.attrs["profile"] = name;
        p.attrs["stream"] = int64_t(fnv1a(label));
        put_format_attrs(p.attrs, "", f);
        put_rounding_attrs(p.attrs, r);
        put_layout_attrs(p.attrs, "", f, s.shape);
        p.maker = std::make_shared<QuantizeMaker>(f, r, s.shape, c.opt.seed, fnv1a(label));
        quant.push_back(std::move(p));
      }
      const std::string label = "dequantize " + f.short_name() + " " + where;
      GroupPlan p;
      p.summary.label = label;
      p.summary.total = DequantizeMaker::recipes(f) + random_count(c.opt.level, element_count(s.shape), 10);
      p.attrs = base_attrs(Op::dequantize, label);
      p.attrs["profile"] = name;
      p.attrs["stream"] = int64_t(fnv1a(label));
      put_format_attrs(p.attrs, "", f);
      put_layout_attrs(p.attrs, "", f, s.shape);
      p.maker = std::make_shared<DequantizeMaker>(f, s.shape, c.opt.seed, fnv1a(label));
      deq.push_back(std::move(p));
    }
    // Every element code with every group-scale code, at several tensor scales.
    Format f = f0;
    f.block_size = 0;
    f.group_shape = {1, 0};
    const Shape shape = {static_cast<int64_t>(AllPairsMaker::scale_rows(f).size()),
                         static_cast<int64_t>(AllPairsMaker::element_columns(f).size())};
    if (shape[0] * shape[1] > (int64_t(1) << 20)) continue;  // wide formats: the random cases cover them
    const auto scales = all_pairs_scales(c.opt.level, c.opt.exhaustive);
    const std::string label = "dequantize " + f.short_name() + " all-pairs " + shape_string(shape);
    GroupPlan p;
    p.summary.label = label;
    p.summary.total = scales.size();
    p.attrs = base_attrs(Op::dequantize, label);
    p.attrs["profile"] = name;
    put_format_attrs(p.attrs, "", f);
    put_layout_attrs(p.attrs, "", f, shape);
    p.maker = std::make_shared<AllPairsMaker>(f, shape, scales);
    deq.push_back(std::move(p));
  }
}

}  // namespace mls::vectors::gen
