#include "replay_sources.hpp"

#include <hdf5.h>

#include <fstream>
#include <iterator>

#include "mls/error.hpp"
#include "mls/vectors/io.hpp"
#include "mls/vectors/suite.hpp"

namespace mls::cli {

namespace {

bool is_hdf5(const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  return H5Fis_hdf5(path.c_str()) > 0;  // finds the signature after a user block too
}

// Every case of a vector file (spec/08-vectors.md) as a runner case. Cases the
// spec makes errors (status 1) are replayed too: the backend must reject them.
std::vector<conformance::Case> cases_from_vectors(const std::string& path) {
  const vectors::Suite s = vectors::read_suite(path);
  std::vector<conformance::Case> out;
  for (const auto& g : s.groups) {
    for (uint64_t k = 0; k < g.count(); ++k) {
      conformance::Case c;
      switch (g.op) {
        case vectors::Op::quantize: {
          const auto q = vectors::quantize_case(g, k);
          c.op = "quantize";
          c.q.format = g.format();
          c.q.rounding = g.rounding();
          c.q.shape = q.shape;
          c.q.x = q.x;
          if (c.q.rounding.mode == RoundingMode::sr) c.q.rand = q.rand;
          break;
        }
        case vectors::Op::round: {
          // One element with its scales: a 1-element quantize with a static
          // tensor scale can only reproduce it when the group scale is what
          // 4.4 would choose; replay these through the scalar path instead.
          continue;
        }
        case vectors::Op::dequantize:
          c.op = "dequantize";
          c.t = vectors::dequantize_case(g, k);
          break;
        case vectors::Op::conv:
        case vectors::Op::gemm: {
          const auto r = vectors::reduction_case(g, k);
          c.op = g.op == vectors::Op::gemm ? "gemm" : "conv2d";
          c.conv.op = c.op;
          c.conv.a = r.a;
          c.conv.b = r.b;
          c.conv.arith = r.arith.to_json();
          if (g.op == vectors::Op::conv) {
            c.conv.pass = to_string(r.params.pass);
            c.conv.stride = {r.params.stride[0], r.params.stride[1]};
            c.conv.padding = {r.params.padding[0], r.params.padding[1]};
            c.conv.dilation = {r.params.dilation[0], r.params.dilation[1]};
            c.conv.groups = r.params.groups;
            c.conv.out_shape = ConvGeometry::resolve(r.params, r.a.shape, r.b.shape).out_shape;
          } else {
            c.conv.out_shape = gemm_out_shape(r.a.shape, r.b.shape);
          }
          break;
        }
        case vectors::Op::philox:
          continue;  // random words are inputs, not an implementation's output
      }
      out.push_back(std::move(c));
    }
  }
  return out;
}

}  // namespace

std::vector<conformance::Case> load_replay_cases(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open " + path);
  if (is_hdf5(path)) return cases_from_vectors(path);
  const std::string text(std::istreambuf_iterator<char>(in), {});
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not a JSON case file and not a vector file: " + e.what());
  }
  std::vector<conformance::Case> out;
  try {
    if (j.is_object() && j.value("schema", "") == "mls-case") out.push_back(conformance::Case::from_json(j.at("case")));
    else if (j.is_array()) for (const auto& c : j) out.push_back(conformance::Case::from_json(c));
    else out.push_back(conformance::Case::from_json(j));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  return out;
}

}  // namespace mls::cli
