// mls-cuda device: CUDA runtime API. The first CUDA device is used,
// initialised on first use; without a driver or device every call fails with
// a message naming the CUDA error (the runner shows a backend failure).
//
// Environment (optional): MLS_CUDA_MAX_ALLOC caps one device buffer (bytes).
#include <cuda_runtime.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "gpu_device.hpp"
#include "kernels.cu"

namespace mlsgpu {
namespace {

[[noreturn]] void cuda_fail(const char* call, cudaError_t e, const std::string& extra = "") {
  device_error(MLS_ERR_INTERNAL, std::string("CUDA: ") + call + " failed: " + std::to_string(static_cast<int>(e)) + " " +
                             cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")" +
                             (extra.empty() ? "" : "; " + extra));
}
void check(cudaError_t e, const char* call) {
  if (e != cudaSuccess) cuda_fail(call, e);
}

class CudaDevice final : public Device {
 public:
  CudaDevice() {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0)
      device_error(MLS_ERR_INTERNAL, std::string("CUDA: no usable device (cudaGetDeviceCount: ") +
                                 std::to_string(static_cast<int>(e)) + " " + cudaGetErrorName(e) + ": " +
                                 cudaGetErrorString(e) + ", " + std::to_string(n) + " devices)");
    check(cudaSetDevice(0), "cudaSetDevice");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    name_ = prop.name;
    max_alloc_ = prop.totalGlobalMem;
    if (const char* cap = std::getenv("MLS_CUDA_MAX_ALLOC")) {
      const unsigned long long c = std::strtoull(cap, nullptr, 10);
      if (c < max_alloc_) max_alloc_ = c;
    }
  }
  void* alloc(size_t bytes) override {
    if (bytes > max_alloc_)
      device_error(MLS_ERR_INTERNAL, "CUDA: out of device memory: a buffer of " + std::to_string(bytes) +
                                 " bytes exceeds the limit of " + name_ + " (" + std::to_string(max_alloc_) +
                                 " bytes)");
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) cuda_fail("cudaMalloc", e, std::to_string(bytes) + " bytes");
    return p;
  }
  void release(void* buf) noexcept override {
    if (buf) cudaFree(buf);
  }
  void upload(void* buf, const void* src, size_t bytes) override {
    check(cudaMemcpy(buf, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy (to device)");
  }
  void download(void* dst, void* buf, size_t bytes) override {
    check(cudaMemcpy(dst, buf, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy (from device)");
  }
  void launch(Kernel k, const std::vector<void*>& a, uint64_t n) override {
    if (n == 0) return;
    const unsigned block = 128;
    const uint64_t blocks = (n + block - 1) / block;
    if (blocks > 0x7fffffffu) device_error(MLS_ERR_UNSUPPORTED, "CUDA: " + std::to_string(n) + " work items is too many");
    const dim3 grid(static_cast<unsigned>(blocks));
    auto u = [&](int i) { return static_cast<unsigned*>(a[i]); };
    auto P = [&](int i) { return static_cast<const long long*>(a[i]); };
    switch (k) {
      case kQzMax: mls_qz_max<<<grid, block>>>(u(0), u(1), u(2), P(3), n); break;
      case kQzScales: mls_qz_scales<<<grid, block>>>(u(0), u(1), u(2), P(3), n); break;
      case kQzElems: mls_qz_elems<<<grid, block>>>(u(0), u(1), u(2), u(3), u(4), P(5), n); break;
      case kDequant: mls_dequant<<<grid, block>>>(u(0), u(1), u(2), P(3), n); break;
      case kConv: mls_conv<<<grid, block>>>(u(0), u(1), u(2), u(3), u(4), P(5), n); break;
      default: device_error(MLS_ERR_INTERNAL, "CUDA: unknown kernel");
    }
    check(cudaGetLastError(), "kernel launch");
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  }

 private:
  std::string name_;
  uint64_t max_alloc_ = 0;
};

}  // namespace

std::unique_ptr<Device> make_device() { return std::make_unique<CudaDevice>(); }

const char* backend_name() { return "mls-cuda 0.1"; }

}  // namespace mlsgpu
