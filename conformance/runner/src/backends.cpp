// The C ABI adapter (dlopen) and the in-process golden backend, plus the
// protocol-v1 JSON form of cases.
#include <dlfcn.h>

#include <cstring>

#include "mls/conformance/backend.hpp"
#include "mls/conformance/judge.hpp"
#include "mls/conv.hpp"
#include "mls/error.hpp"
#include "mls_backend.h"

namespace mls::conformance {

std::string to_string(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::unsupported: return "unsupported";
    case Status::rejected: return "rejected";
    case Status::failure: return "failure";
  }
  return "?";
}

nlohmann::json QuantizeCase::to_json() const {
  nlohmann::json j{{"format", format.to_json()}, {"rounding", rounding_to_json(rounding)}, {"shape", shape}, {"x", x}};
  if (rounding.mode == RoundingMode::sr) j["rand"] = rand;
  if (static_tensor_scale) j["tensor_scale"] = *static_tensor_scale;
  return j;
}

nlohmann::json ConvCase::to_json() const {
  nlohmann::json j{{"op", op}, {"a", a.to_json()}, {"b", b.to_json()}, {"arith", arith}};
  if (op == "conv2d") {
    j["pass"] = pass;
    j["stride"] = stride;
    j["padding"] = padding;
    j["dilation"] = dilation;
    j["groups"] = groups;
    if (!out_shape.empty()) j["out_shape"] = out_shape;
  }
  return j;
}

namespace {

// ---- C ABI -----------------------------------------------------------------

struct AbiFormat {
  mls_format_v1 f{};
  std::vector<int64_t> group_shape;
  explicit AbiFormat(const Format& fm) : group_shape(fm.group_shape) {
    f.elem_exp_bits = fm.element.exp_bits;
    f.elem_man_bits = fm.element.man_bits;
    f.elem_bias = fm.element.bias;
    f.elem_zero = fm.element.zero == ZeroMode::zero_only ? MLS_ZERO_ONLY : MLS_ZERO_SUBNORMAL;
    f.scale_exp_bits = fm.group_scale.exp_bits;
    f.scale_man_bits = fm.group_scale.man_bits;
    f.scale_policy = fm.scale_policy == ScalePolicy::ceil ? MLS_SCALE_CEIL
                     : fm.scale_policy == ScalePolicy::nearest ? MLS_SCALE_NEAREST : MLS_SCALE_FLOOR;
    f.signed_zero = fm.signed_zero == SignedZero::preserve ? MLS_SIGNED_ZERO_PRESERVE : MLS_SIGNED_ZERO_POSITIVE;
    f.overflow = fm.overflow == OverflowPolicy::error ? MLS_OVERFLOW_ERROR : MLS_OVERFLOW_SATURATE;
    f.group_rank = static_cast<int32_t>(group_shape.size());
    f.group_shape = group_shape.empty() ? nullptr : group_shape.data();
  }
  AbiFormat(const AbiFormat&) = delete;
};

struct AbiTensor {
  AbiFormat fmt;
  mls_tensor_v1 t{};
  explicit AbiTensor(const MlsTensor& m) : fmt(m.format) {
    t.format = fmt.f;
    t.rank = static_cast<int32_t>(m.shape.size());
    t.shape = m.shape.data();
    t.tensor_scale = m.tensor_scale;
    t.group_count = m.group_scales.size();
    t.group_scales = m.group_scales.data();
    t.element_count = m.elements.size();
    t.elements = m.elements.data();
  }
};

int32_t abi_mode(RoundingMode m) {
  switch (m) {
    case RoundingMode::rne: return MLS_RNE;
    case RoundingMode::rna: return MLS_RNA;
    case RoundingMode::rtz: return MLS_RTZ;
    case RoundingMode::rup: return MLS_RUP;
    case RoundingMode::rdn: return MLS_RDN;
    case RoundingMode::rto: return MLS_RTO;
    case RoundingMode::sr: return MLS_SR;
  }
  return -1;
}

class LibraryBackend final : public Backend {
 public:
  explicit LibraryBackend(const std::string& path) : path_(path) {
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) throw Error("backend library " + path + ": dlopen failed: " + dlerror());
    auto get = reinterpret_cast<mls_backend_get_fn>(dlsym(handle_, MLS_BACKEND_ENTRY));
    if (!get) throw Error("backend library " + path + ": missing symbol " MLS_BACKEND_ENTRY " (the C ABI entry point)");
    api_ = get(MLS_BACKEND_ABI_VERSION);
    if (!api_) throw Error("backend library " + path + ": " MLS_BACKEND_ENTRY "(1) returned NULL (ABI version 1 not supported)");
    if (api_->abi_version != MLS_BACKEND_ABI_VERSION || api_->struct_size < sizeof(mls_backend_v1))
      throw Error("backend library " + path + ": function table has abi_version " + std::to_string(api_->abi_version) +
                  " and size " + std::to_string(api_->struct_size) + " (expected 1 and " + std::to_string(sizeof(mls_backend_v1)) + ")");
    for (const void* fn : {(const void*)api_->name, (const void*)api_->supports, (const void*)api_->group_count,
                           (const void*)api_->quantize, (const void*)api_->dequantize, (const void*)api_->conv2d,
                           (const void*)api_->gemm, (const void*)api_->last_error})
      if (!fn) throw Error("backend library " + path + ": the function table has a NULL entry");
    caps_.name = api_->name() ? api_->name() : path;
    caps_.raw = {{"name", caps_.name}, {"abi_version", api_->abi_version}};
  }
  ~LibraryBackend() override = default;  // never dlclose: a backend's threads may outlive a call

