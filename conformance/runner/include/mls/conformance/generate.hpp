// Random cases for the campaigns (spec/10-conformance.md 10.2): RapidCheck
// generators biased to the edges of every member of the family -- grid
// points, ties and stochastic-rounding thresholds, subnormals, tiny blocks
// near the scale's lower limit, block maxima at or just below a power of two,
// values around the largest element (E4M3's 448/464/480), NaN and Inf where
// the format defines them. A case is reproducible from (seed, op, index).
#pragma once
#include <rapidcheck.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mls/conformance/codec.hpp"

namespace mls::conformance {

struct GeneratorOptions {
  std::vector<std::string> formats;  // empty: named profiles and random formats; else these
  std::vector<std::string> modes;    // empty: all seven
  std::vector<std::string> arith;    // quantize: arithmetic profiles drawn per case; empty: exact
};

rc::Gen<Case> gen_case(Op op, const GeneratorOptions& opt);
rc::Random case_random(uint64_t seed, Op op, int64_t index);
int case_size(int64_t index);
// Case `index` of op's stream: gen_case(op, opt)(case_random(seed, op, index), case_size(index)).
rc::Shrinkable<Case> generate_shrinkable(Op op, uint64_t seed, int64_t index, const GeneratorOptions& opt);
Case generate_case(Op op, uint64_t seed, int64_t index, const GeneratorOptions& opt);

}  // namespace mls::conformance
