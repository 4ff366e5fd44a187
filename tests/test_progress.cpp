// The progress meter (mls/progress.hpp) with a fake clock and a fake terminal,
// and the interruption handling (mls/interrupt.hpp) in a forked child.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "mls/interrupt.hpp"
#include "mls/progress.hpp"

namespace mp = mls::progress;

namespace {

struct Fake {
  double t = 100;
  std::string out;
  mp::Options opts(mp::Mode mode, uint64_t total) {
    mp::Options o;
    o.label = "check quantize";
    o.total = total;
    o.mode = mode;
    o.width = 200;
    o.clock = [this] { return t; };
    o.write = [this](const std::string& s) { out += s; };
    return o;
  }
};

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

TEST(ProgressFormat, Pieces) {
  EXPECT_EQ(mp::format_count(0), "0");
  EXPECT_EQ(mp::format_count(999), "999");
  EXPECT_EQ(mp::format_count(1000), "1,000");
  EXPECT_EQ(mp::format_count(4294967296ull), "4,294,967,296");
  EXPECT_EQ(mp::format_duration(0), "0:00");
  EXPECT_EQ(mp::format_duration(7.2), "0:07");
  EXPECT_EQ(mp::format_duration(3723), "1:02:03");
  EXPECT_EQ(mp::format_duration(-1), "?");
  EXPECT_EQ(mp::format_rate(812), "812");
  EXPECT_EQ(mp::format_rate(12345), "12.3k");
  EXPECT_EQ(mp::format_rate(4.2e6), "4.20M");
  EXPECT_EQ(mp::format_rate(0.25), "0.25");
}

TEST(ProgressFormat, LineHasEveryNumber) {
  mp::Snapshot s;
  s.label = "check quantize";
  s.done = 4213;
  s.total = 20000;
  s.elapsed = 5;
  s.rate = 812;
  s.eta = 17;
  s.mismatches = 2;
  s.failures = 1;
  EXPECT_EQ(mp::format_line(s),
            "check quantize  4,213/20,000 cases  21.1%  812 cases/s  elapsed 0:05  left 0:17  mismatches 2  failures 1");
  EXPECT_EQ(mp::format_line(s, 20), "check quantize  4,21");
  s.total = 0;  // unknown total: no percent, no ETA
  s.counts = false;
  EXPECT_EQ(mp::format_line(s), "check quantize  4,213 cases  812 cases/s  elapsed 0:05");
}

TEST(ProgressMeter, TtyRedrawsInPlaceAtMostFourTimesASecond) {
  Fake f;
  mp::Meter m(f.opts(mp::Mode::tty, 1280));
  for (int i = 0; i < 1280; ++i) {
    f.t += 1.0 / 128;  // 128 cases/s: 10 s in all (steps exact in binary)
    m.add();
    if (i == 500) m.add_mismatch();
  }
  // 10 s at a redraw per 0.25 s: 40 redraws, each "\r...\033[K", no newline until the end.
  EXPECT_EQ(m.lines_drawn(), 40u);
  EXPECT_EQ(count(f.out, "\r"), 40u);
  EXPECT_EQ(count(f.out, "\n"), 0u);
  m.finish();
  EXPECT_EQ(count(f.out, "\n"), 1u);
  const std::string last = f.out.substr(f.out.rfind('\r') + 1);
  EXPECT_EQ(last, "check quantize  1,280/1,280 cases  100.0%  128 cases/s  elapsed 0:10  left 0:00  mismatches 1  failures 0\033[K\n");
  m.finish();  // idempotent
  EXPECT_EQ(count(f.out, "\n"), 1u);
}

TEST(ProgressMeter, TtyLineIsCutToTheTerminalWidth) {
  Fake f;
  auto o = f.opts(mp::Mode::tty, 10);
  o.width = 30;
  mp::Meter m(o);
  f.t += 1;
  m.add();
  const std::string line = f.out.substr(1, f.out.find("\033[K") - 1);
  EXPECT_EQ(line.size(), 29u);  // width - 1: the cursor never reaches the last column (no wrap)
}

TEST(ProgressMeter, PlainPrintsOneLineEveryInterval) {
  Fake f;
  mp::Meter m(f.opts(mp::Mode::plain, 102400));
  for (int i = 0; i < 102400; ++i) {
    f.t += 1.0 / 1024;  // 100 s in all
    m.add();
  }
  // Lines at 30, 60 and 90 s, each ending in a newline, never a carriage return.
  EXPECT_EQ(m.lines_drawn(), 3u);
  EXPECT_EQ(count(f.out, "\n"), 3u);
  EXPECT_EQ(count(f.out, "\r"), 0u);
  EXPECT_NE(f.out.find("30,720/102,400 cases  30.0%  1024 cases/s  elapsed 0:30  left 1:10"), std::string::npos) << f.out;
  m.finish();
  EXPECT_EQ(count(f.out, "\n"), 4u);
  EXPECT_NE(f.out.find("102,400/102,400 cases  100.0%"), std::string::npos);
}

TEST(ProgressMeter, AShortRunStaysSilentAndOffIsSilent) {
  Fake f;
  {
    mp::Meter m(f.opts(mp::Mode::plain, 10));
    for (int i = 0; i < 10; ++i) {
      f.t += 0.1;
      m.add();
    }
  }  // destructor finishes: nothing was shown, so nothing is printed
  EXPECT_EQ(f.out, "");
  mp::Meter off(f.opts(mp::Mode::off, 10));
  for (int i = 0; i < 10; ++i) {
    f.t += 100;
    off.add();
    off.add_failure();
  }
  off.finish();
  EXPECT_EQ(f.out, "");
  const mp::Snapshot s = off.snapshot();  // the numbers are kept all the same
  EXPECT_EQ(s.done, 10u);
  EXPECT_EQ(s.failures, 10);
}

TEST(ProgressMeter, SnapshotRateAndEta) {
  Fake f;
  mp::Meter m(f.opts(mp::Mode::off, 1000));
  f.t += 2;
  m.add(200);
  mp::Snapshot s = m.snapshot();
  EXPECT_DOUBLE_EQ(s.elapsed, 2);
  EXPECT_DOUBLE_EQ(s.rate, 100);  // before any sample: the mean rate
  EXPECT_DOUBLE_EQ(s.eta, 8);
  m.set_done(1000);
  EXPECT_DOUBLE_EQ(m.snapshot().eta, 0);
  m.set_label("check gemm");
  EXPECT_EQ(m.snapshot().label, "check gemm");
}

TEST(ProgressMeter, RateFollowsTheRecentPace) {
  Fake f;
  mp::Meter m(f.opts(mp::Mode::tty, 0));
  for (int i = 0; i < 100; ++i) {  // 10 s at 1000/s
    f.t += 0.1;
    m.add(100);
  }
  for (int i = 0; i < 100; ++i) {  // then 10 s at 10/s
    f.t += 0.1;
    m.add(1);
  }
  EXPECT_LT(m.snapshot().rate, 20);  // the recent pace, not the mean (505/s)
}

TEST(ProgressMeter, LogErasesTheLiveLineFirst) {
  Fake f;
  mp::Meter m(f.opts(mp::Mode::tty, 10));
  f.t += 1;
  m.add();
  ASSERT_EQ(m.lines_drawn(), 1u);
  m.log() << "MISMATCH quantize: case 1\n";
  EXPECT_NE(f.out.find("\033[K\r\033[KMISMATCH quantize: case 1\n"), std::string::npos) << f.out;
  const size_t n = f.out.size();
  m.log() << "more\n";  // the line is already gone: no second erase
  EXPECT_EQ(f.out.substr(n), "more\n");
}

TEST(ProgressMeter, AddFromManyThreads) {
  Fake f;
  auto o = f.opts(mp::Mode::tty, 80000);
  o.clock = [] { return 0.0; };  // never due: only the counts are exercised
  mp::Meter m(o);
  std::vector<std::thread> ts;
  for (int k = 0; k < 8; ++k)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) m.add();
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(m.snapshot().done, 80000u);
}

