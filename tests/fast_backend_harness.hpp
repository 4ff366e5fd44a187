// The harness of tests/test_fast_backend*.cpp: mls-fast (conformance/
// backends/fast) reached only through dlopen and its C ABI, the golden model
// as the oracle. Cases of every operation (round, quantize, dequantize,
// conv2d, gemm) with their golden answers, generators of the MLS formats and
// of the whole family (every named profile and its variations: scale grids
// with zero/subnormals/NaN, signed scales, two's complement elements, every
// scale rule, overflow policy, non-finite policy and quantizer arithmetic
// profile), and the batteries the tests run. Everything lives in an
// anonymous namespace: each test file has its own copy.
#pragma once
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

#include "mls/conformance/abi.hpp"
#include "mls/conv.hpp"
#include "mls/error.hpp"
#include "mls/rounding.hpp"
#include "mls/tensor.hpp"
#include "mls_backend.h"

#ifndef MLS_FAST_BACKEND_LIB
#error "MLS_FAST_BACKEND_LIB (path of libmls_fast_backend.so) is defined by conformance/backends/fast/tests.cmake"
#endif

namespace {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"  // each test file uses a part

using Rng = std::mt19937_64;
using mls::Format;
using mls::MlsTensor;
using mls::Shape;
using mls::conformance::AbiFormat;
using mls::conformance::AbiTensor;

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

std::string hex(uint32_t v) { return mls::hex32(v); }
std::string shape_text(const Shape& s) { return mls::shape_string(s); }
uint32_t fbits(float f) { return mls::float_bits(f); }
std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string n; std::getline(s, n, ',');) {
    while (!n.empty() && n.front() == ' ') n.erase(n.begin());
    if (!n.empty()) out.push_back(n);
  }
  return out;
}

// ---- the cases -------------------------------------------------------------------

struct QCase {
  std::string label;
  mls::QuantizeInput in;
  bool ref_error = false;
  MlsTensor ref;
  void solve() {
    ref_error = false;
    try {
      ref = mls::quantize(in);
    } catch (const mls::Error&) {
      ref_error = true;
    }
  }
  std::string describe() const {
    std::ostringstream o;
    o << label << ": format " << in.format.short_name() << ", rounding " << mls::rounding_name(in.rounding)
      << ", arith " << mls::to_string(in.arith) << ", shape " << shape_text(in.shape)
      << (in.static_tensor_scale ? ", static tensor scale " + hex(*in.static_tensor_scale) : std::string());
    return o.str();
  }
};

struct RCase {
  mls::Minifloat element;
  mls::Rounding r;
  mls::OverflowPolicy overflow = mls::OverflowPolicy::saturate;
  mls::SignedZero signed_zero = mls::SignedZero::preserve;
  int64_t scale_m = 1;
  int32_t scale_e = 0;
  std::vector<uint32_t> x, rand;
  bool ref_error = false;
  std::vector<uint32_t> ref;
  void solve() {
    ref_error = false;
    ref.clear();
    try {
      const mls::Dyadic s(mls::BigInt(scale_m), scale_e);
      for (size_t i = 0; i < x.size(); ++i)
        ref.push_back(static_cast<uint32_t>(
            mls::round_fp32_input(element, x[i], s, r, r.mode == mls::RoundingMode::sr ? rand[i] : 0, overflow,
                                  signed_zero)
                .code));
    } catch (const mls::Error&) {
      ref_error = true;
    }
  }
  std::string describe() const {
    return "round " + element.name() + " " + mls::rounding_name(r) + " ovf_" + mls::to_string(overflow) +
           (signed_zero == mls::SignedZero::positive ? " poszero" : "") + " scale " + std::to_string(scale_m) +
           "*2^" + std::to_string(scale_e);
  }
};

struct DCase {
  MlsTensor t;
  std::vector<uint32_t> ref;
};
DCase dcase(MlsTensor t) {
  DCase d{std::move(t), {}};
  for (float v : mls::dequantize_fp32(d.t)) d.ref.push_back(fbits(v));
  return d;
}

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

// ---- running a case: "" when the backend agrees bit for bit, else what differs ------

