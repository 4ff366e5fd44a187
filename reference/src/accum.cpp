// The hardware accumulator profile (spec/06-conv.md 6.9): element products
// aligned to the accumulator's 2^-F grid, summed in a W-bit two's complement
// register per segment, then the segments combined exactly or in fp32.
#include <bit>
#include <cmath>
#include <cstring>

#include "conv_reduction.hpp"
#include "mls/error.hpp"
#include "mls/fp32_ops.hpp"

namespace mls::detail {

// Bit length of |v| for the two integer types used below.
static int bit_length(__int128 v) {
  const unsigned __int128 m = v < 0 ? -static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
  const uint64_t hi = static_cast<uint64_t>(m >> 64), lo = static_cast<uint64_t>(m);
  return hi ? 128 - std::countl_zero(hi) : (lo ? 64 - std::countl_zero(lo) : 0);
}
static int64_t bit_length(const BigInt& v) {
  return v.is_zero() ? 0 : static_cast<int64_t>(boost::multiprecision::msb(boost::multiprecision::abs(v))) + 1;
}
static BigInt to_big(__int128 v) { return BigInt(v); }
static BigInt to_big(const BigInt& v) { return v; }

// 6.9.1: v * 2^-k (k > 0) rounded to an integer under `mode` (the fast form of
// round_to_integer, proved equal to it by tests/test_accumulator.cpp), decided on the
// magnitude: rtz drops the bits, rdn/rup round toward -inf/+inf, rne to the
// nearest with ties to the even integer, rna to the nearest with ties away.
template <class I>
I align_down(const I& v, int64_t k, RoundingMode mode) {
  const bool neg = v < 0;
  const I mag = neg ? I(-v) : v;
  I q = 0;
  bool inexact = false, above_half = false, at_half = false;
  if (k > bit_length(mag)) {  // |v| < 2^(k-1): below half of the LSB
    inexact = mag != 0;
  } else {
    q = mag >> static_cast<unsigned>(k);
    const I rem = mag - (q << static_cast<unsigned>(k));
    const I half = I(1) << static_cast<unsigned>(k - 1);
    inexact = rem != 0;
    above_half = rem > half;
    at_half = rem == half;
  }
  bool up = false;
  switch (mode) {
    case RoundingMode::rtz: up = false; break;
    case RoundingMode::rdn: up = neg && inexact; break;
    case RoundingMode::rup: up = !neg && inexact; break;
    case RoundingMode::rne: up = above_half || (at_half && (q & 1) != 0); break;
    case RoundingMode::rna: up = above_half || at_half; break;
    default: throw Error("arith.alignment: unsupported mode " + to_string(mode));
  }
  if (up) q += 1;
  return neg ? I(-q) : q;
}

template __int128 align_down<__int128>(const __int128&, int64_t, RoundingMode);
template BigInt align_down<BigInt>(const BigInt&, int64_t, RoundingMode);

namespace {


// 6.9.2: the register after an add; [-2^(W-1), 2^(W-1) - 1] in LSB units.
template <class I>
I apply_overflow(const I& acc, int64_t width, AccOverflow policy, int64_t out, int64_t seg, int64_t term) {
  const I top = I(1) << static_cast<unsigned>(width - 1);
  if (acc < top && acc >= -top) return acc;
  switch (policy) {
    case AccOverflow::saturate: return acc < 0 ? I(-top) : I(top - 1);
    case AccOverflow::wrap: {
      const I m = top << 1;
      I r = acc % m;  // truncating: r has acc's sign
      if (r < 0) r += m;
      if (r >= top) r -= m;
      return r;
    }
    case AccOverflow::error:
      throw Error("arith.overflow = error: the " + std::to_string(width) +
                  "-bit intra-group accumulator overflowed at output " + std::to_string(out) + ", segment " +
                  std::to_string(seg) + ", term " + std::to_string(term) + " (6.9.2)");
  }
  return acc;
}

// Product of elements ia, ib as an integer in accumulator LSB units (6.9.1).
template <class I>
I aligned_product(const Operand& a, const Operand& b, int64_t ia, int64_t ib, int64_t frac_bits, RoundingMode mode) {
  const I p = I(a.elem_mant[ia]) * I(b.elem_mant[ib]);  // |p| < 2^48
  const int64_t s = a.elem_exp[ia] + b.elem_exp[ib] + frac_bits;  // value = p * 2^s LSBs
  if (p == 0) return I(0);
  if (s >= 0) return p << static_cast<unsigned>(s);
  return align_down(p, -s, mode);
}

template <class I>
std::vector<uint32_t> run_model(const Reduction& r, const Operand& a, const Operand& b, const ArithProfile& ap) {
  std::vector<uint32_t> y(r.out_count);
  const Dyadic st = a.tscale * b.tscale;
  for (int64_t o = 0; o < r.out_count; ++o) {
    Dyadic total;              // inter_group exact
    uint32_t sum32 = 0;        // inter_group fp32: +0
    int64_t ga = -1, gb = -1, seg_index = -1, term = 0;
    I acc = 0;
    auto close = [&] {
      // The segment's value S_gA * S_gB * P, P = acc * 2^-F (6.9.3).
      const Dyadic v = a.gscale[ga] * b.gscale[gb] * Dyadic(to_big(acc), -ap.frac_bits);
      if (ap.inter_group == InterGroup::exact) {
        total = total + v;
      } else {
        sum32 = fp32::add(sum32, round_to_fp32_bits(v, RoundingMode::rne, OverflowPolicy::infinity));
      }
    };
    r.walk(o, [&](int64_t ia, int64_t ib) {
      const int64_t xa = a.group[ia], xb = b.group[ib];
      if (xa != ga || xb != gb) {
        if (ga >= 0) close();
        acc = 0;
        ga = xa;
        gb = xb;
        ++seg_index;
        term = 0;
      }
      acc = apply_overflow<I>(acc + aligned_product<I>(a, b, ia, ib, ap.frac_bits, ap.alignment), ap.width, ap.overflow,
                              o, seg_index, term);
      ++term;
    });
    if (ga >= 0) close();
    // 6.9.4: the tensor scales and the final rounding.
    if (ap.inter_group == InterGroup::exact) {
      y[o] = round_to_fp32_bits(st * total, ap.final_rounding, OverflowPolicy::infinity);
    } else {
      const float s = bits_float(sum32);
      if (!std::isfinite(s)) {
        y[o] = sum32;  // S_tA * S_tB > 0 keeps Inf and NaN
      } else if (s == 0) {
        y[o] = sum32;  // a zero sum times positive scales keeps its sign
      } else {
        y[o] = round_to_fp32_bits(st * Dyadic::from_float(s), ap.final_rounding, OverflowPolicy::infinity);
      }
    }
  }
  return y;
}

}  // namespace

std::vector<uint32_t> accumulator_model(const Reduction& r, const Operand& a, const Operand& b,
                                        const ArithProfile& ap) {
  ap.validate();
  // __int128 when every value provably fits: the register holds < 2^119 (W <= 120),
  // products < 2^48 shifted left by at most 2^(125 - 48).
  int64_t max_shift = INT64_MIN;
  auto exps = [](const Operand& op, int64_t& lo, int64_t& hi) {
    bool any = false;
    for (size_t i = 0; i < op.elem_mant.size(); ++i)
      if (op.elem_mant[i] != 0) {
        lo = any ? std::min(lo, op.elem_exp[i]) : op.elem_exp[i];
        hi = any ? std::max(hi, op.elem_exp[i]) : op.elem_exp[i];
        any = true;
      }
    return any;
  };
  int64_t alo = 0, ahi = 0, blo = 0, bhi = 0;
  const bool nonzero = exps(a, alo, ahi) && exps(b, blo, bhi);
  if (nonzero) max_shift = ahi + bhi + ap.frac_bits;
  if (ap.width <= 120 && (!nonzero || max_shift <= 125 - 48)) return run_model<__int128>(r, a, b, ap);
  return run_model<BigInt>(r, a, b, ap);
}

}  // namespace mls::detail
