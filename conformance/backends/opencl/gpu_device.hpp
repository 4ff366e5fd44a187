// mls-gpu: the device interface between the shared host code (gpu_host.cpp)
// and one accelerator API (opencl_device.cpp, ../cuda/cuda_device.cu).
// Plain C++17 (nvcc compiles it); no dependency on the validation code.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mls_backend.h"

namespace mlsgpu {

enum Kernel { kQzMax, kQzScales, kQzElems, kDequant, kConv, kKernelCount };

// One accelerator. Methods report errors with device_error (MLS_ERR_INTERNAL
// with a message naming the API call and its error code).
class Device {
 public:
  virtual ~Device() = default;
  virtual void* alloc(size_t bytes) = 0;  // device buffer (bytes >= 1)
  virtual void release(void* buf) noexcept = 0;
  virtual void upload(void* buf, const void* src, size_t bytes) = 0;
  virtual void download(void* dst, void* buf, size_t bytes) = 0;
  // Runs kernel k over n work items; args are device buffers, in the order
  // of the kernel's pointer parameters (the last parameter, n, is added).
  virtual void launch(Kernel k, const std::vector<void*>& args, uint64_t n) = 0;
};

// Implemented by each backend.
std::unique_ptr<Device> make_device();  // reports "no platform/device" etc. with device_error
const char* backend_name();

// Implemented by gpu_host.cpp.
[[noreturn]] void device_error(int32_t status, const std::string& message);
Device& device();  // made on first use; a failed initialisation is reported by every call

}  // namespace mlsgpu
