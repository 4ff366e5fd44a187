// mls-fast dequantize (spec/04 4.7, 4.7.1): the exact product S_t S_g elem
// (at most 24 + 24 + 24 bits) rounded once to fp32, nearest even; NaN for a
// NaN scale or element, +-Inf for an Inf element (NaN times a zero scale), a
// zero with the element code's sign. Compiled once per seeded-bug variant.
#include "ops.hpp"

namespace mlsfast {

void dequantize_op(const Tensor& t, uint32_t* y) {
  constexpr uint32_t kNaN = 0x7fc00000u;
  const Grid& el = t.fmt.el;
  const Grid& gs = t.fmt.gs;
  const Unpacked st = unpack_fp32(t.tensor_scale);
  const Layout& L = t.layout;
  // Every code decoded once where the grid is small: sign, significand, exponent, kind.
  struct Code {
    uint32_t sign;
    uint64_t m;
    int64_t e;
    uint8_t kind;  // 0 finite, 1 NaN, 2 Inf
  };
  auto decode = [&](uint32_t c) {
    Code d{};
    bool neg;
    uint32_t mag;
    el.split(c, neg, mag);
    d.sign = neg ? 0x80000000u : 0u;
    d.kind = el.is_nan_code(c) ? 1 : el.is_inf_code(c) ? 2 : 0;
    if (d.kind == 0) el.decode(mag, d.m, d.e);
    return d;
  };
  std::vector<Code> table;
  if (el.code_count <= (uint64_t(1) << 16) && static_cast<uint64_t>(L.count) >= el.code_count)
    for (uint64_t c = 0; c < el.code_count; ++c) table.push_back(decode(static_cast<uint32_t>(c)));
  const double per_group = static_cast<double>(L.count) / static_cast<double>(L.groups);
  parallel_for(L.groups, 4.0 * per_group + 30, [&](int64_t b, int64_t e) {
    for (int64_t g = b; g < e; ++g) {
      const uint32_t sc = t.group_scales[g];
      if (gs.is_nan_code(sc)) {
        L.for_each_run(g, [&](int64_t start, int64_t len) { std::fill(y + start, y + start + len, kNaN); });
        continue;
      }
      uint64_t sgm;
      int64_t sge;
      gs.decode(sc & gs.mag_mask, sgm, sge);
      const uint64_t d = st.m * sgm;  // below 2^48; 0 for a zero scale
      const int64_t de = st.e + sge;
      L.for_each_run(g, [&](int64_t start, int64_t len) {
        for (int64_t i = start; i < start + len; ++i) {
          const Code c = table.empty() ? decode(t.elements[i]) : table[t.elements[i]];
          if (c.kind != 0) {
            y[i] = c.kind == 1 || d == 0 ? kNaN : c.sign | 0x7f800000u;
            continue;
          }
          if (c.m == 0 || d == 0) {  // the zero of the code's sign
            y[i] = c.sign;
            continue;
          }
          bool ovf;
          y[i] = c.sign | round_fp32(Exact{u128(d) * c.m, de + c.e, false}, kMutant == Mutant::dequant_rtz ? 2 : 0, &ovf);
        }
      });
    }
  });
}

}  // namespace mlsfast
