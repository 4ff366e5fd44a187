// Hostile input files (spec/07-errors.md 7.8): the regression inputs the
// fuzz harnesses found (fuzz/regressions/<harness>/) and HDF5 files that
// crash or hang the HDF5 library, fed to the same parsers as in the tools.
// Each must end in a clear mls::Error (exit 65 on the command line) naming
// the file, never a crash, a hang or undefined behaviour.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "io.hpp"
#include "mls/conformance/campaign.hpp"
#include "mls/error.hpp"
#include "mls/vectors/io.hpp"
#include "mls/vectors/safe_read.hpp"

namespace fs = std::filesystem;
namespace mv = mls::vectors;

namespace {

const fs::path kRegressions = fs::path(MLS_SOURCE_DIR) / "fuzz" / "regressions";
const std::string kMls = std::string(MLS_BINARY_DIR) + "/tools/mls";

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::vector<fs::path> inputs(const std::string& harness) {
  std::vector<fs::path> v;
  for (const auto& e : fs::directory_iterator(kRegressions / harness)) v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const mls::Error& e) {
    return e.what();
  }
  return "";
}

struct ReadTimeout {  // a short limit for the files that make HDF5 loop
  explicit ReadTimeout(const char* s) { setenv("MLS_READ_TIMEOUT", s, 1); }
  ~ReadTimeout() { unsetenv("MLS_READ_TIMEOUT"); }
};

std::string run(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  *rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return out;
}

}  // namespace

TEST(HostileInputs, SavedCasesWithOutOfRangeNumbersAreErrorsNotUndefinedBehaviour) {
  for (const auto& p : inputs("case_json")) {
    SCOPED_TRACE(p.string());
    const auto j = nlohmann::json::parse(slurp(p));
    EXPECT_NE(error_of([&] { (void)mls::conformance::case_from_json(j); }), "");
  }
  // The rules themselves: a fraction, a negative number, 2^32 and 1e30 are not 32-bit codes (7.1).
  const std::string base = R"({"op":"quantize","format":"mls-e2m1","shape":[2],"x":[0,X]})";
  for (const std::string bad : {"1.5", "-1", "4294967296", "1e30"}) {
    std::string t = base;
    t.replace(t.find('X'), 1, bad);
    EXPECT_NE(error_of([&] { (void)mls::conformance::case_from_json(nlohmann::json::parse(t)); }).find("x[1]"), std::string::npos) << bad;
  }
  EXPECT_NE(error_of([&] {
              (void)mls::conformance::case_from_json(nlohmann::json::parse(R"({"op":"quantize","format":"mls-e2m1","shape":[2.5],"x":[0,0]})"));
            }).find("shape[0]"),
            std::string::npos);
}

TEST(HostileInputs, ServeAnswersRequestsQuotingInvalidUtf8AndKeepsServing) {
  for (const auto& p : inputs("serve_request")) {
    SCOPED_TRACE(p.string());
    const std::string tmp = (fs::temp_directory_path() / ("mls-serve-req-" + std::to_string(::getpid()))).string();
    {
      std::ofstream f(tmp, std::ios::binary);
      f << slurp(p) << "\n" << R"({"id":7,"op":"hello"})" << "\n";
    }
    int rc = 0;
    const std::string out = run(kMls + " serve < " + tmp, &rc);
    fs::remove(tmp);
    EXPECT_EQ(rc, 0) << out;
    std::vector<std::string> lines;
    for (size_t a = 0, b; (b = out.find('\n', a)) != std::string::npos; a = b + 1) lines.push_back(out.substr(a, b - a));
    ASSERT_EQ(lines.size(), 2u) << out;
    const auto first = nlohmann::json::parse(lines[0]);  // valid JSON, hence valid UTF-8
    EXPECT_TRUE(first.contains("error")) << lines[0];
    EXPECT_EQ(nlohmann::json::parse(lines[1]).at("id"), 7);  // the session went on
  }
}

TEST(HostileInputs, SuiteBytesFromAChildAreCheckedBeforeUse) {
  for (const auto& p : inputs("suite_bytes")) {
    SCOPED_TRACE(p.string());
    const std::string b = slurp(p);
    try {
      EXPECT_EQ(mv::encode_suite(mv::decode_suite(b)), b);
    } catch (const mls::Error&) {
    }
  }
  // Arrays whose values do not fill their shape, and truncations, are refused.
  mv::Suite s;
  s.attrs["kind"] = std::string("results");
  mv::CaseGroup g;
  g.path = "/round/0000";
  g.op = mv::Op::round;
  g.data["outputs/status"] = mv::Array::make(mv::DType::u8, {3});
  s.groups.push_back(g);
  const std::string good = mv::encode_suite(s);
  EXPECT_EQ(mv::decode_suite(good).groups.at(0).data.at("outputs/status").ints.size(), 3u);
  for (size_t cut = 0; cut < good.size(); ++cut) EXPECT_NE(error_of([&] { mv::decode_suite(good.substr(0, cut)); }), "") << cut;
  s.groups[0].data["outputs/status"].ints.pop_back();
  EXPECT_NE(error_of([&] { mv::decode_suite(mv::encode_suite(s)); }).find("malformed"), std::string::npos);
}

