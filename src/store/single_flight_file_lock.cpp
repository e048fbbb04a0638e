// FileLockService: flock() on <dir>/<hex>.lock. The holder unlinks the file before unlocking so the
// directory does not fill with lock files; an acquirer therefore checks that the file it locked is still
// the one at the path (else it locked a just-unlinked inode and retries).
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "common/unique_fd.hpp"
#include "graphcache/error.hpp"
#include "graphcache/single_flight.hpp"

namespace graphcache {
namespace {

class FileBuildLock final : public BuildLock {
 public:
  FileBuildLock(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  ~FileBuildLock() override {
    ::unlink(path_.c_str());  // before fd_ closes, which drops the flock
  }
  bool still_held() const override { return true; }  // flock has no expiry

 private:
  UniqueFd fd_;
  std::string path_;
};

bool same_file(int fd, const std::string& path) {
  struct stat by_fd {
  }, by_path{};
  if (::fstat(fd, &by_fd) != 0 || ::stat(path.c_str(), &by_path) != 0) return false;
  return by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino;
}

}  // namespace

FileLockService::FileLockService(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw Error(ErrorKind::kIo, "cannot create lock directory " + dir_ + ": " + ec.message());
  // A symlink planted at <cache>/locks would make us create lock files wherever it points.
  struct stat st {};
  if (::lstat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw Error(ErrorKind::kIo,
                "lock directory " + dir_ + " is not a real directory (a symlink?); refusing it");
}

std::unique_ptr<BuildLock> FileLockService::try_acquire(const Key& key) {
  const std::string path = dir_ + "/" + key.hex() + ".lock";
  for (;;) {
    // O_NOFOLLOW: a symlink planted at the lock path is refused (ELOOP), never followed.
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd.valid())
      throw Error(ErrorKind::kIo, "cannot open lock file " + path + ": " + std::strerror(errno));
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      if (error == EWOULDBLOCK) return nullptr;
      if (error == EINTR) continue;
      throw Error(ErrorKind::kIo, "cannot lock " + path + ": " + std::strerror(error));
    }
    if (same_file(fd.get(), path)) {
      // Who holds it, for the messages of waiters (FileLockService::holder); best effort.
      char host[256] = "?";
      ::gethostname(host, sizeof(host) - 1);
      const std::string who = "pid " + std::to_string(::getpid()) + " on " + host + " since " +
                              std::to_string(static_cast<long long>(::time(nullptr)));
      if (::ftruncate(fd.get(), 0) == 0 && ::pwrite(fd.get(), who.data(), who.size(), 0) < 0) {
        // A lock without its holder's name still works.
      }
      return std::make_unique<FileBuildLock>(std::move(fd), path);
    }
    // The previous holder unlinked it between our open and flock: fd closes, try the new file.
  }
}

bool FileLockService::is_held(const Key& key) {
  const std::string path = dir_ + "/" + key.hex() + ".lock";
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) return false;  // no file: nobody holds it
  return ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

std::string FileLockService::holder(const Key& key) {
  const std::string path = dir_ + "/" + key.hex() + ".lock";
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return {};
  char buf[512];
  const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace graphcache
