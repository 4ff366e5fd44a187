// mls-gpu OpenCL device: OpenCL 1.2 host API (any ICD; CI uses PoCL on the
// CPU). The kernel source (opencl_prelude.h + mls_kernels.cl) is embedded in
// the library and built for the first device of the first platform that has
// one, on first use.
//
// Environment (all optional):
//   MLS_OPENCL_BUILD_OPTIONS  extra clBuildProgram options (appended)
//   MLS_OPENCL_MAX_ALLOC      cap on one device buffer, bytes (below the
//                             device's CL_DEVICE_MAX_MEM_ALLOC_SIZE)
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "gpu_device.hpp"

namespace mlsgpu {
extern const char* const kOpenclSource;  // generated: kernels_source.cpp

namespace {

const char* cl_error_name(cl_int e) {
  switch (e) {
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_COMPILER_NOT_AVAILABLE: return "CL_COMPILER_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_BUILD_OPTIONS: return "CL_INVALID_BUILD_OPTIONS";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case CL_INVALID_KERNEL_ARGS: return "CL_INVALID_KERNEL_ARGS";
    case CL_INVALID_WORK_GROUP_SIZE: return "CL_INVALID_WORK_GROUP_SIZE";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "OpenCL error";
  }
}

[[noreturn]] void cl_fail(const char* call, cl_int e, const std::string& extra = "") {
  device_error(MLS_ERR_INTERNAL, std::string("OpenCL: ") + call + " failed: " + std::to_string(e) + " " + cl_error_name(e) +
                             (extra.empty() ? "" : "; " + extra));
}
void check(cl_int e, const char* call) {
  if (e != CL_SUCCESS) cl_fail(call, e);
}

const char* const kKernelNames[kKernelCount] = {"mls_qz_max", "mls_qz_scales", "mls_qz_elems", "mls_dequant",
                                                "mls_conv"};

class OpenclDevice final : public Device {
 public:
  OpenclDevice() {
    cl_uint np = 0;
    cl_int e = clGetPlatformIDs(0, nullptr, &np);
    if (e != CL_SUCCESS || np == 0)
      device_error(MLS_ERR_INTERNAL, "OpenCL: no platform found (clGetPlatformIDs: " + std::to_string(e) + " " +
                                 cl_error_name(e) + ", " + std::to_string(np) +
                                 " platforms); install an OpenCL ICD, e.g. Debian's pocl-opencl-icd");
    std::unique_ptr<cl_platform_id[]> plats(new cl_platform_id[np]);
    check(clGetPlatformIDs(np, plats.get(), nullptr), "clGetPlatformIDs");
    for (cl_uint i = 0; i < np && !dev_; ++i) {
      cl_uint nd = 0;
      if (clGetDeviceIDs(plats[i], CL_DEVICE_TYPE_ALL, 1, &dev_, &nd) != CL_SUCCESS || nd == 0) dev_ = nullptr;
    }
    if (!dev_)
      device_error(MLS_ERR_INTERNAL, "OpenCL: none of the " + std::to_string(np) + " platforms has a device");
    char buf[256] = {0};
    clGetDeviceInfo(dev_, CL_DEVICE_NAME, sizeof(buf) - 1, buf, nullptr);
    devname_ = buf;
    cl_ulong maxalloc = 0;
    clGetDeviceInfo(dev_, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof(maxalloc), &maxalloc, nullptr);
    max_alloc_ = maxalloc;
    if (const char* cap = std::getenv("MLS_OPENCL_MAX_ALLOC")) {
      const unsigned long long c = std::strtoull(cap, nullptr, 10);
      if (c < max_alloc_) max_alloc_ = c;
    }
    ctx_ = clCreateContext(nullptr, 1, &dev_, nullptr, nullptr, &e);
    check(e, "clCreateContext");
    queue_ = clCreateCommandQueue(ctx_, dev_, 0, &e);
    check(e, "clCreateCommandQueue");
    const char* src = kOpenclSource;
    prog_ = clCreateProgramWithSource(ctx_, 1, &src, nullptr, &e);
    check(e, "clCreateProgramWithSource");
    std::string opts = "-cl-std=CL1.2";
#ifdef MLS_NAIVE
    opts += " -DMLS_NAIVE";
#endif
    if (const char* extra = std::getenv("MLS_OPENCL_BUILD_OPTIONS")) opts += std::string(" ") + extra;
    e = clBuildProgram(prog_, 1, &dev_, opts.c_str(), nullptr, nullptr);
    if (e != CL_SUCCESS) {
      size_t len = 0;
      clGetProgramBuildInfo(prog_, dev_, CL_PROGRAM_BUILD_LOG, 0, nullptr, &len);
      std::string log(len, '\0');
      if (len) clGetProgramBuildInfo(prog_, dev_, CL_PROGRAM_BUILD_LOG, len, log.data(), nullptr);
      while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
      if (log.size() > 3000) log = log.substr(0, 3000) + "\n...";
      cl_fail("clBuildProgram", e, "device " + devname_ + ", options \"" + opts + "\"; build log:\n" + log);
    }
    for (int k = 0; k < kKernelCount; ++k) {
      kernels_[k] = clCreateKernel(prog_, kKernelNames[k], &e);
      check(e, "clCreateKernel");
    }
  }
  ~OpenclDevice() override {
    for (cl_kernel k : kernels_)
      if (k) clReleaseKernel(k);
    if (prog_) clReleaseProgram(prog_);
    if (queue_) clReleaseCommandQueue(queue_);
    if (ctx_) clReleaseContext(ctx_);
  }

