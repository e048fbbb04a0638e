#include "mapped_file.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "graphcache/error.hpp"
#include "regular_file.hpp"

namespace graphcache {
namespace {

[[noreturn]] void fail_io(const std::string& path, const std::string& what, int error_number) {
  throw Error(ErrorKind::kIo, path + ": " + what + ": " + std::strerror(error_number));
}

}  // namespace

MappedFile::MappedFile(const std::string& path, Access access, const std::string& what) {
  const RegularFile file = open_regular_file(path);
  switch (file.status) {
    case RegularFile::Status::kOk:
      break;
    case RegularFile::Status::kNotRegular:
      throw Error(ErrorKind::kIo, path + ": " + what + " is not a regular file");
    case RegularFile::Status::kCannotFstat:
      fail_io(path, "cannot stat " + what, file.error);
    case RegularFile::Status::kCannotStat:
    case RegularFile::Status::kCannotOpen:
      fail_io(path, "cannot open " + what, file.error);
  }
  size_ = file.size;
  if (size_ == 0) return;  // mmap refuses empty ranges; callers report empty files themselves
  void* mapping = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, file.fd.get(), 0);
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
