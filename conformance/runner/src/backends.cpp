// The C ABI adapter (dlopen) and the in-process golden backend.
#include <dlfcn.h>

#include <cstring>

#include "mls/conformance/abi.hpp"
#include "mls/conformance/backend.hpp"
#include "mls/conformance/judge.hpp"
#include "mls/conv.hpp"
#include "mls/error.hpp"
#include "mls_backend.h"

namespace mls::conformance {

// ---- one table per enumeration: the C ABI values are the tables' codes ----------
static_assert(enum_code(ZeroMode::subnormal) == MLS_ZERO_SUBNORMAL && enum_code(ZeroMode::zero_only) == MLS_ZERO_ONLY &&
              enum_code(ZeroMode::none) == MLS_ZERO_NONE);
static_assert(enum_code(Specials::none) == MLS_SPECIALS_NONE && enum_code(Specials::ieee) == MLS_SPECIALS_IEEE &&
              enum_code(Specials::nan_all_ones) == MLS_SPECIALS_NAN_ALL_ONES);
static_assert(enum_code(Encoding::sign_magnitude) == MLS_ENCODING_SIGN_MAGNITUDE &&
              enum_code(Encoding::twos_complement) == MLS_ENCODING_TWOS_COMPLEMENT);
static_assert(enum_code(TensorScaleRule::amax) == MLS_TSCALE_AMAX && enum_code(TensorScaleRule::one) == MLS_TSCALE_ONE);
static_assert(enum_code(ScalePolicy::ceil) == MLS_SCALE_CEIL && enum_code(ScalePolicy::nearest) == MLS_SCALE_NEAREST &&
              enum_code(ScalePolicy::floor) == MLS_SCALE_FLOOR && enum_code(ScalePolicy::ocp) == MLS_SCALE_OCP &&
              enum_code(ScalePolicy::ocp_ceil) == MLS_SCALE_OCP_CEIL && enum_code(ScalePolicy::ocp_even) == MLS_SCALE_OCP_EVEN);
static_assert(enum_code(SignedZero::preserve) == MLS_SIGNED_ZERO_PRESERVE &&
              enum_code(SignedZero::positive) == MLS_SIGNED_ZERO_POSITIVE);
static_assert(enum_code(OverflowPolicy::saturate) == MLS_OVERFLOW_SATURATE &&
              enum_code(OverflowPolicy::error) == MLS_OVERFLOW_ERROR &&
              enum_code(OverflowPolicy::infinity) == MLS_OVERFLOW_INFINITY && enum_code(OverflowPolicy::nan) == MLS_OVERFLOW_NAN);
static_assert(enum_code(NonFiniteInput::error) == MLS_NONFINITE_ERROR &&
              enum_code(NonFiniteInput::propagate) == MLS_NONFINITE_PROPAGATE);
static_assert(enum_code(RoundingMode::rne) == MLS_RNE && enum_code(RoundingMode::rna) == MLS_RNA &&
              enum_code(RoundingMode::rtz) == MLS_RTZ && enum_code(RoundingMode::rup) == MLS_RUP &&
              enum_code(RoundingMode::rdn) == MLS_RDN && enum_code(RoundingMode::rto) == MLS_RTO &&
              enum_code(RoundingMode::sr) == MLS_SR);
static_assert(enum_code(QuantArith::exact) == MLS_QARITH_EXACT && enum_code(QuantArith::fp32_div) == MLS_QARITH_FP32_DIV &&
              enum_code(QuantArith::fp32_reciprocal) == MLS_QARITH_FP32_RECIPROCAL &&
              enum_code(QuantArith::torchao_mx) == MLS_QARITH_TORCHAO_MX &&
              enum_code(QuantArith::torchao_mx_rceil) == MLS_QARITH_TORCHAO_MX_RCEIL &&
              enum_code(QuantArith::torchao_nvfp4) == MLS_QARITH_TORCHAO_NVFP4 &&
              enum_code(QuantArith::te_mxfp8) == MLS_QARITH_TE_MXFP8 && enum_code(QuantArith::te_nvfp4) == MLS_QARITH_TE_NVFP4);
static_assert(enum_code(ConvPass::fwd) == MLS_PASS_FWD && enum_code(ConvPass::bwd_data) == MLS_PASS_BWD_DATA &&
              enum_code(ConvPass::bwd_weight) == MLS_PASS_BWD_WEIGHT);
static_assert(enum_code(Op::round) == MLS_OP_ROUND && enum_code(Op::quantize) == MLS_OP_QUANTIZE &&
              enum_code(Op::dequantize) == MLS_OP_DEQUANTIZE && enum_code(Op::conv2d) == MLS_OP_CONV2D_FWD &&
              enum_code(Op::gemm) == MLS_OP_GEMM);
static_assert(MLS_OP_CONV2D_BWD_DATA == MLS_OP_CONV2D_FWD + enum_code(ConvPass::bwd_data) &&
              MLS_OP_CONV2D_BWD_WEIGHT == MLS_OP_CONV2D_FWD + enum_code(ConvPass::bwd_weight));

mls_minifloat_v2 abi_minifloat(const Minifloat& m) {
  return {m.is_signed ? 1 : 0, m.exp_bits, m.man_bits, m.bias, enum_code(m.zero), enum_code(m.specials), enum_code(m.encoding)};
}

mls_rounding_v2 abi_rounding(const Rounding& r) { return {enum_code(r.mode), r.sr_bits}; }

AbiFormat::AbiFormat(const Format& fm, const Shape& shape) : group_shape(fm.resolved_group_shape(shape)) {
  f.element = abi_minifloat(fm.element);
  f.scale = abi_minifloat(fm.group_scale);
  f.tensor_scale = enum_code(fm.tensor_scale);
  f.scale_policy = enum_code(fm.scale_policy);
  f.signed_zero = enum_code(fm.signed_zero);
  f.overflow = enum_code(fm.overflow);
  f.nonfinite = enum_code(fm.nonfinite);
  f.group_rank = static_cast<int32_t>(group_shape.size());
  f.group_shape = group_shape.data();
}

AbiTensor::AbiTensor(const MlsTensor& m) : fmt(m.format, m.shape) {
  t.format = fmt.f;
  t.rank = static_cast<int32_t>(m.shape.size());
  t.shape = m.shape.data();
  t.tensor_scale = m.tensor_scale;
  t.group_count = m.group_scales.size();
  t.group_scales = m.group_scales.data();
  t.element_count = m.elements.size();
  t.elements = m.elements.data();
}

namespace {

// ---- C ABI -----------------------------------------------------------------

class LibraryBackend final : public Backend {
 public:
  explicit LibraryBackend(const std::string& path) : path_(path) {
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) throw Error("backend library " + path + ": dlopen failed: " + dlerror());
    auto get = reinterpret_cast<mls_backend_get_fn>(dlsym(handle_, MLS_BACKEND_ENTRY));
    if (!get) throw Error("backend library " + path + ": missing symbol " MLS_BACKEND_ENTRY " (the C ABI entry point)");
    api_ = get(MLS_BACKEND_ABI_VERSION);
    if (!api_) {
      const bool v1 = get(1) != nullptr;
      throw Error("backend library " + path + ": " MLS_BACKEND_ENTRY "(2) returned NULL (C ABI version 2 not supported" +
                  (v1 ? "; the library speaks version 1 (spec 1.0), which this runner no longer loads: rebuild it "
                        "against conformance/include/mls_backend.h version 2)"
                      : ")"));
    }
    if (api_->abi_version != MLS_BACKEND_ABI_VERSION || api_->struct_size < sizeof(mls_backend_v2))
      throw Error("backend library " + path + ": function table has abi_version " + std::to_string(api_->abi_version) +
                  " and size " + std::to_string(api_->struct_size) + " (expected 2 and " +
                  std::to_string(sizeof(mls_backend_v2)) + ")");
    for (const void* fn : {(const void*)api_->name, (const void*)api_->supports, (const void*)api_->group_count,
                           (const void*)api_->round, (const void*)api_->quantize, (const void*)api_->dequantize,
                           (const void*)api_->conv2d, (const void*)api_->gemm, (const void*)api_->last_error})
      if (!fn) throw Error("backend library " + path + ": the function table has a NULL entry");
    caps_.name = api_->name() ? api_->name() : path;
    caps_.raw = {{"name", caps_.name}, {"abi_version", api_->abi_version}};
    // A library declares the arithmetic profiles it computes through
    // supports(op, ..., qarith, ...) case by case (a refusal is a skip).
    for (const auto& a : enum_names<QuantArith>()) caps_.arith.insert(a);
  }
  ~LibraryBackend() override = default;  // never dlclose: a backend's threads may outlive a call

