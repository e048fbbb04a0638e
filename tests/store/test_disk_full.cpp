// A put that runs out of space fails with Error(kIo), leaves no partial file, and the store keeps
// serving what it has. Two real mechanisms: a 1 MiB tmpfs mounted by the test (needs CAP_SYS_ADMIN, as
// root in CI), and RLIMIT_FSIZE in a child process (works for any user: writes past the limit fail
// with EFBIG exactly where a full disk fails with ENOSPC).
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "graphcache/error.hpp"
#include "graphcache/local_store.hpp"
#include "store_test_util.hpp"

namespace graphcache {
namespace {

using testing::key_from_seed;
using testing::make_payload;
using testing::ScratchDir;

// Returns "" if every expectation holds, else what failed (so it can run in a child process too).
std::string exercise_full_disk(const std::string& cache_dir, size_t small, size_t too_big) {
  StoreConfig config = testing::test_config(cache_dir);
  config.fsync = true;
  LocalStore store(config);
  std::vector<uint8_t> a = make_payload(1, small);
  store.put(key_from_seed(1), EngineSource::from_memory(a.data(), a.size()), {});
  std::vector<uint8_t> big = make_payload(2, too_big);
  try {
    store.put(key_from_seed(2), EngineSource::from_memory(big.data(), big.size()), {});
    return "put of " + std::to_string(too_big) + " bytes succeeded";
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kIo) return std::string("wrong error kind: ") + e.what();
  }
  if (testing::count_temp_files(cache_dir) != 0) return "a partial temp file was left behind";
  if (std::filesystem::exists(store.entry_path(key_from_seed(2)))) return "a partial entry was left behind";
  auto entry = store.get(key_from_seed(1));
  if (!entry || !testing::payload_is_intact(entry->engine->data(), entry->engine->size())) {
    return "the earlier entry is no longer served";
  }
  if (store.get(key_from_seed(2))) return "the failed put is served";
  std::vector<uint8_t> b = make_payload(3, small);
  store.put(key_from_seed(3), EngineSource::from_memory(b.data(), b.size()), {});  // space was given back
  if (!store.get(key_from_seed(3))) return "a put after the failure is not served";
  StoreStats s = store.stats();
  if (s.errors != 1 || s.puts != 2)
    return "stats: errors " + std::to_string(s.errors) + " puts " + std::to_string(s.puts);
  if (store.verify().corrupt != 0) return "verify found corrupt entries";
  return "";
}

TEST(DiskFull, TinyTmpfs) {
  ScratchDir dir;
  const std::string mount_point = dir / "tiny";
  std::filesystem::create_directories(mount_point);
  if (::mount("graphcache-test", mount_point.c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                 << "); DiskFull.FileSizeLimit covers the same path";
  }
  std::string failure;
  try {
    failure = exercise_full_disk(mount_point + "/cache", 200 << 10, 2 << 20);
  } catch (const std::exception& e) {
    failure = std::string("unexpected exception: ") + e.what();
  }
  ::umount2(mount_point.c_str(), MNT_DETACH);
  EXPECT_EQ(failure, "");
}

TEST(DiskFull, FileSizeLimit) {
  ScratchDir dir;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // get EFBIG from write() instead of being killed
    struct rlimit limit = {1 << 20, 1 << 20};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    std::string failure;
    try {
      failure = exercise_full_disk(dir / "cache", 100 << 10, 3 << 20);
    } catch (const std::exception& e) {
      failure = std::string("unexpected exception: ") + e.what();
    }
    if (!failure.empty()) std::fprintf(stderr, "%s\n", failure.c_str());
    ::_exit(failure.empty() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "see the child's message above";
}

}  // namespace
}  // namespace graphcache
