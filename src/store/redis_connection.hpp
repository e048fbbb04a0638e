// One blocking hiredis connection with timeouts, binary-safe commands and pipelining. Every transport
// failure (refused, timeout, EOF, protocol) throws Error(kIo) and marks the connection broken: hiredis
// contexts are unusable after an I/O error, so the owner drops it and reconnects on the next operation.
#pragma once

#include <hiredis/hiredis.h>

#include <sys/uio.h>

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

class Connection {
 public:
  // Connects within config.connect_timeout, sets the I/O timeout, AUTHs and SELECTs the database.
  explicit Connection(const RedisConfig& config);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one command and waits for its reply. An error reply (e.g. WRONGTYPE) throws Error(kIo) too
  // but leaves the connection usable.
  Reply command(const Args& args);
  // Pipelining: queue commands, then read their replies in order (error replies are returned, not thrown).
  void append(const Args& args);
  Reply read_reply();

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

 private:
  [[noreturn]] void fail(const std::string& what);
  void flush();
  void write_all(std::vector<iovec> pieces);
  void read_exact(void* out, size_t size);
  std::string read_line();

  redisContext* context_ = nullptr;
  std::string endpoint_;  // "host:port" for messages
  bool broken_ = false;
};

// Helpers for reading typed replies; throw Error(kIo) on an unexpected reply type.
bool is_nil(const redisReply& reply);
std::string_view as_bytes(const redisReply& reply);  // bulk/status string
long long as_integer(const redisReply& reply);

}  // namespace graphcache::redis
