#include "mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "graphcache/error.hpp"

namespace graphcache::fingerprint_detail {
namespace {

[[noreturn]] void throw_io(const std::string& what, const std::string& path, int error_number) {
  throw Error(ErrorKind::kIo, what + " '" + path + "': " + std::strerror(error_number));
}

}  // namespace

MappedFile::MappedFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_io("cannot open weight file", path, errno);
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error_number = errno;
    ::close(fd);
    throw_io("cannot stat weight file", path, error_number);
  }
  size_ = static_cast<uint64_t>(info.st_size);
  if (size_ > 0) {
    void* mapping = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (mapping == MAP_FAILED) {
      const int error_number = errno;
      ::close(fd);
      throw_io("cannot mmap weight file", path, error_number);
    }
    // Each chunk is read once, front to back: ask for read-ahead, not for keeping pages.
    ::madvise(mapping, size_, MADV_SEQUENTIAL);
    data_ = static_cast<const uint8_t*>(mapping);
  }
  ::close(fd);  // the mapping keeps the file referenced
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace graphcache::fingerprint_detail
