// A hostile shared cache, round 2: symlinks planted at control files (stats shards, usage, gc.lock,
// locks/ and locks/<key>.lock) are never followed, locks held by someone else never block a lookup and
// bound gc's wait, a served entry survives its file being truncated or rewritten in place, a read-only
// cache directory serves hits, and a directory planted at an entry path does not block puts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "graphcache/error.hpp"
#include "graphcache/local_store.hpp"
#include "graphcache/single_flight.hpp"
#include "store_test_util.hpp"

namespace graphcache {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::key_from_seed;
using testing::make_payload;
using testing::payload_is_intact;
using testing::ScratchDir;
using testing::test_config;

class HostileControlFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(cache_);
    fs::create_directories(outside_);
    store_ = make_store();
  }
  std::unique_ptr<LocalStore> make_store(uint64_t gc_lock_wait_ms = 30000) {
    StoreConfig config = test_config(cache_);
    config.gc_lock_wait_ms = gc_lock_wait_ms;
    return std::make_unique<LocalStore>(config, [this](const std::string& w) { warnings_.push_back(w); });
  }
  void put(const Key& key, uint64_t seed, size_t size = 4096) {
    const std::vector<uint8_t> payload = make_payload(seed, size);
    store_->put(key, EngineSource::from_memory(payload.data(), payload.size()), EntryMetadata{});
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // Links `name` (inside the cache) to a file outside it holding "victim", or to a missing one.
  std::string plant_link(const std::string& name, bool target_exists) {
    const std::string target = outside_ + "/" + fs::path(name).filename().string();
    if (target_exists) std::ofstream(target) << "victim";
    fs::remove_all(cache_ + "/" + name);
    fs::create_symlink(target, cache_ + "/" + name);
    return target;
  }

  ScratchDir scratch_;
  std::string cache_ = scratch_ / "cache";
  std::string outside_ = scratch_ / "outside";
  std::vector<std::string> warnings_;
  std::unique_ptr<LocalStore> store_;
};

TEST_F(HostileControlFiles, SymlinkedStatsFilesAreNeverFollowed) {
  std::vector<std::string> existing, missing;
  for (int shard = 0; shard < 16; ++shard) {
    const std::string name = "stats/shard-" + std::to_string(shard);
    (shard % 2 ? existing : missing).push_back(plant_link(name, shard % 2 == 1));
  }
  existing.push_back(plant_link("stats/usage", true));
  put(key_from_seed(1), 1);
  ASSERT_TRUE(store_->get(key_from_seed(1)));
  EXPECT_FALSE(store_->get(key_from_seed(2)));
  store_->stats();
  store_->zero_stats();
  store_->gc();
  store_.reset();  // flushes deferred counters
  for (const std::string& target : existing) EXPECT_EQ(read(target), "victim") << target;
  for (const std::string& target : missing) EXPECT_FALSE(fs::exists(target)) << target << " was created";
}

TEST_F(HostileControlFiles, SymlinkedGcLockIsRefused) {
  const std::string target = plant_link("gc.lock", false);
  EXPECT_THROW(store_->gc(), Error);
  EXPECT_FALSE(fs::exists(target));
}

TEST_F(HostileControlFiles, SymlinkedBuildLocksAreRefused) {
  const Key key = key_from_seed(3);
  fs::create_directories(cache_ + "/locks");
  const std::string target = plant_link("locks/" + key.hex() + ".lock", false);
  FileLockService locks(cache_ + "/locks");
  EXPECT_THROW(locks.try_acquire(key), Error);
  EXPECT_FALSE(locks.is_held(key));
  EXPECT_FALSE(fs::exists(target));
  fs::remove(cache_ + "/locks/" + key.hex() + ".lock");
  fs::remove(cache_ + "/locks");
  fs::create_directories(outside_ + "/locks");
  fs::create_directory_symlink(outside_ + "/locks", cache_ + "/locks");
  EXPECT_THROW(FileLockService(cache_ + "/locks"), Error);
}