  std::string describe() const override { return "library " + path_; }
  const Capabilities& capabilities() override { return caps_; }

  Outcome<QuantizeResult> quantize(const QuantizeCase& c) override {
    Outcome<QuantizeResult> out;
    AbiFormat f(c.format);
    const mls_rounding_v1 r{abi_mode(c.rounding.mode), c.rounding.sr_bits};
    if (!check(api_->supports(MLS_OP_QUANTIZE, &f.f, &r, nullptr), out)) return out;
    const GroupLayout layout(c.format, c.shape);
    out.value.group_scales.assign(layout.group_count, 0);
    out.value.elements.assign(c.x.size(), 0);
    const uint32_t* st = c.static_tensor_scale ? &*c.static_tensor_scale : nullptr;
    check(api_->quantize(&f.f, static_cast<int32_t>(c.shape.size()), c.shape.data(), c.x.data(), c.x.size(), &r,
                         c.rand.empty() ? nullptr : c.rand.data(), c.rand.size(), st, &out.value.tensor_scale,
                         out.value.group_scales.data(), out.value.group_scales.size(), out.value.elements.data(),
                         out.value.elements.size()),
          out);
    return out;
  }

  Outcome<TensorResult> dequantize(const MlsTensor& t) override {
    Outcome<TensorResult> out;
    AbiTensor a(t);
    if (!check(api_->supports(MLS_OP_DEQUANTIZE, &a.fmt.f, nullptr, nullptr), out)) return out;
    out.value.shape = t.shape;
    out.value.y.assign(t.elements.size(), 0);
    check(api_->dequantize(&a.t, out.value.y.data(), out.value.y.size()), out);
    return out;
  }

  Outcome<TensorResult> conv(const ConvCase& c) override {
    Outcome<TensorResult> out;
    AbiTensor a(c.a), b(c.b);
    const std::string arith = c.arith.dump();
    int32_t op = MLS_OP_GEMM;
    mls_conv2d_v1 p{};
    if (c.op == "conv2d") {
      op = c.pass == "fwd" ? MLS_OP_CONV2D_FWD : c.pass == "bwd_data" ? MLS_OP_CONV2D_BWD_DATA : MLS_OP_CONV2D_BWD_WEIGHT;
      p.pass = c.pass == "fwd" ? MLS_PASS_FWD : c.pass == "bwd_data" ? MLS_PASS_BWD_DATA : MLS_PASS_BWD_WEIGHT;
      for (int i = 0; i < 2; ++i) {
        p.stride[i] = c.stride.at(i);
        p.padding[i] = c.padding.at(i);
        p.dilation[i] = c.dilation.at(i);
      }
      p.groups = c.groups;
    }
    if (!check(api_->supports(op, &a.fmt.f, nullptr, arith.c_str()), out)) return out;
    out.value.shape = c.out_shape;
    out.value.y.assign(static_cast<size_t>(element_count(c.out_shape, "out_shape")), 0);
    if (c.op == "conv2d")
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
  const mls_backend_v1* api_ = nullptr;
  Capabilities caps_;
};

// ---- the golden model in process ---------------------------------------------

class GoldenBackend final : public Backend {
 public:
  GoldenBackend() { caps_.name = "mls-ref golden model"; }
  std::string describe() const override { return "golden model (in process)"; }
  const Capabilities& capabilities() override { return caps_; }

  Outcome<QuantizeResult> quantize(const QuantizeCase& c) override {
    return run<QuantizeResult>([&] {
      std::vector<float> x(c.x.size());
      for (size_t i = 0; i < x.size(); ++i) x[i] = bits_float(c.x[i]);
      const MlsTensor t = mls::quantize(c.format, c.shape, x, c.rounding, c.rand, c.static_tensor_scale);
      return QuantizeResult{t.tensor_scale, t.group_scales, t.elements};
    });
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
