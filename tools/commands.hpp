// Each `mls` verb registers itself on the CLI11 app from its own file.
#pragma once
#include <CLI/CLI.hpp>

namespace mls::cli {

// Exit codes shared by every verb (spec/07-errors.md).
enum Exit : int { kOk = 0, kMismatch = 1, kBackendFailure = 2, kUsage = 64, kInputError = 65 };

void register_formats(CLI::App& app);
void register_quantize(CLI::App& app);   // quantize, dequantize
void register_explain(CLI::App& app);
void register_serve(CLI::App& app);
void register_demo(CLI::App& app);
void register_gen(CLI::App& app);     // mls gen (cmd_gen.cpp)
void register_merge(CLI::App& app);   // mls merge
void register_export(CLI::App& app);  // mls export
void register_vinfo(CLI::App& app);   // mls vinfo
void register_check(CLI::App& app);  // mls check, mls verify (cmd_check.cpp)
void register_conv(CLI::App& app);   // mls conv (cmd_conv.cpp)
void register_gemm(CLI::App& app);   // mls gemm (cmd_conv.cpp)
void register_inspect(CLI::App& app);  // mls inspect (cmd_inspect.cpp)

}  // namespace mls::cli