// Anyone who can read the stats files can flock them: lookups must not wait, counters catch up later.
TEST_F(HostileControlFiles, HeldStatsLocksNeverBlockLookups) {
  put(key_from_seed(4), 4);
  std::vector<int> held;
  for (const std::string name : {"usage"})
    held.push_back(::open((cache_ + "/stats/" + name).c_str(), O_RDWR));
  for (int shard = 0; shard < 16; ++shard) {
    held.push_back(
        ::open((cache_ + "/stats/shard-" + std::to_string(shard)).c_str(), O_RDWR | O_CREAT, 0644));
  }
  for (int fd : held) ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  const auto start = Clock::now();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(store_->get(key_from_seed(4)));
  put(key_from_seed(5), 5);
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  EXPECT_LT(waited.count(), 500) << "lookups waited for a stats lock";
  for (int fd : held) ::close(fd);
  ASSERT_TRUE(store_->get(key_from_seed(4)));  // flushes the deferred counters
  const StoreStats stats = store_->stats();
  EXPECT_EQ(stats.hits, 21u);
  EXPECT_EQ(stats.puts, 2u);
  EXPECT_EQ(stats.entries, 2u);
}

TEST_F(HostileControlFiles, HeldGcLockBoundsTheWait) {
  store_ = make_store(/*gc_lock_wait_ms=*/300);
  const int fd = ::open((cache_ + "/gc.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  const auto start = Clock::now();
  try {
    store_->gc();
    ADD_FAILURE() << "gc ran without its lock";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("held by another process"), std::string::npos) << e.what();
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
  ::close(fd);
  EXPECT_NO_THROW(store_->gc());
}

// A served entry is a private, verified copy: truncating (SIGBUS for a shared mapping) or rewriting the
// file in place afterwards changes nothing.
TEST_F(HostileControlFiles, ServedEntrySurvivesTruncationAndRewrite) {
  const Key key = key_from_seed(6);
  put(key, 6, 1 << 20);
  std::optional<Entry> entry = store_->get(key);
  ASSERT_TRUE(entry);
  const std::string path = store_->entry_path(key);
  {
    const int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_EQ(::ftruncate(fd, 0), 0);
    ASSERT_EQ(::ftruncate(fd, 1 << 20), 0);  // zeros where the engine was
    ::close(fd);
  }
  uint64_t seed = 0;
  EXPECT_TRUE(payload_is_intact(entry->engine->data(), entry->engine->size(), &seed));
  EXPECT_EQ(seed, 6u);
  EXPECT_FALSE(store_->get(key)) << "the rewritten file is corrupt: a miss";
}

// Root ignores permissions, so the read-only user is a child process that drops to nobody.
TEST_F(HostileControlFiles, ReadOnlyCacheDirectoryServesHits) {
  const Key key = key_from_seed(7);
  put(key, 7);
  store_.reset();
  fs::remove_all(cache_ + "/stats");  // and it cannot create its stats directory either
  for (const auto& e : fs::recursive_directory_iterator(scratch_ / ""))
    fs::permissions(e.path(), fs::perms::all, fs::perm_options::remove);
  for (const auto& e : fs::recursive_directory_iterator(scratch_ / "")) {
    fs::permissions(e.path(), fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read |
                                  (e.is_directory() ? fs::perms::owner_exec | fs::perms::group_exec |
                                                          fs::perms::others_exec
                                                    : fs::perms::none));
  }
  fs::permissions(scratch_ / "", fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  const pid_t child = ::fork();
  if (child == 0) {
    if (::getuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(10);
    try {
      LocalStore store(test_config(cache_));
      std::optional<Entry> entry = store.get(key);
      if (!entry || !payload_is_intact(entry->engine->data(), entry->engine->size())) ::_exit(11);
      try {
        const std::vector<uint8_t> payload = make_payload(8, 16);
        store.put(key_from_seed(8), EngineSource::from_memory(payload.data(), payload.size()), {});
        ::_exit(12);  // a put into a read-only cache must fail
      } catch (const Error&) {
      }
      ::_exit(0);
    } catch (...) {
      ::_exit(13);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  for (const auto& e : fs::recursive_directory_iterator(scratch_ / ""))
    fs::permissions(e.path(), fs::perms::owner_all, fs::perm_options::add);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: cannot drop privileges, 11: no hit, 12: put succeeded, 13: threw";
}

TEST_F(HostileControlFiles, DirectoryPlantedAtAnEntryPathDoesNotBlockPuts) {
  const Key key = key_from_seed(9);
  const std::string path = store_->entry_path(key);
  fs::create_directories(path + "/inside");
  std::ofstream(path + "/inside/file") << "x";
  EXPECT_FALSE(store_->get(key));
  put(key, 9);
  ASSERT_TRUE(store_->get(key));
  EXPECT_TRUE(fs::is_regular_file(path));
  fs::create_directories(store_->entry_path(key_from_seed(10)));  // an empty one is simply removed
  put(key_from_seed(10), 10);
  EXPECT_TRUE(store_->get(key_from_seed(10)));
}

}  // namespace
}  // namespace graphcache
