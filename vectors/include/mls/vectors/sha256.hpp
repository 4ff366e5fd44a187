// SHA-256 (FIPS 180-4), used for the content digests of vector files
// (spec/08-vectors.md, "Digests") and the checksums of exported hex files.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mls::vectors {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<uint8_t, 32> finish();           // the digest; the object is spent afterwards
  std::string hex();                          // finish() as 64 lowercase hex digits

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t fill_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view data);
std::string to_hex(const uint8_t* data, size_t size);

}  // namespace mls::vectors
