// A read-only memory map of a whole file (RAII), shared by the ONNX loader (which touches headers
// scattered between payloads) and the weight fingerprint (which streams payloads front to back).
#pragma once

#include <cstdint>
#include <string>

namespace graphcache {

class MappedFile {
 public:
  enum class Access { kSequential, kRandom };  // the madvise hint for the kernel's read-ahead

  // Throws Error(kIo) "<path>: cannot open <what>: <reason>" when the file cannot be opened, is not a
  // regular file or cannot be mapped. An empty file maps to data() == nullptr, size() == 0.
  MappedFile(const std::string& path, Access access, const std::string& what);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  // Drops the pages that lie wholly inside bytes [begin, end) from this process's resident memory (for a
  // reader done with that part of the file); reading them again faults them back in from the page cache,
  // so views into the mapping stay valid.
  void release(uint64_t begin, uint64_t end) const;

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace graphcache
