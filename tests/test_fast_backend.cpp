// mls-fast (conformance/backends/fast), the independent optimised
// implementation, against the golden model: bit-exact equality of quantize,
// dequantize, conv2d (three passes) and gemm on random and edge cases; every
// bad-input path of its C ABI; and proof that each seeded-bug variant departs
// from the spec on the same battery of cases. The reference is the oracle
// here; the backend is reached only through dlopen and the C ABI.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>

#include "mls/conv.hpp"
#include "mls/error.hpp"
#include "mls/tensor.hpp"
#include "mls_backend.h"
#include "mls/conformance/abi.hpp"

#ifndef MLS_FAST_BACKEND_LIB
#error "MLS_FAST_BACKEND_LIB (path of libmls_fast_backend.so) is defined by conformance/backends/fast/tests.cmake"
#endif

namespace {

using Rng = std::mt19937_64;
using mls::Format;
using mls::MlsTensor;
using mls::Shape;

// ---- loading a backend ----------------------------------------------------------

struct Lib {
  void* handle = nullptr;
  const mls_backend_v2* api = nullptr;
  std::string mutant;
  std::string error;
};

// Loaded once per path and kept loaded (the libraries keep thread-local state).
const Lib& load(const std::string& path) {
  static std::map<std::string, Lib> cache;
  auto it = cache.find(path);
  if (it != cache.end()) return it->second;
  // Five threads on any machine, so uneven splits of the work are exercised.
  setenv("MLS_FAST_THREADS", "5", 1);
  Lib lib;
  lib.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib.handle) {
    lib.error = dlerror();
  } else if (auto get = reinterpret_cast<mls_backend_get_fn>(dlsym(lib.handle, MLS_BACKEND_ENTRY))) {
    lib.api = get(MLS_BACKEND_ABI_VERSION);
    if (auto m = reinterpret_cast<const char* (*)()>(dlsym(lib.handle, "mls_fast_mutant"))) lib.mutant = m();
  } else {
    lib.error = "no symbol " MLS_BACKEND_ENTRY;
  }
  return cache.emplace(path, std::move(lib)).first->second;
}

const mls_backend_v2* fast() {
  const Lib& l = load(MLS_FAST_BACKEND_LIB);
  if (!l.api) throw std::runtime_error("cannot load " MLS_FAST_BACKEND_LIB ": " + l.error);
  return l.api;
}

std::vector<std::string> mutant_names() {
  std::vector<std::string> out;
  std::stringstream s(MLS_FAST_MUTANTS);
  for (std::string n; std::getline(s, n, ',');)
    if (!n.empty()) out.push_back(n);
  return out;
}

// ---- descriptors to the C ABI (pointers into the C++ objects) ------------------

// The format's own group shape (empty: the default layout, group_rank 0); the
// struct points into `f`.
mls_format_v2 cformat(const Format& f) {
  mls::conformance::AbiFormat a(f, Shape(f.group_shape.size() ? f.group_shape.size() : 1, 1));
  mls_format_v2 c = a.f;
  c.group_rank = static_cast<int32_t>(f.group_shape.size());
  c.group_shape = f.group_shape.data();
  return c;
}

mls_rounding_v2 crounding(const mls::Rounding& r) { return mls::conformance::abi_rounding(r); }

mls_tensor_v2 ctensor(const MlsTensor& t) {
  mls_tensor_v2 c{};
  c.format = cformat(t.format);
  c.rank = static_cast<int32_t>(t.shape.size());
  c.shape = t.shape.data();
  c.tensor_scale = t.tensor_scale;
  c.group_count = t.group_scales.size();
  c.group_scales = t.group_scales.data();
  c.element_count = t.elements.size();
  c.elements = t.elements.data();
  return c;
}

std::string hex(uint32_t v) { return mls::hex32(v); }
std::string shape_text(const Shape& s) { return mls::shape_string(s); }
uint32_t fbits(float f) { return mls::float_bits(f); }

// ---- the cases -------------------------------------------------------------------

struct QCase {
  std::string label;
  Format f;
  Shape shape;
  std::vector<float> x;
  mls::Rounding r;
  std::vector<uint32_t> rand;
  std::optional<uint32_t> st;
  bool ref_error = false;
  MlsTensor ref;
  void solve() {
    try {
      ref = mls::quantize(f, shape, x, r, rand, st);
    } catch (const mls::Error&) {
      ref_error = true;
    }
  }
  std::string describe() const {
    std::ostringstream o;
    o << label << ": format " << f.short_name() << ", rounding " << mls::rounding_name(r) << ", shape "
      << shape_text(shape) << (st ? ", static tensor scale " + hex(*st) : std::string());
    return o.str();
  }
};

struct DCase {
  MlsTensor t;
  std::vector<uint32_t> ref;
};

struct CCase {
  std::string label;
  bool gemm = false;
  MlsTensor a, b;
  mls::Conv2dParams p;
  bool ref_error = false;
  std::vector<uint32_t> ref;
  void solve() {
    try {
      ref = gemm ? mls::gemm(a, b).y : mls::conv2d(a, b, p).y;
    } catch (const mls::Error&) {
      ref_error = true;
    }
  }
  std::string describe() const {
    std::ostringstream o;
    o << label << ": " << (gemm ? std::string("gemm") : "conv2d " + mls::to_string(p.pass)) << " a "
      << a.format.short_name() << " " << shape_text(a.shape) << " b " << b.format.short_name() << " "
      << shape_text(b.shape);
    if (!gemm)
      o << " stride " << p.stride[0] << "," << p.stride[1] << " pad " << p.padding[0] << "," << p.padding[1] << " dil "
        << p.dilation[0] << "," << p.dilation[1] << " groups " << p.groups;
    return o.str();
  }
};

