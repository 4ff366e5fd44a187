// Process protocol v1 client (spec/09-protocol.md): newline-delimited JSON over
// the backend's stdin/stdout, per-request timeouts, restart after a failure.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "mls/conformance/backend.hpp"
#include "mls/error.hpp"

namespace mls::conformance {

namespace {

class ProcessBackend final : public Backend {
 public:
  ProcessBackend(std::string cmd, int timeout_ms) : cmd_(std::move(cmd)), timeout_ms_(timeout_ms) {
    signal(SIGPIPE, SIG_IGN);
  }
  ~ProcessBackend() override { stop(); }

  std::string describe() const override { return "process `" + cmd_ + "`"; }

  const Capabilities& capabilities() override {
    if (!have_caps_) {
      ensure_started();
      if (!have_caps_) throw Error("backend " + describe() + ": handshake failed: " + last_failure_);
    }
    return caps_;
  }

  Outcome<CodesResult> round(const RoundCase& c) override {
    Case k;
    k.op = Op::round;
    k.round = c;
    return call<CodesResult>(k, codes_reply);
  }

  Outcome<QuantizeResult> quantize(const QuantizeCase& c) override {
    Case k;
    k.op = Op::quantize;
    k.q = c;
    return call<QuantizeResult>(k, quantize_reply);
  }

  Outcome<TensorResult> dequantize(const MlsTensor& t) override {
    Case k;
    k.op = Op::dequantize;
    k.t = t;
    return call<TensorResult>(k, tensor_reply);
  }

  Outcome<TensorResult> conv(const ConvCase& c) override {
    Case k;
    k.op = c.gemm ? Op::gemm : Op::conv2d;
    k.conv = c;
    return call<TensorResult>(k, tensor_reply);
  }

 private:
  // One request through the codec (9.2): the reply read strictly; a reply
  // that does not parse as the op's result is a malformed reply (7.5).
  template <class T, class Read>
  Outcome<T> call(const Case& c, Read read) {
    Outcome<T> out;
    nlohmann::json rep;
    if (!exchange(to_json(c), rep, out.status, out.message)) return out;
    try {
      out.value = read(rep);
    } catch (const Error& e) {
      out.status = Status::failure;
      out.message = "malformed " + to_string(c.op) + " reply: " + e.what();
      stop();  // the stream may be out of step: start afresh
    }
    return out;
  }

  // Sends one request and reads its reply. Returns true with `rep` when the
  // backend answered normally; otherwise sets status/message.
  bool exchange(nlohmann::json req, nlohmann::json& rep, Status& status, std::string& message) {
    ensure_started();
    if (pid_ <= 0) {
      status = Status::failure;
      message = last_failure_;
      return false;
    }
    const uint64_t id = ++next_id_;
    req["id"] = id;
    std::string line;
    if (!request(req.dump(), line, message)) {
      status = Status::failure;
      return false;
    }
    try {
      rep = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      status = Status::failure;
      message = "malformed reply (not JSON): " + line.substr(0, 200);
      stop();
      return false;
    }
    if (!rep.is_object() || !rep.contains("id") || rep.at("id") != id) {
      status = Status::failure;
      message = "malformed reply: expected id " + std::to_string(id) + ", got " + rep.dump().substr(0, 200);
      stop();
      return false;
    }
    if (rep.contains("unsupported")) {
      status = Status::unsupported;
      message = rep.at("unsupported").is_string() ? rep.at("unsupported").get<std::string>() : rep.at("unsupported").dump();
      return false;
    }
    if (rep.contains("error")) {
      status = Status::rejected;
      message = rep.at("error").is_string() ? rep.at("error").get<std::string>() : rep.at("error").dump();
      return false;
    }
    status = Status::ok;
    return true;
  }

