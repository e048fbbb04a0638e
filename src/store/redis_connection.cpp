#include "redis_connection.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "graphcache/error.hpp"

namespace graphcache::redis {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  const auto count = std::max<int64_t>(ms.count(), 1);
  return timeval{static_cast<time_t>(count / 1000), static_cast<suseconds_t>((count % 1000) * 1000)};
}

void split_args(const Args& args, std::vector<const char*>& argv, std::vector<size_t>& lengths) {
  argv.clear();
  lengths.clear();
  for (std::string_view arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
}

// Writing to a socket whose peer died raises SIGPIPE, which kills the process by default. A library must
// not change the process' signal handling, so block SIGPIPE in this thread while we do socket I/O and
// discard one raised meanwhile (EPIPE still reports the failure).
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_mask_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{0, 0};
        sigtimedwait(&pipe_, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_{}, old_mask_{};
  bool was_pending_ = false;
};

std::string bulk_header(size_t size) {
  return "$" + std::to_string(size) + "\r\n";
}

}  // namespace

Connection::Connection(const RedisConfig& config)
    : endpoint_(config.host + ":" + std::to_string(config.port)) {
  context_ = redisConnectWithTimeout(config.host.c_str(), config.port, to_timeval(config.connect_timeout));
  if (context_ == nullptr)
    throw Error(ErrorKind::kIo, "redis " + endpoint_ + ": cannot allocate a connection");
  try {
    if (context_->err != 0) fail(std::string("connect failed: ") + context_->errstr);
    if (redisSetTimeout(context_, to_timeval(config.io_timeout)) != REDIS_OK)
      fail("cannot set the I/O timeout");
    redisEnableKeepAlive(context_);
    if (!config.password.empty()) {
      Args auth = config.username.empty() ? Args{"AUTH", config.password}
                                          : Args{"AUTH", config.username, config.password};
      command(auth);
    }
    if (config.db != 0) {
      const std::string db = std::to_string(config.db);
      command({"SELECT", db});
    }
  } catch (...) {
    redisFree(context_);  // the destructor does not run for a constructor that throws
    context_ = nullptr;
    throw;
  }
}

Connection::~Connection() {
  if (context_ != nullptr) redisFree(context_);
}

void Connection::fail(const std::string& what) {
  broken_ = true;
  throw Error(ErrorKind::kIo, "redis " + endpoint_ + ": " + what);
}

Reply Connection::command(const Args& args) {
  append(args);
  Reply reply = read_reply();
  if (reply->type == REDIS_REPLY_ERROR) {
    throw Error(ErrorKind::kIo, "redis " + endpoint_ + ": " + std::string(args.front()) +
                                    " failed: " + std::string(reply->str, reply->len));
  }
  return reply;
}

void Connection::append(const Args& args) {
  if (broken_) fail("connection is broken");
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  split_args(args, argv, lengths);
  if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()) !=
      REDIS_OK) {
    fail(std::string("cannot queue ") + std::string(args.front()) + ": " + context_->errstr);
  }
}

Reply Connection::read_reply() {
  if (broken_) fail("connection is broken");
  SigpipeGuard guard;  // redisGetReply first flushes queued commands
  void* raw = nullptr;
  if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
    const std::string reason = context_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)
                                   ? std::string("timed out")
                                   : std::string(context_->errstr);
    fail(reason);
  }
  return Reply(static_cast<redisReply*>(raw));
}

void Connection::flush() {
  SigpipeGuard guard;
  int done = 0;
  while (!done) {
    if (redisBufferWrite(context_, &done) != REDIS_OK) fail(std::string("write failed: ") + context_->errstr);
  }
}

void Connection::write_all(std::vector<iovec> pieces) {
  SigpipeGuard guard;
  size_t first = 0;
  while (first < pieces.size()) {
    const ssize_t n = ::writev(context_->fd, pieces.data() + first, static_cast<int>(pieces.size() - first));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      fail(errno == EAGAIN || errno == EWOULDBLOCK ? "write timed out"
                                                   : std::string("write failed: ") + std::strerror(errno));
    size_t written = static_cast<size_t>(n);
    while (first < pieces.size() && written >= pieces[first].iov_len) written -= pieces[first++].iov_len;
    if (first < pieces.size()) {
      pieces[first].iov_base = static_cast<char*>(pieces[first].iov_base) + written;
      pieces[first].iov_len -= written;
    }
  }
}

