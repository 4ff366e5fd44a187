// Philox4x32-10 (Salmon et al., SC'11; the Random123 bijection, identical to
// cuRAND's Philox4_32_10) and the random-word mapping of spec/05-random.md.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace mls {

using PhiloxCounter = std::array<uint32_t, 4>;
using PhiloxKey = std::array<uint32_t, 2>;

PhiloxCounter philox4x32_10(PhiloxCounter ctr, PhiloxKey key);

// Word i of stream s under a 64-bit seed: output word (i mod 4) of
// Philox4x32-10 with counter (lo32(i/4), hi32(i/4), s, 0), key (lo32(seed), hi32(seed)).
uint32_t random_word(uint64_t seed, uint32_t stream, uint64_t i);
std::vector<uint32_t> random_words(uint64_t seed, uint32_t stream, uint64_t count);

// Stream numbers for the operands (5).
enum Stream : uint32_t { kStreamActivation = 0, kStreamWeight = 1, kStreamError = 2, kStreamScalar = 3 };

}  // namespace mls