TEST(HostileInputs, HdfFilesThatCrashOrHangTheLibraryAreInputErrorsNamingTheFile) {
  const mv::Suite vec = mv::read_suite(MLS_SOURCE_DIR "/fuzz/data/vectors-small.h5");
  for (const auto& p : inputs("h5_read")) {
    SCOPED_TRACE(p.string());
    const std::string path = p.string();
    const bool loops = path.find("loops") != std::string::npos, segv = path.find("segfault") != std::string::npos;
    // HDF5 1.10.8 loops on one of them for ever; the crash of the other can take a while to end under
    // AddressSanitizer (it reports, symbolizes and aborts), which is why it gets a longer limit.
    ReadTimeout limit(loops ? "1" : "60");
    mv::IsolatedEnd end = mv::IsolatedEnd::result;
    const std::string m = error_of([&] { mv::run_isolated(path, [&] { return mv::encode_suite(mv::read_suite(path)); }, &end); });
    ASSERT_NE(m, "");
    EXPECT_EQ(m.rfind(path + ": ", 0), 0u) << m;
    if (loops) {
      EXPECT_EQ(end, mv::IsolatedEnd::timeout);
      EXPECT_NE(m.find("did not finish within 1 s while reading / (attributes)"), std::string::npos) << m;
    }
    if (segv) {
      EXPECT_EQ(end, mv::IsolatedEnd::crash);
      EXPECT_NE(m.find("crashed reading this file"), std::string::npos) << m;
      // SIGSEGV; under AddressSanitizer the runtime reports the library's bad access first and aborts.
      EXPECT_TRUE(m.find("killed by signal 11 SIGSEGV") != std::string::npos ||
                  m.find("killed by signal 6 SIGABRT") != std::string::npos)
          << m;
    }
    EXPECT_NE(error_of([&] { mv::safe_read_results(path, vec); }), "");
  }
}

TEST(HostileInputs, VerifyOnACrashingResultsFileExits65WithTheFileNamed) {
  for (const auto& p : inputs("h5_read")) {
    SCOPED_TRACE(p.string());
    int rc = 0;
    const std::string out = run("MLS_READ_TIMEOUT=1 " + kMls + " verify " MLS_SOURCE_DIR "/fuzz/data/vectors-small.h5 " +
                                    p.string() + " 2>&1",
                                &rc);
    EXPECT_EQ(rc, 65) << out;
    EXPECT_NE(out.find("mls: error: " + p.string() + ": "), std::string::npos) << out;
    // The same through mls vinfo and mls check --replay.
    run("MLS_READ_TIMEOUT=1 " + kMls + " vinfo " + p.string() + " 2>&1", &rc);
    EXPECT_EQ(rc, 65);
    run("MLS_READ_TIMEOUT=1 " + kMls + " check --golden --replay " + p.string() + " 2>&1", &rc);
    EXPECT_EQ(rc, 65);
    run("MLS_READ_TIMEOUT=1 " + kMls + " quantize " + p.string() + ":/x -f mls-e2m1 2>&1", &rc);
    EXPECT_EQ(rc, 65);
    run("MLS_READ_TIMEOUT=1 " + kMls + " inspect " + p.string() + " -q 2>&1", &rc);
    EXPECT_EQ(rc, 65);
  }
}

TEST(HostileInputs, ReadsThatSucceedGiveTheSameSuiteIsolatedAndDirect) {
  const std::string p = MLS_SOURCE_DIR "/fuzz/corpus/h5_read/results-h5py.h5";
  const mv::Suite vec = mv::read_suite(MLS_SOURCE_DIR "/fuzz/data/vectors-small.h5");
  const mv::Suite a = mv::safe_read_results(p, vec), b = mv::read_results(p, vec);
  EXPECT_EQ(mv::encode_suite(a), mv::encode_suite(b));
  EXPECT_EQ(a.groups.size(), 2u);
  // An error inside the child comes back with its message, naming the file.
  const std::string m = error_of([&] { mv::safe_read_results(MLS_SOURCE_DIR "/fuzz/corpus/h5_read/tensor.h5", vec); });
  EXPECT_NE(m.find("tensor.h5: "), std::string::npos) << m;
  EXPECT_NE(m.find("schema"), std::string::npos) << m;
}