// "" when the backend agrees with the reference bit for bit, else what differs.
std::string run_quantize(const mls_backend_v2* api, const QCase& c) {
  const mls_format_v2 cf = cformat(c.f);
  const mls_rounding_v2 cr = crounding(c.r);
  std::vector<uint32_t> x(c.x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = fbits(c.x[i]);
  uint64_t groups = 0;
  if (api->group_count(&cf, static_cast<int32_t>(c.shape.size()), c.shape.data(), &groups) != MLS_OK)
    return std::string("group_count failed: ") + api->last_error();
  uint32_t ts = 0;
  std::vector<uint32_t> gs(groups), el(x.size());
  const uint32_t st = c.st.value_or(0);
  const int32_t status =
      api->quantize(&cf, static_cast<int32_t>(c.shape.size()), c.shape.data(), x.data(), x.size(), &cr, MLS_QARITH_EXACT, c.rand.data(),
                    c.rand.size(), c.st ? &st : nullptr, &ts, gs.data(), gs.size(), el.data(), el.size());
  if (c.ref_error)
    return status == MLS_ERR_INPUT
               ? ""
               : "the reference rejects the input, the backend returned status " + std::to_string(status);
  if (status != MLS_OK) return "status " + std::to_string(status) + ": " + api->last_error();
  if (ts != c.ref.tensor_scale) return "tensor_scale " + hex(ts) + ", expected " + hex(c.ref.tensor_scale);
  for (size_t g = 0; g < gs.size(); ++g)
    if (gs[g] != c.ref.group_scales[g])
      return "group_scales[" + std::to_string(g) + "] = " + std::to_string(gs[g]) + ", expected " +
             std::to_string(c.ref.group_scales[g]);
  for (size_t i = 0; i < el.size(); ++i)
    if (el[i] != c.ref.elements[i])
      return "elements[" + std::to_string(i) + "] = " + hex(el[i]) + ", expected " + hex(c.ref.elements[i]) +
             " (x = " + hex(x[i]) + (c.rand.empty() ? std::string() : ", word " + hex(c.rand[i])) + ")";
  return "";
}

std::string run_dequantize(const mls_backend_v2* api, const DCase& c) {
  const mls_tensor_v2 t = ctensor(c.t);
  std::vector<uint32_t> y(c.t.elements.size());
  if (api->dequantize(&t, y.data(), y.size()) != MLS_OK) return std::string("status: ") + api->last_error();
  for (size_t i = 0; i < y.size(); ++i)
    if (y[i] != c.ref[i])
      return "y[" + std::to_string(i) + "] = " + hex(y[i]) + ", expected " + hex(c.ref[i]) + " (code " +
             hex(c.t.elements[i]) + ", tensor scale " + hex(c.t.tensor_scale) + ")";
  return "";
}

std::string run_conv(const mls_backend_v2* api, const CCase& c) {
  const mls_tensor_v2 a = ctensor(c.a), b = ctensor(c.b);
  const size_t n = c.ref_error ? 1 << 16 : c.ref.size();
  std::vector<uint32_t> y(n);
  int32_t status;
  if (c.gemm) {
    status = api->gemm(&a, &b, nullptr, y.data(), y.size());
  } else {
    mls_conv2d_v2 p{};
    p.pass = c.p.pass == mls::ConvPass::fwd        ? MLS_PASS_FWD
             : c.p.pass == mls::ConvPass::bwd_data ? MLS_PASS_BWD_DATA
                                                   : MLS_PASS_BWD_WEIGHT;
    for (int i = 0; i < 2; ++i) {
      p.stride[i] = c.p.stride[i];
      p.padding[i] = c.p.padding[i];
      p.dilation[i] = c.p.dilation[i];
    }
    p.groups = c.p.groups;
    status = api->conv2d(&p, &a, &b, "{\"profile\":\"exact\"}", static_cast<int32_t>(c.p.out_shape.size()),
                         c.p.out_shape.empty() ? nullptr : c.p.out_shape.data(), y.data(), y.size());
  }
  if (c.ref_error)
    return status == MLS_ERR_INPUT
               ? ""
               : "the reference rejects the input, the backend returned status " + std::to_string(status);
  if (status != MLS_OK) return "status " + std::to_string(status) + ": " + api->last_error();
  for (size_t i = 0; i < c.ref.size(); ++i)
    if (y[i] != c.ref[i]) return "y[" + std::to_string(i) + "] = " + hex(y[i]) + ", expected " + hex(c.ref[i]);
  return "";
}

// ---- generators --------------------------------------------------------------------

int uni(Rng& g, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g); }
bool chance(Rng& g, double p) { return std::uniform_real_distribution<double>(0, 1)(g) < p; }

Format random_format(Rng& g, int max_total_bits = 32) {
  Format f;
  static const int Es[] = {0, 1, 2, 2, 3, 3, 4, 5, 8};
  static const int Ms[] = {0, 1, 1, 2, 3, 4, 7, 10, 23};
  int E, M;
  do {
    E = chance(g, 0.2) ? uni(g, 0, 8) : Es[uni(g, 0, 8)];
    M = chance(g, 0.2) ? uni(g, 0, 23) : Ms[uni(g, 0, 8)];
  } while ((E == 0 && M == 0) || 1 + E + M > max_total_bits);
  f.element = mls::Minifloat::element(E, M);
  if (chance(g, 0.2)) f.element.bias += uni(g, -6, 6);
  if (chance(g, 0.03)) f.element.bias += chance(g, 0.5) ? 120 : -120;
  if (E >= 1 && chance(g, 0.15)) f.element.zero = mls::ZeroMode::zero_only;
  const int Eg = chance(g, 0.7) ? uni(g, 1, 5) : uni(g, 1, 8);
  const int Mg = chance(g, 0.8) ? uni(g, 0, 3) : uni(g, 0, 23);
  f.group_scale = mls::Minifloat::group_scale(Eg, Mg);
  const double p = std::uniform_real_distribution<double>(0, 1)(g);
  f.scale_policy = p < 0.7 ? mls::ScalePolicy::ceil : p < 0.85 ? mls::ScalePolicy::nearest : mls::ScalePolicy::floor;
  if (chance(g, 0.2)) f.signed_zero = mls::SignedZero::positive;
  if (chance(g, 0.1)) f.overflow = mls::OverflowPolicy::error;
  return f;
}

mls::Rounding random_rounding(Rng& g) {
  mls::Rounding r;
  r.mode = static_cast<mls::RoundingMode>(uni(g, 0, 6));
  r.sr_bits = chance(g, 0.5) ? uni(g, 1, 32) : uni(g, 1, 10);
  return r;
}

Shape random_shape(Rng& g, int max_elems) {
  Shape s;
  do {
    s.assign(static_cast<size_t>(uni(g, 1, 4)), 1);
    for (auto& d : s) d = uni(g, 1, 6);
  } while (mls::element_count(s) > max_elems);
  return s;
}

std::vector<int64_t> random_group_shape(Rng& g, const Shape& s) {
  std::vector<int64_t> gs;
  if (chance(g, 0.3)) return gs;  // the default layout
  for (int64_t d : s) gs.push_back(chance(g, 0.3) ? 0 : chance(g, 0.3) ? 1 : uni(g, 1, static_cast<int>(d) + 1));
  return gs;
}

