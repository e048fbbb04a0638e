#include "graphcache/error.hpp"

namespace graphcache {

const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return "invalid argument";
    case ErrorKind::kInvalidModel:
      return "invalid model";
    case ErrorKind::kIo:
      return "I/O error";
    case ErrorKind::kCorrupt:
      return "corrupt data";
    case ErrorKind::kUnsupported:
      return "unsupported";
    case ErrorKind::kInternal:
      return "internal error";
  }
  return "error";
}

}  // namespace graphcache
