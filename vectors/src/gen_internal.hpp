// Internals shared by the generators (not installed; see generate.hpp).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mls/philox.hpp"
#include "mls/vectors/generate.hpp"

namespace mls::vectors::gen {

// The generator's own random numbers: Philox4x32-10 with counter
// (lo32(k), hi32(k), stream, block) and key (lo32(seed), hi32(seed)), so case
// k of a group draws the same numbers whichever shard computes it.
class Rng {
 public:
  Rng(uint64_t seed, uint32_t stream, uint64_t k) : key_{uint32_t(seed), uint32_t(seed >> 32)}, k_(k), stream_(stream) {}
  uint32_t next();
  uint64_t next64() { const uint64_t hi = next(); return hi << 32 | next(); }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>((uint64_t(next()) * n) >> 32); }  // [0, n)
  int range(int lo, int hi) { return lo + static_cast<int>(below(static_cast<uint32_t>(hi - lo + 1))); }  // [lo, hi]
  bool chance(uint32_t percent) { return below(100) < percent; }
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[below(static_cast<uint32_t>(v.size()))]; }

 private:
  PhiloxKey key_;
  uint64_t k_;
  uint32_t stream_;
  uint32_t block_ = 0, used_ = 4;
  PhiloxCounter out_{};
};

uint32_t fnv1a(const std::string& s);  // a group's random stream from its label

// Computes case k of a group into row `row` of its datasets.
class Maker {
 public:
  virtual ~Maker() = default;
  virtual void fill(std::map<std::string, Array>& data, uint64_t row, uint64_t k) const = 0;
};

struct GroupPlan {
  GroupSummary summary;
  Attrs attrs;                   // without case_count / case_offset / sha256
  std::shared_ptr<const Maker> maker;
};

struct Context {
  GenOptions opt;
  std::vector<std::pair<std::string, Format>> formats;  // (name as selected, format)
  std::vector<Rounding> roundings;
  std::vector<std::pair<std::string, ArithProfile>> ariths;
};

Context resolve(const GenOptions& o);  // formats, roundings and ariths parsed

// Per-op planners append their groups (paths are assigned by the caller).
void plan_round(const Context& c, std::vector<GroupPlan>& out);
void plan_tensor(const Context& c, std::vector<GroupPlan>& quantize, std::vector<GroupPlan>& dequantize);
void plan_philox(const Context& c, std::vector<GroupPlan>& out);
void plan_reduction(const Context& c, std::vector<GroupPlan>& conv, std::vector<GroupPlan>& gemm);

// ---- numeric helpers ----
uint32_t fp32_bits_of(const Dyadic& v);   // nearest-even fp32 of v (Inf replaced by the largest finite)
uint32_t fp32_next(uint32_t bits);        // next larger magnitude (same sign), finite
uint32_t fp32_prev(uint32_t bits);        // next smaller magnitude (same sign), stops at 0
uint32_t random_finite_fp32(Rng& r);
// fp32 bits of a random magnitude 2^e * (1 + random mantissa), e in [lo, hi]
uint32_t random_fp32_in_binades(Rng& r, int lo, int hi);
// The value-1 code of a group-scale format (2^0 * 1.0).
uint32_t group_scale_one(const Format& f);
// Valid (finite) element codes in increasing code order.
std::vector<uint32_t> valid_element_codes(const Minifloat& m);
// The finite, positive scale codes of a group-scale grid, in increasing value order (no zero scale).
std::vector<uint32_t> scale_codes(const Minifloat& g);
// The NaN and Inf codes of a grid (both signs), none for a grid without them.
std::vector<uint32_t> special_codes(const Minifloat& m);
// Random words around an sr decision threshold: r* and r*-1 in the top R
// bits with random, all-zero or all-one low bits.
uint32_t threshold_word(Rng& r, uint64_t threshold, int R);
uint8_t rule_code(Rule r);

// Common attributes of every group.
Attrs base_attrs(Op op, const std::string& label);

}  // namespace mls::vectors::gen