float random_float(Rng& g, int base_exp, int spread) {
  const double p = std::uniform_real_distribution<double>(0, 1)(g);
  const uint32_t sign = chance(g, 0.5) ? 0x80000000u : 0u;
  if (p < 0.08) return mls::bits_float(sign);                               // +-0
  if (p < 0.12) return mls::bits_float(sign | (uint32_t(g()) & 0x7fffff));  // subnormal
  const int e = std::clamp(base_exp - uni(g, 0, spread), -126, 127);
  uint32_t man = uint32_t(g()) & 0x7fffff;
  man &= ~((uint32_t(1) << uni(g, 0, 23)) - 1);  // few significant bits make exact and tie quotients likely
  return mls::bits_float(sign | (uint32_t(e + 127) << 23) | man);
}

std::vector<uint32_t> random_words(Rng& g, size_t n) {
  std::vector<uint32_t> w(n);
  for (auto& v : w) v = static_cast<uint32_t>(g());
  return w;
}

QCase random_qcase(Rng& g) {
  QCase c;
  c.label = "random";
  c.f = random_format(g);
  c.shape = random_shape(g, 96);
  c.f.group_shape = random_group_shape(g, c.shape);
  c.r = random_rounding(g);
  const int base = chance(g, 0.9) ? uni(g, -40, 40) : uni(g, -149, 127);
  const int spread = chance(g, 0.5) ? uni(g, 0, 4) : uni(g, 0, 40);
  for (int64_t i = 0; i < mls::element_count(c.shape); ++i) c.x.push_back(random_float(g, base, spread));
  if (c.r.mode == mls::RoundingMode::sr) c.rand = random_words(g, c.x.size());
  if (chance(g, 0.1)) c.st = fbits(std::ldexp(1.0f + static_cast<float>(uni(g, 0, 255)) / 256.0f, uni(g, -30, 30)));
  return c;
}

// Quotients exactly on ties and on the sr threshold, or one fp32 step away:
// S_t = 2^k, each row of a (rows, K) tensor its own group whose maximum fixes
// S_g to a chosen value, and elements S_t S_g (lo + t (hi - lo)) with t = 1/2
// or j/2^R.
QCase tie_qcase(Rng& g, int max_k = 24) {
  QCase c;
  c.label = "tie/threshold";
  do {
    c.f = random_format(g);
  } while (c.f.element.man_bits + c.f.group_scale.man_bits > 19 || c.f.element.exp_bits > 5 ||
           c.f.group_scale.exp_bits > 5 ||
           std::abs(c.f.element.bias - mls::Minifloat::default_bias(c.f.element.exp_bits)) > 6);
  c.f.overflow = mls::OverflowPolicy::saturate;
  c.r = random_rounding(g);
  if (chance(g, 0.4)) c.r.mode = chance(g, 0.5) ? mls::RoundingMode::rne : mls::RoundingMode::rna;
  const int R = c.r.mode == mls::RoundingMode::sr ? uni(g, 1, 6) : 1;
  c.r.sr_bits = R;
  const int rows = uni(g, 1, max_k > 24 ? 2 : 4), K = max_k > 24 ? max_k : uni(g, 2, max_k);
  c.shape = {rows, K};
  c.f.group_shape = {1, 0};
  const mls::Minifloat& el = c.f.element;
  const mls::Minifloat& gs = c.f.group_scale;
  auto dbl = [](const mls::Dyadic& d) { return *d.to_double_exact(); };
  const double qmax = dbl(el.max_value()), gmax = dbl(gs.max_value());
  const int k = uni(g, -12, 12);
  const bool use_static = chance(g, 0.5);
  if (use_static) c.st = fbits(std::ldexp(1.0f, k));
  const double St = std::ldexp(1.0, k);
  const uint64_t nmag = el.valid_magnitude_count();
  for (int r = 0; r < rows; ++r) {
    const double sg =
        (r == 0 && !use_static) ? gmax : dbl(gs.magnitude_value(uint64_t(g()) % gs.magnitude_code_count()));
    c.x.push_back(static_cast<float>(St * qmax * sg));  // the row maximum: S_g = sg exactly
    for (int j = 1; j < K; ++j) {
      const uint64_t i = uint64_t(g()) % (nmag - 1);
      const double lo = dbl(el.magnitude_value(el.nth_magnitude(i))),
                   hi = dbl(el.magnitude_value(el.nth_magnitude(i + 1)));
      const int num = R == 1 ? 1 : uni(g, 0, (1 << R) - 1);
      const double v = St * sg * (lo + std::ldexp(num, -R) * (hi - lo));
      float xf = static_cast<float>(v);
      if (static_cast<double>(xf) != v || !std::isnormal(xf)) xf = 0.0f;
      // One fp32 step either side of a tie or threshold: decided by a hair, not exactly.
      if (xf != 0.0f && chance(g, 0.3)) xf = std::nextafter(xf, chance(g, 0.5) ? 0.0f : 1e30f);
      c.x.push_back(xf * (chance(g, 0.5) ? -1.0f : 1.0f));
      if (c.r.mode == mls::RoundingMode::sr) {
        // r at the threshold 2^R - j and one either side; random low bits.
        const int64_t rr = std::clamp<int64_t>((int64_t(1) << R) - num + uni(g, -1, 1), 0, (int64_t(1) << R) - 1);
        c.rand.push_back(static_cast<uint32_t>(rr << (32 - R)) | (static_cast<uint32_t>(g()) >> R));
      }
    }
    if (c.r.mode == mls::RoundingMode::sr) c.rand.insert(c.rand.begin() + r * K, static_cast<uint32_t>(g()));
  }
  return c;
}

// A whole binade sweep on a small format: every multiple of 1/16 of the
// smallest step up to q_max, both signs, one group whose maximum is q_max.
QCase sweep_qcase(const std::string& fmt, mls::Rounding r, uint64_t seed) {
  QCase c;
  c.label = "sweep";
  c.f = mls::parse_format(fmt);
  c.r = r;
  c.st = 0x3f800000u;
  const double qmax = *c.f.element.max_value().to_double_exact();
  const double step = std::ldexp(1.0, 1 - c.f.element.bias - c.f.element.man_bits - 4);
  const int64_t n = std::min<int64_t>(static_cast<int64_t>(qmax / step), 800);
  c.x.push_back(static_cast<float>(qmax));
  for (int64_t j = 1; j <= n; ++j) {
    c.x.push_back(static_cast<float>(j * step));
    c.x.push_back(-static_cast<float>(j * step));
  }
  c.x.push_back(-0.0f);
  c.shape = {static_cast<int64_t>(c.x.size())};
  if (r.mode == mls::RoundingMode::sr) {
    Rng g(seed);
    c.rand = random_words(g, c.x.size());
  }
  return c;
}

