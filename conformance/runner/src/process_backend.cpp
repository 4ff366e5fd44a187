// Process protocol v1 client (spec/09-protocol.md): newline-delimited JSON over
// the backend's stdin/stdout, per-request timeouts, restart after a failure.
// A hostile backend -- one that answers out of order, repeats a reply, sends a
// partial line, floods its stdout or stderr, exits between requests or hangs
// -- is a backend failure with a message saying which (spec 10.5); the
// runner restarts it and carries on.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>

#include "mls/conformance/backend.hpp"
#include "mls/conformance/reply.hpp"
#include "mls/error.hpp"

namespace mls::conformance {

// ---- reply parsing (reply.hpp) ----

std::string printable(const std::string& text, size_t max) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (text.size() > max) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

namespace {

std::string text_of(const nlohmann::json& v) { return printable(v.is_string() ? v.get<std::string>() : v.dump(), 2000); }

}  // namespace

ReplyLine parse_reply_line(const std::string& line, uint64_t id) {
  ReplyLine r;
  try {
    r.body = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    r.message = "malformed reply (not JSON): " + printable(line);
    return r;
  }
  if (!r.body.is_object()) {
    r.message = "malformed reply (not a JSON object): " + printable(line);
    return r;
  }
  if (!r.body.contains("id")) {
    r.message = "malformed reply: no \"id\" (expected id " + std::to_string(id) + "): " + printable(line);
    return r;
  }
  const auto& got = r.body.at("id");
  if (!got.is_number_unsigned() || got.get<uint64_t>() != id) {
    std::string why;
    if (got.is_number_unsigned() && got.get<uint64_t>() < id)
      why = " (a repeated or late reply to an earlier request)";
    else if (got.is_number_unsigned())
      why = " (a reply to a request not sent yet: out of order)";
    else
      why = " (not a request id)";
    r.message = "malformed reply: expected id " + std::to_string(id) + ", got " + printable(got.dump(), 60) + why +
                ": " + printable(line);
    return r;
  }
  if (r.body.contains("unsupported")) {
    r.status = Status::unsupported;
    r.message = text_of(r.body.at("unsupported"));
    return r;
  }
  if (r.body.contains("error")) {
    r.status = Status::rejected;
    r.message = text_of(r.body.at("error"));
    return r;
  }
  r.status = Status::ok;
  return r;
}

namespace {
template <class T, class Read>
Outcome<T> read_reply(const nlohmann::json& rep, Read read, const char* what) {
  Outcome<T> out;
  try {
    out.value = read(rep);
    out.status = Status::ok;
  } catch (const Error& e) {
    out = {};
    out.status = Status::failure;
    out.message = std::string("malformed reply: ") + what + ": " + printable(e.what(), 400);
  }
  return out;
}
}  // namespace

Outcome<CodesResult> read_codes_reply(const nlohmann::json& rep) {
  return read_reply<CodesResult>(rep, codes_reply, "round reply lacks \"codes\" as unsigned 32-bit integers");
}
Outcome<QuantizeResult> read_quantize_reply(const nlohmann::json& rep) {
  return read_reply<QuantizeResult>(rep, quantize_reply,
                                    "quantize reply lacks tensor_scale/group_scales/elements as unsigned integers");
}
Outcome<TensorResult> read_tensor_reply(const nlohmann::json& rep) {
  return read_reply<TensorResult>(rep, tensor_reply, "reply lacks \"y\" as an array of fp32 bit patterns");
}

bool parse_hello_reply(const std::string& line, const std::string& fallback_name, Capabilities& caps, std::string& why) {
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    why = "hello reply is not JSON: " + printable(line);
    return false;
  }
  if (!h.is_object() || !h.contains("protocol") || !h.at("protocol").is_number_integer() || h.at("protocol").get<int64_t>() != 1) {
    why = "hello reply does not declare protocol 1: " + printable(line);
    return false;
  }
  try {
    caps = hello_from_json(h);
  } catch (const Error& e) {
    why = "hello reply: " + printable(e.what(), 400);
    return false;
  }
  caps.name = caps.name.empty() ? fallback_name : printable(caps.name, 200);
  return true;
}

