// The vector / results HDF5 reader through the crash-proof path
// (mls::vectors::safe_read_suite, safe_read_results; spec/07-errors.md 7.8):
// the input is a file's bytes. Properties: every input ends as a Suite or an
// mls::Error that names the file, never a crash of this process, whatever the
// HDF5 library does in the isolated child. When the child survived, the same
// read runs once more in process, so libFuzzer sees the coverage of our
// reading and validation code (the child's counters die with it) and
// ASan/UBSan check it; it must give the same answer.
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "fuzz_common.hpp"
#include "mls/error.hpp"
#include "mls/vectors/io.hpp"
#include "mls/vectors/safe_read.hpp"

namespace mv = mls::vectors;

namespace {

// The vector file the results seeds answer (fuzz/make_corpus.sh wrote both).
const mv::Suite& vectors() {
  static const mv::Suite v = mv::read_suite(std::string(MLS_SOURCE_DIR) + "/fuzz/data/vectors-small.h5");
  return v;
}

std::string temp_path() {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/mls-fuzz-h5-" + std::to_string(::getpid()) + ".h5";
}

template <class F>
void both_ways(const std::string& path, const char* what, F read) {
  mv::IsolatedEnd end = mv::IsolatedEnd::result;
  std::string isolated_error;
  bool isolated_ok = false;
  try {
    (void)read(true, &end);
    isolated_ok = true;
  } catch (const mls::Error& e) {
    isolated_error = e.what();
    MLS_FUZZ_CHECK(isolated_error.rfind(path, 0) == 0, std::string(what) + ": error does not name the file: " + isolated_error);
  }
  // No child involved (fast path) or a child that finished: safe to read in process.
  if (end == mv::IsolatedEnd::crash || end == mv::IsolatedEnd::timeout) return;
  bool direct_ok = false;
  try {
    (void)read(false, nullptr);
    direct_ok = true;
  } catch (const mls::Error&) {
  }
  MLS_FUZZ_CHECK(direct_ok == isolated_ok, std::string(what) + ": the isolated and the direct read disagree (" + isolated_error + ")");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)vectors();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = temp_path();
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  for (bool verify : {true, false}) {
    const mv::ReadOptions ro{verify};
    both_ways(path, "read_suite", [&](bool isolated, mv::IsolatedEnd* end) {
      if (!isolated) return mv::read_suite(path, ro);
      // safe_read_suite with the outcome reported: the same two paths it takes.
      std::string bytes = mv::run_isolated(path, [&] { return mv::encode_suite(mv::read_suite(path, ro)); }, end);
      return mv::decode_suite(bytes);
    });
  }
  both_ways(path, "read_results", [&](bool isolated, mv::IsolatedEnd* end) {
    if (!isolated) return mv::read_results(path, vectors());
    std::string bytes = mv::run_isolated(path, [&] { return mv::encode_suite(mv::read_results(path, vectors())); }, end);
    return mv::decode_suite(bytes);
  });
  // The public entry points themselves (fast path for stamped files included).
  try {
    (void)mv::safe_read_results(path, vectors());
  } catch (const mls::Error&) {
  }
  std::remove(path.c_str());
  return 0;
}
