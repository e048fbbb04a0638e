#include "mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "graphcache/error.hpp"

namespace graphcache::onnx_frontend {

namespace {

[[noreturn]] void fail_io(const std::string& path, const std::string& what) {
  throw Error(ErrorKind::kIo, path + ": " + what + ": " + std::strerror(errno));
}

}  // namespace

MappedFile::MappedFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_io(path, "cannot open model file");
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    fail_io(path, "cannot stat model file");
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    throw Error(ErrorKind::kIo, path + ": model path is not a regular file: " + path);
  }
  size_ = static_cast<size_t>(info.st_size);
  if (size_ == 0) {  // mmap refuses empty ranges; an empty model is reported by the parser
    ::close(fd);
    return;
  }
  void* mapping = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int saved = errno;
  ::close(fd);
  if (mapping == MAP_FAILED) {
    errno = saved;
    fail_io(path, "cannot map model file");
  }
  ::madvise(mapping, size_, MADV_RANDOM);
  data_ = static_cast<const uint8_t*>(mapping);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace graphcache::onnx_frontend
