// mls-rtl host side of GEMM: argument checks, the arithmetic profile, the walk
// of every output into segments (spec/06-conv.md 6.6) and one stream of terms
// through the RTL dot-product unit, which does all the arithmetic (products,
// alignment, the intra-group register, group scales, the exact inter-group
// sum, the tensor scales and the final fp32 rounding).
#include <nlohmann/json.hpp>

#include "../../fast/fast.hpp"
#include "host.hpp"
#include "rtl_units.hpp"

namespace mlsrtl {
namespace {

using mlsfast::bad;
using mlsfast::fail;

struct Profile {
  bool exact = true;
  int F = 0, W = 0, ovf = 0;  // ovf: 0 saturate 1 wrap 2 error
  uint32_t align = 2, final_mode = 0;
};

uint32_t mode_code(const nlohmann::json& j, const char* field) {
  static const char* names[] = {"rne", "rna", "rtz", "rup", "rdn"};
  if (j.is_string())
    for (uint32_t i = 0; i < 5; ++i)
      if (j.get<std::string>() == names[i]) return i;
  bad(std::string("arith.") + field + " must be one of rne, rna, rtz, rup, rdn");
}

Profile parse_profile(const char* arith) {
  Profile p;
  if (!arith || !*arith || std::string(arith) == "exact") return p;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(arith);
  } catch (const nlohmann::json::exception& e) {
    bad(std::string("arith is not valid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("profile") || !j.at("profile").is_string())
    bad("arith must be a JSON object with a string member profile");
  const std::string prof = j.at("profile").get<std::string>();
  if (prof == "exact") {
    mlsfast::check_arith(arith);
    return p;
  }
  if (prof != "accumulator") bad("arith.profile = \"" + prof + "\" is not one of exact, accumulator");
  for (const char* k : {"frac_bits", "width", "alignment", "overflow", "inter_group", "final_rounding"})
    if (!j.contains(k)) bad(std::string("arith.") + k + " is missing");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::string("profile frac_bits width alignment overflow inter_group final_rounding").find(it.key()) ==
        std::string::npos)
      bad("arith." + it.key() + " is not a field of the accumulator profile");
  if (!j.at("frac_bits").is_number_integer()) bad("arith.frac_bits must be an integer");
  if (!j.at("width").is_number_integer()) bad("arith.width must be an integer");
  p.exact = false;
  p.F = j.at("frac_bits").get<int>();
  p.W = j.at("width").get<int>();
  if (p.F < -4096 || p.F > 4096) bad("arith.frac_bits is outside -4096..4096");
  if (p.W < 2 || p.W > 4096) bad("arith.width is outside 2..4096");
  p.align = mode_code(j.at("alignment"), "alignment");
  p.final_mode = mode_code(j.at("final_rounding"), "final_rounding");
  const std::string ov = j.at("overflow").is_string() ? j.at("overflow").get<std::string>() : "";
  if (ov == "saturate") p.ovf = 0;
  else if (ov == "wrap") p.ovf = 1;
  else if (ov == "error") p.ovf = 2;
  else bad("arith.overflow must be one of saturate, wrap, error");
  const std::string ig = j.at("inter_group").is_string() ? j.at("inter_group").get<std::string>() : "";
  if (ig == "fp32")
    fail(MLS_ERR_UNSUPPORTED, "mls-rtl's dot-product unit sums segments exactly: arith.inter_group = fp32 is not built");
  if (ig != "exact") bad("arith.inter_group must be one of exact, fp32");
  return p;
}

std::string model_names() {
  std::string s;
  for (auto* u : dot_units()) s += (s.empty() ? "" : ", ") + u->name;
  return s.empty() ? "none" : s;
}

// The dot-product model for an operand format (E, M, default bias, Eg, Mg) and profile.
DotUnit* find_dot(const mlsfast::Fmt& f, const Profile& p) {
  if (f.el.E < 1 || f.el.bias != (1 << f.el.E) - 1)
    fail(MLS_ERR_UNSUPPORTED, "mls-rtl's dot-product unit needs E >= 1 and the default element bias");
  for (auto* u : dot_units())
    if (u->E == f.el.E && u->M == f.el.M && u->Eg == f.gs.Eg && u->Mg == f.gs.Mg &&
        (p.exact ? u->exact : (!u->exact && u->F == p.F && u->W == p.W && u->ovf_policy == p.ovf)))
      return u;
  fail(MLS_ERR_UNSUPPORTED, "mls-rtl has no dot-product model for this format and arith (models: " + model_names() + ")");
}

bool same_format(const mlsfast::Fmt& a, const mlsfast::Fmt& b) {
  return a.el.E == b.el.E && a.el.M == b.el.M && a.el.bias == b.el.bias && a.gs.Eg == b.gs.Eg && a.gs.Mg == b.gs.Mg;
}

}  // namespace

void dot_supports(const mls_format_v1* format, const char* arith) {
  const Profile p = parse_profile(arith);
  if (dot_units().empty()) fail(MLS_ERR_UNSUPPORTED, "this library has no dot-product model");
  if (format) find_dot(mlsfast::make_format(format, "format"), p);
}

void gemm_impl(const mls_tensor_v1* a, const mls_tensor_v1* b, const char* arith, uint32_t* y, uint64_t capacity) {
  const Profile prof = parse_profile(arith);
  const mlsfast::Tensor A(a, "a"), B(b, "b");
  if (A.shape.size() != 2) bad("a.shape has rank " + std::to_string(A.shape.size()) + "; gemm needs rank 2");
  if (B.shape.size() != 2) bad("b.shape has rank " + std::to_string(B.shape.size()) + "; gemm needs rank 2");
  const int64_t M = A.shape[0], K = A.shape[1], N = B.shape[1];
  if (B.shape[0] != K)
    bad("b.shape[0] = " + std::to_string(B.shape[0]) + " does not match a.shape[1] = " + std::to_string(K));
  if (!y) bad("y is NULL");
  if (capacity < static_cast<uint64_t>(M * N))
    fail(MLS_ERR_BUFFER, "y has room for " + std::to_string(capacity) + " values but the result has " +
                             std::to_string(M * N));
  if (!same_format(A.fmt, B.fmt))
    fail(MLS_ERR_UNSUPPORTED, "mls-rtl's dot-product unit takes two operands of the same element and scale format");
  DotUnit* unit = find_dot(A.fmt, prof);
  const std::vector<int64_t> gA = A.layout.group_index(), gB = B.layout.group_index();
  // The canonical walk (6.6): k ascending; a segment ends where either group changes.
  std::vector<DotTerm> terms;
  terms.reserve(static_cast<size_t>(M * N * K));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k) {
        DotTerm t;
        const int64_t ia = m * K + k, ib = k * N + j;
        t.a = A.elements[ia];
        t.b = B.elements[ib];
        t.ga = A.group_scales[gA[ia]];
        t.gb = B.group_scales[gB[ib]];
        t.last = k + 1 == K;
        t.seg_end = t.last || gA[ia + 1] != gA[ia] || gB[ib + N] != gB[ib];
        terms.push_back(t);
      }
  std::vector<DotOut> out;
  unit->run(terms.data(), terms.size(), A.tensor_scale, B.tensor_scale, prof.exact ? 2u : prof.align,
            prof.exact ? 0u : prof.final_mode, out);
  for (int64_t i = 0; i < M * N; ++i) {
    if (out[i].ovf) {
      if (prof.exact) fail(MLS_ERR_INTERNAL, "the exact model's register overflowed at output " + std::to_string(i));
      bad("y[" + std::to_string(i) + "]: accumulator overflow (arith.overflow = error, 6.9.2)");
    }
    y[i] = out[i].y;
  }
}

}  // namespace mlsrtl