std::string run_quantize(const mls_backend_v2* api, const QCase& c) {
  const mls::QuantizeInput& in = c.in;
  std::optional<AbiFormat> af;
  try {
    af.emplace(in.format, in.shape);
  } catch (const mls::Error&) {
    return c.ref_error ? "" : "the layout does not resolve";
  }
  const mls_format_v2& cf = af->f;
  const mls_rounding_v2 cr = mls::conformance::abi_rounding(in.rounding);
  const int32_t qa = mls::enum_code(in.arith);
  uint64_t groups = 0;
  if (api->group_count(&cf, static_cast<int32_t>(in.shape.size()), in.shape.data(), &groups) != MLS_OK)
    return std::string("group_count failed: ") + api->last_error();
  uint32_t ts = 0;
  std::vector<uint32_t> gs(groups), el(in.x.size());
  const uint32_t st = in.static_tensor_scale.value_or(0);
  const int32_t status =
      api->quantize(&cf, static_cast<int32_t>(in.shape.size()), in.shape.data(), in.x.data(), in.x.size(), &cr, qa,
                    in.rand.data(), in.rand.size(), in.static_tensor_scale ? &st : nullptr, &ts, gs.data(), gs.size(),
                    el.data(), el.size());
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
             " (x = " + hex(in.x[i]) + (in.rand.empty() ? std::string() : ", word " + hex(in.rand[i])) + ")";
  return "";
}

std::string run_round(const mls_backend_v2* api, const RCase& c) {
  mls_cast_v2 cast{};
  cast.element = mls::conformance::abi_minifloat(c.element);
  cast.rounding = mls::conformance::abi_rounding(c.r);
  cast.overflow = mls::enum_code(c.overflow);
  cast.signed_zero = mls::enum_code(c.signed_zero);
  cast.scale_mant = c.scale_m;
  cast.scale_exp = c.scale_e;
  std::vector<uint32_t> out(c.x.size());
  const int32_t status = api->round(&cast, c.x.data(), c.x.size(), c.rand.empty() ? nullptr : c.rand.data(),
                                    c.rand.size(), out.data(), out.size());
  if (c.ref_error)
    return status == MLS_ERR_INPUT ? "" : "the reference rejects the cast, the backend returned " + std::to_string(status);
  if (status != MLS_OK) return "status " + std::to_string(status) + ": " + api->last_error();
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i] != c.ref[i])
      return "codes[" + std::to_string(i) + "] = " + hex(out[i]) + ", expected " + hex(c.ref[i]) + " (x = " +
             hex(c.x[i]) + (c.rand.empty() ? std::string() : ", word " + hex(c.rand[i])) + ")";
  return "";
}

std::string run_dequantize(const mls_backend_v2* api, const DCase& c) {
  const AbiTensor t(c.t);
  std::vector<uint32_t> y(c.t.elements.size());
  if (api->dequantize(&t.t, y.data(), y.size()) != MLS_OK) return std::string("status: ") + api->last_error();
  for (size_t i = 0; i < y.size(); ++i)
    if (y[i] != c.ref[i])
      return "y[" + std::to_string(i) + "] = " + hex(y[i]) + ", expected " + hex(c.ref[i]) + " (code " +
             hex(c.t.elements[i]) + ", tensor scale " + hex(c.t.tensor_scale) + ")";
  return "";
}

mls_conv2d_v2 cparams(const mls::Conv2dParams& q) {
  mls_conv2d_v2 p{};
  p.pass = mls::enum_code(q.pass);
  for (int i = 0; i < 2; ++i) {
    p.stride[i] = q.stride[i];
    p.padding[i] = q.padding[i];
    p.dilation[i] = q.dilation[i];
  }
  p.groups = q.groups;
  return p;
}