  void* alloc(size_t bytes) override {
    if (bytes > max_alloc_)
      device_error(MLS_ERR_INTERNAL, "OpenCL: out of device memory: a buffer of " + std::to_string(bytes) +
                                 " bytes exceeds the largest allocation of " + devname_ + " (" +
                                 std::to_string(max_alloc_) + " bytes)");
    cl_int e = CL_SUCCESS;
    cl_mem m = clCreateBuffer(ctx_, CL_MEM_READ_WRITE, bytes, nullptr, &e);
    if (e != CL_SUCCESS) cl_fail("clCreateBuffer", e, "out of device memory? (" + std::to_string(bytes) + " bytes)");
    return m;
  }
  void release(void* buf) noexcept override {
    if (buf) clReleaseMemObject(static_cast<cl_mem>(buf));
  }
  void upload(void* buf, const void* src, size_t bytes) override {
    check(clEnqueueWriteBuffer(queue_, static_cast<cl_mem>(buf), CL_TRUE, 0, bytes, src, 0, nullptr, nullptr),
          "clEnqueueWriteBuffer");
  }
  void download(void* dst, void* buf, size_t bytes) override {
    check(clEnqueueReadBuffer(queue_, static_cast<cl_mem>(buf), CL_TRUE, 0, bytes, dst, 0, nullptr, nullptr),
          "clEnqueueReadBuffer");
  }
  void launch(Kernel k, const std::vector<void*>& args, uint64_t n) override {
    if (n == 0) return;
    cl_kernel ker = kernels_[k];
    cl_uint i = 0;
    for (void* a : args) {
      cl_mem m = static_cast<cl_mem>(a);
      check(clSetKernelArg(ker, i++, sizeof(cl_mem), &m), "clSetKernelArg");
    }
    const cl_ulong nn = n;
    check(clSetKernelArg(ker, i, sizeof(cl_ulong), &nn), "clSetKernelArg");
    const size_t global = static_cast<size_t>(n);
    check(clEnqueueNDRangeKernel(queue_, ker, 1, nullptr, &global, nullptr, 0, nullptr, nullptr),
          "clEnqueueNDRangeKernel");
    check(clFinish(queue_), "clFinish");
  }

 private:
  cl_device_id dev_ = nullptr;
  cl_context ctx_ = nullptr;
  cl_command_queue queue_ = nullptr;
  cl_program prog_ = nullptr;
  cl_kernel kernels_[kKernelCount] = {};
  std::string devname_;
  uint64_t max_alloc_ = 0;
};

}  // namespace

std::unique_ptr<Device> make_device() { return std::make_unique<OpenclDevice>(); }

const char* backend_name() {
#ifdef MLS_NAIVE
  return "mls-opencl 0.1 (naive lesson variant: fp32 reciprocal, fp32 sums)";
#else
  return "mls-opencl 0.1";
#endif
}

}  // namespace mlsgpu
