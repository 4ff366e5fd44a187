// .npy files as the mls verbs read them (tools/io.cpp): fp32 tensors
// (`mls quantize x.npy`, float64 that is exactly fp32 too) and uint32 random
// words (`--rand words.npy`). Properties: only mls::Error is thrown, and an
// accepted file holds exactly the values its shape says.
#include "fuzz_common.hpp"
#include "io.hpp"
#include "mls/error.hpp"
#include "mls/tensor.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes = mls::fuzz::text(data, size);
  try {
    const mls::io::FloatTensor t = mls::io::float_tensor_from_npy(bytes, "fuzz.npy");
    MLS_FUZZ_CHECK(mls::element_count(t.shape) == static_cast<int64_t>(t.data.size()), "fp32 tensor: shape and data disagree");
  } catch (const mls::Error&) {
  }
  try {
    const std::vector<uint32_t> w = mls::io::u32_from_npy(bytes, "fuzz.npy");
    MLS_FUZZ_CHECK(!w.empty(), "uint32 words: an accepted file with no words");
  } catch (const mls::Error&) {
  }
  return 0;
}
