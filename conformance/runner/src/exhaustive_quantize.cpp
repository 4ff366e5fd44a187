// The element stage of a quantizer, checked exhaustively through the C ABI's
// quantize entry (spec/11-exhaustive.md 11.8): a static tensor scale S_t
// (4.6) and a fixed group scale G. Every group is [anchor, x1, ..., x_{B-1}]
// with the anchor the largest |x| whose group maximum gives G, so every
// input x with |x| <= anchor is rounded with the scale S_t * G and its code is
// the table's.
#include <algorithm>
#include <chrono>
#include <cstring>

#include "exhaustive_internal.hpp"
#include "mls/bits.hpp"
#include "mls/conformance/abi.hpp"
#include "mls/error.hpp"
#include "mls/json_read.hpp"
#include "mls/tensor.hpp"

namespace mls::conformance {

namespace {
// The group scale of a group whose maximum is the fp32 value with bits `a`.
uint32_t scale_code(const Format& f, const Dyadic& st, uint32_t a) {
  return static_cast<uint32_t>(select_group_scale(f, st, bits_float(a)).code);
}
uint64_t scale_rank(const Format& f, uint32_t code) { return f.group_scale.index_of_magnitude(f.group_scale.split(code).second); }
}  // namespace

QuantizeStage make_quantize_stage(const Format& format, uint32_t tensor_scale, uint32_t group_scale, int64_t group_elems) {
  format.validate();
  if (!fp32_is_finite(tensor_scale) || !(bits_float(tensor_scale) > 0))
    throw Error("--tensor-scale " + hex32(tensor_scale) + " is not a positive finite fp32 (4.6)");
  const Minifloat& gs = format.group_scale;
  if (!gs.is_valid_code(group_scale))
    throw Error("--group-scale " + std::to_string(group_scale) + " is not a finite code of the group-scale grid " + gs.name());
  QuantizeStage s;
  s.format = format;
  s.tensor_scale = tensor_scale;
  s.group_scale = group_scale;
  if (format.block_size > 0) {
    s.group_elems = format.block_size;
  } else {
    if (group_elems < 2 || group_elems > 4096) throw Error("--group-elems " + std::to_string(group_elems) + " is outside 2..4096");
    s.group_elems = group_elems;
    s.format.group_shape = {1, 0};  // a [rows, B] tensor: one group per row
  }
  if (s.group_elems < 2) throw Error("the format's blocks of " + std::to_string(s.group_elems) + " leave no room next to the anchor");
  // 4.4 is monotone in the group maximum: the anchor is the largest finite
  // |x| whose scale code ranks at most G's (bisection over bit patterns).
  const Dyadic st = Dyadic::from_float(bits_float(tensor_scale));
  const uint64_t want = scale_rank(format, group_scale);
  uint32_t lo = 0, hi = 0x7f7fffffu;
  if (scale_rank(format, scale_code(format, st, lo)) > want)
    throw Error("--group-scale " + std::to_string(group_scale) + ": no group gets this scale with tensor scale " +
                hex32(tensor_scale) + " (even an all-zero group gets a larger one)");
  if (scale_rank(format, scale_code(format, st, hi)) <= want) {
    lo = hi;
  } else {
    while (hi - lo > 1) {  // rank(lo) <= want < rank(hi)
      const uint32_t m = lo + (hi - lo) / 2;
      if (scale_rank(format, scale_code(format, st, m)) <= want) lo = m;
      else hi = m;
    }
  }
  if (scale_code(format, st, lo) != group_scale)
    throw Error("--group-scale " + std::to_string(group_scale) + ": no group maximum gives this scale with tensor scale " +
                hex32(tensor_scale) + " (the rule of 4.4 passes over it)");
  s.anchor = lo;
  return s;
}

BreakpointSpec quantize_stage_spec(const QuantizeStage& st, const Rounding& rounding, uint32_t word, QuantArith arith) {
  if (arith != QuantArith::exact && arith != QuantArith::fp32_div && arith != QuantArith::fp32_reciprocal)
    throw Error("--arith " + to_string(arith) + ": the element stage is checked for exact, fp32_div and fp32_reciprocal "
                "(whose element quotient depends on S_t S_g only, 4.12)");
  BreakpointSpec s;
  s.element = st.format.element;
  s.rounding = rounding;
  s.overflow = st.format.overflow;
  s.signed_zero = st.format.signed_zero;
  s.scale = Dyadic::from_float(bits_float(st.tensor_scale)) * st.format.group_scale.decode(st.group_scale);
  s.word = rounding.mode == RoundingMode::sr ? word : 0;
  s.arith = arith;
  s.validate();
  return s;
}

nlohmann::json QuantizeStage::to_json() const {
  return {{"op", "quantize"}, {"format", format.to_json()}, {"tensor_scale", hex32(tensor_scale)},
          {"group_scale", group_scale}, {"anchor", hex32(anchor)}, {"group_elems", group_elems}};
}

QuantizeStage QuantizeStage::from_json(const nlohmann::json& j, const std::string& w) {
  namespace jr = json_read;
  jr::check_keys(j, w, {"op", "format", "tensor_scale", "group_scale", "anchor", "group_elems"});
  if (jr::string(j, "op", w) != "quantize") throw Error(w + ".op must be \"quantize\"");
  auto bits = [&](const char* k) {
    const std::string s = jr::string(j, k, w);
    if (s.size() != 10 || s.rfind("0x", 0) != 0 || s.find_first_not_of("0123456789abcdef", 2) != std::string::npos)
      throw Error(w + "." + k + " must be an fp32 bit pattern 0x........");
    return static_cast<uint32_t>(std::stoul(s.substr(2), nullptr, 16));
  };
  QuantizeStage s;
  s.format = format_from_json(jr::member(j, "format", w));
  s.tensor_scale = bits("tensor_scale");
  s.group_scale = jr::integer<uint32_t>(j, "group_scale", w);
  s.anchor = bits("anchor");
  s.group_elems = jr::integer<int64_t>(j, "group_elems", w);
  if (s.group_elems < 2 || s.group_elems > 4096) throw Error(w + ".group_elems is outside 2..4096");
  return s;
}

namespace detail {

namespace {

class QuantizeWorker final : public Worker {
 public:
  QuantizeWorker(const BreakpointTable& t, const mls_backend_v2* api, const QuantizeStage& st, uint64_t batch, size_t k)
      : Worker(t, api, batch, k), st_(st), fmt_(st.format, Shape{1, st.group_elems}) {
    per_ = static_cast<size_t>(st.group_elems - 1);
    rows_max_ = (batch + per_ - 1) / per_;
    const size_t cap = rows_max_ * static_cast<size_t>(st.group_elems);
    xin_.resize(cap);
    el_.resize(cap);
    gs_.resize(rows_max_);
    if (sr_) qrand_.assign(cap, t.spec.word);
    rounding_ = abi_rounding(t.spec.rounding);
    qarith_ = enum_code(t.spec.arith);
  }