namespace {

constexpr size_t kMaxReplyBytes = size_t(64) << 20;  // one reply line (a flood beyond it is a failure)
constexpr size_t kStderrTail = 4096;                  // what is kept of the backend's stderr for messages
constexpr size_t kStderrForward = size_t(64) << 10;   // what is passed on to our stderr per backend start

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
    return call<CodesResult>(k, read_codes_reply);
  }

  Outcome<QuantizeResult> quantize(const QuantizeCase& c) override {
    Case k;
    k.op = Op::quantize;
    k.q = c;
    return call<QuantizeResult>(k, read_quantize_reply);
  }

  Outcome<TensorResult> dequantize(const MlsTensor& t) override {
    Case k;
    k.op = Op::dequantize;
    k.t = t;
    return call<TensorResult>(k, read_tensor_reply);
  }

  Outcome<TensorResult> conv(const ConvCase& c) override {
    Case k;
    k.op = c.gemm ? Op::gemm : Op::conv2d;
    k.conv = c;
    return call<TensorResult>(k, read_tensor_reply);
  }

 private:
  // One request through the codec (9.2); a reply that is not the op's result
  // is a malformed reply (7.5) and the backend starts afresh.
  template <class T>
  Outcome<T> call(const Case& c, Outcome<T> (*read)(const nlohmann::json&)) {
    Outcome<T> out;
    nlohmann::json rep;
    if (!exchange(to_json(c), rep, out.status, out.message)) return out;
    out = read(rep);
    if (out.status == Status::failure) stop();  // the stream may be out of step: start afresh
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
    // Output nobody asked for (a repeated reply, a second line) puts the stream out of step.
    drain(0);
    if (buffer_.find_first_not_of(" \t\r\n") == std::string::npos) buffer_.clear();  // blank lines are harmless
    if (!buffer_.empty()) {
      status = Status::failure;
      message = "malformed reply: the backend wrote output no request asked for before request id " + std::to_string(id) +
                " (a repeated reply or an extra line): " + printable(buffer_) + stderr_note();
      stop();
      return false;
    }
    std::string line;
    if (!request(req.dump(), line, message)) {
      status = Status::failure;
      return false;
    }
    ReplyLine r = parse_reply_line(line, id);
    status = r.status;
    message = r.message;
    if (r.status == Status::failure) {
      message += stderr_note();
      stop();
      return false;
    }
    if (r.status != Status::ok) return false;
    rep = std::move(r.body);
    return true;
  }

  void ensure_started() {
    if (pid_ > 0) return;
    if (started_once_) ++restarts_;
    started_once_ = true;
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (pipe(in_pipe) != 0) throw Error("pipe() failed: " + std::string(std::strerror(errno)));
    if (pipe(out_pipe) != 0) {
      close(in_pipe[0]);
      close(in_pipe[1]);
      throw Error("pipe() failed: " + std::string(std::strerror(errno)));
    }
    if (pipe(err_pipe) != 0) {
      for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) close(fd);
      throw Error("pipe() failed: " + std::string(std::strerror(errno)));
    }
    const pid_t pid = fork();
    if (pid < 0) {
      for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
      throw Error("fork() failed: " + std::string(std::strerror(errno)));
    }
    if (pid == 0) {
      setpgid(0, 0);  // own process group, so a hang can be killed with its children
      dup2(in_pipe[0], 0);
      dup2(out_pipe[1], 1);
      dup2(err_pipe[1], 2);
      for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
      execl("/bin/sh", "sh", "-c", cmd_.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    pid_ = pid;
    to_child_ = in_pipe[1];
    from_child_ = out_pipe[0];
    err_child_ = err_pipe[0];
    fcntl(to_child_, F_SETFD, FD_CLOEXEC);
    fcntl(from_child_, F_SETFD, FD_CLOEXEC);
    fcntl(err_child_, F_SETFD, FD_CLOEXEC);
    fcntl(from_child_, F_SETFL, fcntl(from_child_, F_GETFL) | O_NONBLOCK);
    fcntl(err_child_, F_SETFL, fcntl(err_child_, F_GETFL) | O_NONBLOCK);
    buffer_.clear();
    err_tail_.clear();
    err_forwarded_ = 0;
    // Handshake.
    std::string line, why;
    if (!request(R"({"op":"hello"})", line, why)) {
      last_failure_ = "hello: " + why;
      stop();
      return;
    }
    Capabilities caps;
    if (!parse_hello_reply(line, cmd_, caps, why)) {
      last_failure_ = why + stderr_note();
      stop();
      return;
    }
    caps_ = std::move(caps);
    have_caps_ = true;
  }

  // The last line of what the backend wrote to its stderr, for a failure message.
  std::string stderr_note() const {
    std::string t = err_tail_;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    if (t.empty()) return "";
    const size_t nl = t.rfind('\n');
    return "; the backend's stderr ends: " + printable(nl == std::string::npos ? t : t.substr(nl + 1), 300);
  }

  void take_stderr(const char* p, size_t n) {
    err_tail_.append(p, n);
    if (err_tail_.size() > kStderrTail) err_tail_.erase(0, err_tail_.size() - kStderrTail);
    if (err_forwarded_ < kStderrForward) {
      const size_t k = std::min(n, kStderrForward - err_forwarded_);
      std::cerr.write(p, static_cast<std::streamsize>(k));
      err_forwarded_ += k;
      if (err_forwarded_ >= kStderrForward) std::cerr << "\n[mls check: further stderr output of the backend is not shown]\n";
      std::cerr.flush();
    }
  }

  // Reads what is available on stdout and stderr, waiting at most wait_ms.
  // Returns false at the end of stdout (the backend closed it or died).
  bool drain(int wait_ms) {
    pollfd p[2] = {{from_child_, POLLIN, 0}, {err_child_, POLLIN, 0}};
    const int nfds = err_child_ >= 0 ? 2 : 1;
    const int r = poll(p, nfds, wait_ms);
    if (r <= 0) return true;
    char buf[65536];
    if (nfds == 2 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      const ssize_t n = read(err_child_, buf, sizeof buf);
      if (n > 0) take_stderr(buf, static_cast<size_t>(n));
      else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(err_child_);
        err_child_ = -1;
      }
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = read(from_child_, buf, sizeof buf);
      if (n > 0) buffer_.append(buf, static_cast<size_t>(n));
      else if (n == 0) return false;
      else if (errno != EINTR && errno != EAGAIN) return false;
    }
    return true;
  }

  std::string partial_note() const {
    if (buffer_.empty()) return "";
    return "; a partial line of " + std::to_string(buffer_.size()) + " bytes without a newline came: " + printable(buffer_, 120);
  }

  // Writes `text` + newline and reads one line, within the timeout.
  bool request(const std::string& text, std::string& line, std::string& why) {
    const std::string out = text + "\n";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
    auto left_ms = [&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    };
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t w = write(to_child_, out.data() + done, out.size() - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        why = "backend stopped reading its stdin (" + exit_text() + ")" + stderr_note();
        stop();
        return false;
      }
      done += static_cast<size_t>(w);
    }
    for (;;) {
      const size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return true;
      }
      if (buffer_.size() > kMaxReplyBytes) {
        why = "reply longer than " + std::to_string(kMaxReplyBytes >> 20) + " MiB without a newline (flooding its stdout?); backend killed";
        stop();
        return false;
      }
      const auto left = left_ms();
      if (left <= 0) {
        why = "no reply within " + std::to_string(timeout_ms_) + " ms (hang" + partial_note() + "); backend killed" + stderr_note();
        stop();
        return false;
      }
      if (!drain(static_cast<int>(std::min<int64_t>(left, 1000)))) {
        why = "backend closed its stdout (" + exit_text() + ")" + partial_note() + stderr_note();
        stop();
        return false;
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
    for (int* fd : {&to_child_, &from_child_, &err_child_}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
    buffer_.clear();
  }

  std::string cmd_;
  int timeout_ms_;
  pid_t pid_ = -1;
  int to_child_ = -1, from_child_ = -1, err_child_ = -1;
  std::string buffer_;
  std::string err_tail_;
  size_t err_forwarded_ = 0;
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