MlsTensor random_tensor(Rng& g, const Format& f, const Shape& shape, bool wide_scales) {
  MlsTensor t;
  t.format = f;
  t.shape = shape;
  const mls::GroupLayout L(f, shape);
  const int e = wide_scales ? uni(g, -126, 127) : uni(g, -20, 20);
  t.tensor_scale = (uint32_t(e + 127) << 23) | (uint32_t(g()) & 0x7fffff);
  for (int64_t i = 0; i < L.group_count; ++i)
    t.group_scales.push_back(static_cast<uint32_t>(uint64_t(g()) % f.group_scale.magnitude_code_count()));
  for (int64_t i = 0; i < mls::element_count(shape); ++i) {
    uint64_t code;
    do {
      code = chance(g, 0.1) ? (chance(g, 0.5) ? f.element.sign_bit() : 0) : uint64_t(g()) % f.element.code_count();
    } while (!f.element.is_valid_code(code));
    t.elements.push_back(static_cast<uint32_t>(code));
  }
  return t;
}

MlsTensor quantized_tensor(Rng& g, const Format& f, const Shape& shape) {
  std::vector<float> x;
  const int base = uni(g, -10, 10), spread = uni(g, 0, 12);
  for (int64_t i = 0; i < mls::element_count(shape); ++i) x.push_back(random_float(g, base, spread));
  return mls::quantize(f, shape, x, mls::Rounding{}, {});
}

// Conv operand formats: small ones mostly; wide ones reach the int128 and the
// multi-limb accumulators.
Format conv_format(Rng& g, int kind) {
  if (kind == 0) {
    static const char* names[] = {"mls-e2m1", "mls-e2m4", "mls-e3m3", "mls-fixed4", "e4m3.g3m2", "e1m2z.g2m0"};
    return mls::parse_format(names[uni(g, 0, 5)]);
  }
  if (kind == 1) return mls::parse_format(chance(g, 0.5) ? "e5m10.g5m3" : "e4m7.g6m4");
  return mls::parse_format(chance(g, 0.5) ? "e8m23.g8m23" : "e6m12.g8m5");
}

CCase random_ccase(Rng& g) {
  CCase c;
  c.label = "random";
  const int kind = chance(g, 0.7) ? 0 : chance(g, 0.5) ? 1 : 2;
  const bool codes = kind > 0 || chance(g, 0.3);
  mls::Conv2dParams& p = c.p;
  p.pass = static_cast<mls::ConvPass>(uni(g, 0, 2));
  int64_t N, G, Cg, Og, H, W, KH, KW, OH, OW;
  for (;;) {
    N = uni(g, 1, 2), G = uni(g, 1, 2), Cg = uni(g, 1, 3), Og = uni(g, 1, 3);
    H = uni(g, 1, 7), W = uni(g, 1, 7), KH = uni(g, 1, 3), KW = uni(g, 1, 3);
    for (int i = 0; i < 2; ++i) {
      p.stride[i] = uni(g, 1, 2);
      p.padding[i] = uni(g, 0, 2);
      p.dilation[i] = uni(g, 1, 2);
    }
    p.groups = G;
    OH = mls::conv_output_size(H, KH, p.stride[0], p.padding[0], p.dilation[0]);
    OW = mls::conv_output_size(W, KW, p.stride[1], p.padding[1], p.dilation[1]);
    if (OH >= 1 && OW >= 1) break;
  }
  const Shape X{N, G * Cg, H, W}, Wt{G * Og, Cg, KH, KW}, Y{N, G * Og, OH, OW};
  Format fa = conv_format(g, kind), fb = conv_format(g, kind);
  if (chance(g, 0.3)) fa.group_shape = {0, 0, 0, 0};
  if (chance(g, 0.3)) fb.group_shape = {1, 0, 2, 2};
  auto make = [&](const Format& f, const Shape& s) {
    return codes ? random_tensor(g, f, s, kind == 2) : quantized_tensor(g, f, s);
  };
  if (p.pass == mls::ConvPass::fwd) {
    c.a = make(fa, X), c.b = make(fb, Wt);
  } else if (p.pass == mls::ConvPass::bwd_data) {
    c.a = make(fa, Y), c.b = make(fb, Wt), p.out_shape = X;
  } else {
    c.a = make(fa, X), c.b = make(fb, Y), p.out_shape = Wt;
  }
  return c;
}

CCase random_gcase(Rng& g) {
  CCase c;
  c.label = "random";
  c.gemm = true;
  const int kind = chance(g, 0.7) ? 0 : chance(g, 0.5) ? 1 : 2;
  const int64_t M = uni(g, 1, 6), K = uni(g, 1, 40), N = uni(g, 1, 6);
  Format fa = conv_format(g, kind), fb = conv_format(g, kind);
  fa.group_shape = {1, chance(g, 0.5) ? 0 : uni(g, 1, 8)};
  fb.group_shape = {chance(g, 0.5) ? 0 : uni(g, 1, 8), 1};
  const bool codes = kind > 0 || chance(g, 0.3);
  c.a = codes ? random_tensor(g, fa, {M, K}, kind == 2) : quantized_tensor(g, fa, {M, K});
  c.b = codes ? random_tensor(g, fb, {K, N}, kind == 2) : quantized_tensor(g, fb, {K, N});
  return c;
}

// The battery every implementation runs: built and solved by the reference once.
struct Battery {
  std::vector<QCase> q;
  std::vector<DCase> d;
  std::vector<CCase> c;
};

const Battery& battery() {
  static const Battery b = [] {
    Battery bt;
    Rng g(20240611);
    for (int i = 0; i < 500; ++i) bt.q.push_back(random_qcase(g));
    for (int i = 0; i < 300; ++i) bt.q.push_back(tie_qcase(g));
    for (int i = 0; i < 8; ++i) bt.q.push_back(tie_qcase(g, 4096));  // long rows: tables indexed by buckets
    const char* sweeps[] = {"mls-e2m1",   "mls-e2m4",   "mls-e3m3",   "mls-fixed4",
                            "e1m2z.g2m0", "e2m0z.g2m0", "e3m1b5.g2m0"};
    for (const char* s : sweeps)
      for (int m = 0; m <= 6; ++m)
        bt.q.push_back(sweep_qcase(s, mls::Rounding{static_cast<mls::RoundingMode>(m), m == 6 ? 5 : 8}, g()));
    for (auto& c : bt.q) c.solve();
    for (int i = 0; i < 150; ++i) {
      DCase d;
      Format f = random_format(g);
      const Shape s = random_shape(g, 64);
      f.group_shape = random_group_shape(g, s);
      d.t = random_tensor(g, f, s, chance(g, 0.3));
      for (float v : mls::dequantize_fp32(d.t)) d.ref.push_back(fbits(v));
      bt.d.push_back(std::move(d));
    }
    for (int i = 0; i < 120; ++i) bt.c.push_back(random_ccase(g));
    for (int i = 0; i < 60; ++i) bt.c.push_back(random_gcase(g));
    for (auto& c : bt.c) c.solve();
    return bt;
  }();
  return b;
}

