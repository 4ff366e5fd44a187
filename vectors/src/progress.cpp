// The progress meter of mls/progress.hpp.
#include "mls/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <streambuf>

namespace mls::progress {

Mode mode_for_stderr(bool quiet) {
  if (quiet) return Mode::off;
  if (const char* e = std::getenv("MLS_PROGRESS"); e && *e) {
    if (!std::strcmp(e, "off") || !std::strcmp(e, "0")) return Mode::off;
    if (!std::strcmp(e, "tty")) return Mode::tty;
    if (!std::strcmp(e, "plain")) return Mode::plain;
  }
  const char* term = std::getenv("TERM");
  if (isatty(STDERR_FILENO) && !(term && !std::strcmp(term, "dumb"))) return Mode::tty;
  return Mode::plain;
}

double plain_interval_from_env() {
  if (const char* e = std::getenv("MLS_PROGRESS_INTERVAL"); e && *e) {
    char* end = nullptr;
    const double v = std::strtod(e, &end);
    if (end && *end == '\0' && v > 0 && std::isfinite(v)) return v;
  }
  return 30;
}

std::string format_count(uint64_t n) {
  std::string d = std::to_string(n), o;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) o += ',';
    o += d[i];
  }
  return o;
}

std::string format_duration(double secs) {
  if (!(secs >= 0) || !std::isfinite(secs) || secs > 3.6e8) return "?";
  const uint64_t s = static_cast<uint64_t>(secs + 0.5);
  char b[48];
  if (s < 3600)
    std::snprintf(b, sizeof b, "%u:%02u", unsigned(s / 60), unsigned(s % 60));
  else
    std::snprintf(b, sizeof b, "%llu:%02u:%02u", static_cast<unsigned long long>(s / 3600), unsigned(s / 60 % 60),
                  unsigned(s % 60));
  return b;
}

std::string format_rate(double r) {
  char b[32];
  if (!(r >= 0) || !std::isfinite(r)) return "?";
  if (r < 10) std::snprintf(b, sizeof b, "%.2g", r);
  else if (r < 1e4) std::snprintf(b, sizeof b, "%.0f", r);
  else if (r < 1e6) std::snprintf(b, sizeof b, "%.1fk", r / 1e3);
  else if (r < 1e9) std::snprintf(b, sizeof b, "%.2fM", r / 1e6);
  else std::snprintf(b, sizeof b, "%.2fG", r / 1e9);
  return b;
}

std::string format_line(const Snapshot& s, size_t width) {
  std::string l = s.label;
  auto part = [&](const std::string& p) {
    if (!l.empty()) l += "  ";
    l += p;
  };
  if (s.total) {
    part(format_count(s.done) + "/" + format_count(s.total) + " " + s.unit);
    char pc[16];
    std::snprintf(pc, sizeof pc, "%.1f%%", s.percent());
    part(pc);
  } else {
    part(format_count(s.done) + " " + s.unit);
  }
  part(format_rate(s.rate) + " " + s.unit + "/s");
  part("elapsed " + format_duration(s.elapsed));
  if (s.total) part("left " + format_duration(s.eta));
  if (s.counts) {
    part("mismatches " + format_count(static_cast<uint64_t>(s.mismatches)));
    part("failures " + format_count(static_cast<uint64_t>(s.failures)));
    if (s.skipped > 0) part("skipped " + format_count(static_cast<uint64_t>(s.skipped)));
  }
  if (width > 0 && l.size() > width) l.resize(width);
  return l;
}

// ---- Meter -------------------------------------------------------------------

struct Meter::LogBuf : std::streambuf {
  explicit LogBuf(Meter& m) : m(m) {}
  Meter& m;
  int overflow(int c) override {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    const char ch = static_cast<char>(c);
    xsputn(&ch, 1);
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    std::lock_guard<std::mutex> l(m.mu_);
    if (m.shown_) {
      m.emit("\r\033[K");
      m.shown_ = false;
    }
    m.emit(std::string(s, static_cast<size_t>(n)));
    return n;
  }
};

Meter::Meter(Options o) : o_(std::move(o)) {
  if (!o_.clock) {
    o_.clock = [] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    };
  }
  if (!o_.write) {
    o_.write = [](const std::string& s) {
      std::fwrite(s.data(), 1, s.size(), stderr);
      std::fflush(stderr);
    };
  }
  t0_ = o_.clock();
  label_ = o_.label;
  total_ = o_.total;
  rate_t_ = t0_;
  next_due_ = t0_ + (o_.mode == Mode::plain ? o_.plain_interval : o_.tty_interval);
  logbuf_ = std::make_unique<LogBuf>(*this);
  log_ = std::make_unique<std::ostream>(logbuf_.get());
}