  // Inputs above the anchor, NaN and Inf would change the group's scale: out of reach.
  void process(uint64_t lo, uint64_t hi, Tally& tally) override {
    for (uint64_t sign : {uint64_t(0), uint64_t(0x80000000u)}) {
      const uint64_t a = std::max(lo, sign), b = std::min(hi, sign + st_.anchor);
      if (a <= b) process_range(a, b, tally);
    }
    uint64_t in = 0;
    for (uint64_t sign : {uint64_t(0), uint64_t(0x80000000u)}) {
      const uint64_t a = std::max(lo, sign), b = std::min(hi, sign + st_.anchor);
      if (a <= b) in += b - a + 1;
    }
    tally.out_of_reach += (hi - lo + 1) - in;
  }

 private:
  int32_t call_backend(size_t off, size_t n) override {
    const size_t rows = (n + per_ - 1) / per_, B = static_cast<size_t>(st_.group_elems);
    for (size_t r = 0; r < rows; ++r) {
      uint32_t* row = xin_.data() + r * B;
      row[0] = st_.anchor;
      const size_t m = std::min(per_, n - r * per_);
      std::memcpy(row + 1, x_.data() + off + r * per_, m * 4);
      std::fill(row + 1 + m, row + B, 0u);  // +0 fills the last row
    }
    const int64_t shape[2] = {static_cast<int64_t>(rows), static_cast<int64_t>(B)};
    uint32_t ts = 0;
    const int32_t status = api_->quantize(&fmt_.f, 2, shape, xin_.data(), rows * B, &rounding_, qarith_,
                                          sr_ ? qrand_.data() : nullptr, sr_ ? rows * B : 0, &st_.tensor_scale, &ts,
                                          gs_.data(), rows, el_.data(), rows * B);
    if (status != MLS_OK) return status;
    if (ts != st_.tensor_scale) record({st_.tensor_scale, kBreakpointOk}, MLS_OK, ts, x_[off], *tally_, ClassKey::tensor_scale);
    for (size_t r = 0; r < rows; ++r) {
      if (gs_[r] != st_.group_scale)
        record({st_.group_scale, kBreakpointOk}, MLS_OK, gs_[r], x_[off + r * per_], *tally_, ClassKey::group_scale);
      const size_t m = std::min(per_, n - r * per_);
      std::memcpy(codes_.data() + off + r * per_, el_.data() + r * B + 1, m * 4);
    }
    return MLS_OK;
  }

  QuantizeStage st_;
  AbiFormat fmt_;
  size_t per_ = 1, rows_max_ = 1;
  std::vector<uint32_t> xin_, el_, gs_, qrand_;
  mls_rounding_v2 rounding_{};
  int32_t qarith_ = 0;
};

}  // namespace

void probe_quantize(const mls_backend_v2* api, const std::string& name, const BreakpointTable& t, const QuantizeStage& st) {
  const BreakpointSpec want = quantize_stage_spec(st, t.spec.rounding, t.spec.word, t.spec.arith);
  if (!(want == t.spec))
    throw Error("the table's spec (" + t.spec.label() + ") is not the element stage of this quantizer (" + want.label() +
                "): make the table with the same format, --tensor-scale and --group-scale");
  AbiFormat f(st.format, Shape{1, st.group_elems});
  const mls_rounding_v2 r = abi_rounding(t.spec.rounding);
  const int32_t s = api->supports(MLS_OP_QUANTIZE, &f.f, &r, enum_code(t.spec.arith), nullptr);
  if (s != MLS_OK)
    throw BackendUnavailable(name + " does not compute quantize for " + st.format.short_name() + " " +
                             rounding_name(t.spec.rounding) + " arith " + to_string(t.spec.arith) + " (supports answered " +
                             (s == MLS_ERR_UNSUPPORTED ? "MLS_ERR_UNSUPPORTED" : "status " + std::to_string(s)) + ": " +
                             last_error(api) + "): nothing checked");
}

std::unique_ptr<Worker> make_quantize_worker(const BreakpointTable& t, const mls_backend_v2* api, const QuantizeStage& st,
                                             uint64_t batch, size_t first_inputs) {
  return std::make_unique<QuantizeWorker>(t, api, st, batch, first_inputs);
}

}  // namespace detail

}  // namespace mls::conformance
