// `mls export` (spec/08-vectors.md section 8.10): a vector file as text for
// harnesses that cannot read HDF5.
//   hex:   one file per case group (so per op, format and mode), a `//`
//          comment header (group, format, mode, case count, field bit ranges,
//          SHA-256 of the data lines) and one fixed-width hex line per case:
//          the case's fields packed into one word, most significant first,
//          readable by Verilog $readmemh or line by line with $fgets.
//   jsonl: one JSON object per case, self-contained (format, rounding or
//          arithmetic, shapes, inputs, outputs, exact values).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mls/progress.hpp"
#include "mls/vectors/suite.hpp"

namespace mls::vectors {

enum class ExportFormat { hex, jsonl };

struct ExportOptions {
  std::string dir;                     // created if missing
  ExportFormat format = ExportFormat::hex;
  std::vector<Op> ops;                 // empty = every op in the file
  uint64_t max_jsonl_cases = 200000;   // JSON lines are for small suites
  progress::Meter* progress = nullptr; // live progress (cases exported); null = none
};

// One field of the packed hex word.
struct HexField {
  std::string name;   // "control/mode", "inputs/x", ...
  DType dtype;        // element width: uint8 8 bits, uint32 32, uint64 64
  uint64_t count;     // elements per case (row-major)
  uint64_t msb, lsb;  // bit range of the whole field in the word
};
// The packed layout of a case group's hex lines (8.10).
std::vector<HexField> hex_layout(const CaseGroup& g);
// Case k of a group as one hex line (without newline).
std::string hex_line(const CaseGroup& g, const std::vector<HexField>& layout, uint64_t k);

struct ExportedFile {
  std::string path;
  uint64_t cases = 0;
  uint64_t width_bits = 0;  // hex only
  std::string sha256;       // hex: of the data lines; jsonl: of the whole file
};

// Writes the files (each to a temporary name, then renamed) and returns them
// in case-group order. `source` names the vector file in the headers. Throws
// interrupt::Interrupted at a file boundary after SIGINT/SIGTERM (the files
// already written are complete).
std::vector<ExportedFile> export_suite(const Suite& s, const std::string& source, const ExportOptions& options);

}  // namespace mls::vectors
