// The file forms of a breakpoint table (spec/11-exhaustive.md 11.5): HDF5
// (the conventions of the vector files: metadata attributes, the user-block
// file checksum, deterministic bytes), JSON, and hex lines for RTL
// testbenches ($readmemh). All three carry the table digest `table_sha256`
// over one canonical text, so any form can be checked against any other.
#pragma once
#include <string>

#include "mls/breakpoints.hpp"

namespace mls::vectors {

inline constexpr const char* kBreakpointSchema = "mls-breakpoints";
inline constexpr int64_t kBreakpointSchemaVersion = 1;

// One data line per entry: start, last, status and code as 8 + 8 + 2 + 8
// lowercase hex digits (the hex form's 104-bit word), then "\n".
std::string breakpoint_data_lines(const BreakpointTable& t);
// 11.5: SHA-256 of "mls-breakpoints 1\n" + the spec's canonical JSON + "\n" +
// the data lines (64 lowercase hex digits).
std::string breakpoint_digest(const BreakpointTable& t);

enum class BreakpointForm { hdf5, json, hex };
// By the file name's extension: .h5 / .hdf5, .json, .hex; anything else is an error.
BreakpointForm breakpoint_form_of(const std::string& path);

std::string breakpoints_json_text(const BreakpointTable& t);
std::string breakpoints_hex_text(const BreakpointTable& t);
// Writes the form the extension names, under a temporary name renamed into place.
void write_breakpoints(const std::string& path, const BreakpointTable& t);

// Reads any form and checks it: the file checksum (HDF5), the schema and
// version, the spec, the metadata attributes against the spec, the entries'
// structure (11.3) and the digest. An HDF5 file without mls's verified
// checksum is read in an isolated child (7.8). Errors name the file and the
// field, attribute or entry.
BreakpointTable read_breakpoints(const std::string& path);

// 11.6: throws mls::Error when `t` is not the golden table of the spec it
// claims (recomputed; the message names the first differing entry). `what`
// names the table in the message (a file name).
void verify_breakpoints(const BreakpointTable& t, const std::string& what);

// Writes `text` under a temporary name next to `path` and renames it into
// place (the text forms here and the exhaustive reports, 11.9).
void write_text_file_atomic(const std::string& path, const std::string& text);

}  // namespace mls::vectors
