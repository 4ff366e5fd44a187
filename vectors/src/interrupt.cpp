// Signal handling of mls/interrupt.hpp. The handler does only async-signal-safe
// things: it stores the signal number, writes a fixed message with write(2),
// and on a second signal unlinks the registered temporary files and _exits.
#include "mls/interrupt.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace mls::interrupt {

namespace {

std::atomic<int> g_signal{0};
std::atomic<bool> g_installed{false};

// Registered temporary files: fixed buffers, so the handler reads no heap.
constexpr int kSlots = 64;
constexpr size_t kPathMax = 4096;
struct Slot {
  std::atomic<int> state{0};  // 0 free, 1 being written, 2 registered
  char path[kPathMax];
};
Slot g_slots[kSlots];
std::atomic<uint64_t> g_temp_counter{0};

void say(const char* s) {
  ssize_t r = ::write(STDERR_FILENO, s, std::strlen(s));
  (void)r;
}

void on_signal(int sig) {
  int expected = 0;
  if (g_signal.compare_exchange_strong(expected, sig)) {
    say(sig == SIGINT ? "\nmls: interrupted (SIGINT): stopping at the next case boundary; press Ctrl-C again to stop at once\n"
                      : "\nmls: interrupted (SIGTERM): stopping at the next case boundary; a second signal stops at once\n");
    return;
  }
  for (auto& s : g_slots)
    if (s.state.load() == 2) ::unlink(s.path);
  say("\nmls: stopped at once (second signal); temporary files removed\n");
  ::_exit(128 + sig);
}

}  // namespace

void install() {
  if (g_installed.exchange(true)) return;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool requested() { return g_signal.load(std::memory_order_relaxed) != 0; }
int signal_number() { return g_signal.load(); }

std::string signal_name() {
  switch (signal_number()) {
    case 0: return "";
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "signal " + std::to_string(signal_number());
  }
}

int exit_code() { return signal_number() ? 128 + signal_number() : 0; }
void request(int sig) { g_signal.store(sig); }
void reset() { g_signal.store(0); }

TempFile::TempFile(const std::string& path) {
  if (path.size() >= kPathMax) return;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_slots[i].state.compare_exchange_strong(expected, 1)) {
      std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
      g_slots[i].state.store(2);
      slot_ = i;
      return;
    }
  }
}

TempFile::~TempFile() {
  if (slot_ >= 0) g_slots[slot_].state.store(0);
}

std::string temp_name(const std::string& path) {
  return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(g_temp_counter.fetch_add(1));
}

}  // namespace mls::interrupt
