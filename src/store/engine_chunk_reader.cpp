#include "engine_chunk_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "graphcache/error.hpp"

namespace graphcache::store {

EngineChunkReader::EngineChunkReader(const EngineSource& source, uint64_t chunk_bytes) : source_(source) {
  if (source.file_path.empty()) {
    size_ = source.size;
    if (size_ != 0 && source.data == nullptr) throw Error(ErrorKind::kInvalidArgument, "engine data is null");
    return;
  }
  fd_.reset(::open(source.file_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd_.valid()) throw Error(ErrorKind::kInvalidArgument, "cannot open engine file " + source.file_path);
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0)
    throw Error(ErrorKind::kIo, "cannot stat engine file " + source.file_path);
  size_ = static_cast<uint64_t>(st.st_size);
  buffer_.resize(std::min(chunk_bytes, size_));
}

std::string_view EngineChunkReader::chunk(uint64_t offset, uint64_t length) {
  if (!fd_.valid()) return {reinterpret_cast<const char*>(source_.data) + offset, length};
  uint64_t done = 0;
  while (done < length) {
    const ssize_t n =
        ::pread(fd_.get(), buffer_.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw Error(ErrorKind::kIo, "cannot read engine file " + source_.file_path + " (changed size?)");
    done += static_cast<uint64_t>(n);
  }
  return {buffer_.data(), length};
}

}  // namespace graphcache::store
