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

}  // namespace mls::cli
