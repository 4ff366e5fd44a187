// Shared by the libFuzzer harnesses (fuzz/README.md): a finding is a crash,
// a sanitizer report, a timeout, or an abort() from a property that must hold
// for every input (a parser accepted something it cannot print back, threw
// something other than mls::Error, ...).
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace mls::fuzz {

// A property that must hold: report and abort (libFuzzer keeps the input).
[[noreturn]] inline void broken(const std::string& what) {
  std::fprintf(stderr, "fuzz property broken: %s\n", what.c_str());
  std::abort();
}
#define MLS_FUZZ_CHECK(cond, what)             \
  do {                                         \
    if (!(cond)) ::mls::fuzz::broken(what);    \
  } while (0)

inline std::string text(const uint8_t* data, size_t size) { return std::string(reinterpret_cast<const char*>(data), size); }

}  // namespace mls::fuzz
