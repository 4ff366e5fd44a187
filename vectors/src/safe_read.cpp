// Crash-proof reading of untrusted HDF5 files: see safe_read.hpp and
// spec/07-errors.md 7.8.
#include "mls/vectors/safe_read.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define MLS_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLS_UNDER_ASAN 1
#endif
#endif

// Present in sanitizer builds only (libFuzzer registers one to save the input of a crash).
extern "C" void __sanitizer_set_death_callback(void (*)(void)) __attribute__((weak));

namespace mls::vectors {

namespace {

constexpr const char* kStampMagic = "mls-vectors-file ";  // the user block's first bytes (io.cpp, 8.6)
constexpr size_t kProgressBytes = 4096;
char* g_progress = nullptr;  // shared with the parent, set only in an isolated child

uint64_t file_size(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(n);
}

double env_number(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  return end && *end == '\0' && d > 0 ? d : fallback;
}

double timeout_seconds(uint64_t size) { return env_number("MLS_READ_TIMEOUT", 30.0 + double(size) / (16.0 * 1048576.0)); }

uint64_t memory_limit(uint64_t size) {
  const double mib = env_number("MLS_READ_MEMORY_MIB", 0);
  if (mib > 0) return static_cast<uint64_t>(mib * 1048576.0);
  uint64_t lim = (uint64_t(2) << 30) + 24 * size;
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) lim = std::min<uint64_t>(lim, std::max<uint64_t>(uint64_t(pages) * uint64_t(page) / 2, uint64_t(2) << 30));
  return lim;
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Child side: one frame, tag + 8-byte length + payload. 'R' result, 'E' error message.
[[noreturn]] void child_main(int fd, const std::string& file, const std::function<std::string()>& work) {
  // Standard error: /dev/null, or kept (MLS_READ_STDERR=1), or appended to a file (MLS_READ_STDERR=PATH;
  // the fuzz harness reads sanitizer reports from there to tell the library's crashes from ours).
  const char* keep = std::getenv("MLS_READ_STDERR");
  if (!keep || std::strcmp(keep, "1") != 0) {
    const int fd = keep && *keep ? ::open(keep, O_WRONLY | O_CREAT | O_APPEND, 0600) : ::open("/dev/null", O_WRONLY);
    if (fd >= 0) {
      ::dup2(fd, 2);
      ::close(fd);
    }
  }
  if (&__sanitizer_set_death_callback) __sanitizer_set_death_callback(nullptr);  // no fuzzer artifact from this child
  rlimit core{0, 0};
  setrlimit(RLIMIT_CORE, &core);
  // A crash in the library ends this process at once: no sanitizer or fuzzer
  // handler inherited from the parent runs (they would report the library's
  // crash as the parent's, e.g. libFuzzer would save the input as a finding).
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) signal(sig, SIG_DFL);
  const uint64_t size = file_size(file);
  const rlim_t cpu = static_cast<rlim_t>(timeout_seconds(size)) + 5;
  rlimit cpu_lim{cpu, cpu + 5};
  setrlimit(RLIMIT_CPU, &cpu_lim);
#ifndef MLS_UNDER_ASAN
  // On top of what the child already maps (a fork holds the parent's memory, e.g. the vector
  // file `mls verify` read first): RLIMIT_AS counts the whole address space.
  uint64_t mapped = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long long pages = 0;
    if (std::fscanf(f, "%llu", &pages) == 1) mapped = pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    std::fclose(f);
  }
  const rlim_t mem = static_cast<rlim_t>(mapped + memory_limit(size));
  rlimit as{mem, mem};
  setrlimit(RLIMIT_AS, &as);
#endif
  char tag = 'R';
  std::string payload;
  try {
    payload = work();
  } catch (const std::bad_alloc&) {
    tag = 'E';
    payload = "reading needed more memory than the limit of " + std::to_string(memory_limit(size) >> 20) +
              " MiB (MLS_READ_MEMORY_MIB): a damaged size field?";
    if (g_progress && *g_progress) payload += " (at " + std::string(g_progress) + ")";
  } catch (const std::exception& e) {
    tag = 'E';
    payload = e.what();
  } catch (...) {
    tag = 'E';
    payload = "unknown exception while reading";
  }
  char head[9];
  head[0] = tag;
  for (int i = 0; i < 8; ++i) head[1 + i] = static_cast<char>(uint64_t(payload.size()) >> (8 * i));
  const bool ok = write_all(fd, head, sizeof head) && write_all(fd, payload.data(), payload.size());
  ::_exit(ok ? 0 : 3);
}

std::string ended_text(int st) {
  if (WIFSIGNALED(st)) {
    const int s = WTERMSIG(st);
    const char* name = sigabbrev_np(s);
    return std::string("killed by signal ") + std::to_string(s) + (name ? std::string(" SIG") + name : "") + " (" +
           strsignal(s) + ")";
  }
  if (WIFEXITED(st)) return "exited with status " + std::to_string(WEXITSTATUS(st)) + " without a result";
  return "ended abnormally";
}

