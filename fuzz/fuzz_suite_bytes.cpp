// The byte string an isolated reader child hands back to its parent
// (mls::vectors::decode_suite, safe_read.hpp). The parent trusts nothing
// from a child that ran on a hostile file: properties: only mls::Error, and
// whatever decodes encodes back to the same bytes.
#include "fuzz_common.hpp"
#include "mls/error.hpp"
#include "mls/vectors/safe_read.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes = mls::fuzz::text(data, size);
  try {
    const mls::vectors::Suite s = mls::vectors::decode_suite(bytes);
    MLS_FUZZ_CHECK(mls::vectors::encode_suite(s) == bytes, "decode/encode round trip differs");
  } catch (const mls::Error&) {
  }
  return 0;
}
