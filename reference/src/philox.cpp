#include "mls/philox.hpp"

namespace mls {

PhiloxCounter philox4x32_10(PhiloxCounter c, PhiloxKey k) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // round multipliers
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k[0] += kW0;
      k[1] += kW1;
    }
    const uint64_t p0 = uint64_t(kM0) * c[0];
    const uint64_t p1 = uint64_t(kM1) * c[2];
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
  }
  return c;
}

uint32_t random_word(uint64_t seed, uint32_t stream, uint64_t i) {
  const uint64_t block = i / 4;
  const PhiloxCounter out = philox4x32_10({uint32_t(block), uint32_t(block >> 32), stream, 0},
                                          {uint32_t(seed), uint32_t(seed >> 32)});
  return out[i % 4];
}

std::vector<uint32_t> random_words(uint64_t seed, uint32_t stream, uint64_t count) {
  std::vector<uint32_t> w(count);
  for (uint64_t b = 0; b * 4 < count; ++b) {
    const PhiloxCounter out = philox4x32_10({uint32_t(b), uint32_t(b >> 32), stream, 0},
                                            {uint32_t(seed), uint32_t(seed >> 32)});
    for (uint64_t j = 0; j < 4 && b * 4 + j < count; ++j) w[b * 4 + j] = out[j];
  }
  return w;
}

}  // namespace mls
