// Crash-proof reading of untrusted HDF5 files (spec/07-errors.md 7.8).
//
// The HDF5 library (1.10 here) can segfault, abort, allocate without bound or
// loop on a damaged file. A file that mls did not write, or whose user-block
// checksum (8.6) does not verify, is therefore never opened with HDF5 by the
// calling process: a child process (fork) opens and reads it under a time
// limit, a memory limit and no core dump, and hands the parsed data back
// through a pipe as a self-delimiting byte string. Whatever happens in the
// child -- a crash, an abort, a hang, an allocation failure -- the caller
// gets an mls::Error naming the file (and the HDF5 path the child was
// reading, where known), and everything the caller had gathered stays intact.
//
// Files that carry an mls user block take the fast path (read in process)
// only after their checksum has been verified: those bytes are exactly what
// mls wrote.
//
// Limits: MLS_READ_TIMEOUT (seconds; default 30 + 1 per 16 MiB of file) and
// MLS_READ_MEMORY_MIB (default 2 GiB + 24x the file size, at most half the
// machine's memory; not applied under AddressSanitizer). MLS_READ_STDERR=1
// keeps the child's standard error (sanitizer reports) for debugging.
#pragma once
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "mls/error.hpp"
#include "mls/vectors/io.hpp"
#include "mls/vectors/suite.hpp"

namespace mls::vectors {

// read_suite / read_results through the crash-proof path. Same results and
// errors as the functions of io.hpp for a readable file; for a file that
// crashes or hangs the HDF5 library, an mls::Error naming the file.
Suite safe_read_suite(const std::string& path, const ReadOptions& options = {});
Suite safe_read_results(const std::string& path, const Suite& vectors, const ReadOptions& options = {});

// How the child ended (for tests and the fuzz harness).
enum class IsolatedEnd { result, error, crash, timeout };

// Runs `work` in a child process with the limits above and returns the bytes
// it returned. An mls::Error (or other exception) thrown by `work` is thrown
// again here with its message; a child that dies, hangs or answers
// malformed data becomes an mls::Error naming `file`. `end` (optional) says
// which of these happened.
std::string run_isolated(const std::string& file, const std::function<std::string()>& work, IsolatedEnd* end = nullptr);

// True when the file carries the HDF5 signature at offset 0, 512, 1024, ...
// (as H5Fis_hdf5 looks for it), found without calling HDF5.
bool has_hdf5_signature(const std::string& path);

// Called by the HDF5 readers with the path they are about to read, so a
// child that crashes can say where (a no-op outside an isolated child).
void note_reading(const std::string& where);

// The byte string a child hands back: a Suite, and the plain pieces tools use.
std::string encode_suite(const Suite& s);
Suite decode_suite(const std::string& bytes);  // throws mls::Error on anything malformed

class ByteWriter {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void str(const std::string& s) {
    u64(s.size());
    out_ += s;
  }
  void raw(const void* p, size_t n) {
    if (n) out_.append(static_cast<const char*>(p), n);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(const std::string& b) : b_(b) {}
  uint8_t u8() {
    need(1);
    return static_cast<uint8_t>(b_[pos_++]);
  }
  uint64_t u64() {
    need(8);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(static_cast<uint8_t>(b_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  // A count of items of at least `item_bytes` each that must fit in what is left.
  uint64_t count(uint64_t item_bytes) {
    const uint64_t n = u64();
    if (item_bytes && n > left() / item_bytes) bad();
    return n;
  }
  std::string str() {
    const uint64_t n = count(1);
    std::string s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  void raw(void* p, size_t n) {
    need(n);
    if (n) std::memcpy(p, b_.data() + pos_, n);
    pos_ += n;
  }
  uint64_t left() const { return b_.size() - pos_; }
  void end() const {
    if (pos_ != b_.size()) bad();
  }
  [[noreturn]] static void bad() { throw Error("the isolated reader handed back malformed data"); }

 private:
  void need(uint64_t n) const {
    if (n > left()) bad();
  }
  const std::string& b_;
  size_t pos_ = 0;
};

}  // namespace mls::vectors