// Mismatches of `api` over the battery, per operation (each reported through
// gtest if `report`).
struct Mismatches {
  int quantize = 0, dequantize = 0, conv = 0;
  int total() const { return quantize + dequantize + conv; }
};

Mismatches run_battery(const mls_backend_v2* api, bool report) {
  const Battery& b = battery();
  Mismatches m;
  auto note = [&](int& counter, const std::string& what) {
    ++counter;
    if (report && m.total() <= 10) ADD_FAILURE() << what;
  };
  for (const auto& c : b.q)
    if (std::string d = run_quantize(api, c); !d.empty()) note(m.quantize, "quantize " + c.describe() + ": " + d);
  for (const auto& c : b.d)
    if (std::string d = run_dequantize(api, c); !d.empty())
      note(m.dequantize, "dequantize " + c.t.format.short_name() + " " + shape_text(c.t.shape) + ": " + d);
  for (const auto& c : b.c)
    if (std::string d = run_conv(api, c); !d.empty()) note(m.conv, c.describe() + ": " + d);
  return m;
}

// ---- equality with the reference -------------------------------------------------

TEST(FastBackend, LoadsThroughTheCAbi) {
  const Lib& l = load(MLS_FAST_BACKEND_LIB);
  ASSERT_NE(l.api, nullptr) << l.error;
  EXPECT_EQ(l.api->abi_version, MLS_BACKEND_ABI_VERSION);
  EXPECT_EQ(l.api->struct_size, sizeof(mls_backend_v2));
  EXPECT_STREQ(l.api->name(), "mls-fast 0.1");
  EXPECT_EQ(l.mutant, "");
  auto get = reinterpret_cast<mls_backend_get_fn>(dlsym(l.handle, MLS_BACKEND_ENTRY));
  EXPECT_EQ(get(MLS_BACKEND_ABI_VERSION + 1), nullptr);
  EXPECT_EQ(get(0), nullptr);
}

TEST(FastBackend, BatteryMatchesReferenceBitForBit) {
  const Battery& b = battery();
  // The battery reaches what it is meant to: errors, static scales, every mode.
  int errors = 0, statics = 0, modes[7] = {};
  for (const auto& c : b.q) {
    errors += c.ref_error;
    statics += c.st.has_value();
    ++modes[static_cast<int>(c.r.mode)];
  }
  EXPECT_GT(errors, 5);
  EXPECT_GT(statics, 50);
  for (int m : modes) EXPECT_GT(m, 50);
  EXPECT_EQ(run_battery(fast(), true).total(), 0);
}

TEST(FastBackend, QuantizeMatchesReferenceOnMoreRandomCases) {
  Rng g(7);
  int bad = 0;
  for (int i = 0; i < 1500 && bad < 10; ++i) {
    QCase c = i % 3 == 0 ? tie_qcase(g) : random_qcase(g);
    c.solve();
    if (std::string d = run_quantize(fast(), c); !d.empty()) {
      ++bad;
      ADD_FAILURE() << "case " << i << " " << c.describe() << ": " << d;
    }
  }
}

TEST(FastBackend, LargeTensorsMatchReference) {
  // Big enough that every operation splits its work among threads.
  Rng g(11);
  for (const char* name : {"mls-e2m4", "e3m3.g4m1/1x4x8x8", "e5m10.g8m3/1x1x1x0"}) {
    QCase c;
    c.label = "large";
    c.f = mls::parse_format(name);
    c.shape = {2, 8, 32, 32};
    for (int64_t i = 0; i < mls::element_count(c.shape); ++i) c.x.push_back(random_float(g, 0, 20));
    c.r = mls::Rounding{mls::RoundingMode::sr, 8};
    c.rand = random_words(g, c.x.size());
    c.solve();
    SCOPED_TRACE(c.describe());
    ASSERT_FALSE(c.ref_error);
    EXPECT_EQ(run_quantize(fast(), c), "");
    DCase d{c.ref, {}};
    for (float v : mls::dequantize_fp32(c.ref)) d.ref.push_back(fbits(v));
    EXPECT_EQ(run_dequantize(fast(), d), "");
  }
  CCase c;
  c.label = "large";
  c.a = quantized_tensor(g, mls::parse_format("mls-e2m4"), {2, 8, 12, 12});
  c.b = quantized_tensor(g, mls::parse_format("mls-e2m4"), {8, 8, 3, 3});
  c.p.padding = {1, 1};
  for (auto pass : {mls::ConvPass::fwd, mls::ConvPass::bwd_data, mls::ConvPass::bwd_weight}) {
    CCase k = c;
    k.p.pass = pass;
    if (pass == mls::ConvPass::bwd_data) {
      k.a = quantized_tensor(g, mls::parse_format("mls-e2m4"), {2, 8, 12, 12});
      k.p.out_shape = {2, 8, 12, 12};
    }
    if (pass == mls::ConvPass::bwd_weight) {
      k.b = quantized_tensor(g, mls::parse_format("mls-e2m4"), {2, 8, 12, 12});
      k.p.out_shape = {8, 8, 3, 3};
    }
    k.solve();
    SCOPED_TRACE(k.describe());
    ASSERT_FALSE(k.ref_error);
    EXPECT_EQ(run_conv(fast(), k), "");
  }
}

TEST(FastBackend, ConvReachesEveryAccumulatorWidth) {
  // The same products through the int64, int128 and multi-limb accumulators:
  // operands whose exponent ranges need each one.
  Rng g(5);
  for (const char* f : {"mls-e2m1", "e5m10.g5m3", "e8m23.g8m23"}) {
    for (int i = 0; i < 6; ++i) {
      CCase c;
      c.label = f;
      c.a = random_tensor(g, mls::parse_format(f), {1, 3, 5, 5}, std::string(f) == "e8m23.g8m23");
      c.b = random_tensor(g, mls::parse_format(f), {2, 3, 3, 3}, std::string(f) == "e8m23.g8m23");
      c.p.padding = {1, 1};
      c.solve();
      SCOPED_TRACE(c.describe());
      ASSERT_FALSE(c.ref_error);
      EXPECT_EQ(run_conv(fast(), c), "");
    }
  }
}