  std::string describe() const override { return "library " + path_; }
  const Capabilities& capabilities() override { return caps_; }

  Outcome<CodesResult> round(const RoundCase& c) override {
    Outcome<CodesResult> out;
    mls_cast_v2 cast{};
    cast.element = abi_minifloat(c.element);
    cast.rounding = abi_rounding(c.rounding);
    cast.overflow = enum_code(c.overflow);
    cast.signed_zero = enum_code(c.signed_zero);
    const Dyadic s = c.scale.normalized();
    if (s.m > BigInt(INT64_MAX) || s.e < INT32_MIN || s.e > INT32_MAX) {
      out.status = Status::unsupported;
      out.message = "the scale " + s.to_string() + " does not fit the C ABI's int64 mantissa and int32 exponent";
      return out;
    }
    cast.scale_mant = static_cast<int64_t>(s.m);
    cast.scale_exp = static_cast<int32_t>(s.e);
    mls_format_v2 f{};
    f.element = cast.element;
    f.overflow = cast.overflow;
    f.signed_zero = cast.signed_zero;
    if (!check(api_->supports(MLS_OP_ROUND, &f, &cast.rounding, MLS_QARITH_EXACT, nullptr), out)) return out;
    out.value.codes.assign(c.x.size(), 0);
    check(api_->round(&cast, c.x.data(), c.x.size(), c.rand.empty() ? nullptr : c.rand.data(), c.rand.size(),
                      out.value.codes.data(), out.value.codes.size()),
          out);
    return out;
  }

