// A read-only memory map of a whole file, so weights are hashed in place (no read() copies).
#pragma once

#include <cstdint>
#include <string>

namespace graphcache::fingerprint_detail {

class MappedFile {
 public:
  // Throws Error(kIo) when the file cannot be opened, inspected or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace graphcache::fingerprint_detail