TEST(FastBackend, ExtremeScalesOverflowAndUnderflowLikeReference) {
  // Conv outputs and dequantized values beyond fp32 (Inf), subnormal and zero.
  Rng g(3);
  for (uint32_t ts : {0x7f7fffffu, 0x7e800000u, 0x00000001u, 0x00800000u, 0x0f000000u}) {
    MlsTensor t = random_tensor(g, mls::parse_format("e8m23.g8m23/0x0"), {6, 7}, false);
    t.tensor_scale = ts;
    DCase d{t, {}};
    for (float v : mls::dequantize_fp32(t)) d.ref.push_back(fbits(v));
    SCOPED_TRACE(hex(ts));
    EXPECT_EQ(run_dequantize(fast(), d), "");
    CCase c;
    c.label = "extreme";
    c.gemm = true;
    c.a = t;
    c.b = random_tensor(g, mls::parse_format("e8m23.g8m23/0x0"), {7, 3}, false);
    c.b.tensor_scale = ts;
    c.solve();
    EXPECT_EQ(run_conv(fast(), c), "");
  }
}

TEST(FastBackend, OverflowErrorStartsJustAboveQmax) {
  // overflow = error with a saturated group scale (static S_t = 1, g_max = 1.5):
  // S_t g_max q_max = 2.25 is the largest value that quantizes; the next fp32
  // up is an error naming its index. Long enough for the table route.
  Rng g(4);
  for (float v : {2.25f, std::nextafter(2.25f, 3.0f)}) {
    QCase c;
    c.label = "overflow error";
    c.f = mls::parse_format("e2m1.g4m1:ovf_error");
    c.st = 0x3f800000u;
    c.shape = {4, 1024};
    c.f.group_shape = {0, 0};
    for (int i = 0; i < 4096; ++i) c.x.push_back(std::uniform_real_distribution<float>(-2.0f, 2.0f)(g));
    c.x[700] = -v;
    for (int m = 0; m <= 6; ++m) {
      c.r = mls::Rounding{static_cast<mls::RoundingMode>(m), 4};
      c.rand = m == 6 ? random_words(g, c.x.size()) : std::vector<uint32_t>{};
      c.solve();
      SCOPED_TRACE(c.describe() + " x[700] = " + hex(fbits(c.x[700])));
      EXPECT_EQ(c.ref_error, v != 2.25f);
      EXPECT_EQ(run_quantize(fast(), c), "");
      if (c.ref_error) {
        EXPECT_NE(std::string(fast()->last_error()).find("x[700]"), std::string::npos) << fast()->last_error();
      }
    }
  }
}

// ---- the C ABI's error paths -------------------------------------------------------

struct QuantizeCall {
  Format f = mls::parse_format("mls-e2m1");
  Shape shape{1, 2, 2, 2};
  std::vector<uint32_t> x = std::vector<uint32_t>(8, 0x3f800000u);
  mls_rounding_v2 r{MLS_RNE, 8};
  std::vector<uint32_t> rand;
  uint64_t gcap = 2, ecap = 8;
  mls_format_v2 cf{};
  int32_t operator()() {
    cf = cformat(f);
    return (*this)(cf);
  }
  int32_t operator()(const mls_format_v2& c) {
    uint32_t ts;
    std::vector<uint32_t> gs(16), el(64);
    return fast()->quantize(&c, static_cast<int32_t>(shape.size()), shape.data(), x.data(), x.size(), &r, MLS_QARITH_EXACT,
                            rand.empty() ? nullptr : rand.data(), rand.size(), nullptr, &ts, gs.data(), gcap, el.data(),
                            ecap);
  }
};

void expect_error(int32_t status, int32_t want, const std::string& mentions) {
  EXPECT_EQ(status, want);
  const std::string msg = fast()->last_error();
  EXPECT_NE(msg.find(mentions), std::string::npos) << "message \"" << msg << "\" should mention \"" << mentions << "\"";
}

TEST(FastBackendErrors, QuantizeRejectsBadInputNamingTheField) {
  QuantizeCall ok;
  EXPECT_EQ(ok(), MLS_OK) << fast()->last_error();
  EXPECT_STREQ(fast()->last_error(), "");
  {
    QuantizeCall c;
    c.x[5] = 0x7fc00000u;
    c.x[6] = 0x7f800000u;
    expect_error(c(), MLS_ERR_INPUT, "x[5] is NaN");
    c.x[5] = 0;
    expect_error(c(), MLS_ERR_INPUT, "x[6] is Inf");
  }
  {
    QuantizeCall c;
    c.x.pop_back();
    expect_error(c(), MLS_ERR_INPUT, "x has 7 values");
  }
  {
    QuantizeCall c;
    c.r = {MLS_SR, 8};
    c.rand.assign(7, 0);
    expect_error(c(), MLS_ERR_INPUT, "rand has 7 words");
  }
  struct FieldCase {
    const char* mentions;
    void (*edit)(mls_format_v2&);
  };
  const FieldCase fields[] = {
      {"format.element.exp_bits = 9", [](mls_format_v2& f) { f.element.exp_bits = 9; }},
      {"format.element.man_bits = 24", [](mls_format_v2& f) { f.element.man_bits = 24; }},
      {"format.element.bias", [](mls_format_v2& f) { f.element.bias = 100001; }},
      {"format.element.zero", [](mls_format_v2& f) { f.element.zero = 3; }},
      {"format.group_scale.exp_bits = 0", [](mls_format_v2& f) { f.scale.exp_bits = 0; }},
      {"format.group_scale.man_bits = 24", [](mls_format_v2& f) { f.scale.man_bits = 24; }},
      {"format.scale_policy", [](mls_format_v2& f) { f.scale_policy = 4; }},
      {"format.signed_zero", [](mls_format_v2& f) { f.signed_zero = -1; }},
      {"format.overflow", [](mls_format_v2& f) { f.overflow = 4; }},
      {"zero_only needs exp_bits >= 1", [](mls_format_v2& f) { f.element.exp_bits = 0, f.element.zero = MLS_ZERO_ONLY; }},
      {"leaves only the value zero", [](mls_format_v2& f) { f.element.exp_bits = 0, f.element.man_bits = 0; }},
      {"format.group_shape has 2 entries",
       [](mls_format_v2& f) {
         static const int64_t gs[2] = {1, 1};
         f.group_rank = 2, f.group_shape = gs;
       }},
      {"format.group_shape[1] = -1",
       [](mls_format_v2& f) {
         static const int64_t gs[4] = {1, -1, 0, 0};
         f.group_rank = 4, f.group_shape = gs;
       }},
  };
  for (const auto& fc : fields) {
    QuantizeCall c;
    mls_format_v2 cf = cformat(c.f);
    fc.edit(cf);
    expect_error(c(cf), MLS_ERR_INPUT, fc.mentions);
  }
  {
    QuantizeCall c;
    c.r = {7, 8};
    expect_error(c(), MLS_ERR_INPUT, "rounding.mode = 7");
    c.r = {MLS_SR, 33};
    c.rand.assign(8, 0);
    expect_error(c(), MLS_ERR_INPUT, "rounding.bits = 33");
  }
  {
    QuantizeCall c;
    c.shape = {1, 0, 2, 2};
    expect_error(c(), MLS_ERR_INPUT, "shape[1] = 0");
  }
  {
    QuantizeCall c;
    c.gcap = 1;
    expect_error(c(), MLS_ERR_BUFFER, "group_scales_out");
    c.gcap = 2;
    c.ecap = 7;
    expect_error(c(), MLS_ERR_BUFFER, "elements_out");
  }
  {
    // overflow = error: an element beyond q_max under a static tensor scale.
    const Format f = mls::parse_format("e2m1.g4m1:floor:ovf_error");
    const mls_format_v2 cf = cformat(f);
    const int64_t shape[1] = {3};
    const uint32_t x[3] = {0x3f800000u, 0x40400000u, 0x3f000000u};  // 1, 3, 0.5
    const uint32_t st = 0x3f000000u;                                // 0.5: 3 / 0.5 = 6 > q_max * g_max
    const mls_rounding_v2 r{MLS_RNE, 8};
    uint32_t ts, gs[1], el[3];
    expect_error(fast()->quantize(&cf, 1, shape, x, 3, &r, MLS_QARITH_EXACT, nullptr, 0, &st, &ts, gs, 1, el, 3), MLS_ERR_INPUT, "x[1]");
  }
}

