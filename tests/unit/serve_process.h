#pragma once
// The real `diffusiond serve` binary as a child process, for end-to-end tests over a socket:
// spawned with the given arguments, polled until /health answers, stopped on destruction.
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace dd::test {

class ServeProcess {
 public:
  // `binary serve --port <port> <arguments...>`; clients wait up to read_timeout_s per answer.
  ServeProcess(const std::string& binary, int port, std::vector<std::string> arguments,
               int read_timeout_s = 60)
      : port_(port), read_timeout_s_(read_timeout_s) {
    arguments.insert(arguments.begin(), {binary, "serve", "--port", std::to_string(port)});
    std::vector<char*> argv;
    for (auto& a : arguments) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;
  // A graceful stop (SIGTERM), as an operator would.
  ~ServeProcess() { stop(SIGTERM); }

  bool wait_healthy(int timeout_s) const {
    httplib::Client client("127.0.0.1", port_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      if (auto r = client.Get("/health"); r && r->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // Sends a signal and leaves the process running (e.g. SIGHUP).
  void send_signal(int signal) const {
    if (pid_ > 0) ::kill(pid_, signal);
  }
  // A crash: SIGKILL, nothing flushed.
  void kill_now() { stop(SIGKILL); }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(read_timeout_s_, 0);
    return c;
  }

 private:
  void stop(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  int port_;
  int read_timeout_s_;
  pid_t pid_ = -1;
};

}  // namespace dd::test
