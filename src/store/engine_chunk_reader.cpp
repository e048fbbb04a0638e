#include "engine_chunk_reader.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/regular_file.hpp"
#include "graphcache/error.hpp"

namespace graphcache::store {

namespace {

[[noreturn]] void changed_size(const std::string& path) {
  throw Error(ErrorKind::kIo, "engine file '" + path + "' changed size while being stored");
}

}  // namespace

EngineChunkReader::EngineChunkReader(const EngineSource& source, uint64_t chunk_bytes)
    : source_(source), chunk_bytes_(std::max<uint64_t>(chunk_bytes, 1)) {
  if (source.file_path.empty()) {
    size_ = source.size;
    if (size_ != 0 && source.data == nullptr)
      throw Error(ErrorKind::kInvalidArgument, "engine source has a size but no data");
    return;
  }
  // Only a regular file has its size up front (not a pipe or device; a directory has no bytes).
  RegularFile file = open_regular_file(source.file_path);
  switch (file.status) {
    case RegularFile::Status::kOk:
      break;
    case RegularFile::Status::kNotRegular:
      throw Error(ErrorKind::kInvalidArgument,
                  "engine file '" + source.file_path + "' is not a regular file");
    case RegularFile::Status::kCannotFstat:
      throw Error(ErrorKind::kIo,
                  "cannot stat engine file '" + source.file_path + "': " + std::strerror(file.error));
    case RegularFile::Status::kCannotStat:
    case RegularFile::Status::kCannotOpen:
      throw Error(ErrorKind::kInvalidArgument,
                  "cannot open engine file '" + source.file_path + "': " + std::strerror(file.error));
  }
  fd_ = std::move(file.fd);
  size_ = file.size;
  buffer_.resize(std::min(chunk_bytes_, size_));
}

std::string_view EngineChunkReader::chunk(uint64_t offset, uint64_t length) {
  if (!fd_.valid()) return {reinterpret_cast<const char*>(source_.data) + offset, length};
  uint64_t done = 0;
  while (done < length) {
    const ssize_t n =
        ::pread(fd_.get(), buffer_.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw Error(ErrorKind::kIo,
                  "cannot read engine file '" + source_.file_path + "': " + std::strerror(errno));
    if (n == 0) changed_size(source_.file_path);  // shorter than when it was opened
    done += static_cast<uint64_t>(n);
  }
  return {buffer_.data(), length};
}

void EngineChunkReader::for_each_chunk(const std::function<void(std::string_view)>& add) {
  for (uint64_t offset = 0; offset < size_; offset += chunk_bytes_)
    add(chunk(offset, std::min(chunk_bytes_, size_ - offset)));
  check_unchanged();
}

void EngineChunkReader::check_unchanged() const {
  if (!fd_.valid()) return;
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0)
    throw Error(ErrorKind::kIo,
                "cannot stat engine file '" + source_.file_path + "': " + std::strerror(errno));
  if (static_cast<uint64_t>(st.st_size) != size_) changed_size(source_.file_path);
}

}  // namespace graphcache::store