TEST(FastBackendErrors, DequantizeRejectsInvalidTensors) {
  Rng g(1);
  const MlsTensor good = random_tensor(g, mls::parse_format("e2m1z.g4m1"), {1, 2, 2, 2}, false);
  std::vector<uint32_t> y(8);
  {
    const mls_tensor_v2 t = ctensor(good);
    EXPECT_EQ(fast()->dequantize(&t, y.data(), y.size()), MLS_OK) << fast()->last_error();
    expect_error(fast()->dequantize(&t, y.data(), 7), MLS_ERR_BUFFER, "y_out");
    expect_error(fast()->dequantize(nullptr, y.data(), 8), MLS_ERR_INPUT, "tensor is NULL");
  }
  {
    MlsTensor t = good;
    t.elements[3] = 0x1;  // exponent field 0, mantissa 1: not a code of a zero_only format
    const mls_tensor_v2 c = ctensor(t);
    expect_error(fast()->dequantize(&c, y.data(), 8), MLS_ERR_INPUT,
                 "tensor.elements[3] = 1 is not a valid code of e2m1z");
  }
  {
    MlsTensor t = good;
    t.elements[7] = 16;  // beyond 4 bits
    const mls_tensor_v2 c = ctensor(t);
    expect_error(fast()->dequantize(&c, y.data(), 8), MLS_ERR_INPUT, "tensor.elements[7]");
  }
  {
    MlsTensor t = good;
    t.group_scales[1] = 32;
    const mls_tensor_v2 c = ctensor(t);
    expect_error(fast()->dequantize(&c, y.data(), 8), MLS_ERR_INPUT, "tensor.group_scales[1] = 32");
  }
  for (uint32_t ts : {0u, 0x80000000u, 0xbf800000u, 0x7f800000u, 0x7fc00000u}) {
    MlsTensor t = good;
    t.tensor_scale = ts;
    const mls_tensor_v2 c = ctensor(t);
    expect_error(fast()->dequantize(&c, y.data(), 8), MLS_ERR_INPUT, "tensor.tensor_scale " + hex(ts));
  }
  {
    mls_tensor_v2 c = ctensor(good);
    c.element_count = 7;
    expect_error(fast()->dequantize(&c, y.data(), 8), MLS_ERR_INPUT, "tensor.elements has 7 codes");
    c = ctensor(good);
    c.group_count = 3;
    expect_error(fast()->dequantize(&c, y.data(), 8), MLS_ERR_INPUT, "tensor.group_scales has 3 codes");
  }
}

