#include "mls/vectors/single.hpp"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "mls/error.hpp"
#include "mls/vectors/io.hpp"
#include "mls/vectors/schema.hpp"

namespace mls::vectors {

namespace {

std::vector<int64_t> i64s(const Shape& s) { return std::vector<int64_t>(s.begin(), s.end()); }

// Allocates every dataset of the table for one case.
CaseGroup make_group(Op op, Attrs attrs, const std::string& label) {
  CaseGroup g;
  g.op = op;
  g.path = "/" + to_string(op) + "/0000";
  g.attrs = std::move(attrs);
  g.attrs["op"] = to_string(op);
  g.attrs["label"] = label;
  g.attrs["case_offset"] = uint64_t(0);
  g.attrs["case_total"] = uint64_t(1);
  g.attrs["case_count"] = uint64_t(1);
  for (const auto& spec : dataset_specs(op, g.attrs, g.path)) {
    std::vector<uint64_t> dims = {1};
    for (uint64_t d : case_dims(spec, g.attrs, g.path)) dims.push_back(d);
    g.data[spec.name] = Array::make(spec.dtypes.back(), dims);
  }
  return g;
}

void put_tensor(CaseGroup& g, const std::string& p, const MlsTensor& t) {
  g.at("inputs/" + p + "tensor_scale").ints[0] = t.tensor_scale;
  for (size_t i = 0; i < t.group_scales.size(); ++i) g.at("inputs/" + p + "group_scales").ints[i] = t.group_scales[i];
  for (size_t i = 0; i < t.elements.size(); ++i) g.at("inputs/" + p + "elements").ints[i] = t.elements[i];
}

Attrs reduction_attrs(const MlsTensor& a, const MlsTensor& b, const ArithProfile& arith, const Shape& y) {
  Attrs at;
  put_format_attrs(at, "a_", a.format);
  put_format_attrs(at, "b_", b.format);
  put_layout_attrs(at, "a_", a.format, a.shape);
  put_layout_attrs(at, "b_", b.format, b.shape);
  put_arith_attrs(at, arith);
  at["y_shape"] = i64s(y);
  return at;
}

void put_reduction(CaseGroup& g, const MlsTensor& a, const MlsTensor& b, const std::vector<uint32_t>* y,
                   const std::vector<Dyadic>& exact) {
  put_tensor(g, "a_", a);
  put_tensor(g, "b_", b);
  g.at("outputs/status").ints[0] = y ? kStatusOk : kStatusError;
  for (size_t i = 0; i < exact.size(); ++i) {
    g.at("outputs/y").ints[i] = y ? (*y)[i] : 0;
    set_exact(g.at("info/exact_mant"), g.at("info/exact_exp"), i, exact[i]);
  }
  compact_exact(g.at("info/exact_mant"));
}

}  // namespace

CaseGroup single_round_group(const Format& f, const Rounding& r, const std::vector<uint32_t>& x, uint32_t tensor_scale,
                             const std::vector<uint32_t>& rand, const std::string& label) {
  // One group of x.size() cases with scale S_t = tensor_scale, S_g = 1 (the
  // group-scale code of 1.0).
  if (!rand.empty() && rand.size() != x.size()) throw Error("single_round_group: rand and x differ in length");
  f.validate();
  const RoundResult one = round_to_grid(f.group_scale, RoundInput{false, Dyadic::from_int(1), Dyadic::from_int(1)},
                                        Rounding{RoundingMode::rne, 8}, 0, OverflowPolicy::saturate);
  if (!one.exact) throw Error("single_round_group: 1.0 is not a value of " + f.group_scale.name());
  Attrs at;
  put_format_attrs(at, "", f);
  put_rounding_attrs(at, r);
  CaseGroup g;
  g.op = Op::round;
  g.path = "/round/0000";
  g.attrs = std::move(at);
  g.attrs["op"] = "round";
  g.attrs["label"] = label;
  g.attrs["case_offset"] = uint64_t(0);
  g.attrs["case_total"] = uint64_t(x.size());
  g.attrs["case_count"] = uint64_t(x.size());
  for (const auto& spec : dataset_specs(Op::round, g.attrs, g.path)) {
    std::vector<uint64_t> dims = {x.size()};
    for (uint64_t d : case_dims(spec, g.attrs, g.path)) dims.push_back(d);
    g.data[spec.name] = Array::make(spec.dtypes.back(), dims);
  }
  const Dyadic scale = Dyadic::from_float(bits_float(tensor_scale));
  for (size_t i = 0; i < x.size(); ++i) {
    const uint32_t w = r.mode == RoundingMode::sr ? rand.at(i) : 0;
    g.at("inputs/x").ints[i] = x[i];
    g.at("inputs/tensor_scale").ints[i] = tensor_scale;
    g.at("inputs/group_scale").ints[i] = one.code;
    g.at("inputs/rand").ints[i] = w;
    try {
      const RoundResult res = round_fp32_input(f.element, x[i], scale, r, w, f.overflow, f.signed_zero);
      g.at("outputs/code").ints[i] = res.code;
      g.at("outputs/status").ints[i] = kStatusOk;
      if (g.has("info/rule")) g.at("info/rule").ints[i] = static_cast<uint64_t>(enum_code(res.rule));
    } catch (const Error&) {
      g.at("outputs/status").ints[i] = kStatusError;
    }
  }
  return g;
}

CaseGroup single_quantize_group(const Format& f, const Rounding& r, QuantArith arith, const Shape& shape,
                                const std::vector<uint32_t>& x, const std::vector<uint32_t>& rand, const std::string& label) {
  const size_t n = static_cast<size_t>(element_count(shape));
  if (x.size() != n) throw Error("single_quantize_group: x has " + std::to_string(x.size()) + " values, shape needs " + std::to_string(n));
  if (!rand.empty() && rand.size() != n) throw Error("single_quantize_group: rand has " + std::to_string(rand.size()) + " words, shape needs " + std::to_string(n));
  Attrs at;
  put_format_attrs(at, "", f);
  put_rounding_attrs(at, r);
  put_quant_arith_attrs(at, arith);
  put_layout_attrs(at, "", f, shape);
  CaseGroup g = make_group(Op::quantize, std::move(at), label);
  for (size_t i = 0; i < n; ++i) {
    g.at("inputs/x").ints[i] = x[i];
    if (!rand.empty()) g.at("inputs/rand").ints[i] = rand[i];
  }
  try {
    const MlsTensor q = quantize(QuantizeInput{f, r, arith, shape, x, r.mode == RoundingMode::sr ? rand : std::vector<uint32_t>{}, std::nullopt});
    g.at("outputs/tensor_scale").ints[0] = q.tensor_scale;
    for (size_t i = 0; i < q.group_scales.size(); ++i) g.at("outputs/group_scales").ints[i] = q.group_scales[i];
    for (size_t i = 0; i < n; ++i) g.at("outputs/elements").ints[i] = q.elements[i];
    g.at("outputs/status").ints[0] = kStatusOk;
  } catch (const Error&) {
    g.at("outputs/status").ints[0] = kStatusError;  // the spec makes this case an error (8.4.2)
  }
  return g;
}

CaseGroup single_dequantize_group(const MlsTensor& t, const std::string& label) {
  t.validate();
  Attrs at;
  put_format_attrs(at, "", t.format);
  put_layout_attrs(at, "", t.format, t.shape);
  CaseGroup g = make_group(Op::dequantize, std::move(at), label);
  const auto f32 = dequantize_fp32(t);
  const auto f64 = dequantize_fp64(t);
  const GroupLayout L(t.format, t.shape);
  g.at("inputs/tensor_scale").ints[0] = t.tensor_scale;
  for (size_t i = 0; i < t.group_scales.size(); ++i) g.at("inputs/group_scales").ints[i] = t.group_scales[i];
  for (size_t i = 0; i < t.elements.size(); ++i) {
    g.at("inputs/elements").ints[i] = t.elements[i];
    g.at("outputs/fp32").ints[i] = float_bits(f32[i]);
    uint64_t b;
    std::memcpy(&b, &f64[i], 8);
    g.at("outputs/fp64").ints[i] = b;
    set_exact(g.at("info/exact_mant"), g.at("info/exact_exp"), i, finite_value_or_zero(t, static_cast<int64_t>(i)));
  }
  compact_exact(g.at("info/exact_mant"));
  g.at("outputs/status").ints[0] = kStatusOk;
  return g;
}

CaseGroup single_conv_group(const MlsTensor& a, const MlsTensor& b, const Conv2dParams& p0, const ArithProfile& arith,
                            const std::string& label) {
  Conv2dParams p = p0;
  const ConvGeometry geo = ConvGeometry::resolve(p, a.shape, b.shape);
  p.out_shape = geo.out_shape;
  Attrs at = reduction_attrs(a, b, arith, p.out_shape);
  at["pass"] = to_string(p.pass);
  at["pass_code"] = int64_t(enum_code(p.pass));
  at["stride"] = std::vector<int64_t>{p.stride[0], p.stride[1]};
  at["padding"] = std::vector<int64_t>{p.padding[0], p.padding[1]};
  at["dilation"] = std::vector<int64_t>{p.dilation[0], p.dilation[1]};
  at["groups"] = p.groups;
  CaseGroup g = make_group(Op::conv, std::move(at), label);
  try {
    const ReductionResult res = conv2d(a, b, p, arith);
    put_reduction(g, a, b, &res.y, res.exact);
  } catch (const Error&) {  // accumulator overflow under the `error` policy (6.9.2)
    put_reduction(g, a, b, nullptr, conv2d_exact(a, b, p));
  }
  return g;
}

CaseGroup single_gemm_group(const MlsTensor& a, const MlsTensor& b, const ArithProfile& arith, const std::string& label) {
  CaseGroup g = make_group(Op::gemm, reduction_attrs(a, b, arith, gemm_out_shape(a.shape, b.shape)), label);
  try {
    const ReductionResult res = gemm(a, b, arith);
    put_reduction(g, a, b, &res.y, res.exact);
  } catch (const Error&) {
    put_reduction(g, a, b, nullptr, gemm_exact(a, b));
  }
  return g;
}

Suite single_case_suite(std::vector<CaseGroup> groups, const std::string& source) {
  Suite s;
  s.attrs["schema"] = std::string(kSchemaName);
  s.attrs["schema_version"] = kSchemaVersion;
  s.attrs["kind"] = std::string("vectors");
  s.attrs["generator"] = std::string("mls-ref ") + MLS_VERSION;
  s.attrs["generator_version"] = std::string(MLS_VERSION);
  s.attrs["spec_version"] = std::string(MLS_SPEC_VERSION);
  s.attrs["seed"] = uint64_t(0);
  s.attrs["level"] = int64_t(0);
  s.attrs["exhaustive"] = int64_t(0);
  s.attrs["options"] = nlohmann::json{{"source", source}}.dump();
  s.attrs["shard_index"] = int64_t(0);
  s.attrs["shard_count"] = int64_t(1);
  s.attrs["suite_group_count"] = uint64_t(groups.size());
  uint64_t cases = 0;
  for (const auto& g : groups) cases += g.count();
  s.attrs["suite_case_count"] = cases;
  std::sort(groups.begin(), groups.end(), [](const CaseGroup& x, const CaseGroup& y) { return x.path < y.path; });
  for (size_t i = 1; i < groups.size(); ++i)
    if (groups[i].path == groups[i - 1].path) throw Error("single_case_suite: two groups at " + groups[i].path);
  s.groups = std::move(groups);
  finalize_suite(s);
  return s;
}

}  // namespace mls::vectors
