// A real redis-server for tests: spawned as a child on a free loopback port (no persistence), stopped,
// killed, paused and restarted on the same port on demand. Also a raw hiredis client for poking at keys
// behind the store's back (SETRANGE a chunk, count keys, read a TTL).
#pragma once

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "graphcache/redis_store.hpp"

extern char** environ;

namespace graphcache::testing {

inline int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RawReply = std::unique_ptr<redisReply, ReplyFree>;

class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra_args = {})
      : port_(free_loopback_port()), extra_args_(std::move(extra_args)) {
    start();
  }
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  RedisConfig config(const std::string& prefix = "test:") const {
    RedisConfig c;
    c.host = "127.0.0.1";
    c.port = port_;
    c.key_prefix = prefix;
    c.connect_timeout = std::chrono::milliseconds(500);
    c.io_timeout = std::chrono::milliseconds(2000);
    return c;
  }

  // Starts redis-server on port() (again, after stop/kill) and waits until it answers PING.
  void start() {
    if (pid_ > 0) return;
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--daemonize",
                                     "no",
                                     "--dir",
                                     std::filesystem::temp_directory_path().string(),
                                     "--loglevel",
                                     "warning"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // fork + exec rather than posix_spawn: the child asks to be killed when the test process dies, so a
    // crashed test never leaves a server (and the pipes it inherited) behind.
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("cannot fork for redis-server");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int null_fd = ::open("/dev/null", O_WRONLY);
      ::dup2(null_fd, STDOUT_FILENO);
      ::execvp("redis-server", argv.data());
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (pinged()) return;
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("redis-server exited at start (is it installed? is the port taken?)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop();
    throw std::runtime_error("redis-server did not come up on port " + std::to_string(port_));
  }

  void stop() { signal_and_reap(SIGTERM); }
  void kill() { signal_and_reap(SIGKILL); }
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

  // A raw command on a fresh connection (binary-safe via %b in `format`).
  template <typename... A>
  RawReply command(const char* format, A... args) const {
    std::unique_ptr<redisContext, void (*)(redisContext*)> c(redisConnect("127.0.0.1", port_), redisFree);
    if (!c || c->err) throw std::runtime_error("cannot connect to the test redis-server");
    auto* reply = static_cast<redisReply*>(redisCommand(c.get(), format, args...));
    if (!reply) throw std::runtime_error("redis command failed");
    return RawReply(reply);
  }

  std::vector<std::string> keys(const std::string& pattern) const {
    RawReply reply = command("KEYS %s", pattern.c_str());
    std::vector<std::string> out;
    for (size_t i = 0; i < reply->elements; ++i)
      out.emplace_back(reply->element[i]->str, reply->element[i]->len);
    return out;
  }

 private:
  bool pinged() const {
    timeval tv{0, 200000};
    std::unique_ptr<redisContext, void (*)(redisContext*)> c(redisConnectWithTimeout("127.0.0.1", port_, tv),
                                                             redisFree);
    if (!c || c->err) return false;
    RawReply reply(static_cast<redisReply*>(redisCommand(c.get(), "PING")));
    return reply && reply->type == REDIS_REPLY_STATUS;
  }

  void signal_and_reap(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);  // a paused server cannot handle SIGTERM
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  int port_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
};

}  // namespace graphcache::testing