TEST(ProgressMode, EnvironmentForcesTheMode) {
  setenv("MLS_PROGRESS", "tty", 1);
  EXPECT_EQ(mp::mode_for_stderr(false), mp::Mode::tty);
  EXPECT_EQ(mp::mode_for_stderr(true), mp::Mode::off);  // --quiet wins
  setenv("MLS_PROGRESS", "plain", 1);
  EXPECT_EQ(mp::mode_for_stderr(false), mp::Mode::plain);
  setenv("MLS_PROGRESS", "off", 1);
  EXPECT_EQ(mp::mode_for_stderr(false), mp::Mode::off);
  unsetenv("MLS_PROGRESS");
  setenv("MLS_PROGRESS_INTERVAL", "0.5", 1);
  EXPECT_DOUBLE_EQ(mp::plain_interval_from_env(), 0.5);
  setenv("MLS_PROGRESS_INTERVAL", "x", 1);
  EXPECT_DOUBLE_EQ(mp::plain_interval_from_env(), 30);
  unsetenv("MLS_PROGRESS_INTERVAL");
}

TEST(Interrupt, RequestAndExitCode) {
  namespace mi = mls::interrupt;
  mi::reset();
  EXPECT_FALSE(mi::requested());
  EXPECT_EQ(mi::exit_code(), 0);
  mi::request(SIGTERM);
  EXPECT_TRUE(mi::requested());
  EXPECT_EQ(mi::exit_code(), 143);
  EXPECT_EQ(mi::signal_name(), "SIGTERM");
  mi::reset();
  EXPECT_FALSE(mi::requested());
  const std::string a = mi::temp_name("/x/out.h5"), b = mi::temp_name("/x/out.h5");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("/x/out.h5.tmp-", 0), 0u);
}

// In a child: the first SIGINT only sets the flag; the second removes the
// registered temporary file and exits 130 at once.
TEST(Interrupt, SecondSignalStopsAtOnceAndRemovesTemporaryFiles) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("mls-interrupt-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string tmp = (dir / "out.h5.tmp-1").string(), keep = (dir / "other").string();
  std::ofstream(tmp) << "partial";
  std::ofstream(keep) << "kept";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    namespace mi = mls::interrupt;
    mi::install();
    mi::TempFile t(tmp);
    raise(SIGINT);
    if (!mi::requested() || mi::exit_code() != 130) _exit(3);
    raise(SIGINT);
    _exit(4);  // not reached
  }
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 130);
  EXPECT_FALSE(std::filesystem::exists(tmp));
  EXPECT_TRUE(std::filesystem::exists(keep));
  std::filesystem::remove_all(dir);
}