  Outcome<QuantizeResult> quantize(const QuantizeCase& c) override {
    Outcome<QuantizeResult> out;
    GroupLayout layout(c.format, c.shape);
    AbiFormat f(c.format, c.shape);
    const mls_rounding_v2 r = abi_rounding(c.rounding);
    if (!check(api_->supports(MLS_OP_QUANTIZE, &f.f, &r, enum_code(c.arith), nullptr), out)) return out;
    out.value.group_scales.assign(layout.group_count, 0);
    out.value.elements.assign(c.x.size(), 0);
    const uint32_t* st = c.static_tensor_scale ? &*c.static_tensor_scale : nullptr;
    check(api_->quantize(&f.f, static_cast<int32_t>(c.shape.size()), c.shape.data(), c.x.data(), c.x.size(), &r,
                         enum_code(c.arith), c.rand.empty() ? nullptr : c.rand.data(), c.rand.size(), st,
                         &out.value.tensor_scale, out.value.group_scales.data(), out.value.group_scales.size(),
                         out.value.elements.data(), out.value.elements.size()),
          out);
    return out;
  }

  Outcome<TensorResult> dequantize(const MlsTensor& t) override {
    Outcome<TensorResult> out;
    AbiTensor a(t);
    if (!check(api_->supports(MLS_OP_DEQUANTIZE, &a.fmt.f, nullptr, MLS_QARITH_EXACT, nullptr), out)) return out;
    out.value.shape = t.shape;
    out.value.y.assign(t.elements.size(), 0);
    check(api_->dequantize(&a.t, out.value.y.data(), out.value.y.size()), out);
    return out;
  }

