// The Philox suite (8.8.4): the random-word mapping of spec 5 ("word") and
// the raw Philox4x32-10 bijection ("block").
#include "gen_internal.hpp"

namespace mls::vectors::gen {
namespace {

struct WordInput {
  uint64_t seed, index;
  uint32_t stream;
};

std::vector<WordInput> word_table() {
  // Seeds and indices at the 32-bit boundaries of the key and the counter
  // (i/4 crosses 2^32 at i = 2^34), every operand stream and a large one.
  const uint64_t seeds[] = {0, 1, 0xffffffffull, 0x100000000ull, 0x0123456789abcdefull, ~0ull};
  const uint32_t streams[] = {0, 1, 2, 3, 0xffffffffu};
  const uint64_t idx[] = {0, 1, 2, 3, 4, 5, 6, 7, (1ull << 34) - 1, 1ull << 34, (1ull << 34) + 3, ~0ull - 3, ~0ull};
  std::vector<WordInput> v;
  for (uint64_t s : seeds)
    for (uint32_t st : streams)
      for (uint64_t i : idx) v.push_back({s, i, st});
  return v;
}

class WordMaker : public Maker {
 public:
  WordMaker(uint64_t seed, uint32_t stream) : seed_(seed), stream_(stream), table_(word_table()) {}
  uint64_t table_size() const { return table_.size(); }
  void fill(std::map<std::string, Array>& d, uint64_t row, uint64_t k) const override {
    WordInput in;
    if (k < table_.size()) {
      in = table_[k];
    } else {
      Rng r(seed_, stream_, k);
      in.seed = r.chance(20) ? r.next() : r.next64();
      in.stream = r.chance(70) ? r.below(4) : r.next();
      in.index = r.chance(50) ? r.below(1u << 20) : r.next64();
    }
    d["inputs/seed"].ints[row] = in.seed;
    d["inputs/stream"].ints[row] = in.stream;
    d["inputs/index"].ints[row] = in.index;
    d["outputs/status"].ints[row] = kStatusOk;
    d["outputs/word"].ints[row] = random_word(in.seed, in.stream, in.index);
  }

 private:
  uint64_t seed_;
  uint32_t stream_;
  std::vector<WordInput> table_;
};

class BlockMaker : public Maker {
 public:
  static constexpr uint64_t kTable = 4;
  BlockMaker(uint64_t seed, uint32_t stream) : seed_(seed), stream_(stream) {}
  void fill(std::map<std::string, Array>& d, uint64_t row, uint64_t k) const override {
    PhiloxCounter c{};
    PhiloxKey key{};
    switch (k) {  // the Random123 known-answer inputs
      case 0: break;
      case 1: c = {~0u, ~0u, ~0u, ~0u}; key = {~0u, ~0u}; break;
      case 2: c = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}; key = {0xa4093822u, 0x299f31d0u}; break;
      case 3: c = {1, 0, 0, 0}; break;
      default: {
        Rng r(seed_, stream_, k);
        for (auto& w : c) w = r.next();
        for (auto& w : key) w = r.next();
      }
    }
    const PhiloxCounter out = philox4x32_10(c, key);
    for (int i = 0; i < 4; ++i) {
      d["inputs/counter"].ints[row * 4 + i] = c[i];
      d["outputs/block"].ints[row * 4 + i] = out[i];
    }
    for (int i = 0; i < 2; ++i) d["inputs/key"].ints[row * 2 + i] = key[i];
    d["outputs/status"].ints[row] = kStatusOk;
  }

 private:
  uint64_t seed_;
  uint32_t stream_;
};

}  // namespace

void plan_philox(const Context& c, std::vector<GroupPlan>& out) {
  {
    const std::string label = "philox block";
    GroupPlan p;
    p.summary.label = label;
    p.summary.total = BlockMaker::kTable + (c.opt.level >= 2 ? 10000 : 64);
    p.attrs = base_attrs(Op::philox, label);
    p.attrs["variant"] = std::string("block");
    p.maker = std::make_shared<BlockMaker>(c.opt.seed, fnv1a(label));
    out.push_back(std::move(p));
  }
  {
    const std::string label = "philox word";
    auto m = std::make_shared<WordMaker>(c.opt.seed, fnv1a(label));
    GroupPlan p;
    p.summary.label = label;
    p.summary.total = m->table_size() + (c.opt.level >= 2 ? 100000 : 256);
    p.attrs = base_attrs(Op::philox, label);
    p.attrs["variant"] = std::string("word");
    p.maker = m;
    out.push_back(std::move(p));
  }
}

}  // namespace mls::vectors::gen
