// Clean interruption of long work (spec/07-errors.md 7.6, spec/10-conformance.md
// 10.8): after install(), the first SIGINT (Ctrl-C) or SIGTERM only sets a flag;
// the loops of gen, check, verify and the sweeps look at requested() at each
// case boundary, stop there, write what they have (a partial report marked
// interrupted; a generator writes nothing) and the command exits with
// exit_code() = 128 + the signal number (130 for SIGINT, 143 for SIGTERM). A
// second signal ends the process at once with the same code, after removing the
// temporary files registered with TempFile (so no half-written file is left
// under any name).
#pragma once
#include <stdexcept>
#include <string>

namespace mls::interrupt {

// Catches SIGINT and SIGTERM (idempotent). Commands that run long call it.
void install();
// A first signal came (or request() was called).
bool requested();
// The signal that came (SIGINT, SIGTERM), 0 if none.
int signal_number();
// "SIGINT", "SIGTERM", or "" if none.
std::string signal_name();
// 128 + signal_number() (130, 143); 0 if none.
int exit_code();
// As if `sig` had come once (tests, and a caller that wants to stop a run).
void request(int sig);
// Forgets a request (tests).
void reset();

// Thrown by work that stops at an interruption without a partial result to
// give (generation, a sweep); `mls` exits with exit_code() and writes nothing.
struct Interrupted : std::runtime_error {
  explicit Interrupted(const std::string& what) : std::runtime_error(what) {}
};

// Registers a temporary file for removal should a second signal end the
// process at once; the destructor unregisters it. At most 64 at a time (more
// are simply not registered). Writers create `temp_name(path)`, then rename.
class TempFile {
 public:
  explicit TempFile(const std::string& path);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

 private:
  int slot_ = -1;
};

// A temporary name beside `path`, unique to this process and call:
// "<path>.tmp-<pid>-<n>".
std::string temp_name(const std::string& path);

}  // namespace mls::interrupt