void Connection::read_exact(void* out, size_t size) {
  auto* bytes = static_cast<uint8_t*>(out);
  while (size > 0) {
    const ssize_t n = ::recv(context_->fd, bytes, size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) fail("connection closed by the server");
    if (n < 0)
      fail(errno == EAGAIN || errno == EWOULDBLOCK ? "timed out"
                                                   : std::string("read failed: ") + std::strerror(errno));
    bytes += n;
    size -= static_cast<size_t>(n);
  }
}

// A reply's first line; byte by byte so nothing after it is consumed (a dozen bytes per 64 MiB chunk).
std::string Connection::read_line() {
  std::string line;
  char c = 0;
  while (line.size() < 64) {
    read_exact(&c, 1);
    if (c == '\n' && !line.empty() && line.back() == '\r') {
      line.pop_back();
      return line;
    }
    line += c;
  }
  fail("protocol error: reply line too long");
}

void Connection::send_with_payload(const Args& head, std::string_view payload, const Args& tail) {
  if (broken_) fail("connection is broken");
  flush();
  std::string before = "*" + std::to_string(head.size() + 1 + tail.size()) + "\r\n";
  for (std::string_view arg : head) before.append(bulk_header(arg.size())).append(arg).append("\r\n");
  before += bulk_header(payload.size());
  std::string after = "\r\n";
  for (std::string_view arg : tail) after.append(bulk_header(arg.size())).append(arg).append("\r\n");
  write_all({{before.data(), before.size()},
             {const_cast<char*>(payload.data()), payload.size()},
             {after.data(), after.size()}});
}

Connection::BulkStatus Connection::read_bulk_into(uint8_t* out, uint64_t expected,
                                                  const std::function<void(const uint8_t*, size_t)>& on_piece,
                                                  uint64_t* actual_size) {
  if (broken_) fail("connection is broken");
  flush();
  if (context_->reader->len > context_->reader->pos) {
    // hiredis already buffered part of this reply: take the ordinary path.
    Reply reply = read_reply();
    if (reply->type == REDIS_REPLY_NIL) return BulkStatus::kNil;
    if (reply->type != REDIS_REPLY_STRING) return BulkStatus::kNotString;
    *actual_size = reply->len;
    if (reply->len != expected) return BulkStatus::kWrongSize;
    std::memcpy(out, reply->str, reply->len);
    on_piece(out, reply->len);
    return BulkStatus::kOk;
  }
  SigpipeGuard guard;
  const std::string line = read_line();
  if (line.empty()) fail("protocol error: empty reply line");
  if (line[0] != '$') {
    if (line[0] == '-' || line[0] == '+' || line[0] == ':') return BulkStatus::kNotString;  // line consumed
    fail("protocol error: unexpected reply '" + line.substr(0, 16) + "'");
  }
  if (line == "$-1") return BulkStatus::kNil;
  const uint64_t size = std::strtoull(line.c_str() + 1, nullptr, 10);
  *actual_size = size;
  if (size != expected) {
    std::vector<uint8_t> scratch(std::min<uint64_t>(size + 2, 1 << 20));
    for (uint64_t left = size + 2; left > 0;) {
      const size_t piece = static_cast<size_t>(std::min<uint64_t>(left, scratch.size()));
      read_exact(scratch.data(), piece);
      left -= piece;
    }
    return BulkStatus::kWrongSize;
  }
  uint64_t done = 0;
  while (done < size) {
    const ssize_t n =
        ::recv(context_->fd, out + done, static_cast<size_t>(std::min<uint64_t>(size - done, 1 << 22)), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) fail("connection closed by the server");
    if (n < 0)
      fail(errno == EAGAIN || errno == EWOULDBLOCK ? "timed out"
                                                   : std::string("read failed: ") + std::strerror(errno));
    on_piece(out + done, static_cast<size_t>(n));
    done += static_cast<uint64_t>(n);
  }
  char crlf[2];
  read_exact(crlf, 2);
  if (crlf[0] != '\r' || crlf[1] != '\n') fail("protocol error: bulk string not terminated");
  return BulkStatus::kOk;
}

bool is_nil(const redisReply& reply) {
  return reply.type == REDIS_REPLY_NIL;
}

std::string_view as_bytes(const redisReply& reply) {
  if (reply.type != REDIS_REPLY_STRING && reply.type != REDIS_REPLY_STATUS) {
    throw Error(ErrorKind::kIo, "redis: expected a string reply, got type " + std::to_string(reply.type));
  }
  return {reply.str, reply.len};
}

long long as_integer(const redisReply& reply) {
  if (reply.type != REDIS_REPLY_INTEGER) {
    throw Error(ErrorKind::kIo, "redis: expected an integer reply, got type " + std::to_string(reply.type));
  }
  return reply.integer;
}

}  // namespace graphcache::redis