  void ensure_started() {
    if (pid_ > 0) return;
    if (started_once_) ++restarts_;
    started_once_ = true;
    int in_pipe[2], out_pipe[2];
    if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0) throw Error("pipe() failed: " + std::string(std::strerror(errno)));
    const pid_t pid = fork();
    if (pid < 0) throw Error("fork() failed: " + std::string(std::strerror(errno)));
    if (pid == 0) {
      setpgid(0, 0);  // own process group, so a hang can be killed with its children
      dup2(in_pipe[0], 0);
      dup2(out_pipe[1], 1);
      close(in_pipe[0]);
      close(in_pipe[1]);
      close(out_pipe[0]);
      close(out_pipe[1]);
      execl("/bin/sh", "sh", "-c", cmd_.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    pid_ = pid;
    to_child_ = in_pipe[1];
    from_child_ = out_pipe[0];
    fcntl(to_child_, F_SETFD, FD_CLOEXEC);
    fcntl(from_child_, F_SETFD, FD_CLOEXEC);
    buffer_.clear();
    // Handshake.
    std::string line, why;
    if (!request(R"({"op":"hello"})", line, why)) {
      last_failure_ = "hello: " + why;
      stop();
      return;
    }
    nlohmann::json h;
    try {
      h = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      last_failure_ = "hello reply is not JSON: " + line.substr(0, 200);
      stop();
      return;
    }
    try {
      caps_ = hello_from_json(h);
    } catch (const Error& e) {
      last_failure_ = e.what();
      stop();
      return;
    }
    if (caps_.name.empty()) caps_.name = cmd_;
    have_caps_ = true;
  }

  // Writes `text` + newline and reads one line, within the timeout.
  bool request(const std::string& text, std::string& line, std::string& why) {
    const std::string out = text + "\n";
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t w = write(to_child_, out.data() + done, out.size() - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        why = "backend stopped reading its stdin (" + exit_text() + ")";
        stop();
        return false;
      }
      done += static_cast<size_t>(w);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
    for (;;) {
      const size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return true;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) {
        why = "no reply within " + std::to_string(timeout_ms_) + " ms (hang); backend killed";
        stop();
        return false;
      }
      pollfd p{from_child_, POLLIN, 0};
      const int r = poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
      if (r < 0 && errno != EINTR) {
        why = std::string("poll failed: ") + std::strerror(errno);
        stop();
        return false;
      }
      if (r > 0) {
        char buf[65536];
        const ssize_t n = read(from_child_, buf, sizeof buf);
        if (n > 0) {
          buffer_.append(buf, static_cast<size_t>(n));
          if (buffer_.size() > (size_t(1) << 30)) {
            why = "reply longer than 1 GiB without a newline";
            stop();
            return false;
          }
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          why = "backend closed its stdout (" + exit_text() + ")";
          stop();
          return false;
        }
      }
    }
  }

  std::string exit_text() {
    if (pid_ <= 0) return "not running";
    int st = 0;
    for (int i = 0; i < 50; ++i) {  // give it up to 0.5 s to finish dying
      const pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        if (WIFEXITED(st)) {
          const int code = WEXITSTATUS(st);
          std::string t = "exited with status " + std::to_string(code);
          if (code > 128 && code < 128 + 65)  // a shell reporting its child's death by signal
            t += " = killed by signal " + std::to_string(code - 128) + " (" + strsignal(code - 128) + ")";
          return t;
        }
        if (WIFSIGNALED(st)) return std::string("killed by signal ") + std::to_string(WTERMSIG(st)) + " (" + strsignal(WTERMSIG(st)) + ")";
        return "ended";
      }
      usleep(10000);
    }
    return "still running";
  }

  void stop() {
    if (to_child_ >= 0) close(to_child_);
    if (from_child_ >= 0) close(from_child_);
    to_child_ = from_child_ = -1;
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }

  std::string cmd_;
  int timeout_ms_;
  pid_t pid_ = -1;
  int to_child_ = -1, from_child_ = -1;
  std::string buffer_;
  uint64_t next_id_ = 0;
  bool started_once_ = false;
  bool have_caps_ = false;
  Capabilities caps_;
  std::string last_failure_;
};

}  // namespace

std::unique_ptr<Backend> make_process_backend(const std::string& cmd, int timeout_ms) {
  if (cmd.empty()) throw Error("--backend-cmd is empty");
  if (timeout_ms < 1) throw Error("--timeout must be at least 1 ms");
  return std::make_unique<ProcessBackend>(cmd, timeout_ms);
}

}  // namespace mls::conformance
