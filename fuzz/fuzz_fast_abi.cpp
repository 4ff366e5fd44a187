// The C ABI v2 argument checks of mls-fast (conformance/backends/fast/checks.cpp)
// through its table, as the runner calls it: mls_backend_get(2) and then
// supports, group_count, round (the cast entry), quantize (with a quantizer
// arithmetic profile), dequantize, conv2d and gemm with descriptors, shapes,
// counts, capacities, codes and arithmetic-profile text from the input.
// Buffers are always as large as the counts the harness passes (the caller's
// side of the contract); everything else may be inconsistent. About half the
// inputs are steered to consistent calls, half of those to the family's named
// formats (MX, NVFP4) and every MLS_QARITH_* profile, so the arithmetic behind
// the checks is reached too. Properties: a status in 0..4; a failed call
// leaves a non-empty last_error(); a successful quantize writes codes its
// format allows and a positive finite tensor scale.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstring>
#include <string>
#include <algorithm>
#include <vector>

#include "fuzz_common.hpp"
#include "mls_backend.h"

namespace {

const mls_backend_v2* table() {
  static const mls_backend_v2* t = mls_backend_get(MLS_BACKEND_ABI_VERSION);
  return t;
}

struct Fmt {
  mls_format_v2 f{};
  std::vector<int64_t> gs;
};

// The named formats of the family (spec 5.3) as the runner resolves them:
// element and scale minifloats and rules; the block becomes a group shape.
struct Preset {
  mls_minifloat_v2 element, scale;
  int32_t tensor_scale, scale_policy, nonfinite, block;
};
constexpr Preset kFamily[] = {
    {{1, 4, 3, 7, MLS_ZERO_SUBNORMAL, MLS_SPECIALS_NAN_ALL_ONES, 0}, {0, 8, 0, 127, MLS_ZERO_NONE, MLS_SPECIALS_NAN_ALL_ONES, 0},
     MLS_TSCALE_ONE, MLS_SCALE_OCP, MLS_NONFINITE_PROPAGATE, 32},  // mxfp8-e4m3
    {{1, 5, 2, 15, MLS_ZERO_SUBNORMAL, MLS_SPECIALS_IEEE, 0}, {0, 8, 0, 127, MLS_ZERO_NONE, MLS_SPECIALS_NAN_ALL_ONES, 0},
     MLS_TSCALE_ONE, MLS_SCALE_OCP, MLS_NONFINITE_PROPAGATE, 32},  // mxfp8-e5m2
    {{1, 2, 3, 1, MLS_ZERO_SUBNORMAL, MLS_SPECIALS_NONE, 0}, {0, 8, 0, 127, MLS_ZERO_NONE, MLS_SPECIALS_NAN_ALL_ONES, 0},
     MLS_TSCALE_ONE, MLS_SCALE_OCP_CEIL, MLS_NONFINITE_PROPAGATE, 32},  // mxfp6-e2m3, torchao CEIL
    {{1, 2, 1, 1, MLS_ZERO_SUBNORMAL, MLS_SPECIALS_NONE, 0}, {0, 8, 0, 127, MLS_ZERO_NONE, MLS_SPECIALS_NAN_ALL_ONES, 0},
     MLS_TSCALE_ONE, MLS_SCALE_OCP_EVEN, MLS_NONFINITE_PROPAGATE, 32},  // mxfp4, torchao EVEN
    {{1, 0, 7, 0, MLS_ZERO_SUBNORMAL, MLS_SPECIALS_NONE, MLS_ENCODING_TWOS_COMPLEMENT},
     {0, 8, 0, 127, MLS_ZERO_NONE, MLS_SPECIALS_NAN_ALL_ONES, 0}, MLS_TSCALE_ONE, MLS_SCALE_OCP, MLS_NONFINITE_PROPAGATE,
     32},  // mxint8
    {{1, 2, 1, 1, MLS_ZERO_SUBNORMAL, MLS_SPECIALS_NONE, 0}, {0, 4, 3, 7, MLS_ZERO_SUBNORMAL, MLS_SPECIALS_NAN_ALL_ONES, 0},
     MLS_TSCALE_AMAX, MLS_SCALE_NEAREST, MLS_NONFINITE_ERROR, 16},  // nvfp4
};

Fmt make_format(FuzzedDataProvider& p, bool sane) {
  Fmt m;
  if (sane && p.ConsumeBool()) {  // a member of the family, block along the last axis of a rank-1..2 tensor
    const Preset& f = kFamily[p.ConsumeIntegralInRange<size_t>(0, std::size(kFamily) - 1)];
    m.f.element = f.element;
    m.f.scale = f.scale;
    m.f.tensor_scale = f.tensor_scale;
    m.f.scale_policy = f.scale_policy;
    m.f.nonfinite = f.nonfinite;
    m.f.overflow = p.ConsumeIntegralInRange<int32_t>(MLS_OVERFLOW_SATURATE, MLS_OVERFLOW_NAN);
    m.f.signed_zero = p.ConsumeIntegralInRange<int32_t>(0, 1);
    m.gs = p.ConsumeBool() ? std::vector<int64_t>{f.block} : std::vector<int64_t>{1, f.block};
    m.f.group_rank = static_cast<int32_t>(m.gs.size());
    m.f.group_shape = m.gs.data();
    return m;
  }
  auto pick = [&](int lo, int hi, int wild_lo, int wild_hi) {
    return sane ? p.ConsumeIntegralInRange<int32_t>(lo, hi) : p.ConsumeIntegralInRange<int32_t>(wild_lo, wild_hi);
  };
  mls_minifloat_v2& e = m.f.element;
  e.is_signed = sane ? 1 : pick(1, 1, -1, 2);
  e.exp_bits = pick(0, 4, -3, 40);
  e.man_bits = pick(0, 4, -3, 40);
  const int def_bias = e.exp_bits > 0 && e.exp_bits < 31 ? (1 << e.exp_bits) - 1 : 0;
  e.bias = sane ? (p.ConsumeBool() ? def_bias : p.ConsumeIntegralInRange<int32_t>(-4, 20)) : p.ConsumeIntegral<int32_t>();
  e.zero = pick(0, 1, -1, 3);
  e.specials = pick(0, 2, -1, 4);
  e.encoding = pick(0, 1, -1, 3);
  mls_minifloat_v2& g = m.f.scale;
  g.is_signed = pick(0, 1, -1, 2);
  g.exp_bits = pick(1, 8, -2, 40);
  g.man_bits = pick(0, 3, -2, 40);
  const int gdef = g.exp_bits > 0 && g.exp_bits < 31 ? (1 << g.exp_bits) - 1 : 0;
  g.bias = sane ? (p.ConsumeBool() ? gdef : p.ConsumeIntegralInRange<int32_t>(-4, 140)) : p.ConsumeIntegral<int32_t>();
  g.zero = pick(0, 2, -1, 4);
  g.specials = pick(0, 2, -1, 4);
  g.encoding = pick(0, 0, -1, 3);
  m.f.tensor_scale = pick(0, 1, -1, 3);
  m.f.scale_policy = pick(0, 5, -1, 7);
  m.f.signed_zero = pick(0, 1, -1, 3);
  m.f.overflow = pick(0, 3, -1, 5);
  m.f.nonfinite = pick(0, 1, -1, 3);
  const int rank = pick(0, 4, -2, 9);
  for (int i = 0; i < std::max(rank, 0); ++i)
    m.gs.push_back(sane ? p.ConsumeIntegralInRange<int64_t>(0, 4) : p.ConsumeIntegral<int64_t>());
  m.f.group_rank = rank;
  m.f.group_shape = m.gs.empty() ? (p.ConsumeBool() ? nullptr : m.gs.data()) : m.gs.data();
  return m;
}

std::vector<int64_t> make_shape(FuzzedDataProvider& p, bool sane, int32_t* rank) {
  *rank = sane ? p.ConsumeIntegralInRange<int32_t>(1, 4) : p.ConsumeIntegralInRange<int32_t>(-2, 9);
  std::vector<int64_t> s;
  for (int i = 0; i < std::max(*rank, 0); ++i)
    s.push_back(sane ? p.ConsumeIntegralInRange<int64_t>(1, 4)
                     : (p.ConsumeBool() ? p.ConsumeIntegralInRange<int64_t>(-2, 8) : p.ConsumeIntegral<int64_t>()));
  return s;
}

uint64_t product(const std::vector<int64_t>& s) {
  uint64_t n = 1;
  for (int64_t v : s) n *= v > 0 ? static_cast<uint64_t>(v) : 0;
  return n;
}

std::vector<uint32_t> words(FuzzedDataProvider& p, uint64_t n) {
  std::vector<uint32_t> v(n);
  for (auto& x : v) x = p.ConsumeIntegral<uint32_t>();
  return v;
}

// A count the harness passes with a buffer of that many entries: the true
// count when sane (and small), else anything up to 300.
uint64_t count_for(FuzzedDataProvider& p, bool sane, uint64_t want) {
  if (sane && want <= 300) return want;
  return p.ConsumeIntegralInRange<uint64_t>(0, 300);
}

struct Tensor {
  Fmt fmt;
  std::vector<int64_t> shape;
  std::vector<uint32_t> gs, el;
  mls_tensor_v2 t{};
};

void make_tensor(FuzzedDataProvider& p, bool sane, Tensor& x) {
  x.fmt = make_format(p, sane);
  int32_t rank = 0;
  x.shape = make_shape(p, sane, &rank);
  uint64_t groups = 0;
  if (table()->group_count(&x.fmt.f, rank, x.shape.data(), &groups) != MLS_OK) groups = 1;
  x.gs = words(p, count_for(p, sane, groups));
  x.el = words(p, count_for(p, sane, product(x.shape)));
  if (sane)  // mostly valid codes: small values
    for (auto& c : x.el) c &= (1u << std::clamp(1 + x.fmt.f.element.exp_bits + x.fmt.f.element.man_bits, 1, 31)) - 1;
  if (sane)
    for (auto& c : x.gs) c &= (1u << std::clamp(x.fmt.f.scale.exp_bits + x.fmt.f.scale.man_bits, 1, 31)) - 1;
  x.t.format = x.fmt.f;
  x.t.rank = rank;
  x.t.shape = x.shape.data();
  x.t.tensor_scale = sane ? 0x3f800000u : p.ConsumeIntegral<uint32_t>();
  x.t.group_count = x.gs.size();
  x.t.group_scales = x.gs.data();
  x.t.element_count = x.el.size();
  x.t.elements = x.el.data();
}

void check_status(int32_t st, const char* call) {
  MLS_FUZZ_CHECK(st >= MLS_OK && st <= MLS_ERR_INTERNAL, std::string(call) + " returned status " + std::to_string(st));
  const char* e = table()->last_error();
  MLS_FUZZ_CHECK(e != nullptr, std::string(call) + ": last_error() is NULL");
  if (st != MLS_OK) MLS_FUZZ_CHECK(*e != '\0', std::string(call) + " failed without a last_error() message");
}

std::string arith_text(FuzzedDataProvider& p, bool sane) {
  static const char* known[] = {"", "{\"profile\":\"exact\"}",
                                ("{\"profile\":\"accumulator\",\"frac_bits\":24,\"width\":48,\"alignment\":\"rne\","
                                 "\"final_rounding\":\"rne\",\"overflow\":\"saturate\",\"inter_group\":\"exact\"}")};
  if (sane) return known[p.ConsumeIntegralInRange<int>(0, 2)];
  return p.ConsumeRandomLengthString(200);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  const mls_backend_v2* b = table();
  MLS_FUZZ_CHECK(b && b->abi_version == MLS_BACKEND_ABI_VERSION, "no ABI v2 table");
  const bool sane = p.ConsumeBool();
  const int op = p.ConsumeIntegralInRange<int>(0, 6);
  if (op == 0) {  // supports
    Fmt f = make_format(p, sane);
    mls_rounding_v2 r{p.ConsumeIntegralInRange<int32_t>(-1, 8), p.ConsumeIntegralInRange<int32_t>(-1, 40)};
    const std::string a = arith_text(p, sane);
    // Every input drawn in statement order (argument evaluation order is unspecified: the replay
    // test's GCC build must read an input as clang's libFuzzer build did).
    const int32_t what = p.ConsumeIntegralInRange<int32_t>(-1, 8);
    const bool with_format = p.ConsumeBool(), with_rounding = p.ConsumeBool();
    const int32_t qarith = p.ConsumeIntegralInRange<int32_t>(-1, 9);
    const bool with_arith = p.ConsumeBool();
    check_status(b->supports(what, with_format ? &f.f : nullptr, with_rounding ? &r : nullptr, qarith,
                             with_arith ? a.c_str() : nullptr),
                 "supports");
  } else if (op == 1) {  // quantize
    Fmt f = make_format(p, sane);
    int32_t rank = 0;
    std::vector<int64_t> shape = make_shape(p, sane, &rank);
    const std::vector<uint32_t> x = words(p, count_for(p, sane, product(shape)));
    mls_rounding_v2 r{sane ? p.ConsumeIntegralInRange<int32_t>(0, 6) : p.ConsumeIntegralInRange<int32_t>(-1, 8),
                      sane ? p.ConsumeIntegralInRange<int32_t>(1, 32) : p.ConsumeIntegral<int32_t>()};
    const std::vector<uint32_t> rand = words(p, p.ConsumeBool() ? x.size() : p.ConsumeIntegralInRange<uint64_t>(0, 50));
    uint32_t sts = p.ConsumeIntegral<uint32_t>();
    uint64_t groups = 0;
    if (b->group_count(&f.f, rank, shape.data(), &groups) != MLS_OK || groups > 300) groups = 4;
    std::vector<uint32_t> gout(count_for(p, sane, groups)), eout(count_for(p, sane, x.size()));
    uint32_t ts = 0;
    const bool with_rounding = p.ConsumeBool();
    const int32_t qarith = sane ? p.ConsumeIntegralInRange<int32_t>(MLS_QARITH_EXACT, MLS_QARITH_TE_NVFP4)
                                : p.ConsumeIntegralInRange<int32_t>(-1, 9);
    const bool with_static_scale = p.ConsumeBool();
    const int32_t st = b->quantize(&f.f, rank, shape.data(), x.data(), x.size(), with_rounding ? &r : nullptr, qarith,
                                   rand.data(), rand.size(), with_static_scale ? &sts : nullptr, &ts, gout.data(),
                                   gout.size(), eout.data(), eout.size());
    check_status(st, "quantize");
    if (st == MLS_OK) {
      // The NVFP4 profiles compute S_t in fp32 and report the +0 of an underflow (4.12.5 "Zero tensor scale").
      const bool zero_ok = qarith == MLS_QARITH_TORCHAO_NVFP4 || qarith == MLS_QARITH_TE_NVFP4;
      MLS_FUZZ_CHECK(!(ts >> 31) && (ts != 0 || zero_ok) && (ts & 0x7f800000u) != 0x7f800000u,
                     "quantize: tensor scale not positive finite");
      const int bits = 1 + f.f.element.exp_bits + f.f.element.man_bits;
      for (uint32_t c : eout) MLS_FUZZ_CHECK(bits >= 32 || c < (1u << bits), "quantize: element code wider than the format");
    }
  } else if (op == 2) {  // dequantize
    Tensor t;
    make_tensor(p, sane, t);
    std::vector<uint32_t> y(count_for(p, sane, t.el.size()));
    check_status(b->dequantize(p.ConsumeBool() || sane ? &t.t : nullptr, y.data(), y.size()), "dequantize");
  } else if (op == 3 || op == 4) {  // conv2d, gemm
    Tensor a, bb;
    make_tensor(p, sane, a);
    make_tensor(p, sane, bb);
    const std::string arith = arith_text(p, sane);
    std::vector<uint32_t> y(p.ConsumeIntegralInRange<uint64_t>(0, 600));
    if (op == 4) {
      check_status(b->gemm(&a.t, &bb.t, p.ConsumeBool() ? arith.c_str() : nullptr, y.data(), y.size()), "gemm");
    } else {
      mls_conv2d_v2 c{};
      c.pass = p.ConsumeIntegralInRange<int32_t>(-1, 3);
      for (int i = 0; i < 2; ++i) {
        c.stride[i] = sane ? p.ConsumeIntegralInRange<int64_t>(1, 3) : p.ConsumeIntegral<int64_t>();
        c.padding[i] = sane ? p.ConsumeIntegralInRange<int64_t>(0, 2) : p.ConsumeIntegral<int64_t>();
        c.dilation[i] = sane ? p.ConsumeIntegralInRange<int64_t>(1, 2) : p.ConsumeIntegral<int64_t>();
      }
      c.groups = sane ? p.ConsumeIntegralInRange<int64_t>(1, 2) : p.ConsumeIntegral<int64_t>();
      const int32_t out_rank = p.ConsumeIntegralInRange<int32_t>(-1, 5);
      std::vector<int64_t> out;
      for (int i = 0; i < std::max(out_rank, 0); ++i)
        out.push_back(sane ? p.ConsumeIntegralInRange<int64_t>(1, 6) : p.ConsumeIntegral<int64_t>());
      check_status(b->conv2d(p.ConsumeBool() || sane ? &c : nullptr, &a.t, &bb.t, arith.c_str(), out_rank,
                             out.empty() ? nullptr : out.data(), y.data(), y.size()),
                   "conv2d");
    }
  } else if (op == 6) {  // round
    mls_cast_v2 c{};
    Fmt f = make_format(p, sane);
    c.element = f.f.element;
    c.rounding = {sane ? p.ConsumeIntegralInRange<int32_t>(0, 6) : p.ConsumeIntegralInRange<int32_t>(-1, 8),
                  sane ? p.ConsumeIntegralInRange<int32_t>(1, 32) : p.ConsumeIntegral<int32_t>()};
    c.overflow = f.f.overflow;
    c.signed_zero = f.f.signed_zero;
    c.scale_mant = sane ? p.ConsumeIntegralInRange<int64_t>(1, 1 << 20) : p.ConsumeIntegral<int64_t>();
    c.scale_exp = sane ? p.ConsumeIntegralInRange<int32_t>(-160, 130) : p.ConsumeIntegral<int32_t>();
    const std::vector<uint32_t> x = words(p, p.ConsumeIntegralInRange<uint64_t>(0, 64));
    const std::vector<uint32_t> rand = words(p, p.ConsumeBool() ? x.size() : p.ConsumeIntegralInRange<uint64_t>(0, 50));
    std::vector<uint32_t> out(count_for(p, sane, x.size()));
    check_status(b->round(p.ConsumeBool() || sane ? &c : nullptr, x.data(), x.size(), rand.data(), rand.size(),
                          out.data(), out.size()),
                 "round");
  } else {  // group_count
    Fmt f = make_format(p, sane);
    int32_t rank = 0;
    std::vector<int64_t> shape = make_shape(p, sane, &rank);
    uint64_t n = 0;
    check_status(b->group_count(&f.f, rank, shape.empty() ? nullptr : shape.data(), p.ConsumeBool() ? &n : nullptr),
                 "group_count");
  }
  return 0;
}
