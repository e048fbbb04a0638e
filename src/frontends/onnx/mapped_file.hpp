// A read-only memory mapping of a whole file (RAII).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace graphcache::onnx_frontend {

class MappedFile {
 public:
  // Throws Error(kIo) when the file cannot be opened or mapped. The mapping is MADV_RANDOM: we touch
  // message headers scattered between large payloads and must not make the kernel read ahead into them.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace graphcache::onnx_frontend
