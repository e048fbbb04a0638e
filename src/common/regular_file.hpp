// Opening a path for reading only when it is a regular file, shared by the mapped model file and a put's
// engine file: both take paths from users (or from files users wrote), where a FIFO, a device or a
// directory may stand.
#pragma once

#include <cstdint>
#include <string>

#include "common/unique_fd.hpp"

namespace graphcache {

struct RegularFile {
  // kOk, or the step that refused the path (callers word their own messages and error kinds).
  enum class Status { kOk, kCannotStat, kNotRegular, kCannotOpen, kCannotFstat };
  Status status = Status::kOk;
  int error = 0;  // errno of the failed call (kCannotStat, kCannotOpen, kCannotFstat)
  UniqueFd fd;    // open read-only (O_CLOEXEC) when kOk
  uint64_t size = 0;
};

// stat before open: opening a FIFO for reading waits for a writer, and opening a device can have side
// effects. The open is O_NONBLOCK and fstat checks again, in case the path was swapped in between; the
// flag has no effect on reads of a regular file.
RegularFile open_regular_file(const std::string& path);

}  // namespace graphcache
