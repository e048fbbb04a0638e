// One blocking hiredis connection with timeouts, binary-safe commands and pipelining. Every transport
// failure (refused, timeout, EOF, protocol) throws Error(kIo) and marks the connection broken: hiredis
// contexts are unusable after an I/O error, so the owner drops it and reconnects on the next operation.
//
// The server is not trusted to be well-behaved (a shared cache may point at anything that speaks RESP):
//  - every reply is bounded: its ReplyLimits cap the bytes a reply may buffer and the elements its arrays may
//    declare (checked when hiredis creates each object, before it allocates the array); a reply over
//    the limits breaks the connection instead of growing memory.
//  - every reply has a deadline: io_timeout without progress, plus io_timeout + size / kMinBytesPerSecond
//    for the whole reply, plus the caller's operation deadline (set_deadline), whichever comes first, so a
//    server dripping one byte at a time cannot hold a client.
#pragma once

#include <hiredis/hiredis.h>

#include <sys/uio.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "graphcache/redis_store.hpp"

namespace graphcache::redis {

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

using Args = std::vector<std::string_view>;

// What one reply may contain; the defaults suit replies of a few small values.
struct ReplyLimits {
  uint64_t max_bytes = 1 << 20;  // bytes the reply may occupy in the read buffer, and the largest string
  int max_elements = 1024;       // elements any one array in the reply may declare
};

// A slow link still moves this much per second; a reply of n bytes gets n / this on top of io_timeout.
constexpr uint64_t kMinBytesPerSecond = 8ull << 20;

using Clock = std::chrono::steady_clock;

class Connection {
 public:
  // Connects within config.connect_timeout, sets the I/O timeout, AUTHs and SELECTs the database.
  explicit Connection(const RedisConfig& config);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one command and waits for its reply. An error reply (e.g. WRONGTYPE) throws Error(kIo) too
  // but leaves the connection usable.
  Reply command(const Args& args, const ReplyLimits& limits = {});
  // Pipelining: queue commands, then read their replies in order (error replies are returned, not thrown).
  void append(const Args& args);
  Reply read_reply(const ReplyLimits& limits = {});

  // Large values bypass hiredis' buffers (which copy every byte twice and memmove the rest of the
  // output buffer after each partial write): these move bytes between the socket and the caller's memory.
  //
  // Sends `head... payload tail...` as one command, the payload written straight from `payload`. Does not
  // read the reply (use read_reply).
  void send_with_payload(const Args& head, std::string_view payload, const Args& tail);

  enum class BulkStatus { kOk, kNil, kWrongSize, kNotString };
  // Reads the next reply, expected to be a bulk string of exactly `expected` bytes, into `out`, calling
  // `on_piece` for each piece as it arrives (checksum while it is hot in cache). Queued commands are sent
  // first. A reply of another size or type is consumed and reported, leaving the connection in sync.
  BulkStatus read_bulk_into(uint8_t* out, uint64_t expected,
                            const std::function<void(const uint8_t*, size_t)>& on_piece,
                            uint64_t* actual_size);

  bool broken() const { return broken_; }
  // For a caller that abandoned a reply midway (e.g. out of memory): the owner reconnects.
  void mark_broken() { broken_ = true; }

  // No reply or write may end later than this (the whole get/put/list it belongs to).
  void set_deadline(Clock::time_point deadline) { deadline_ = deadline; }
  // io_timeout plus the time `bytes` take at kMinBytesPerSecond.
  Clock::duration allowance(uint64_t bytes) const;

  // hiredis' object constructors call these through the reader's privdata (see the .cpp).
  struct Guard {
    ReplyLimits limits;
    std::string violation;  // set when a limit refused an object
  };

 private:
  [[noreturn]] void fail(const std::string& what);
  void flush();
  void write_all(std::vector<iovec> pieces);
  void read_exact(void* out, size_t size, Clock::time_point deadline);
  std::string read_line(Clock::time_point deadline);
  // Waits until the socket is ready for `events` (POLLIN/POLLOUT), at most io_timeout and never past
  // `deadline`; fails with "timed out" otherwise.
  void wait_ready(short events, Clock::time_point deadline);
  Clock::time_point command_deadline(uint64_t bytes) const;

  redisContext* context_ = nullptr;
  std::string endpoint_;  // "host:port" for messages
  bool broken_ = false;
  std::chrono::milliseconds io_timeout_;
  std::unique_ptr<Guard> guard_ = std::make_unique<Guard>();  // stable address for hiredis' privdata
  Clock::time_point deadline_ = Clock::time_point::max();
};

// Helpers for reading typed replies; throw Error(kIo) on an unexpected reply type.
bool is_nil(const redisReply& reply);
std::string_view as_bytes(const redisReply& reply);  // bulk/status string
long long as_integer(const redisReply& reply);

}  // namespace graphcache::redis
