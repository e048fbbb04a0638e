#include "mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "graphcache/error.hpp"

namespace graphcache {
namespace {

[[noreturn]] void fail_io(const std::string& path, const std::string& what, int error_number) {
  throw Error(ErrorKind::kIo, path + ": " + what + ": " + std::strerror(error_number));
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

MappedFile::MappedFile(const std::string& path, Access access, const std::string& what) {
  // stat before open: opening a FIFO for reading blocks until a writer appears, and opening a device can
  // have side effects. O_NONBLOCK covers the race where the path is swapped for a FIFO between the two
  // calls (the fstat below then refuses it); it has no effect on regular files.
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) fail_io(path, "cannot open " + what, errno);
  if (!S_ISREG(info.st_mode)) throw Error(ErrorKind::kIo, path + ": " + what + " is not a regular file");
  const FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) fail_io(path, "cannot open " + what, errno);
  if (::fstat(fd.get(), &info) != 0) fail_io(path, "cannot stat " + what, errno);
  if (!S_ISREG(info.st_mode)) throw Error(ErrorKind::kIo, path + ": " + what + " is not a regular file");
  size_ = static_cast<uint64_t>(info.st_size);
  if (size_ == 0) return;  // mmap refuses empty ranges; callers report empty files themselves
  void* mapping = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (mapping == MAP_FAILED) fail_io(path, "cannot map " + what, errno);
  ::madvise(mapping, size_, access == Access::kSequential ? MADV_SEQUENTIAL : MADV_RANDOM);
  data_ = static_cast<const uint8_t*>(mapping);  // the mapping keeps the file referenced after close
}

void MappedFile::release(uint64_t begin, uint64_t end) const {
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t first = (begin + page - 1) / page * page;
  const uint64_t last =
      end >= size_ ? (size_ + page - 1) / page * page : end / page * page;  // the tail page too
  // A read-only shared mapping: MADV_DONTNEED unmaps the pages, the file and its page cache keep them.
  if (data_ != nullptr && first < last)
    ::madvise(const_cast<uint8_t*>(data_) + first, last - first, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace graphcache
