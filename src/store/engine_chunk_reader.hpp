// Streams the engine bytes of a put chunk by chunk, from memory or from a file (never loaded whole): the
// Redis tier stores an engine as chunks of config.chunk_bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/unique_fd.hpp"
#include "graphcache/store.hpp"

namespace graphcache::store {

class EngineChunkReader {
 public:
  // Opens and sizes a file source (kInvalidArgument when it cannot be opened, kIo when it cannot be sized);
  // a memory source must not be null unless empty.
  EngineChunkReader(const EngineSource& source, uint64_t chunk_bytes);
  uint64_t size() const { return size_; }

  // Bytes [offset, offset + length) of the engine, valid until the next call; length <= chunk_bytes.
  // kIo when the file is shorter than it was when opened.
  std::string_view chunk(uint64_t offset, uint64_t length);

 private:
  const EngineSource& source_;
  UniqueFd fd_;
  uint64_t size_ = 0;
  std::string buffer_;
};

}  // namespace graphcache::store
