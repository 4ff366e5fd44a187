// Philox4x32-10 (spec/05-random.md): the Random123 known-answer vectors, a
// second implementation written here from the published round function, and
// the random-word mapping (counter layout, stream, seed split).
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "mls/philox.hpp"
#include "oracle.hpp"

namespace {

using oracle::hex;

struct Kat {
  mls::PhiloxCounter ctr, out;
  mls::PhiloxKey key;
};

std::vector<Kat> read_kat(const std::string& path) {
  std::ifstream in(path);
  std::vector<Kat> v;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    Kat k;
    s >> std::hex >> k.ctr[0] >> k.ctr[1] >> k.ctr[2] >> k.ctr[3] >> k.key[0] >> k.key[1] >> k.out[0] >> k.out[1] >>
        k.out[2] >> k.out[3];
    if (!s) throw std::runtime_error("malformed KAT line in " + path + ": " + line);
    v.push_back(k);
  }
  return v;
}

std::string words(const mls::PhiloxCounter& c) {
  return hex(c[0]) + " " + hex(c[1]) + " " + hex(c[2]) + " " + hex(c[3]);
}

// The committed copy (CI clones the repository alone) and, when it exists
// beside the repository, the shared original: both must hold the same vectors.
TEST(Philox, KnownAnswerVectorsFromRandom123) {
  const std::string copy = MLS_SOURCE_DIR "/tests/data/philox4x32_10_kat.txt";
  const std::vector<Kat> kat = read_kat(copy);
  ASSERT_GE(kat.size(), 3u) << "no vectors read from " << copy;
  for (const Kat& k : kat)
    EXPECT_EQ(mls::philox4x32_10(k.ctr, k.key), k.out) << "counter " << words(k.ctr) << " key " << hex(k.key[0]) << " "
                                                        << hex(k.key[1]);
  const std::string shared = MLS_SOURCE_DIR "/../shared/data/philox4x32_10_kat.txt";
  if (std::ifstream(shared).good()) {
    const std::vector<Kat> orig = read_kat(shared);
    ASSERT_EQ(orig.size(), kat.size()) << shared << " and " << copy << " differ";
    for (size_t i = 0; i < orig.size(); ++i) {
      EXPECT_EQ(orig[i].ctr, kat[i].ctr) << "vector " << i;
      EXPECT_EQ(orig[i].key, kat[i].key) << "vector " << i;
      EXPECT_EQ(orig[i].out, kat[i].out) << "vector " << i;
    }
  }
}

// Random123 philox.h: ten rounds of (hi(M0*c0) ^ c1 ^ k0, lo(M1*c2), hi(M1*c2) ^ c3 ^ k1, lo(M0*c0))
// with the key bumped by the Weyl constants between rounds.
mls::PhiloxCounter philox_here(mls::PhiloxCounter c, mls::PhiloxKey k) {
  for (int i = 0; i < 10; ++i) {
    const uint64_t a = uint64_t(0xD2511F53u) * c[0], b = uint64_t(0xCD9E8D57u) * c[2];
    c = {uint32_t(b >> 32) ^ c[1] ^ k[0], uint32_t(b), uint32_t(a >> 32) ^ c[3] ^ k[1], uint32_t(a)};
    k[0] += 0x9E3779B9u;
    k[1] += 0xBB67AE85u;
  }
  return c;
}

TEST(Philox, MatchesASecondImplementationOnRandomBlocks) {
  std::mt19937 mt(5);
  auto rng = [&] { return static_cast<uint32_t>(mt()); };
  for (const Kat& k : read_kat(MLS_SOURCE_DIR "/tests/data/philox4x32_10_kat.txt"))
    ASSERT_EQ(philox_here(k.ctr, k.key), k.out) << "the test's own Philox disagrees with the KAT";
  for (int i = 0; i < 2000; ++i) {
    const mls::PhiloxCounter c{rng(), rng(), rng(), rng()};
    const mls::PhiloxKey k{rng(), rng()};
    EXPECT_EQ(mls::philox4x32_10(c, k), philox_here(c, k)) << "counter " << words(c);
  }
}

// Word i of stream s under seed: word (i mod 4) of the block with counter
// (lo32(i/4), hi32(i/4), s, 0) and key (lo32(seed), hi32(seed)).
TEST(Philox, RandomWordCounterLayoutStreamAndSeedSplit) {
  const uint64_t seeds[] = {0, 1, 0xffffffffull, 0x100000000ull, 0xdeadbeefcafebabeull, ~0ull};
  const uint32_t streams[] = {0, 1, 2, 3, 0x80000000u, 0xffffffffu};
  const uint64_t idx[] = {0, 1, 2, 3, 4, 5, 7, 8, 1023, (uint64_t(1) << 34) - 1, uint64_t(1) << 34,
                          (uint64_t(1) << 34) + 6, uint64_t(1) << 62, ~0ull, 0x123456789abcdefull};
  for (uint64_t seed : seeds)
    for (uint32_t s : streams)
      for (uint64_t i : idx) {
        const uint64_t b = i / 4;
        const auto block = philox_here({uint32_t(b), uint32_t(b >> 32), s, 0}, {uint32_t(seed), uint32_t(seed >> 32)});
        EXPECT_EQ(mls::random_word(seed, s, i), block[i % 4])
            << "seed " << hex(seed) << " stream " << hex(s) << " i " << hex(i);
      }
  // The named streams (5).
  EXPECT_EQ(mls::kStreamActivation, 0u);
  EXPECT_EQ(mls::kStreamWeight, 1u);
  EXPECT_EQ(mls::kStreamError, 2u);
  EXPECT_EQ(mls::kStreamScalar, 3u);
  // Distinct seeds halves and streams give distinct words (no field is dropped).
  EXPECT_NE(mls::random_word(1, 0, 0), mls::random_word(uint64_t(1) << 32, 0, 0));
  EXPECT_NE(mls::random_word(7, 0, 0), mls::random_word(7, 1, 0));
  EXPECT_NE(mls::random_word(7, 0, 0), mls::random_word(7, 0, uint64_t(1) << 34));
}

TEST(Philox, RandomWordsIsTheSequenceOfRandomWord) {
  for (uint64_t n : {0, 1, 3, 4, 5, 13, 64}) {
    const auto w = mls::random_words(0xabcdef0123ull, 2, n);
    ASSERT_EQ(w.size(), n);
    for (uint64_t i = 0; i < n; ++i) EXPECT_EQ(w[i], mls::random_word(0xabcdef0123ull, 2, i)) << "n " << n << " i " << i;
  }
}

}  // namespace
