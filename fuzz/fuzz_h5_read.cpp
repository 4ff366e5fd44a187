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
#include <cstdlib>
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

// The child's standard error (MLS_READ_STDERR): sanitizer reports of a child
// that died. A report whose first frame outside the sanitizer runtime is in
// libhdf5 is the library's bug, contained by the isolation (the parent got
// an mls::Error); one in our code is a finding.
std::string child_log_path() {
  static const std::string p = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/mls-fuzz-h5-child-" + std::to_string(::getpid()) + ".log";
  }();
  return p;
}

int g_library_crashes = 0;

void judge_child_report() {
  std::ifstream f(child_log_path());
  std::string line, report;
  bool in_report = false, decided = false, ours = false;
  while (std::getline(f, line)) {
    if (line.find("runtime error:") != std::string::npos) {  // UBSan instruments our code only
      report += line + "\n";
      ours = decided = true;
    }
    if (line.find("ERROR: AddressSanitizer") != std::string::npos || line.find("ERROR: LeakSanitizer") != std::string::npos) {
      in_report = true;
      report += line + "\n";
      continue;
    }
    if (in_report && !decided && line.find("    #") == 0) {
      report += line + "\n";
      if (line.find("__interceptor_") != std::string::npos || line.find("__asan") != std::string::npos ||
          line.find("__sanitizer") != std::string::npos || line.find("/libc.so") != std::string::npos)
        continue;
      decided = true;
      ours = line.find("libhdf5") == std::string::npos;
    }
  }
  std::ofstream(child_log_path(), std::ios::trunc).close();
  if (in_report && !ours) ++g_library_crashes;
  if (ours) mls::fuzz::broken("the isolated reader crashed in our code:\n" + report);
}

template <class F>
mv::IsolatedEnd both_ways(const std::string& path, const char* what, F read) {
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
  if (end == mv::IsolatedEnd::crash) judge_child_report();
  // No child involved (fast path) or a child that finished: safe to read in process.
  if (end == mv::IsolatedEnd::crash || end == mv::IsolatedEnd::timeout) return end;
  bool direct_ok = false;
  try {
    (void)read(false, nullptr);
    direct_ok = true;
  } catch (const mls::Error&) {
  }
  MLS_FUZZ_CHECK(direct_ok == isolated_ok, std::string(what) + ": the isolated and the direct read disagree (" + isolated_error + ")");
  return end;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // A file that makes HDF5 loop costs this much per read (the committed regression input does).
  if (!std::getenv("MLS_READ_TIMEOUT")) setenv("MLS_READ_TIMEOUT", "2", 1);
  setenv("MLS_READ_STDERR", child_log_path().c_str(), 1);
  std::atexit([] {
    std::fprintf(stderr, "fuzz_h5_read: %d inputs crashed the HDF5 library in the isolated child (contained)\n", g_library_crashes);
    std::remove(child_log_path().c_str());
  });
  (void)vectors();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = temp_path();
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  // A vector file with its digests checked (the checksum fails for any mutation of a stamped
  // file, so digests off would be the common case: input byte 0 picks), then as a results file.
  const mv::ReadOptions ro{size > 0 && (data[0] & 1)};
  const mv::IsolatedEnd e = both_ways(path, "read_suite", [&](bool isolated, mv::IsolatedEnd* end) {
    if (!isolated) return mv::read_suite(path, ro);
    // safe_read_suite's isolated path, with the outcome reported.
    std::string bytes = mv::run_isolated(path, [&] { return mv::encode_suite(mv::read_suite(path, ro)); }, end);
    return mv::decode_suite(bytes);
  });
  if (e != mv::IsolatedEnd::timeout && e != mv::IsolatedEnd::crash)
    both_ways(path, "read_results", [&](bool isolated, mv::IsolatedEnd* end) {
      if (!isolated) return mv::read_results(path, vectors());
      std::string bytes = mv::run_isolated(path, [&] { return mv::encode_suite(mv::read_results(path, vectors())); }, end);
      return mv::decode_suite(bytes);
    });
  // The public entry point (its fast path for a stamped file with a good checksum included).
  if (size > 0 && (data[0] & 2)) {
    try {
      (void)mv::safe_read_suite(path);
    } catch (const mls::Error&) {
    }
  }
  std::remove(path.c_str());
  return 0;
}
