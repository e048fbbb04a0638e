// Writing a file so that a reader sees either nothing (or the old file) or the whole new content: a temp
// file next to the target, fsync, rename over the target, fsync of the folder. The one implementation of
// this pattern, used by the store's entries and the CLI's output files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/unique_fd.hpp"

namespace graphcache {

// Writes all `size` bytes to `fd`, retrying short writes and EINTR. Throws Error(kIo)
// "cannot write <what>: <reason>".
void write_all(int fd, const void* data, size_t size, const std::string& what);

class AtomicFile {
 public:
  // Creates `temp_path` (O_EXCL, mode 0644); it must be in the folder of `final_path` so the rename is
  // atomic. Throws Error(kIo) "cannot create '<temp>': <reason>".
  AtomicFile(std::string final_path, std::string temp_path);
  // Removes the temp file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  int fd() const { return fd_.get(); }
  const std::string& temp_path() const { return temp_path_; }
  // fsync (when `durable`) and close; a deferred write error shows up here. Throws Error(kIo).
  void close(bool durable);
  // Closes if still open, then renames the temp file over the final path and, when `durable`, fsyncs
  // the folder so the rename survives a crash. Throws Error(kIo) "cannot rename into '<final>'".
  void commit(bool durable);

 private:
  std::string final_path_, temp_path_;
  UniqueFd fd_;
  bool committed_ = false;
};

// Makes a rename into `folder` survive a crash (fsync of the folder); best effort, never throws.
void fsync_folder(const std::string& folder);

// `size` bytes to `path` through an AtomicFile named ".graphcache-<pid>-<name>" in the same folder.
void write_file_atomically(const std::string& path, const void* data, uint64_t size, bool durable);

}  // namespace graphcache
