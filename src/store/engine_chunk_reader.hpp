// Streams the engine bytes of a put chunk by chunk, from memory or from a file (never loaded whole): the
// local tier writes them into its entry file, the Redis tier stores them as chunks of config.chunk_bytes,
// and a signed put hashes them first. One reader, so every tier reports a missing, unreadable or
// changing engine file alike.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/unique_fd.hpp"
#include "graphcache/store.hpp"

namespace graphcache::store {

class EngineChunkReader {
 public:
  // Opens and sizes a file source (kInvalidArgument when it cannot be opened or is not a regular file, kIo
  // when it cannot be sized); a memory source must not be null unless empty (kInvalidArgument).
  EngineChunkReader(const EngineSource& source, uint64_t chunk_bytes);
  uint64_t size() const { return size_; }

  // Bytes [offset, offset + length) of the engine, valid until the next call; length <= chunk_bytes.
  // kIo when the file is shorter than it was when opened.
  std::string_view chunk(uint64_t offset, uint64_t length);

  // Every chunk in order, then check_unchanged().
  void for_each_chunk(const std::function<void(std::string_view)>& add);

  // kIo when the file's size is no longer the size it had when opened (a file still being written: what
  // was read is not the engine the caller meant to store).
  void check_unchanged() const;

 private:
  const EngineSource& source_;
  uint64_t chunk_bytes_;
  UniqueFd fd_;
  uint64_t size_ = 0;
  std::string buffer_;
};

}  // namespace graphcache::store
