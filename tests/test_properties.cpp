// RapidCheck properties of rounding and dynamic quantization (spec/03, 04):
// monotonicity, idempotence, sign symmetry, 2^k scale invariance, the
// half-gap error bound, no saturation under ceil, minimal group scales, and
// the tensor scale against MPFR. Checks use exact arithmetic (integers, MPFR)
// and the oracle's own decoding, never the reference's decode.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <sstream>

#include "mls/error.hpp"
#include "mls/tensor.hpp"
#include "oracle.hpp"

namespace {

using mls::RoundingMode;
using oracle::BigInt;
using oracle::hex;
using oracle::Mp;

struct Case {
  mls::Format f;
  mls::Shape shape;
  std::vector<float> x;
  mls::Rounding r;
  std::vector<uint32_t> words;
};

void showValue(const Case& c, std::ostream& os) {
  os << "format " << c.f.short_name() << " [" << oracle::describe(c.f.element) << "; "
     << oracle::describe(c.f.group_scale) << "] rounding " << oracle::mode_name(c.r.mode) << " R=" << c.r.sr_bits
     << " shape " << mls::shape_string(c.shape) << "\n  x (fp32 bits):";
  for (float v : c.x) os << " " << oracle::hexf(v);
  if (!c.words.empty()) {
    os << "\n  words:";
    for (uint32_t w : c.words) os << " " << hex(w);
  }
}

const std::vector<RoundingMode> kAllModes = {RoundingMode::rne, RoundingMode::rna, RoundingMode::rtz, RoundingMode::rup,
                                             RoundingMode::rdn, RoundingMode::rto, RoundingMode::sr};

// A random MLS quantization case: small formats, rank 1..4 tensors with
// dims 1..4, optional group shapes (0 and over-long entries included), values
// whose binades spread over [2^(center-24), 2^(center+8)) with zeros, short
// significands (exact grid values and ties) and both signs.
rc::Gen<Case> gen_case(int center_lo, int center_hi, bool any_policy, std::vector<RoundingMode> modes) {
  return rc::gen::exec([=] {
    Case c;
    c.f.element = *rc::gen::elementOf(oracle::small_element_formats());
    c.f.group_scale = *rc::gen::elementOf(oracle::small_group_formats());
    if (any_policy)
      c.f.scale_policy = *rc::gen::element(mls::ScalePolicy::ceil, mls::ScalePolicy::nearest, mls::ScalePolicy::floor);
    c.f.signed_zero = *rc::gen::element(mls::SignedZero::preserve, mls::SignedZero::positive);
    const int rank = *rc::gen::inRange(1, 5);
    int64_t n = 1;
    for (int a = 0; a < rank; ++a) {
      c.shape.push_back(*rc::gen::inRange<int64_t>(1, 5));
      n *= c.shape.back();
    }
    if (*rc::gen::arbitrary<bool>())
      for (int a = 0; a < rank; ++a) c.f.group_shape.push_back(*rc::gen::inRange<int64_t>(0, c.shape[a] + 2));
    const int center = *rc::gen::inRange(center_lo, center_hi + 1);
    for (int64_t i = 0; i < n; ++i) {
      const int kind = *rc::gen::inRange(0, 8);
      float v = 0;
      if (kind == 1) v = std::ldexp(static_cast<float>(*rc::gen::inRange(1, 16)), center + *rc::gen::inRange(-6, 4));
      if (kind >= 2)
        v = std::ldexp(static_cast<float>(*rc::gen::inRange(1 << 23, 1 << 24)), center - 24 + *rc::gen::inRange(-16, 8));
      c.x.push_back(*rc::gen::arbitrary<bool>() ? -v : v);
    }
    c.r.mode = *rc::gen::elementOf(modes);
    c.r.sr_bits = *rc::gen::inRange(1, 33);
    if (c.r.mode == RoundingMode::sr)
      for (int64_t i = 0; i < n; ++i) c.words.push_back(*rc::gen::arbitrary<uint32_t>());
    return c;
  });
}

mls::Dyadic exact(double d) {  // |d| from frexp, not the reference's converter
  int e;
  const double m = std::frexp(std::fabs(d), &e);
  return mls::Dyadic(BigInt(static_cast<long long>(std::ldexp(m, 53))), e - 53);
}

// Per-tensor view through the oracle: S_t, S_g and element values exactly.
struct View {
  oracle::Grid ge, gg;
  oracle::Layout L;
  oracle::Parts st;
  explicit View(const mls::MlsTensor& t)
      : ge(oracle::make_grid(t.format.element)),
        gg(oracle::make_grid(t.format.group_scale)),
        L(oracle::layout(t.format, t.shape)),
        st(oracle::float_parts(oracle::bitsf(t.tensor_scale))) {}
  // S_t * S_g of group g as m * 2^e
  oracle::Parts scale(const mls::MlsTensor& t, int64_t g) const {
    const int gi = gg.index_of(t.group_scales.at(g));
    RC_ASSERT(gi >= 0);
    return {st.m * gg.K[gi], st.e + gg.ulog};
  }
  int element_index(uint32_t code) const {
    const int i = ge.index_of(code & ~static_cast<uint32_t>(ge.sign_bit));
    RC_ASSERT(i >= 0);
    return i;
  }
};

RC_GTEST_PROP(RoundingProperty, MonotoneInTheValueForDeterministicModes, ()) {
  const bool group = *rc::gen::arbitrary<bool>();
  const mls::Minifloat f = group ? *rc::gen::elementOf(oracle::small_group_formats())
                                 : *rc::gen::elementOf(oracle::small_element_formats());
  const RoundingMode mode = *rc::gen::elementOf(oracle::deterministic_modes());
  const oracle::Grid g = oracle::make_grid(f);
  const int kbits = static_cast<int>(boost::multiprecision::msb(g.kmax()));
  const BigInt Q = BigInt(2 * *rc::gen::inRange(0, 500) + 1) << 20;
  auto value = [&] {  // signed numerator over Q, in grid units: from ~2^-10 below the grid to ~8 q_max
    const BigInt p = BigInt(*rc::gen::inRange<int64_t>(0, int64_t(1) << 20)) << (*rc::gen::inRange(0, kbits + 4));
    return (f.is_signed && *rc::gen::arbitrary<bool>()) ? BigInt(-p) : p;
  };
  BigInt a = value();  // b: anywhere, or close above a (where a violation would hide)
  BigInt b = *rc::gen::arbitrary<bool>() ? value() : BigInt(a + *rc::gen::inRange<int64_t>(0, int64_t(1) << 22));
  if (a > b) std::swap(a, b);
  auto code_value = [&](const BigInt& p) {  // signed K of the result
    const mls::RoundResult r = mls::round_to_grid(
        f, {p < 0, mls::Dyadic(p < 0 ? BigInt(-p) : p, g.ulog), mls::Dyadic(Q, 0)}, {mode, 8}, 0);
    const int i = g.index_of(r.code & ~g.sign_bit);
    RC_ASSERT(i >= 0);
    return (r.code & g.sign_bit) ? BigInt(-g.K[i]) : g.K[i];
  };
  RC_LOG() << oracle::describe(f) << " " << oracle::mode_name(mode) << " a=" << a << "/" << Q << " b=" << b << "/" << Q
           << " *2^" << g.ulog;
  RC_ASSERT(code_value(a) <= code_value(b));
}

RC_GTEST_PROP(QuantizeProperty, RequantizingTheDequantizedValuesReproducesTheCodes, ()) {
  const Case c = *gen_case(-60, 60, true, kAllModes);
  const mls::MlsTensor t = mls::quantize(c.f, c.shape, c.x, c.r, c.words);
  const View v(t);
  const std::vector<double> d = mls::dequantize_fp64(t);
  for (size_t i = 0; i < c.x.size(); ++i) {
    const oracle::Parts s = v.scale(t, v.L.group[i]);
    const int ei = v.element_index(t.elements[i]);
    // dequantize_fp64 is exact here (at most 24 + 3 + 8 significant bits): d = S_t S_g elem.
    Mp want, got;
    oracle::mp_set(want.v, s.m * v.ge.K[ei], s.e + v.ge.ulog);
    if (t.elements[i] & v.ge.sign_bit) mpfr_neg(want.v, want.v, MPFR_RNDN);
    mpfr_set_d(got.v, d[i], MPFR_RNDN);
    RC_ASSERT(mpfr_equal_p(want.v, got.v) != 0);
    RC_ASSERT(std::signbit(d[i]) == ((t.elements[i] & v.ge.sign_bit) != 0));
    // Any mode, any word: a value on the grid rounds to itself.
    const uint32_t w = *rc::gen::arbitrary<uint32_t>();
    const mls::RoundResult r2 = mls::round_to_grid(
        c.f.element, {std::signbit(d[i]), exact(std::fabs(d[i])), mls::Dyadic(s.m, s.e)}, c.r, w, c.f.overflow,
        c.f.signed_zero);
    RC_ASSERT(r2.exact);
    RC_ASSERT(r2.code == t.elements[i]);
  }
}

RC_GTEST_PROP(QuantizeProperty, NegatingTheInputNegatesTheCodesForSymmetricModes, ()) {
  const Case c = *gen_case(-60, 60, true, {RoundingMode::rne, RoundingMode::rna, RoundingMode::rtz, RoundingMode::rto,
                                          RoundingMode::sr, RoundingMode::rup});
  std::vector<float> neg;
  for (float v : c.x) neg.push_back(-v);
  const mls::MlsTensor a = mls::quantize(c.f, c.shape, c.x, c.r, c.words);
  mls::Rounding rn = c.r;
  if (c.r.mode == RoundingMode::rup) rn.mode = RoundingMode::rdn;  // rup(-x) = -rdn(x)
  const mls::MlsTensor b = mls::quantize(c.f, c.shape, neg, rn, c.words);
  RC_ASSERT(a.tensor_scale == b.tensor_scale);
  RC_ASSERT(a.group_scales == b.group_scales);
  const uint32_t sb = static_cast<uint32_t>(c.f.element.sign_bit());
  for (size_t i = 0; i < c.x.size(); ++i) {
    const bool zero = (a.elements[i] & ~sb) == 0;
    const uint32_t want =
        zero && c.f.signed_zero == mls::SignedZero::positive ? a.elements[i] : (a.elements[i] ^ sb);
    RC_ASSERT(b.elements[i] == want);
  }
}

RC_GTEST_PROP(QuantizeProperty, ScalingTheInputByTwoToTheKScalesOnlyTheTensorScale, ()) {
  const Case c = *gen_case(-40, 40, true, kAllModes);
  const int k = *rc::gen::inRange(-30, 31);
  std::vector<float> y;
  for (float v : c.x) y.push_back(std::ldexp(v, k));  // exact: far from the fp32 limits
  const mls::MlsTensor a = mls::quantize(c.f, c.shape, c.x, c.r, c.words);
  const mls::MlsTensor b = mls::quantize(c.f, c.shape, y, c.r, c.words);
  RC_LOG() << "k = " << k;
  bool all_zero = true;
  for (float v : c.x) all_zero = all_zero && v == 0;
  RC_ASSERT(b.tensor_scale ==
            (all_zero ? 0x3f800000u : oracle::fbits(std::ldexp(oracle::bitsf(a.tensor_scale), k))));  // 4.2: S_t = 1
  RC_ASSERT(a.group_scales == b.group_scales);
  RC_ASSERT(a.elements == b.elements);
}

// With exact MPFR products: |x| compared with S_t S_g K 2^ulog for every K.
RC_GTEST_PROP(QuantizeProperty, NearestModesErrAtMostHalfTheGapContainingTheValue, ()) {
  const Case c = *gen_case(-60, 60, false, {RoundingMode::rne, RoundingMode::rna});
  const mls::MlsTensor t = mls::quantize(c.f, c.shape, c.x, c.r, c.words);
  const View v(t);
  Mp ax, s, w, lo, hi, q, err, gap;
  for (size_t i = 0; i < c.x.size(); ++i) {
    const oracle::Parts sp = v.scale(t, v.L.group[i]);
    const oracle::Parts xp = oracle::float_parts(c.x[i]);
    oracle::mp_set(ax.v, xp.m, xp.e);
    bool have_lo = false, have_hi = false;
    for (size_t k = 0; k < v.ge.K.size(); ++k) {  // lo = max grid value <= |x|, hi = min >= |x| (scaled)
      oracle::mp_set(w.v, sp.m * v.ge.K[k], sp.e + v.ge.ulog);
      if (mpfr_lessequal_p(w.v, ax.v) && (!have_lo || mpfr_greater_p(w.v, lo.v))) {
        mpfr_set(lo.v, w.v, MPFR_RNDN);
        have_lo = true;
      }
      if (mpfr_greaterequal_p(w.v, ax.v) && (!have_hi || mpfr_less_p(w.v, hi.v))) {
        mpfr_set(hi.v, w.v, MPFR_RNDN);
        have_hi = true;
      }
    }
    RC_ASSERT(have_lo && have_hi);  // ceil: never above S_t S_g q_max
    oracle::mp_set(q.v, sp.m * v.ge.K[v.element_index(t.elements[i])], sp.e + v.ge.ulog);
    mpfr_sub(err.v, ax.v, q.v, MPFR_RNDN);
    mpfr_abs(err.v, err.v, MPFR_RNDN);
    mpfr_mul_2si(err.v, err.v, 1, MPFR_RNDN);
    mpfr_sub(gap.v, hi.v, lo.v, MPFR_RNDN);
    RC_LOG() << "element " << i;
    RC_ASSERT(mpfr_lessequal_p(err.v, gap.v));
    RC_ASSERT(mpfr_equal_p(q.v, lo.v) || mpfr_equal_p(q.v, hi.v));
  }
}

RC_GTEST_PROP(QuantizeProperty, DynamicCeilScalesNeverSaturate, ()) {
  const Case c = *gen_case(-120, 120, false, kAllModes);
  const mls::MlsTensor t = mls::quantize(c.f, c.shape, c.x, c.r, c.words);
  const View v(t);
  const int iq = v.ge.imax();
  Mp ax, bound;
  for (size_t i = 0; i < c.x.size(); ++i) {
    const oracle::Parts sp = v.scale(t, v.L.group[i]);
    const oracle::Parts xp = oracle::float_parts(c.x[i]);
    oracle::mp_set(ax.v, xp.m, xp.e);
    oracle::mp_set(bound.v, sp.m * v.ge.K[iq], sp.e + v.ge.ulog);
    RC_LOG() << "element " << i;
    RC_ASSERT(mpfr_lessequal_p(ax.v, bound.v));
  }
}

// ceil: S_g is the smallest value with a_G <= S_t q_max S_g, so the next
// smaller group-scale value would overflow some element: a_G > S_t q_max prev.
RC_GTEST_PROP(QuantizeProperty, EachCeilGroupScaleIsMinimal, ()) {
  const Case c = *gen_case(-120, 120, false, {RoundingMode::rne});
  const mls::MlsTensor t = mls::quantize(c.f, c.shape, c.x, c.r, c.words);
  const View v(t);
  const int iq = v.ge.imax();
  std::vector<float> amax(v.L.groups, 0.0f);
  for (size_t i = 0; i < c.x.size(); ++i) amax[v.L.group[i]] = std::max(amax[v.L.group[i]], std::fabs(c.x[i]));
  Mp a, cover, prev;
  for (int64_t g = 0; g < v.L.groups; ++g) {
    const int gi = v.gg.index_of(t.group_scales[g]);
    RC_ASSERT(gi >= 0);
    const oracle::Parts ap = oracle::float_parts(amax[g]);
    oracle::mp_set(a.v, ap.m, ap.e);
    oracle::mp_set(cover.v, v.st.m * v.ge.K[iq] * v.gg.K[gi], v.st.e + v.ge.ulog + v.gg.ulog);
    RC_LOG() << "group " << g << " code " << hex(t.group_scales[g]) << " a_G " << oracle::hexf(amax[g]);
    RC_ASSERT(mpfr_lessequal_p(a.v, cover.v));
    int pi = -1;  // the next smaller group-scale value, by search
    for (size_t k = 0; k < v.gg.K.size(); ++k)
      if (v.gg.K[k] < v.gg.K[gi] && (pi < 0 || v.gg.K[k] > v.gg.K[pi])) pi = static_cast<int>(k);
    if (pi >= 0) {
      oracle::mp_set(prev.v, v.st.m * v.ge.K[iq] * v.gg.K[pi], v.st.e + v.ge.ulog + v.gg.ulog);
      RC_ASSERT(mpfr_greater_p(a.v, prev.v));
    }
  }
}

RC_GTEST_PROP(QuantizeProperty, TensorScaleIsTheQuotientRoundedUpToFp32PerMpfr, ()) {
  mls::Format f;
  f.element = *rc::gen::elementOf(oracle::small_element_formats());
  f.group_scale = *rc::gen::elementOf(oracle::small_group_formats());
  const uint32_t bits = *rc::gen::oneOf(rc::gen::inRange<uint32_t>(0, 0x7f800000u),     // any finite magnitude
                                        rc::gen::inRange<uint32_t>(0x7e000000u, 0x7f800000u),  // near overflow
                                        rc::gen::inRange<uint32_t>(0, 0x01000000u));   // subnormal results
  const float amax = oracle::bitsf(bits);
  RC_LOG() << oracle::describe(f.element) << "; " << oracle::describe(f.group_scale) << " amax " << hex(bits);
  if (amax == 0) {
    RC_ASSERT(mls::dynamic_tensor_scale(f, amax) == 0x3f800000u);
    return;
  }
  const oracle::Grid ge = oracle::make_grid(f.element), gg = oracle::make_grid(f.group_scale);
  Mp num, den;
  const oracle::Parts ap = oracle::float_parts(amax);
  oracle::mp_set(num.v, ap.m, ap.e);
  oracle::mp_set(den.v, ge.K[ge.imax()] * gg.K[gg.imax()], ge.ulog + gg.ulog);
  const std::optional<uint32_t> want = oracle::mpfr_ru_fp32(num.v, den.v);
  if (!want) {
    RC_ASSERT_THROWS_AS(mls::dynamic_tensor_scale(f, amax), mls::Error);
  } else {
    RC_ASSERT(mls::dynamic_tensor_scale(f, amax) == *want);
  }
}

RC_GTEST_PROP(QuantizeProperty, MatchesTheIndependentQuantizer, ()) {
  const Case c = *gen_case(-100, 100, true, kAllModes);
  const oracle::Quantized want = oracle::quantize(c.f, c.shape, c.x, c.r, c.words);
  RC_ASSERT(!want.error);
  const mls::MlsTensor t = mls::quantize(c.f, c.shape, c.x, c.r, c.words);
  RC_ASSERT(t.tensor_scale == want.tensor_scale);
  RC_ASSERT(t.group_scales == want.group_scales);
  RC_ASSERT(t.elements == want.elements);
}

}  // namespace