TEST(FastBackendErrors, ConvAndGemmRejectBadGeometryAndProfiles) {
  Rng g(2);
  const Format f = mls::parse_format("mls-e2m1");
  const MlsTensor X = random_tensor(g, f, {1, 4, 5, 5}, false), Wt = random_tensor(g, f, {2, 2, 3, 3}, false);
  const mls_tensor_v2 a = ctensor(X), b = ctensor(Wt);
  std::vector<uint32_t> y(1024);
  mls_conv2d_v2 p{MLS_PASS_FWD, {1, 1}, {0, 0}, {1, 1}, 2};
  EXPECT_EQ(fast()->conv2d(&p, &a, &b, nullptr, 0, nullptr, y.data(), y.size()), MLS_OK) << fast()->last_error();
  EXPECT_EQ(fast()->conv2d(&p, &a, &b, "exact", 0, nullptr, y.data(), y.size()), MLS_OK);
  expect_error(fast()->conv2d(&p, &a, &b, nullptr, 0, nullptr, y.data(), 10), MLS_ERR_BUFFER, "y_out");
  const char* acc =
      R"({"profile":"accumulator","frac_bits":8,"width":24,"alignment":"rtz","overflow":"wrap","inter_group":"exact","final_rounding":"rne"})";
  expect_error(fast()->conv2d(&p, &a, &b, acc, 0, nullptr, y.data(), y.size()), MLS_ERR_UNSUPPORTED, "accumulator");
  expect_error(fast()->conv2d(&p, &a, &b, "{nope", 0, nullptr, y.data(), y.size()), MLS_ERR_INPUT,
               "arith is not valid JSON");
  expect_error(fast()->conv2d(&p, &a, &b, R"({"profile":"exact","width":3})", 0, nullptr, y.data(), y.size()),
               MLS_ERR_INPUT, "arith.width");
  mls_conv2d_v2 q = p;
  q.groups = 3;
  expect_error(fast()->conv2d(&q, &a, &b, nullptr, 0, nullptr, y.data(), y.size()), MLS_ERR_INPUT,
               "not divisible by groups = 3");
  q = p;
  q.stride[1] = 0;
  expect_error(fast()->conv2d(&q, &a, &b, nullptr, 0, nullptr, y.data(), y.size()), MLS_ERR_INPUT, "stride[1] = 0");
  q = p;
  q.dilation[0] = 3;
  expect_error(fast()->conv2d(&q, &a, &b, nullptr, 0, nullptr, y.data(), y.size()), MLS_ERR_INPUT, "no output height");
  q = p;
  q.pass = MLS_PASS_BWD_DATA;
  expect_error(fast()->conv2d(&q, &a, &b, nullptr, 0, nullptr, y.data(), y.size()), MLS_ERR_INPUT,
               "out_shape is required");
  const int64_t wrong[4] = {1, 2, 3, 4};
  expect_error(fast()->conv2d(&p, &a, &b, nullptr, 4, wrong, y.data(), y.size()), MLS_ERR_INPUT,
               "does not match the forward output shape");
  q = p;
  q.pass = MLS_PASS_BWD_WEIGHT;
  const int64_t wshape[4] = {2, 2, 3, 3};
  expect_error(fast()->conv2d(&q, &a, &b, nullptr, 4, wshape, y.data(), y.size()), MLS_ERR_INPUT,
               "b.shape[0] = 2 (dY N)");
  const MlsTensor v = random_tensor(g, f, {5}, false);
  const mls_tensor_v2 cv = ctensor(v);
  expect_error(fast()->conv2d(&p, &cv, &b, nullptr, 0, nullptr, y.data(), y.size()), MLS_ERR_INPUT,
               "a.shape has rank 1");
  const MlsTensor A = random_tensor(g, f, {3, 4}, false), B = random_tensor(g, f, {5, 2}, false);
  const mls_tensor_v2 ca = ctensor(A), cb = ctensor(B);
  expect_error(fast()->gemm(&ca, &cb, nullptr, y.data(), y.size()), MLS_ERR_INPUT, "b.shape[0] = 5 (K)");
  expect_error(fast()->gemm(&ca, &a, nullptr, y.data(), y.size()), MLS_ERR_INPUT, "b.shape has rank 4");
}

TEST(FastBackendErrors, CapabilityQueryAndGroupCount) {
  const mls_format_v2 cf = cformat(mls::parse_format("mls-e2m4"));
  const mls_rounding_v2 sr{MLS_SR, 13};
  for (int32_t op = MLS_OP_QUANTIZE; op <= MLS_OP_GEMM; ++op)
    EXPECT_EQ(fast()->supports(op, &cf, &sr, MLS_QARITH_EXACT, nullptr), MLS_OK) << op << ": " << fast()->last_error();
  EXPECT_EQ(fast()->supports(MLS_OP_QUANTIZE, nullptr, nullptr, MLS_QARITH_EXACT, nullptr), MLS_OK);
  expect_error(fast()->supports(99, &cf, &sr, MLS_QARITH_EXACT, nullptr), MLS_ERR_UNSUPPORTED, "op 99");
  expect_error(fast()->supports(MLS_OP_GEMM, &cf, nullptr, MLS_QARITH_EXACT, R"({"profile":"accumulator"})"), MLS_ERR_UNSUPPORTED,
               "accumulator");
  mls_format_v2 badf = cf;
  badf.scale.exp_bits = 9;
  expect_error(fast()->supports(MLS_OP_QUANTIZE, &badf, nullptr, MLS_QARITH_EXACT, nullptr), MLS_ERR_INPUT, "group_scale.exp_bits = 9");
  const mls_rounding_v2 badr{MLS_SR, 0};
  expect_error(fast()->supports(MLS_OP_QUANTIZE, &cf, &badr, MLS_QARITH_EXACT, nullptr), MLS_ERR_INPUT, "rounding.bits = 0");
  Rng g(9);
  for (int i = 0; i < 200; ++i) {
    Format f = random_format(g);
    const Shape s = random_shape(g, 500);
    f.group_shape = random_group_shape(g, s);
    const mls_format_v2 c = cformat(f);
    uint64_t n = 0;
    ASSERT_EQ(fast()->group_count(&c, static_cast<int32_t>(s.size()), s.data(), &n), MLS_OK);
    EXPECT_EQ(n, static_cast<uint64_t>(mls::GroupLayout(f, s).group_count)) << f.short_name() << " " << shape_text(s);
  }
}

// ---- seeded bugs ------------------------------------------------------------------

TEST(FastBackendMutants, EverySeededBugChangesResultsOfItsOperationOnly) {
  // Which operation each variant breaks (conformance/backends/fast/mutant.hpp).
  const std::map<std::string, std::string> target = {
      {"tie_away", "quantize"},       {"truncate", "quantize"},       {"fp32_reciprocal", "quantize"},
      {"sr_off_by_one", "quantize"},  {"sr_low_bits", "quantize"},    {"flush_subnormals", "quantize"},
      {"gscale_floor", "quantize"},   {"gscale_nearest", "quantize"}, {"tscale_nearest", "quantize"},
      {"zero_sign_lost", "quantize"}, {"rna_even", "quantize"},       {"amax_signed", "quantize"},
      {"dequant_rtz", "dequantize"},  {"acc_wrap", "conv"},           {"fp32_sum", "conv"}};
  const std::vector<std::string> names = mutant_names();
  EXPECT_GE(names.size(), 12u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    ASSERT_EQ(target.count(name), 1u) << "no expectation for the variant " << name;
    const Lib& l = load(std::string(MLS_FAST_LIB_DIR) + "/libmls_fast_mutant_" + name + ".so");
    ASSERT_NE(l.api, nullptr) << l.error;
    EXPECT_EQ(l.mutant, name);
    EXPECT_STREQ(l.api->name(), "mls-fast 0.1 (seeded-bug variant)");
    const Mismatches m = run_battery(l.api, false);
    RecordProperty(name,
                   std::to_string(m.quantize) + "/" + std::to_string(m.dequantize) + "/" + std::to_string(m.conv));
    const std::string& t = target.at(name);
    EXPECT_GT(t == "quantize"     ? m.quantize
              : t == "dequantize" ? m.dequantize
                                  : m.conv,
              0)
        << "the variant agrees with the spec on every " << t << " case of the battery";
    EXPECT_EQ(t == "quantize" ? 0 : m.quantize, 0) << "quantize changed";
    EXPECT_EQ(t == "dequantize" ? 0 : m.dequantize, 0) << "dequantize changed";
    EXPECT_EQ(t == "conv" ? 0 : m.conv, 0) << "conv/gemm changed";
  }
}

}  // namespace
