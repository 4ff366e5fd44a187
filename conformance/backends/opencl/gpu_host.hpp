// mls-gpu host side shared by the OpenCL and CUDA backends: the C ABI
// (conformance/include/mls_backend.h) on top of the device interface.
// Argument validation reuses the mls-fast checks (../fast/checks.cpp,
// common.cpp: formats, layouts, tensors, conv geometry); every computed value
// comes from the device kernels of mls_kernels.cl.
#pragma once
#include "fast.hpp"
#include "gpu_device.hpp"

namespace mlsgpu {
using mlsfast::fail;
using mlsfast::Failure;
}  // namespace mlsgpu
