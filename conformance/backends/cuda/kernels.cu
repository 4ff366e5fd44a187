// mls-cuda device code: the kernels of ../opencl/mls_kernels.cl compiled as
// CUDA (one source for both backends; the dialect macros are in
// cuda_prelude.h).
#include "cuda_prelude.h"
#include "mls_kernels.cl"
