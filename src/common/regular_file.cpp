#include "regular_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

namespace graphcache {

RegularFile open_regular_file(const std::string& path) {
  RegularFile file;
  const auto fail = [&file](RegularFile::Status status, int error) {
    file.status = status;
    file.error = error;
    file.fd.reset();
    return std::move(file);
  };
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return fail(RegularFile::Status::kCannotStat, errno);
  if (!S_ISREG(info.st_mode)) return fail(RegularFile::Status::kNotRegular, 0);
  file.fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!file.fd.valid()) return fail(RegularFile::Status::kCannotOpen, errno);
  if (::fstat(file.fd.get(), &info) != 0) return fail(RegularFile::Status::kCannotFstat, errno);
  if (!S_ISREG(info.st_mode)) return fail(RegularFile::Status::kNotRegular, 0);
  file.size = static_cast<uint64_t>(info.st_size);
  return file;
}

}  // namespace graphcache