Meter::~Meter() {
  try {
    finish();
  } catch (...) {
  }
}

double Meter::now() const { return o_.clock(); }
void Meter::emit(const std::string& s) const { o_.write(s); }

void Meter::add(uint64_t n) {
  done_.fetch_add(n, std::memory_order_relaxed);
  if (o_.mode != Mode::off) update();
}
void Meter::set_done(uint64_t d) {
  done_.store(d, std::memory_order_relaxed);
  if (o_.mode != Mode::off) update();
}
void Meter::set_total(uint64_t t) { total_.store(t, std::memory_order_relaxed); }
void Meter::set_label(const std::string& label) {
  std::lock_guard<std::mutex> l(mu_);
  label_ = label;
}
void Meter::add_mismatch(int64_t n) { mismatches_.fetch_add(n, std::memory_order_relaxed); }
void Meter::add_failure(int64_t n) { failures_.fetch_add(n, std::memory_order_relaxed); }
void Meter::add_skipped(int64_t n) { skipped_.fetch_add(n, std::memory_order_relaxed); }

void Meter::sample_rate_locked(double t) {
  const double dt = t - rate_t_;
  if (dt < 1.0 && rate_ >= 0) return;  // the rate is sampled at most once a second
  if (dt <= 0) return;
  const uint64_t d = done_.load(std::memory_order_relaxed);
  const double inst = static_cast<double>(d - std::min(d, rate_done_)) / dt;
  rate_ = rate_ < 0 ? inst : 0.5 * rate_ + 0.5 * inst;
  rate_t_ = t;
  rate_done_ = d;
}

Snapshot Meter::snapshot() const {
  const double t = now();
  std::lock_guard<std::mutex> l(mu_);
  return snapshot_locked(t);
}

Snapshot Meter::snapshot_locked(double t) const {
  Snapshot s;
  s.label = label_;
  s.unit = o_.unit;
  s.done = done_.load(std::memory_order_relaxed);
  s.total = total_.load(std::memory_order_relaxed);
  s.elapsed = t - t0_;
  s.rate = rate_ >= 0 ? rate_ : (s.elapsed > 0 ? static_cast<double>(s.done) / s.elapsed : 0);
  if (s.total) {
    if (s.done >= s.total) s.eta = 0;
    else if (s.rate > 0) s.eta = static_cast<double>(s.total - s.done) / s.rate;
  }
  s.mismatches = mismatches_.load(std::memory_order_relaxed);
  s.failures = failures_.load(std::memory_order_relaxed);
  s.skipped = skipped_.load(std::memory_order_relaxed);
  s.counts = o_.counts;
  return s;
}

void Meter::draw_locked(double t, bool final) {
  sample_rate_locked(t);
  Snapshot s = snapshot_locked(t);
  if (final && s.elapsed > 0) s.rate = static_cast<double>(s.done) / s.elapsed;  // the last line: the mean rate
  if (o_.mode == Mode::tty) {
    size_t w = o_.width;
    if (w == 0) {
      winsize ws{};
      w = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    }
    emit("\r" + format_line(s, w > 1 ? w - 1 : w) + "\033[K" + (final ? "\n" : ""));
    shown_ = !final;
  } else {
    emit(format_line(s) + "\n");
  }
  ++drawn_;
}

void Meter::update() {
  if (o_.mode == Mode::off) return;
  const double t = now();
  if (t < next_due_.load(std::memory_order_relaxed)) return;
  std::unique_lock<std::mutex> l(mu_, std::try_to_lock);
  if (!l.owns_lock() || finished_ || t < next_due_.load(std::memory_order_relaxed)) return;
  draw_locked(t, false);
  next_due_.store(t + (o_.mode == Mode::plain ? o_.plain_interval : o_.tty_interval), std::memory_order_relaxed);
}

void Meter::finish() {
  if (o_.mode == Mode::off) return;
  std::lock_guard<std::mutex> l(mu_);
  if (finished_) return;
  finished_ = true;
  if (drawn_ > 0) draw_locked(now(), true);  // a run that showed nothing ends silent
}

void Meter::clear() {
  std::lock_guard<std::mutex> l(mu_);
  if (shown_) {
    emit("\r\033[K");
    shown_ = false;
  }
}

std::ostream& Meter::log() { return *log_; }

std::unique_ptr<Meter> stderr_meter(const std::string& label, uint64_t total, bool quiet, const std::string& unit,
                                    bool counts) {
  Options o;
  o.label = label;
  o.unit = unit;
  o.total = total;
  o.counts = counts;
  o.mode = mode_for_stderr(quiet);
  o.plain_interval = plain_interval_from_env();
  return std::make_unique<Meter>(std::move(o));
}

}  // namespace mls::progress
