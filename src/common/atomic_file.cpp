#include "common/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "graphcache/error.hpp"

namespace graphcache {
namespace {

[[noreturn]] void io_error(const std::string& what, int err) {
  throw Error(ErrorKind::kIo, what + ": " + std::strerror(err));
}

std::string folder_of(const std::string& path) {
  const std::filesystem::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : std::string(".");
}

}  // namespace

void write_all(int fd, const void* data, size_t size, const std::string& what) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, std::min<size_t>(size, size_t{1} << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      io_error("cannot write " + what, errno);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

AtomicFile::AtomicFile(std::string final_path, std::string temp_path)
    : final_path_(std::move(final_path)), temp_path_(std::move(temp_path)) {
  fd_.reset(::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd_.valid()) io_error("cannot create '" + temp_path_ + "'", errno);
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    fd_.reset();
    ::unlink(temp_path_.c_str());
  }
}

void AtomicFile::close(bool durable) {
  if (!fd_.valid()) return;
  if (durable && ::fsync(fd_.get()) != 0) io_error("cannot fsync '" + temp_path_ + "'", errno);
  if (fd_.close() != 0) io_error("cannot close '" + temp_path_ + "'", errno);
}

void AtomicFile::commit(bool durable) {
  close(durable);
  if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0)
    io_error("cannot rename into '" + final_path_ + "'", errno);
  committed_ = true;
  if (durable) fsync_folder(folder_of(final_path_));
}

void fsync_folder(const std::string& folder) {
  const UniqueFd dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) ::fsync(dir.get());  // best effort: the file itself is already durable
}

void write_file_atomically(const std::string& path, const void* data, uint64_t size, bool durable) {
  const std::filesystem::path target(path);
  const std::string temp =
      folder_of(path) + "/.graphcache-" + std::to_string(::getpid()) + "-" + target.filename().string();
  ::unlink(temp.c_str());  // left by a crashed run of a process with this pid: the name is ours
  AtomicFile file(path, temp);
  write_all(file.fd(), data, size, "'" + path + "'");
  file.commit(durable);
}

}  // namespace graphcache
