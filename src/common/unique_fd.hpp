// The one owner of a file descriptor (closes it once), and opening control files relative to a directory
// descriptor without following symlinks, so a link planted in a shared cache cannot redirect a write.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <utility>

namespace graphcache {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  // Closes now and reports close()'s result (a deferred write error shows up here).
  int close() { return fd_ >= 0 ? ::close(std::exchange(fd_, -1)) : 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC): `name` is a single component; a symlink there fails
// with ELOOP instead of being followed.
inline UniqueFd open_at_nofollow(int dir_fd, const char* name, int flags, mode_t mode = 0644) {
  return UniqueFd(::openat(dir_fd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode));
}

}  // namespace graphcache
