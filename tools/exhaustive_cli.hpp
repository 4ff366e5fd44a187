// Breakpoint tables and exhaustive checks on the command line
// (spec/11-exhaustive.md): the options `mls gen --breakpoints` and
// `mls check --exhaustive` / `--merge-exhaustive` add (cmd_exhaustive.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

namespace mls::cli {

// What selects a table besides the grid list and the rounding list.
struct BreakpointArgs {
  bool enabled = false;              // --breakpoints (gen)
  std::string form;                  // --form h5|json|hex (gen; default from the extension)
  std::vector<std::string> scales;   // --scale: 1, 2^-3, 3*2^-5 (a list)
  std::vector<std::string> words;    // --word: sr random words (a list; default 0x80000000)
  std::string overflow, signed_zero; // override the format's (or the grid's default) policies
  std::string quant_arith = "exact"; // the element stage of a quantizer profile (4.12)
  std::string tensor_scale, group_scale;  // quantize stage: the scale is S_t * S_g
  int64_t group_elems = 64;
};

// mls gen --breakpoints: adds --scale, --word, --overflow, --signed-zero,
// --quant-arith, --tensor-scale, --group-scale to `gen` (which has -f, -r, -o).
std::shared_ptr<BreakpointArgs> add_breakpoint_gen_options(CLI::App* gen);
// Writes one table per (grid, rounding, scale, word): to `out` when there is
// one, else into the directory `out` as <grid>-<rounding>[-w<word>][-s<scale>].<ext>
// (ext from --form: h5, json, hex).
void gen_breakpoints(const std::vector<std::string>& grids, const std::vector<std::string>& roundings,
                     const BreakpointArgs& args, const std::string& out, bool quiet);

// mls check --exhaustive / --merge-exhaustive.
struct ExhaustiveArgs;
std::shared_ptr<ExhaustiveArgs> add_exhaustive_check_options(CLI::App* check);
bool exhaustive_requested(const ExhaustiveArgs& a);
// Runs it; `backend_lib` is --backend-lib (the only way in for --exhaustive),
// `other_backend` whether --backend-cmd or --golden was given instead; `quiet`
// (mls check -q) turns the progress line off, as --no-progress does.
void run_exhaustive_check(const ExhaustiveArgs& a, const std::string& backend_lib, bool other_backend,
                          const std::string& report_json, bool quiet);

}  // namespace mls::cli
