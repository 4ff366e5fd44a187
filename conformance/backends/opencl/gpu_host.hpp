// mls-gpu host side shared by the OpenCL and CUDA backends: the C ABI
// (conformance/include/mls_backend.h) on top of the device interface.
// Argument validation and ABI plumbing come from the host kit
// (../hostkit: formats, layouts, tensors, conv geometry, the arithmetic
// profile), which it shares with the RTL host; every computed value comes
// from the device kernels of mls_kernels.cl.
#pragma once
#include "gpu_device.hpp"
#include "hostkit.hpp"

namespace mlsgpu {
using mlshost::fail;
using mlshost::Failure;
}  // namespace mlsgpu
