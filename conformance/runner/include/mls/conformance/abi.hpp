// The golden model's descriptors as C ABI v2 structs (conformance/include/
// mls_backend.h). The structs point into these objects, which own the
// storage (the resolved group shape).
#pragma once
#include <vector>

#include "mls/enums.hpp"
#include "mls/tensor.hpp"
#include "mls_backend.h"

namespace mls::conformance {

mls_minifloat_v2 abi_minifloat(const Minifloat& m);
mls_rounding_v2 abi_rounding(const Rounding& r);

// A format for the ABI, its layout resolved for `shape` (9.3.3: the runner
// always passes the group shape explicitly).
struct AbiFormat {
  mls_format_v2 f{};
  std::vector<int64_t> group_shape;
  AbiFormat(const Format& fm, const Shape& shape);
  AbiFormat(const AbiFormat&) = delete;
  AbiFormat& operator=(const AbiFormat&) = delete;
};

struct AbiTensor {
  AbiFormat fmt;
  mls_tensor_v2 t{};
  explicit AbiTensor(const MlsTensor& m);
};

}  // namespace mls::conformance
