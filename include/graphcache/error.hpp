// One error scheme for the whole library: functions that can fail on bad input or I/O throw
// graphcache::Error (a std::runtime_error with a category). The CLI and the Python binding catch it at
// their boundary and turn it into a message / exception; store lookups never throw for corrupt entries
// (a corrupt entry is a miss), see store.hpp.
#pragma once

#include <stdexcept>
#include <string>

namespace graphcache {

enum class ErrorKind {
  kInvalidArgument,  // caller passed something malformed (bad hex key, bad setting)
  kInvalidModel,     // model file is malformed, truncated, cyclic, uses unknown ops...
  kIo,               // file system / network failure
  kCorrupt,          // stored data failed an integrity check
  kUnsupported,      // valid input we deliberately do not handle
  kInternal,
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

const char* to_string(ErrorKind kind) noexcept;

}  // namespace graphcache