std::string run_conv(const mls_backend_v2* api, const CCase& c) {
  const AbiTensor a(c.a), b(c.b);
  const size_t n = c.ref_error ? 1 << 16 : c.ref.size();
  std::vector<uint32_t> y(n);
  int32_t status;
  if (c.gemm) {
    status = api->gemm(&a.t, &b.t, nullptr, y.data(), y.size());
  } else {
    const mls_conv2d_v2 p = cparams(c.p);
    status = api->conv2d(&p, &a.t, &b.t, "{\"profile\":\"exact\"}", static_cast<int32_t>(c.p.out_shape.size()),
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
template <class T>
const T& pick(Rng& g, const std::vector<T>& v) {
  return v[static_cast<size_t>(uni(g, 0, static_cast<int>(v.size()) - 1))];
}

// The MLS formats of spec 1.0: any widths and biases.
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

const std::vector<Format>& named_formats() {
  static const std::vector<Format> v = [] {
    std::vector<Format> out;
    for (const auto& p : mls::named_profiles()) out.push_back(p.format);
    return out;
  }();
  return v;
}

mls::Minifloat named_grid(const char* name) {
  for (const auto& n : mls::named_grids())
    if (n.name == name) return n.grid;
  throw std::runtime_error(std::string("no grid ") + name);
}

// A minifloat of the family for `role`: the named grids, and random ones with
// every zero mode, special-value encoding and encoding the widths allow.
mls::Minifloat random_grid(Rng& g, bool scale) {
  if (chance(g, 0.4)) {
    static const char* el[] = {"fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp6_e3m2", "fp4_e2m1", "int8"};
    static const char* sc[] = {"e8m0", "fp8_e4m3"};
    return scale ? named_grid(sc[uni(g, 0, 1)]) : named_grid(el[uni(g, 0, 5)]);
  }
  for (;;) {
    mls::Minifloat m = scale ? mls::Minifloat::group_scale(uni(g, 1, 8), chance(g, 0.6) ? uni(g, 0, 3) : uni(g, 0, 10))
                             : mls::Minifloat::element(uni(g, 0, 5), uni(g, 0, chance(g, 0.8) ? 4 : 10));
    if (chance(g, 0.3)) m.bias += uni(g, -4, 4);
    if (scale) {
      if (chance(g, 0.3)) m.zero = chance(g, 0.7) ? mls::ZeroMode::subnormal : mls::ZeroMode::zero_only;
      if (chance(g, 0.2)) m.is_signed = true;
    } else if (chance(g, 0.15)) {
      m.zero = mls::ZeroMode::zero_only;
    }
    const double sp = std::uniform_real_distribution<double>(0, 1)(g);
    if (sp < 0.2) m.specials = mls::Specials::nan_all_ones;
    else if (sp < 0.35) m.specials = mls::Specials::ieee;
    if (!scale && m.exp_bits == 0 && chance(g, 0.5)) {
      m.encoding = mls::Encoding::twos_complement;
      m.specials = mls::Specials::none;
      m.zero = mls::ZeroMode::subnormal;
      if (m.man_bits == 0) m.man_bits = 3;
    }
    try {
      m.validate(scale ? mls::GridRole::group_scale : mls::GridRole::element);
      return m;
    } catch (const mls::Error&) {
    }
  }
}

// A format of the family: a named profile varied, or built from random grids
// with every rule the descriptor has; always valid.
Format random_family_format(Rng& g) {
  for (;;) {
    Format f;
    if (chance(g, 0.5)) {
      f = pick(g, named_formats());
      if (chance(g, 0.3)) f.scale_policy = mls::enum_values<mls::ScalePolicy>()[static_cast<size_t>(uni(g, 0, 5))];
      if (f.block_size > 0 && chance(g, 0.3)) f.block_size = pick(g, std::vector<int64_t>{1, 2, 3, 4, 8, 16, 32});
    } else {
      f.element = random_grid(g, false);
      f.group_scale = random_grid(g, true);
      f.scale_policy = mls::enum_values<mls::ScalePolicy>()[static_cast<size_t>(uni(g, 0, 5))];
      if (chance(g, 0.4)) f.tensor_scale = mls::TensorScaleRule::one;
      if (chance(g, 0.5)) {
        f.block_size = uni(g, 1, 16);
        f.block_axis = -1;
      }
    }
    const double o = std::uniform_real_distribution<double>(0, 1)(g);
    if (o < 0.15) f.overflow = mls::OverflowPolicy::error;
    else if (o < 0.4 && f.element.has_nan()) f.overflow = mls::OverflowPolicy::nan;
    else if (o < 0.6 && f.element.has_inf()) f.overflow = mls::OverflowPolicy::infinity;
    if (chance(g, 0.15)) f.signed_zero = mls::SignedZero::positive;
    if (f.tensor_scale == mls::TensorScaleRule::one && f.group_scale.has_nan() && chance(g, 0.7))
      f.nonfinite = mls::NonFiniteInput::propagate;
    try {
      f.validate();
      return f;
    } catch (const mls::Error&) {
    }
  }
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

QCase qcase(std::string label, Format f, Shape shape, std::vector<float> x, mls::Rounding r,
            std::vector<uint32_t> rand = {}, std::optional<uint32_t> st = std::nullopt,
            mls::QuantArith arith = mls::QuantArith::exact) {
  QCase c;
  c.label = std::move(label);
  c.in.format = std::move(f);
  c.in.shape = std::move(shape);
  for (float v : x) c.in.x.push_back(fbits(v));
  c.in.rounding = r;
  c.in.rand = std::move(rand);
  c.in.static_tensor_scale = st;
  c.in.arith = arith;
  return c;
}

QCase random_qcase(Rng& g) {
  Format f = random_format(g);
  const Shape shape = random_shape(g, 96);
  f.group_shape = random_group_shape(g, shape);
  const mls::Rounding r = random_rounding(g);
  const int base = chance(g, 0.9) ? uni(g, -40, 40) : uni(g, -149, 127);
  const int spread = chance(g, 0.5) ? uni(g, 0, 4) : uni(g, 0, 40);
  std::vector<float> x;
  for (int64_t i = 0; i < mls::element_count(shape); ++i) x.push_back(random_float(g, base, spread));
  std::vector<uint32_t> rand;
  if (r.mode == mls::RoundingMode::sr) rand = random_words(g, x.size());
  std::optional<uint32_t> st;
  if (chance(g, 0.1)) st = fbits(std::ldexp(1.0f + static_cast<float>(uni(g, 0, 255)) / 256.0f, uni(g, -30, 30)));
  return qcase("random", f, shape, x, r, rand, st);
}

// A profile of 4.12 that applies to the case, most often exact: the golden
// model's steps say which ones do.
mls::QuantArith random_arith(Rng& g, const mls::QuantizeInput& in) {
  if (chance(g, 0.35)) return mls::QuantArith::exact;
  std::vector<mls::QuantArith> ok;
  for (auto a : mls::enum_values<mls::QuantArith>()) {
    if (a == mls::QuantArith::exact) continue;
    mls::QuantizeInput probe = in;
    probe.arith = a;
    try {
      mls::quantize_steps(probe);
      ok.push_back(a);
    } catch (const mls::Error&) {
    }
  }
  return ok.empty() ? mls::QuantArith::exact : pick(g, ok);
}

// Values of a block that sit on the family's edges (4.4, 3.5): a block
// maximum at or just below a power of two, at q_max, at the midpoint past it
// and at the special position (E4M3: 448, 464, 480), near the scale's lower
// limit, and NaN/Inf where the format propagates them.
uint32_t edge_value(Rng& g, const Format& f) {
  const double qmax = *f.q_max().to_double_exact();
  const int k = chance(g, 0.3) ? uni(g, -150, -120) : uni(g, -20, 20);
  const double over = *f.element.magnitude_value(f.element.overflow_position()).to_double_exact();
  double v = 0;
  switch (uni(g, 0, 6)) {
    case 0: v = std::ldexp(1.0, k); break;
    case 1: v = std::ldexp(2.0 - std::ldexp(1.0, -23), k); break;
    case 2: v = std::ldexp(2.0 - std::ldexp(3.0, -23), k); break;
    case 3: v = std::ldexp(qmax, k); break;
    case 4: v = std::ldexp((qmax + over) / 2, k); break;
    case 5: v = std::ldexp(over, k); break;
    default: v = std::ldexp(1.0 + uni(g, 0, 15) / 16.0, k); break;
  }
  uint32_t b = fbits(static_cast<float>(v));
  if (!std::isfinite(static_cast<float>(v))) b = 0x7f7fffffu;
  if (f.nonfinite == mls::NonFiniteInput::propagate && chance(g, 0.25))
    b = chance(g, 0.5) ? (chance(g, 0.5) ? 0x7fc00000u : 0xffc00001u) : 0x7f800000u;
  return b | (chance(g, 0.5) ? 0x80000000u : 0u);
}

// A case of the family: a random format (named profile or variation), a
// random profile of 4.12, values with block edges, NaN/Inf where allowed.
QCase family_qcase(Rng& g) {
  Format f = random_family_format(g);
  Shape shape;
  if (f.block_size > 0) {
    shape = {uni(g, 1, 3), uni(g, 1, static_cast<int>(3 * f.block_size + 2))};
    if (chance(g, 0.3)) shape.insert(shape.begin(), 2);
  } else {
    shape = random_shape(g, 96);
    f.group_shape = random_group_shape(g, shape);
  }
  const mls::Rounding r = random_rounding(g);
  const int base = chance(g, 0.8) ? uni(g, -20, 20) : uni(g, -149, 127);
  const int spread = chance(g, 0.5) ? uni(g, 0, 4) : uni(g, 0, 30);
  QCase c;
  c.label = "family";
  c.in.format = f;
  c.in.shape = shape;
  c.in.rounding = r;
  const int64_t n = mls::element_count(shape);
  for (int64_t i = 0; i < n; ++i)
    c.in.x.push_back(chance(g, 0.15) ? edge_value(g, f) : fbits(random_float(g, base, spread)));
  if (r.mode == mls::RoundingMode::sr) c.in.rand = random_words(g, c.in.x.size());
  if (chance(g, 0.08)) c.in.static_tensor_scale = fbits(std::ldexp(1.0f + uni(g, 0, 7) / 8.0f, uni(g, -10, 10)));
  c.in.arith = random_arith(g, c.in);
  return c;
}

// Quotients exactly on ties and on the sr threshold, or one fp32 step away:
// S_t = 2^k, each row of a (rows, K) tensor its own group whose maximum fixes
// S_g to a chosen value, and elements S_t S_g (lo + t (hi - lo)) with t = 1/2
// or j/2^R.
QCase tie_qcase(Rng& g, int max_k = 24) {
  Format f;
  do {
    f = random_format(g);
  } while (f.element.man_bits + f.group_scale.man_bits > 19 || f.element.exp_bits > 5 || f.group_scale.exp_bits > 5 ||
           std::abs(f.element.bias - mls::Minifloat::default_bias(f.element.exp_bits)) > 6);
  f.overflow = mls::OverflowPolicy::saturate;
  mls::Rounding r = random_rounding(g);
  if (chance(g, 0.4)) r.mode = chance(g, 0.5) ? mls::RoundingMode::rne : mls::RoundingMode::rna;
  const int R = r.mode == mls::RoundingMode::sr ? uni(g, 1, 6) : 1;
  r.sr_bits = R;
  const int rows = uni(g, 1, max_k > 24 ? 2 : 4), K = max_k > 24 ? max_k : uni(g, 2, max_k);
  f.group_shape = {1, 0};
  const mls::Minifloat& el = f.element;
  const mls::Minifloat& gs = f.group_scale;
  auto dbl = [](const mls::Dyadic& d) { return *d.to_double_exact(); };
  const double qmax = dbl(el.max_value()), gmax = dbl(gs.max_value());
  const int k = uni(g, -12, 12);
  const bool use_static = chance(g, 0.5);
  std::optional<uint32_t> st;
  if (use_static) st = fbits(std::ldexp(1.0f, k));
  const double St = std::ldexp(1.0, k);
  const uint64_t nmag = el.valid_magnitude_count();
  std::vector<float> x;
  std::vector<uint32_t> rand;
  for (int row = 0; row < rows; ++row) {
    const double sg =
        (row == 0 && !use_static) ? gmax : dbl(gs.magnitude_value(uint64_t(g()) % gs.magnitude_code_count()));
    x.push_back(static_cast<float>(St * qmax * sg));  // the row maximum: S_g = sg exactly
    for (int j = 1; j < K; ++j) {
      const uint64_t i = uint64_t(g()) % (nmag - 1);
      const double lo = dbl(el.magnitude_value(el.nth_magnitude(i))), hi = dbl(el.magnitude_value(el.nth_magnitude(i + 1)));
      const int num = R == 1 ? 1 : uni(g, 0, (1 << R) - 1);
      const double v = St * sg * (lo + std::ldexp(num, -R) * (hi - lo));
      float xf = static_cast<float>(v);
      if (static_cast<double>(xf) != v || !std::isnormal(xf)) xf = 0.0f;
      // One fp32 step either side of a tie or threshold: decided by a hair, not exactly.
      if (xf != 0.0f && chance(g, 0.3)) xf = std::nextafter(xf, chance(g, 0.5) ? 0.0f : 1e30f);
      x.push_back(xf * (chance(g, 0.5) ? -1.0f : 1.0f));
      if (r.mode == mls::RoundingMode::sr) {
        // r at the threshold 2^R - j and one either side; random low bits.
        const int64_t rr = std::clamp<int64_t>((int64_t(1) << R) - num + uni(g, -1, 1), 0, (int64_t(1) << R) - 1);
        rand.push_back(static_cast<uint32_t>(rr << (32 - R)) | (static_cast<uint32_t>(g()) >> R));
      }
    }
    if (r.mode == mls::RoundingMode::sr) rand.insert(rand.begin() + row * K, static_cast<uint32_t>(g()));
  }
  return qcase("tie/threshold", f, {rows, K}, x, r, rand, st);
}

// A whole binade sweep on a small format: every multiple of 1/16 of the
// smallest step up to q_max, both signs, one group whose maximum is q_max.
QCase sweep_qcase(const std::string& fmt, mls::Rounding r, uint64_t seed) {
  const Format f = mls::parse_format(fmt);
  const double qmax = *f.element.max_value().to_double_exact();
  const double step = std::ldexp(1.0, 1 - f.element.bias - f.element.man_bits - 4);
  const int64_t n = std::min<int64_t>(static_cast<int64_t>(qmax / step), 800);
  std::vector<float> x{static_cast<float>(qmax)};
  for (int64_t j = 1; j <= n; ++j) {
    x.push_back(static_cast<float>(j * step));
    x.push_back(-static_cast<float>(j * step));
  }
  x.push_back(-0.0f);
  std::vector<uint32_t> rand;
  if (r.mode == mls::RoundingMode::sr) {
    Rng g(seed);
    rand = random_words(g, x.size());
  }
  Format fs = f;
  fs.block_size = 0;
  fs.group_shape = {};
  const Shape shape{static_cast<int64_t>(x.size())};
  return qcase("sweep", fs, shape, x, r, rand, 0x3f800000u);
}

// A random tensor of codes (group scales never negative or Inf; NaN scales and
// NaN/Inf element codes when `specials`).
MlsTensor random_tensor(Rng& g, const Format& f, const Shape& shape, bool wide_scales, bool specials = false) {
  MlsTensor t;
  t.format = f;
  t.shape = shape;
  const mls::GroupLayout L(f, shape);
  const int e = wide_scales ? uni(g, -126, 127) : uni(g, -20, 20);
  t.tensor_scale = (uint32_t(e + 127) << 23) | (uint32_t(g()) & 0x7fffff);
  const mls::Minifloat& gs = f.group_scale;
  for (int64_t i = 0; i < L.group_count; ++i) {
    uint64_t c;
    do {
      c = chance(g, 0.05) && gs.has_zero() ? 0 : uint64_t(g()) % gs.magnitude_code_count();
    } while (!(gs.is_valid_code(c) || (specials && gs.is_nan_code(c))));
    t.group_scales.push_back(static_cast<uint32_t>(c));
  }
  const mls::Minifloat& el = f.element;
  for (int64_t i = 0; i < mls::element_count(shape); ++i) {
    uint64_t code;
    do {
      code = chance(g, 0.1) ? (chance(g, 0.5) ? el.sign_bit() : 0) : uint64_t(g()) % el.code_count();
    } while (!(el.is_valid_code(code) || (specials && el.is_code(code))));
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
// multi-limb accumulators; the family's (MX, NVFP4 and variations) with their
// blocks along the channel / reduction axis.
Format conv_format(Rng& g, int kind, int64_t block_axis) {
  if (kind == 0) {
    static const char* names[] = {"mls-e2m1", "mls-e2m4", "mls-e3m3", "mls-fixed4", "e4m3.g3m2", "e1m2z.g2m0"};
    return mls::parse_format(names[uni(g, 0, 5)]);
  }
  if (kind == 1) return mls::parse_format(chance(g, 0.5) ? "e5m10.g5m3" : "e4m7.g6m4");
  if (kind == 2) return mls::parse_format(chance(g, 0.5) ? "e8m23.g8m23" : "e6m12.g8m5");
  Format f = random_family_format(g);
  f.nonfinite = mls::NonFiniteInput::error;
  f.overflow = mls::OverflowPolicy::saturate;  // operands are quantized from random values
  f.group_shape.clear();
  if (f.block_size == 0) f.block_size = uni(g, 1, 4);
  f.block_axis = block_axis;
  return f;
}

CCase random_ccase(Rng& g) {
  CCase c;
  c.label = "random";
  const int kind = chance(g, 0.5) ? 0 : chance(g, 0.5) ? 3 : chance(g, 0.5) ? 1 : 2;
  const bool codes = kind == 1 || kind == 2 || chance(g, 0.3);
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
  Format fa = conv_format(g, kind, 1), fb = conv_format(g, kind, 1);
  if (kind == 0 && chance(g, 0.3)) fa.group_shape = {0, 0, 0, 0};
  if (kind == 0 && chance(g, 0.3)) fb.group_shape = {1, 0, 2, 2};
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
  const int kind = chance(g, 0.5) ? 0 : chance(g, 0.5) ? 3 : chance(g, 0.5) ? 1 : 2;
  const int64_t M = uni(g, 1, 6), K = uni(g, 1, 40), N = uni(g, 1, 6);
  Format fa = conv_format(g, kind, 1), fb = conv_format(g, kind, 0);
  if (kind != 3) {
    fa.group_shape = {1, chance(g, 0.5) ? 0 : uni(g, 1, 8)};
    fb.group_shape = {chance(g, 0.5) ? 0 : uni(g, 1, 8), 1};
  }
  const bool codes = kind == 1 || kind == 2 || chance(g, 0.3);
  c.a = codes ? random_tensor(g, fa, {M, K}, kind == 2) : quantized_tensor(g, fa, {M, K});
  c.b = codes ? random_tensor(g, fb, {K, N}, kind == 2) : quantized_tensor(g, fb, {K, N});
  return c;
}

// A cast of the family: named and random element grids and, one cast in
// four, group-scale grids (E8M0, unsigned, without zero: 3.10), every mode and
// overflow policy (also ones the grid cannot take: an error), scales of up to
// 63 bits and any exponent, NaN/Inf inputs, values on the grid, ties and past
// the largest value; +-0 and values below the smallest of a grid without
// zero; on an unsigned grid negative values only in one cast in ten (an error).
RCase random_rcase(Rng& g) {
  RCase c;
  c.element = random_grid(g, chance(g, 0.25));
  c.r = random_rounding(g);
  // Mostly a policy the grid can take (so that most casts answer codes), one
  // case in eight any policy at all (also ones the grid cannot take: an error).
  const auto pols = mls::enum_values<mls::OverflowPolicy>();
  const bool any_policy = chance(g, 0.125);
  if (any_policy) {
    c.overflow = pols[static_cast<size_t>(uni(g, 0, 3))];
  } else {
    std::vector<mls::OverflowPolicy> ok{mls::OverflowPolicy::saturate, mls::OverflowPolicy::saturate};
    if (c.element.has_nan()) ok.push_back(mls::OverflowPolicy::nan);
    if (c.element.has_inf()) ok.push_back(mls::OverflowPolicy::infinity);
    c.overflow = pick(g, ok);
  }
  if (chance(g, 0.15)) c.signed_zero = mls::SignedZero::positive;
  if (chance(g, 0.6)) {
    c.scale_m = 1;
    c.scale_e = uni(g, -30, 30);
  } else {
    c.scale_m = static_cast<int64_t>(g() >> uni(g, 1, 62)) | 1;
    c.scale_e = chance(g, 0.9) ? uni(g, -200, 100) : uni(g, -1200, 1200);  // (the golden model's cost grows with it)
  }
  const mls::Dyadic s(mls::BigInt(c.scale_m), c.scale_e);
  const mls::Minifloat& e = c.element;
  const bool negatives = e.is_signed || chance(g, 0.1);
  const uint32_t smallest = fbits(mls::round_to_fp32(e.min_positive() * s));
  const int n = uni(g, 1, 40);
  for (int i = 0; i < n; ++i) {
    uint32_t b;
    const int kind = uni(g, 0, 9);
    const uint64_t nm = e.valid_magnitude_count();
    const uint64_t a = e.nth_magnitude(uint64_t(g()) % nm), bb = e.nth_magnitude(std::min(e.index_of_magnitude(a) + 1, nm - 1));
    mls::Dyadic v;
    if (kind == 0) v = e.magnitude_value(a);
    if (kind == 1) v = mls::ldexp(e.magnitude_value(a) + e.magnitude_value(bb), -1);
    if (kind == 2) v = mls::ldexp(e.max_value() + e.magnitude_value(e.overflow_position()), -1);
    if (kind == 3) v = e.magnitude_value(e.overflow_position());
    if (kind <= 3) {
      b = fbits(mls::round_to_fp32(v * s));
      if (chance(g, 0.3)) b += chance(g, 0.5) ? 1 : -1;
    } else if (kind == 4 && (any_policy || e.has_nan())) {
      b = chance(g, 0.5) ? 0x7f800000u : 0x7fc00000u | (uint32_t(g()) & 0x3fffff);
    } else if (kind == 5 && !e.has_zero()) {
      b = chance(g, 0.5) || smallest < 2 ? 0u : 1 + uint32_t(g()) % (smallest - 1);  // 0 or below the smallest value
      if (chance(g, 0.5) && (b == 0 || negatives)) b |= 0x80000000u;
      c.x.push_back(b);
      continue;
    } else {
      b = fbits(random_float(g, uni(g, -40, 40), 10));
    }
    if ((b & 0x7fffffffu) > 0x7f800000u && !chance(g, 0.5)) b = 0x3f800000u;
    c.x.push_back(b ^ (chance(g, 0.5) && negatives ? 0x80000000u : 0u));
  }
  if (c.r.mode == mls::RoundingMode::sr) c.rand = random_words(g, c.x.size());
  return c;
}

// ---- the batteries ------------------------------------------------------------------

// The battery every implementation runs: built and solved by the reference once.
struct Battery {
  std::vector<QCase> q;
  std::vector<RCase> r;
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
    for (int i = 0; i < 700; ++i) bt.q.push_back(family_qcase(g));
    // Each arithmetic profile of 4.12 on a dozen family cases it applies to
    // (they apply to few formats, so a random draw reaches them rarely).
    for (auto a : mls::enum_values<mls::QuantArith>()) {
      if (a == mls::QuantArith::exact) continue;
      for (int found = 0, tries = 0; found < 12 && tries < 20000; ++tries) {
        QCase c = family_qcase(g);
        c.in.arith = a;
        try {
          mls::quantize_steps(c.in);
        } catch (const mls::Error&) {
          continue;
        }
        bt.q.push_back(std::move(c));
        ++found;
      }
    }
    const char* sweeps[] = {"mls-e2m1",   "mls-e2m4",   "mls-e3m3",    "mls-fixed4", "e1m2z.g2m0",
                            "e2m0z.g2m0", "e3m1b5.g2m0", "mxfp8-e4m3", "mxfp8-e5m2", "mxint8", "nvfp4"};
    for (const char* s : sweeps)
      for (int m = 0; m <= 6; ++m)
        bt.q.push_back(sweep_qcase(s, mls::Rounding{static_cast<mls::RoundingMode>(m), m == 6 ? 5 : 8}, g()));
    for (auto& c : bt.q) c.solve();
    for (int i = 0; i < 400; ++i) {
      bt.r.push_back(random_rcase(g));
      bt.r.back().solve();
    }
    for (int i = 0; i < 150; ++i) {
      Format f = random_format(g);
      const Shape s = random_shape(g, 64);
      f.group_shape = random_group_shape(g, s);
      bt.d.push_back(dcase(random_tensor(g, f, s, chance(g, 0.3))));
    }
    for (int i = 0; i < 150; ++i) {
      Format f = random_family_format(g);
      const Shape s = random_shape(g, 64);
      if (f.block_size == 0) f.group_shape = random_group_shape(g, s);
      bt.d.push_back(dcase(random_tensor(g, f, s, chance(g, 0.3), true)));
    }
    for (int i = 0; i < 160; ++i) bt.c.push_back(random_ccase(g));
    for (int i = 0; i < 80; ++i) bt.c.push_back(random_gcase(g));
    for (auto& c : bt.c) c.solve();
    return bt;
  }();
  return b;
}

// Mismatches of `api` over the battery, per operation (each reported through
// gtest if `report`).
struct Mismatches {
  int quantize = 0, round = 0, dequantize = 0, conv = 0;
  int total() const { return quantize + round + dequantize + conv; }
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
  for (const auto& c : b.r)
    if (std::string d = run_round(api, c); !d.empty()) note(m.round, c.describe() + ": " + d);
  for (const auto& c : b.d)
    if (std::string d = run_dequantize(api, c); !d.empty())
      note(m.dequantize, "dequantize " + c.t.format.short_name() + " " + shape_text(c.t.shape) + ": " + d);
  for (const auto& c : b.c)
    if (std::string d = run_conv(api, c); !d.empty()) note(m.conv, c.describe() + ": " + d);
  return m;
}

#pragma GCC diagnostic pop

}  // namespace
