// A hostile RESP server for tests: listens on a free loopback port and answers every command with
// whatever the test's handler writes (huge declared lengths, enormous array counts, wrong types, bytes
// dripped one at a time). One connection at a time, on its own thread; stopped by the destructor.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace graphcache::testing {

class HostileServer {
 public:
  // Writes the reply to `args` on the connection (use send_all / drip); returns false to hang up.
  using Handler = std::function<bool(HostileServer&, const std::vector<std::string>& args)>;

  explicit HostileServer(Handler handler) : handler_(std::move(handler)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listener_, 8) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ::close(listener_);
      throw std::runtime_error("hostile server: cannot listen on loopback");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~HostileServer() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }
  HostileServer(const HostileServer&) = delete;
  HostileServer& operator=(const HostileServer&) = delete;

  int port() const { return port_; }
  bool stopping() const { return stop_; }

  // False once the client is gone (or the server stops).
  bool send_all(std::string_view bytes) {
    while (!bytes.empty() && !stop_) {
      const ssize_t n = ::send(client_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return !stop_;
  }
  // One byte every `interval` until `bytes` are sent or the client hangs up.
  bool drip(std::string_view bytes, std::chrono::milliseconds interval) {
    for (char c : bytes) {
      if (!send_all(std::string_view(&c, 1))) return false;
      std::this_thread::sleep_for(interval);
    }
    return true;
  }

  static std::string bulk(std::string_view s) {
    return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      client_ = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client_ < 0) continue;
      std::string buffer;
      bool open = true;
      while (open && !stop_) {
        std::vector<std::string> args;
        while (!parse(buffer, args)) {
          pollfd c{client_, POLLIN, 0};
          if (stop_) break;
          if (::poll(&c, 1, 50) <= 0) continue;
          char chunk[65536];
          const ssize_t n = ::recv(client_, chunk, sizeof(chunk), 0);
          if (n <= 0) break;
          buffer.append(chunk, static_cast<size_t>(n));
        }
        if (args.empty()) break;
        open = handler_(*this, args);
      }
      ::close(client_);
      client_ = -1;
    }
  }

  // Takes one complete command (`*N $len arg ...`) off the front of `buffer`.
  static bool parse(std::string& buffer, std::vector<std::string>& out) {
    out.clear();
    std::vector<std::string> args;
    size_t pos = 0;
    auto line = [&](std::string& text) {
      const size_t end = buffer.find("\r\n", pos);
      if (end == std::string::npos) return false;
      text = buffer.substr(pos, end - pos);
      pos = end + 2;
      return true;
    };
    std::string header;
    if (!line(header) || header.empty() || header[0] != '*') return false;
    const long count = std::stol(header.substr(1));
    for (long i = 0; i < count; ++i) {
      std::string length;
      if (!line(length)) return false;
      const size_t size = std::stoul(length.substr(1));
      if (buffer.size() < pos + size + 2) return false;
      args.push_back(buffer.substr(pos, size));
      pos += size + 2;
    }
    buffer.erase(0, pos);
    out = std::move(args);
    return true;
  }

  Handler handler_;
  int listener_ = -1;
  int client_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace graphcache::testing
