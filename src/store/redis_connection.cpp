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

// hiredis builds reply objects through a table of constructors; ours check the limits first and then call
// hiredis' own (every context starts with the same static default table). A constructor that returns
// null makes hiredis stop parsing with an error, before it allocates an array of the declared size.
redisReplyObjectFunctions* default_functions = nullptr;

Connection::Guard* guard_of(const redisReadTask* task) {
  return static_cast<Connection::Guard*>(task->privdata);
}

void* limited_string(const redisReadTask* task, char* str, size_t len) {
  Connection::Guard* guard = guard_of(task);
  if (guard != nullptr && len > guard->limits.max_bytes) {
    guard->violation = "a string of " + std::to_string(len) + " bytes (limit " +
                       std::to_string(guard->limits.max_bytes) + ")";
    return nullptr;
  }
  return default_functions->createString(task, str, len);
}

void* limited_array(const redisReadTask* task, int elements) {
  Connection::Guard* guard = guard_of(task);
  if (guard != nullptr && elements > guard->limits.max_elements) {
    guard->violation = "an array of " + std::to_string(elements) + " elements (limit " +
                       std::to_string(guard->limits.max_elements) + ")";
    return nullptr;
  }
  return default_functions->createArray(task, elements);
}

void* plain_integer(const redisReadTask* task, long long value) {
  return default_functions->createInteger(task, value);
}
void* plain_nil(const redisReadTask* task) {
  return default_functions->createNil(task);
}
void plain_free(void* reply) {
  default_functions->freeObject(reply);
}

redisReplyObjectFunctions limited_functions{limited_string, limited_array, plain_integer, plain_nil,
                                            plain_free};

}  // namespace