TEST(HostileInputs, NpyHeadersAreParsedStrictly) {
  auto npy = [](const std::string& header, const std::string& payload) {
    std::string h = header;
    while ((10 + h.size() + 1) % 64) h += ' ';
    h += '\n';
    std::string out = "\x93NUMPY";
    out += char(1);
    out += char(0);
    out += char(h.size() & 0xff);
    out += char(h.size() >> 8);
    return out + h + payload;
  };
  const std::string four(16, '\0');
  EXPECT_EQ(mls::io::float_tensor_from_npy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", four), "a.npy").data.size(), 4u);
  auto err = [&](const std::string& header, const std::string& payload) {
    return error_of([&] { mls::io::float_tensor_from_npy(npy(header, payload), "a.npy"); });
  };
  EXPECT_NE(err("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", four).find("'shape' entry 0"), std::string::npos);
  EXPECT_NE(err("{'descr': '<f4', 'fortran_order': False, 'shape': (4), }", four).find("not a tuple"), std::string::npos);
  EXPECT_NE(err("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", four).find("bytes after"), std::string::npos);
  EXPECT_NE(err("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", four).find("truncated"), std::string::npos);
  EXPECT_NE(err("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", four).find("dtype >f4"), std::string::npos);
  EXPECT_NE(err("{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }", four).find("fortran_order"), std::string::npos);
  EXPECT_NE(err("{'descr': '<f4', 'shape': (4,), }", four).find("no 'fortran_order'"), std::string::npos);
  EXPECT_NE(err("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", four).find("unknown key 'x'"), std::string::npos);
  EXPECT_NE(err("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", four).find("twice"), std::string::npos);
  EXPECT_NE(err("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", four).find("too large"), std::string::npos);
  // A long hostile header is parsed without recursion (the regex reader it replaced could overflow the stack).
  std::string deep = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::string(60000, '(') + ")}";
  EXPECT_NE(err(deep, four).find("a.npy: .npy header"), std::string::npos);
}

// The isolation itself (spec 7.8): whatever the reading child does, the caller gets an mls::Error
// naming the file, and says which way the child ended.
TEST(IsolatedReader, CrashHangErrorAndMemoryLimitEachBecomeAnErrorNamingTheFile) {
  const std::string file = MLS_SOURCE_DIR "/fuzz/data/vectors-small.h5";
  mv::IsolatedEnd end = mv::IsolatedEnd::result;
  EXPECT_EQ(mv::run_isolated(file, [] { return std::string("bytes\0back", 10); }, &end), std::string("bytes\0back", 10));
  EXPECT_EQ(end, mv::IsolatedEnd::result);

  std::string m = error_of([&] { mv::run_isolated(file, []() -> std::string { throw mls::Error("/x: dataset is missing"); }, &end); });
  EXPECT_EQ(end, mv::IsolatedEnd::error);
  EXPECT_EQ(m, file + ": /x: dataset is missing");

  m = error_of([&] {
    mv::run_isolated(file, []() -> std::string {
      mv::note_reading("/quantize/0003/outputs/elements");
      std::raise(SIGSEGV);
      return "";
    }, &end);
  });
  EXPECT_EQ(end, mv::IsolatedEnd::crash);
  EXPECT_NE(m.find(file + ": the HDF5 library crashed reading this file while reading /quantize/0003/outputs/elements"),
            std::string::npos) << m;
  EXPECT_NE(m.find("killed by signal 11 SIGSEGV"), std::string::npos) << m;

  m = error_of([&] { mv::run_isolated(file, []() -> std::string { std::_Exit(0); }, &end); });
  EXPECT_EQ(end, mv::IsolatedEnd::crash);
  EXPECT_NE(m.find("exited with status 0 without a result"), std::string::npos) << m;

  {
    ReadTimeout limit("1");
    const auto t0 = std::chrono::steady_clock::now();
    m = error_of([&] {
      mv::run_isolated(file, []() -> std::string {
        for (;;) ::pause();
      }, &end);
    });
    EXPECT_EQ(end, mv::IsolatedEnd::timeout);
    EXPECT_NE(m.find(file + ": reading did not finish within 1 s"), std::string::npos) << m;
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
  }
#if !defined(__SANITIZE_ADDRESS__)
  setenv("MLS_READ_MEMORY_MIB", "256", 1);
  m = error_of([&] {
    mv::run_isolated(file, []() -> std::string {
      std::vector<char> v(size_t(8) << 30);  // a damaged size field asking for 8 GiB
      v[12345] = 1;
      return std::string(1, v[12345]);
    }, &end);
  });
  unsetenv("MLS_READ_MEMORY_MIB");
  EXPECT_EQ(end, mv::IsolatedEnd::error);
  EXPECT_NE(m.find("more memory than the limit of 256 MiB"), std::string::npos) << m;
#endif
}