// The message of an error from the child, naming the file.
std::string with_file(const std::string& file, const std::string& msg) {
  return msg.rfind(file, 0) == 0 ? msg : file + ": " + msg;
}

}  // namespace

void note_reading(const std::string& where) {
  if (!g_progress) return;
  const size_t n = std::min(where.size(), kProgressBytes - 1);
  std::memcpy(g_progress, where.data(), n);
  g_progress[n] = '\0';
}

bool has_hdf5_signature(const std::string& path) {
  static const char sig[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  const uint64_t size = file_size(path);
  for (uint64_t off = 0; off + 8 <= size; off = off ? off * 2 : 512) {
    char buf[8];
    f.seekg(static_cast<std::streamoff>(off));
    if (!f.read(buf, 8)) return false;
    if (std::memcmp(buf, sig, 8) == 0) return true;
  }
  return false;
}

std::string run_isolated(const std::string& file, const std::function<std::string()>& work, IsolatedEnd* end) {
  auto set_end = [&](IsolatedEnd e) {
    if (end) *end = e;
  };
  const uint64_t size = file_size(file);
  const double limit_s = timeout_seconds(size);
  void* page = ::mmap(nullptr, kProgressBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) throw Error(file + ": cannot set up the isolated reader: mmap: " + std::strerror(errno));
  char* progress = static_cast<char*>(page);
  progress[0] = '\0';
  struct Unmap {
    void* p;
    ~Unmap() { ::munmap(p, kProgressBytes); }
  } unmap{page};
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw Error(file + ": cannot set up the isolated reader: pipe: " + std::strerror(errno));
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw Error(file + ": cannot set up the isolated reader: fork: " + std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    g_progress = progress;
    child_main(fds[1], file, work);
  }
  ::close(fds[1]);
  const int rfd = fds[0];
  std::string got;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit_s);
  char buf[1 << 16];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{rfd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (r == 0) continue;
    const ssize_t n = ::read(rfd, buf, sizeof buf);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    break;  // EOF: the child finished or died
  }
  ::close(rfd);
  int st = 0;
  if (timed_out) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
  } else {
    // EOF came; the child is exiting. Give it the rest of the deadline, then kill it.
    for (;;) {
      const pid_t w = ::waitpid(pid, &st, WNOHANG);
      if (w == pid) break;
      if (w < 0 && errno != EINTR) break;
      if (std::chrono::steady_clock::now() > deadline) {
        timed_out = true;
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      ::usleep(1000);
    }
  }
  const std::string where(progress, ::strnlen(progress, kProgressBytes));
  const std::string at = where.empty() ? "" : " while reading " + where;
  if (timed_out) {
    set_end(IsolatedEnd::timeout);
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.0f", limit_s);
    throw Error(file + ": reading did not finish within " + secs + " s" + at +
                " (the HDF5 library may be looping on a damaged file; MLS_READ_TIMEOUT sets the limit) (7.8)");
  }
  const bool clean_exit = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  uint64_t len = 0;
  if (got.size() >= 9)
    for (int i = 0; i < 8; ++i) len |= uint64_t(static_cast<uint8_t>(got[1 + i])) << (8 * i);
  if (!clean_exit || got.size() < 9 || got.size() - 9 != len || (got[0] != 'R' && got[0] != 'E')) {
    set_end(IsolatedEnd::crash);
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU)
      throw Error(file + ": reading used more CPU time than its limit" + at +
                  " (the HDF5 library may be looping on a damaged file) (7.8)");
    throw Error(file + ": the HDF5 library crashed reading this file" + at + " (the reading process " + ended_text(st) +
                "): the file is damaged or is not a valid HDF5 file; nothing was read from it (7.8)");
  }
  if (got[0] == 'E') {
    set_end(IsolatedEnd::error);
    throw Error(with_file(file, got.substr(9)));
  }
  set_end(IsolatedEnd::result);
  return got.substr(9);
}

// ---- Suite as bytes ----

namespace {

void put_attrs(ByteWriter& w, const Attrs& a) {
  w.u64(a.size());
  for (const auto& [k, v] : a) {
    w.str(k);
    w.u8(static_cast<uint8_t>(v.index()));
    if (auto s = std::get_if<std::string>(&v)) w.str(*s);
    else if (auto i = std::get_if<int64_t>(&v)) w.u64(static_cast<uint64_t>(*i));
    else if (auto u = std::get_if<uint64_t>(&v)) w.u64(*u);
    else {
      const auto& vec = std::get<std::vector<int64_t>>(v);
      w.u64(vec.size());
      for (int64_t x : vec) w.u64(static_cast<uint64_t>(x));
    }
  }
}

Attrs get_attrs(ByteReader& r) {
  Attrs a;
  const uint64_t n = r.count(10);
  for (uint64_t i = 0; i < n; ++i) {
    std::string k = r.str();
    const uint8_t t = r.u8();
    AttrValue v;
    if (t == 0) v = r.str();
    else if (t == 1) v = static_cast<int64_t>(r.u64());
    else if (t == 2) v = r.u64();
    else if (t == 3) {
      std::vector<int64_t> vec(r.count(8));
      for (auto& x : vec) x = static_cast<int64_t>(r.u64());
      v = std::move(vec);
    } else {
      ByteReader::bad();
    }
    if (!a.empty() && k <= a.rbegin()->first) ByteReader::bad();  // sorted, no duplicates: one encoding per suite
    a.emplace(std::move(k), std::move(v));
  }
  return a;
}

}  // namespace

