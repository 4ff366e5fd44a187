// Live feedback for long work: one progress meter for every `mls` command that
// can run for more than a few seconds (gen, merge, export, check --random /
// --replay / --exhaustive, verify, inspect sweeps). It writes to stderr:
//
//   on a terminal      one status line redrawn in place, at most 4 times a second
//                      (and cut to the terminal's width, so it never wraps);
//   otherwise (CI)     one plain status line every 30 s, and a last one at the end
//                      when at least one was printed (a short run stays silent);
//   off                with --quiet, or MLS_PROGRESS=off.
//
// MLS_PROGRESS=tty|plain|off forces the mode; MLS_PROGRESS_INTERVAL=SECONDS sets
// the plain interval (tests use a small one). A line reads
//
//   check quantize  4,213/20,000  21%  812 cases/s  elapsed 0:05  left 0:17  mismatches 0  failures 0
//
// Use (any loop; add() is thread-safe and cheap, so call it per case, or per
// batch of cases in a very hot loop):
//
//   mls::progress::Meter m({.label = "check quantize", .unit = "cases", .total = n,
//                           .mode = mls::progress::mode_for_stderr(quiet)});
//   for (...) { ...; m.add(); if (bad) m.add_mismatch(); }
//   m.finish();
//
// Everything else a command writes to stderr while the meter runs goes through
// m.log() (an ostream), which erases the live line first so the two never mix.
// snapshot() gives the same numbers to callers (done/total, rate, elapsed, ETA,
// mismatch and failure counts). Interruption (SIGINT/SIGTERM) is interrupt.hpp.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>

namespace mls::progress {

enum class Mode { off, tty, plain };

// The mode for stderr: off when `quiet`, else MLS_PROGRESS when set
// (tty|plain|off), else tty when stderr is a terminal (and TERM is not
// "dumb"), else plain.
Mode mode_for_stderr(bool quiet);
// The plain-mode interval: MLS_PROGRESS_INTERVAL (seconds, > 0) or 30.
double plain_interval_from_env();

// The numbers of a meter at one moment.
struct Snapshot {
  std::string label;             // "check quantize", "gen", ...
  std::string unit = "cases";    // "cases", "inputs", "files", ...
  uint64_t done = 0, total = 0;  // total 0: unknown (no percent, no ETA)
  double elapsed = 0;            // seconds since the meter started
  double rate = 0;               // units per second, over the last few seconds
  double eta = -1;               // seconds left; -1 unknown
  int64_t mismatches = 0, failures = 0, skipped = 0;
  bool counts = true;            // the line shows mismatches and failures (skipped when > 0)
  double percent() const { return total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 0; }
};

// Text pieces of a status line (plain functions, for the tests and for
// other writers).
std::string format_count(uint64_t n);      // 1234567 -> "1,234,567"
std::string format_duration(double secs);  // 7 -> "0:07", 3723 -> "1:02:03", < 0 -> "?"
std::string format_rate(double per_sec);   // 812 -> "812", 12345 -> "12.3k", 4.2e6 -> "4.20M"
// One status line without a newline; cut to `width` characters when width > 0.
std::string format_line(const Snapshot& s, size_t width = 0);

struct Options {
  std::string label;
  std::string unit = "cases";
  uint64_t total = 0;
  bool counts = true;
  Mode mode = Mode::off;
  double tty_interval = 0.25;    // the least time between two redraws on a terminal
  double plain_interval = 30;    // the time between two plain lines
  // Seconds on a monotonic clock; default std::chrono::steady_clock.
  std::function<double()> clock;
  // Where the text goes; default stderr (unbuffered). Tests collect it.
  std::function<void(const std::string&)> write;
  // Terminal width for the tty mode; 0: asked of stderr (TIOCGWINSZ), 80 if unknown.
  size_t width = 0;
};

class Meter {
 public:
  explicit Meter(Options o);
  ~Meter();  // finish()
  Meter(const Meter&) = delete;
  Meter& operator=(const Meter&) = delete;

  void add(uint64_t n = 1);          // n more units done (thread-safe), then a redraw when due
  void set_done(uint64_t done);      // e.g. an op stopped early: jump to its end
  void set_total(uint64_t total);
  void set_label(const std::string& label);
  void add_mismatch(int64_t n = 1);
  void add_failure(int64_t n = 1);
  void add_skipped(int64_t n = 1);
  void update();                     // redraw when due (add() calls it)
  void finish();                     // the last line (tty: ends it with a newline); idempotent
  void clear();                      // erase the live line (tty) before other output
  Snapshot snapshot() const;
  Mode mode() const { return o_.mode; }
  uint64_t lines_drawn() const { return drawn_; }
  // stderr for everything else: erases the live line before each write.
  std::ostream& log();

 private:
  void draw_locked(double now, bool final);
  void sample_rate_locked(double now);
  Snapshot snapshot_locked(double now) const;
  double now() const;
  void emit(const std::string& s) const;

  Options o_;
  double t0_ = 0;
  std::atomic<uint64_t> done_{0}, total_{0};
  std::atomic<int64_t> mismatches_{0}, failures_{0}, skipped_{0};
  std::atomic<double> next_due_{0};
  mutable std::mutex mu_;            // drawing, the label and the rate
  std::string label_;
  double rate_ = -1, rate_t_ = 0;    // the smoothed rate and when it was last sampled
  uint64_t rate_done_ = 0;
  bool shown_ = false;               // a tty line is on the screen
  bool finished_ = false;
  uint64_t drawn_ = 0;
  struct LogBuf;
  std::unique_ptr<LogBuf> logbuf_;
  std::unique_ptr<std::ostream> log_;
};

// The meter of a command: on stderr in mode_for_stderr(quiet), the plain
// interval from MLS_PROGRESS_INTERVAL. What the commands (and the exhaustive
// checks) use:
//   auto m = mls::progress::stderr_meter("check exhaustive", n, quiet, "inputs");
std::unique_ptr<Meter> stderr_meter(const std::string& label, uint64_t total, bool quiet,
                                    const std::string& unit = "cases", bool counts = true);

}  // namespace mls::progress