Connection::Connection(const RedisConfig& config)
    : endpoint_(config.host + ":" + std::to_string(config.port)), io_timeout_(config.io_timeout) {
  context_ = redisConnectWithTimeout(config.host.c_str(), config.port, to_timeval(config.connect_timeout));
  if (context_ == nullptr)
    throw Error(ErrorKind::kIo, "redis " + endpoint_ + ": cannot allocate a connection");
  try {
    if (context_->err != 0) fail(std::string("connect failed: ") + context_->errstr);
    if (default_functions == nullptr) default_functions = context_->reader->fn;  // same for every context
    context_->reader->fn = &limited_functions;
    context_->reader->privdata = guard_.get();
    set_deadline(Clock::now() + 2 * io_timeout_);  // connect handshake: AUTH and SELECT
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
    set_deadline(Clock::time_point::max());
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

Reply Connection::command(const Args& args, const ReplyLimits& limits) {
  append(args);
  Reply reply = read_reply(limits);
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

Clock::duration Connection::allowance(uint64_t bytes) const {
  return io_timeout_ + std::chrono::milliseconds(bytes * 1000 / kMinBytesPerSecond);
}

Clock::time_point Connection::command_deadline(uint64_t bytes) const {
  return std::min(deadline_, Clock::now() + allowance(bytes));
}

void Connection::wait_ready(short events, Clock::time_point deadline) {
  for (;;) {
    const auto now = Clock::now();
    if (now >= deadline) fail("timed out (reply or operation deadline)");
    const auto wait = std::min<Clock::duration>(deadline - now, io_timeout_);
    pollfd p{context_->fd, events, 0};
    const int ready =
        ::poll(&p, 1, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) fail(std::string("poll failed: ") + std::strerror(errno));
    if (ready == 0) {
      if (wait == io_timeout_) fail("timed out");
      continue;  // the deadline check above reports it
    }
    return;
  }
}

// redisGetReply, but with a deadline for the whole reply and a bound on what the reader buffers: hiredis
// keeps reading until a declared bulk length has arrived, so a server could otherwise make it buffer
// without end.
Reply Connection::read_reply(const ReplyLimits& limits) {
  if (broken_) fail("connection is broken");
  guard_->limits = limits;
  guard_->violation.clear();
  const auto deadline = command_deadline(limits.max_bytes);
  flush();
  SigpipeGuard guard;
  auto parse = [&](void** out) {
    if (redisGetReplyFromReader(context_, out) == REDIS_OK) return;
    if (!guard_->violation.empty()) fail("protocol limit: the server sent " + guard_->violation);
    fail(std::string("protocol error: ") + context_->errstr);
  };
  void* raw = nullptr;
  parse(&raw);
  while (raw == nullptr) {
    wait_ready(POLLIN, deadline);
    if (redisBufferRead(context_) != REDIS_OK) {
      fail(context_->err == REDIS_ERR_EOF ? std::string("connection closed by the server")
                                          : std::string(context_->errstr));
    }
    const redisReader* reader = context_->reader;
    if (reader->len - reader->pos > limits.max_bytes + 4096) {
      fail("protocol limit: reply larger than " + std::to_string(limits.max_bytes) + " bytes");
    }
    parse(&raw);
  }
  return Reply(static_cast<redisReply*>(raw));
}

void Connection::flush() {
  SigpipeGuard guard;
  const auto deadline = command_deadline(0);  // queued commands are small; payloads use write_all
  int done = 0;
  while (!done) {
    wait_ready(POLLOUT, deadline);
    if (redisBufferWrite(context_, &done) != REDIS_OK) fail(std::string("write failed: ") + context_->errstr);
  }
}

void Connection::write_all(std::vector<iovec> pieces) {
  SigpipeGuard guard;
  uint64_t total = 0;
  for (const iovec& piece : pieces) total += piece.iov_len;
  const auto deadline = command_deadline(total);
  size_t first = 0;
  while (first < pieces.size()) {
    wait_ready(POLLOUT, deadline);
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

void Connection::read_exact(void* out, size_t size, Clock::time_point deadline) {
  auto* bytes = static_cast<uint8_t*>(out);
  while (size > 0) {
    wait_ready(POLLIN, deadline);
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
std::string Connection::read_line(Clock::time_point deadline) {
  std::string line;
  char c = 0;
  while (line.size() < 64) {
    read_exact(&c, 1, deadline);
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
    Reply reply = read_reply({expected, 0});
    if (reply->type == REDIS_REPLY_NIL) return BulkStatus::kNil;
    if (reply->type != REDIS_REPLY_STRING) return BulkStatus::kNotString;
    *actual_size = reply->len;
    if (reply->len != expected) return BulkStatus::kWrongSize;
    std::memcpy(out, reply->str, reply->len);
    on_piece(out, reply->len);
    return BulkStatus::kOk;
  }
  SigpipeGuard guard;
  const auto deadline = command_deadline(expected);
  const std::string line = read_line(deadline);
  if (line.empty()) fail("protocol error: empty reply line");
  if (line[0] != '$') {
    if (line[0] == '-' || line[0] == '+' || line[0] == ':') return BulkStatus::kNotString;  // line consumed
    fail("protocol error: unexpected reply '" + line.substr(0, 16) + "'");
  }
  if (line == "$-1") return BulkStatus::kNil;
  char* end = nullptr;
  errno = 0;
  const uint64_t size = std::strtoull(line.c_str() + 1, &end, 10);
  if (errno != 0 || end == line.c_str() + 1 || *end != '\0') fail("protocol error: bad bulk length");
  *actual_size = size;
  if (size != expected) {
    // A wrong-sized chunk is drained to keep the connection in sync, but only if it is no larger than
    // a chunk may be: a server declaring gigabytes is not waited for.
    if (size > expected + (expected >> 1) + 4096) {
      fail("protocol limit: chunk reply of " + std::to_string(size) + " bytes, expected " +
           std::to_string(expected));
    }
    std::vector<uint8_t> scratch(std::min<uint64_t>(size + 2, 1 << 20));
    for (uint64_t left = size + 2; left > 0;) {
      const size_t piece = static_cast<size_t>(std::min<uint64_t>(left, scratch.size()));
      read_exact(scratch.data(), piece, deadline);
      left -= piece;
    }
    return BulkStatus::kWrongSize;
  }
  uint64_t done = 0;
  while (done < size) {
    wait_ready(POLLIN, deadline);
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
  read_exact(crlf, 2, deadline);
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