std::string encode_suite(const Suite& s) {
  ByteWriter w;
  w.str("mls-suite-bytes 1");
  put_attrs(w, s.attrs);
  w.u64(s.groups.size());
  for (const auto& g : s.groups) {
    w.str(g.path);
    w.u8(static_cast<uint8_t>(g.op));
    put_attrs(w, g.attrs);
    w.u64(g.data.size());
    for (const auto& [name, a] : g.data) {
      w.str(name);
      w.u8(static_cast<uint8_t>(a.dtype));
      w.u64(a.dims.size());
      for (uint64_t d : a.dims) w.u64(d);
      w.u64(a.ints.size());
      w.raw(a.ints.data(), a.ints.size() * sizeof(uint64_t));
      w.u64(a.strs.size());
      for (const auto& x : a.strs) w.str(x);
    }
  }
  return w.take();
}

Suite decode_suite(const std::string& bytes) {
  ByteReader r(bytes);
  if (r.str() != "mls-suite-bytes 1") ByteReader::bad();
  Suite s;
  s.attrs = get_attrs(r);
  const uint64_t ng = r.count(18);
  for (uint64_t gi = 0; gi < ng; ++gi) {
    CaseGroup g;
    g.path = r.str();
    const uint8_t op = r.u8();
    if (op > static_cast<uint8_t>(Op::round)) ByteReader::bad();
    g.op = static_cast<Op>(op);
    g.attrs = get_attrs(r);
    const uint64_t nd = r.count(33);
    for (uint64_t di = 0; di < nd; ++di) {
      std::string name = r.str();
      Array a;
      const uint8_t t = r.u8();
      if (t > static_cast<uint8_t>(DType::str)) ByteReader::bad();
      a.dtype = static_cast<DType>(t);
      a.dims.resize(r.count(8));
      for (auto& d : a.dims) d = r.u64();
      a.ints.resize(r.count(8));
      r.raw(a.ints.data(), a.ints.size() * sizeof(uint64_t));
      a.strs.resize(r.count(8));
      for (auto& x : a.strs) x = r.str();
      // The shape and the values agree, as the reader made them (a.size() is what the accessors index).
      uint64_t n = a.dims.empty() ? 0 : 1;
      for (uint64_t d : a.dims) {
        if (d != 0 && n > (uint64_t(1) << 40) / d) ByteReader::bad();
        n *= d;
      }
      if ((a.dtype == DType::str ? a.strs.size() : a.ints.size()) != n) ByteReader::bad();
      if ((a.dtype == DType::str ? a.ints.size() : a.strs.size()) != 0) ByteReader::bad();
      if (!g.data.empty() && name <= g.data.rbegin()->first) ByteReader::bad();
      g.data.emplace(std::move(name), std::move(a));
    }
    s.groups.push_back(std::move(g));
  }
  r.end();
  return s;
}

// ---- the two readers ----

namespace {

// The fast path: the file starts with mls's user-block stamp, and read_suite
// verifies its checksum before HDF5 parses a byte (io.cpp verify_stamp).
bool stamped(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char head[32] = {0};
  f.read(head, static_cast<std::streamsize>(std::strlen(kStampMagic)));
  return f.gcount() == static_cast<std::streamsize>(std::strlen(kStampMagic)) &&
         std::memcmp(head, kStampMagic, std::strlen(kStampMagic)) == 0;
}

void check_exists(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such file");
}

}  // namespace

Suite safe_read_suite(const std::string& path, const ReadOptions& opt) {
  check_exists(path);
  if (opt.verify_digests && stamped(path)) return read_suite(path, opt);
  return decode_suite(run_isolated(path, [&] { return encode_suite(read_suite(path, opt)); }));
}

Suite safe_read_results(const std::string& path, const Suite& vectors, const ReadOptions& opt) {
  check_exists(path);
  if (opt.verify_digests && stamped(path)) return read_results(path, vectors, opt);
  // The child has its own copy of `vectors` (fork): the cross-check runs there too.
  return decode_suite(run_isolated(path, [&] { return encode_suite(read_results(path, vectors, opt)); }));
}

}  // namespace mls::vectors