  Outcome<TensorResult> conv(const ConvCase& c) override {
    Outcome<TensorResult> out;
    AbiTensor a(c.a), b(c.b);
    const std::string arith = c.arith.to_json().dump();
    int32_t op = MLS_OP_GEMM;
    mls_conv2d_v2 p{};
    if (!c.gemm) {
      op = MLS_OP_CONV2D_FWD + enum_code(c.params.pass);
      p.pass = enum_code(c.params.pass);
      for (int i = 0; i < 2; ++i) {
        p.stride[i] = c.params.stride[i];
        p.padding[i] = c.params.padding[i];
        p.dilation[i] = c.params.dilation[i];
      }
      p.groups = c.params.groups;
    }
    if (!check(api_->supports(op, &a.fmt.f, nullptr, MLS_QARITH_EXACT, arith.c_str()), out)) return out;
    if (!check(api_->supports(op, &b.fmt.f, nullptr, MLS_QARITH_EXACT, arith.c_str()), out)) return out;
    out.value.shape = c.out_shape;
    out.value.y.assign(static_cast<size_t>(element_count(c.out_shape, "out_shape")), 0);
    if (!c.gemm)
      check(api_->conv2d(&p, &a.t, &b.t, arith.c_str(), static_cast<int32_t>(c.out_shape.size()), c.out_shape.data(),
                         out.value.y.data(), out.value.y.size()),
            out);
    else
      check(api_->gemm(&a.t, &b.t, arith.c_str(), out.value.y.data(), out.value.y.size()), out);
    return out;
  }

 private:
  template <class T>
  bool check(int32_t st, Outcome<T>& out) {
    if (st == MLS_OK) {
      out.status = Status::ok;
      return true;
    }
    const char* e = api_->last_error();
    out.message = e ? e : "";
    out.status = st == MLS_ERR_UNSUPPORTED ? Status::unsupported
                 : st == MLS_ERR_INPUT     ? Status::rejected
                                           : Status::failure;
    if (st != MLS_ERR_UNSUPPORTED && st != MLS_ERR_INPUT)
      out.message = "status " + std::to_string(st) + (st == MLS_ERR_BUFFER ? " (buffer too small)" : "") + ": " + out.message;
    return false;
  }

  std::string path_;
  void* handle_ = nullptr;
  const mls_backend_v2* api_ = nullptr;
  Capabilities caps_;
};

// ---- the golden model in process ---------------------------------------------

class GoldenBackend final : public Backend {
 public:
  GoldenBackend() {
    caps_.name = "mls-ref golden model";
    for (const auto& a : enum_names<QuantArith>()) caps_.arith.insert(a);
  }
  std::string describe() const override { return "golden model (in process)"; }
  const Capabilities& capabilities() override { return caps_; }

  Outcome<CodesResult> round(const RoundCase& c) override {
    return run<CodesResult>([&] { return golden_round(c); });
  }
  Outcome<QuantizeResult> quantize(const QuantizeCase& c) override {
    return run<QuantizeResult>([&] { return golden_quantize(c); });
  }
  Outcome<TensorResult> dequantize(const MlsTensor& t) override {
    return run<TensorResult>([&] {
      TensorResult r{t.shape, {}};
      for (float v : dequantize_fp32(t)) r.y.push_back(float_bits(v));
      return r;
    });
  }
  Outcome<TensorResult> conv(const ConvCase& c) override {
    return run<TensorResult>([&] {
      const ReductionResult r = golden_conv(c);
      return TensorResult{r.shape, r.y};
    });
  }

 private:
  template <class T, class F>
  Outcome<T> run(F&& f) {
    Outcome<T> out;
    try {
      out.value = f();
      out.status = Status::ok;
    } catch (const Error& e) {
      out.status = Status::rejected;
      out.message = e.what();
    }
    return out;
  }
  Capabilities caps_;
};

}  // namespace

std::unique_ptr<Backend> make_library_backend(const std::string& path) { return std::make_unique<LibraryBackend>(path); }
std::unique_ptr<Backend> make_golden_backend() { return std::make_unique<GoldenBackend>(); }

}  // namespace mls::conformance
