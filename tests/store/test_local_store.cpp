// The local store's behaviour in one process: round trips, layout, remove/list/stats, LRU eviction under
// both caps, stale temp cleanup, and a mapped entry surviving its eviction.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <fstream>

#include "graphcache/error.hpp"
#include "graphcache/local_store.hpp"
#include "store_test_util.hpp"

namespace graphcache {
namespace {

using testing::key_from_seed;
using testing::make_payload;
using testing::ScratchDir;
using testing::test_config;

void put_payload(LocalStore& store, uint64_t seed, size_t size, EntryMetadata meta = {}) {
  std::vector<uint8_t> p = make_payload(seed, size);
  store.put(key_from_seed(seed), EngineSource::from_memory(p.data(), p.size()), meta);
}

void set_last_use(const std::string& path, int64_t unix_time) {
  struct timespec times[2] = {{unix_time, 0}, {0, UTIME_OMIT}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

TEST(LocalStore, PutGetRoundTripWithMetadata) {
  ScratchDir dir;
  std::vector<std::string> warnings;
  LocalStore store(test_config(dir.path()), [&](const std::string& w) { warnings.push_back(w); });
  EntryMetadata meta;
  meta.input_names = {"input"};
  meta.refit_mode = "refittable";
  meta.extra = {{"builder", "trtexec"}};
  put_payload(store, 1, 100000, meta);

  auto entry = store.get(key_from_seed(1));
  ASSERT_TRUE(entry);
  EXPECT_TRUE(testing::payload_is_intact(entry->engine->data(), entry->engine->size()));
  EXPECT_EQ(entry->engine->size(), 100000u);
  EXPECT_EQ(entry->metadata.input_names, meta.input_names);
  EXPECT_EQ(entry->metadata.extra, meta.extra);
  EXPECT_GT(entry->metadata.created_unix, 1600000000);
  EXPECT_FALSE(store.get(key_from_seed(2)));
  EXPECT_TRUE(warnings.empty());

  const std::string hex = key_from_seed(1).hex();
  EXPECT_EQ(store.entry_path(key_from_seed(1)),
            dir.path() + "/" + hex.substr(0, 2) + "/" + hex.substr(2, 2) + "/" + hex);
  EXPECT_TRUE(std::filesystem::exists(store.entry_path(key_from_seed(1))));
  EXPECT_EQ(testing::count_temp_files(dir.path()), 0u);

  StoreStats s = store.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.puts, 1u);
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.bytes_read, 100000u);
  EXPECT_EQ(s.stored_bytes, std::filesystem::file_size(store.entry_path(key_from_seed(1))));
  EXPECT_EQ(s.bytes_written, s.stored_bytes);
}

TEST(LocalStore, CompressedPutFromFile) {
  ScratchDir dir;
  StoreConfig config = test_config(dir / "cache");
  config.compress = true;
  LocalStore store(config);
  std::vector<uint8_t> p(5 << 20, 0);  // compresses to almost nothing
  std::memcpy(p.data(), "engine", 6);
  std::ofstream(dir / "engine.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(p.data()), p.size());
  store.put(key_from_seed(9), EngineSource::from_file(dir / "engine.bin"), {});
  EXPECT_LT(std::filesystem::file_size(store.entry_path(key_from_seed(9))), 10000u);
  auto entry = store.get(key_from_seed(9));
  ASSERT_TRUE(entry);
  ASSERT_EQ(entry->engine->size(), p.size());
  EXPECT_EQ(std::memcmp(entry->engine->data(), p.data(), p.size()), 0);
}

TEST(LocalStore, OverwriteRemoveListAndClear) {
  ScratchDir dir;
  LocalStore store(test_config(dir.path()));
  put_payload(store, 1, 1000);
  put_payload(store, 2, 2000);
  put_payload(store, 2, 3000);  // replaces
  std::vector<EntryInfo> listed = store.list();
  ASSERT_EQ(listed.size(), 2u);
  for (const EntryInfo& info : listed) {
    EXPECT_EQ(info.engine_bytes, info.key == key_from_seed(1) ? 1000u : 3000u);
    EXPECT_GT(info.stored_bytes, info.engine_bytes);
    EXPECT_GT(info.created_unix, 0);
  }
  EXPECT_EQ(store.stats().entries, 2u);
  EXPECT_EQ(store.get(key_from_seed(2))->engine->size(), 3000u);

  EXPECT_TRUE(store.remove(key_from_seed(1)));
  EXPECT_FALSE(store.remove(key_from_seed(1)));
  EXPECT_FALSE(store.get(key_from_seed(1)));
  EXPECT_EQ(store.stats().entries, 1u);

  EXPECT_EQ(store.clear(), 1u);
  EXPECT_TRUE(store.list().empty());
  EXPECT_EQ(store.stats().entries, 0u);
  EXPECT_EQ(store.stats().stored_bytes, 0u);
  store.zero_stats();
  EXPECT_EQ(store.stats().puts, 0u);
  EXPECT_EQ(store.stats().hits, 0u);
}

TEST(LocalStore, GcEvictsLeastRecentlyUsedUnderSizeCap) {
  ScratchDir dir;
  LocalStore store(test_config(dir.path()));
  const int64_t now = static_cast<int64_t>(::time(nullptr));
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    put_payload(store, seed, 10000);
    set_last_use(store.entry_path(key_from_seed(seed)), now - 1000 + static_cast<int64_t>(seed));
  }
  // A hit refreshes last use: entry 1 becomes the most recent.
  ASSERT_TRUE(store.get(key_from_seed(1)));
  const uint64_t entry_size = std::filesystem::file_size(store.entry_path(key_from_seed(1)));

  GcReport r = store.gc(/*max_size=*/entry_size * 5);
  EXPECT_EQ(r.entries_before, 10u);
  EXPECT_LE(r.bytes_after, entry_size * 5 * 9 / 10);
  EXPECT_EQ(r.evicted, 10u - r.entries_after);
  EXPECT_EQ(r.entries_after, 4u);  // 90% of 5 entries' bytes holds 4
  EXPECT_TRUE(store.get(key_from_seed(1))) << "recently used survives";
  for (uint64_t seed : {8, 9, 10}) EXPECT_TRUE(store.get(key_from_seed(seed))) << seed;
  for (uint64_t seed = 2; seed <= 7; ++seed) EXPECT_FALSE(store.get(key_from_seed(seed))) << seed;
  EXPECT_EQ(store.stats().evictions, 6u);
  EXPECT_EQ(store.stats().entries, 4u);

  GcReport again = store.gc(entry_size * 5);
  EXPECT_EQ(again.evicted, 0u) << "under the cap: nothing to do";
}

TEST(LocalStore, AutomaticGcHoldsEntryCap) {
  ScratchDir dir;
  StoreConfig config = test_config(dir.path());
  config.max_entries = 20;
  LocalStore store(config);
  for (uint64_t seed = 1; seed <= 100; ++seed) put_payload(store, seed, 100);
  EXPECT_LE(store.list().size(), 20u);
  EXPECT_LE(store.stats().entries, 20u);
  EXPECT_TRUE(store.get(key_from_seed(100))) << "the newest entry is kept";
  EXPECT_EQ(store.stats().evictions + store.list().size(), 100u);
}

TEST(LocalStore, VerifyDoesNotCountAsUse) {
  ScratchDir dir;
  LocalStore store(test_config(dir.path()));
  put_payload(store, 1, 1000);
  const std::string path = store.entry_path(key_from_seed(1));
  set_last_use(path, 1000000000);
  EXPECT_EQ(store.verify().ok, 1u);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_atime, 1000000000);
  ASSERT_TRUE(store.get(key_from_seed(1)));
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_GT(st.st_atime, 1000000000) << "a hit is a use";
}

TEST(LocalStore, MappedEntrySurvivesEviction) {
  ScratchDir dir;
  LocalStore store(test_config(dir.path()));
  put_payload(store, 5, 4 << 20);
  auto entry = store.get(key_from_seed(5));
  ASSERT_TRUE(entry);
  store.gc(/*max_size=*/1);  // evicts everything
  EXPECT_FALSE(std::filesystem::exists(store.entry_path(key_from_seed(5))));
  put_payload(store, 6, 4 << 20);  // reuse of the freed space
  EXPECT_TRUE(testing::payload_is_intact(entry->engine->data(), entry->engine->size()))
      << "an unlinked, mapped file stays readable";
}

TEST(LocalStore, GcRemovesStaleTempFilesOnly) {
  ScratchDir dir;
  LocalStore store(test_config(dir.path()));
  put_payload(store, 1, 100);
  const std::string fan = std::filesystem::path(store.entry_path(key_from_seed(1))).parent_path().string();
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  std::string h(host);
  for (char& c : h)
    if (c == '-' || c == '/') c = '_';
  // A dead writer on this host, a live one (us), and an old one from another host.
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  const std::string dead = fan + "/.tmp-" + std::to_string(child) + "-0123456789abcdef-" + h;
  const std::string live = fan + "/.tmp-" + std::to_string(::getpid()) + "-0123456789abcdef-" + h;
  const std::string old_remote = fan + "/.tmp-1-0123456789abcdef-otherhost";
  const std::string new_remote = fan + "/.tmp-2-0123456789abcdef-otherhost";
  for (const auto& p : {dead, live, old_remote, new_remote}) std::ofstream(p) << "partial";
  set_last_use(old_remote, 0);
  struct timespec old_times[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 2 * 3600, 0}};
  ::utimensat(AT_FDCWD, old_remote.c_str(), old_times, 0);

  GcReport r = store.gc();
  EXPECT_EQ(r.stale_temps_removed, 2u);
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_FALSE(std::filesystem::exists(old_remote));
  EXPECT_TRUE(std::filesystem::exists(live));
  EXPECT_TRUE(std::filesystem::exists(new_remote));
  EXPECT_EQ(store.list().size(), 1u) << "temp files are never listed as entries";
}

TEST(LocalStore, PutOfMissingFileThrowsAndLeavesNothing) {
  ScratchDir dir;
  LocalStore store(test_config(dir.path()));
  try {
    store.put(key_from_seed(1), EngineSource::from_file(dir / "nope.engine"), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  }
  EXPECT_EQ(testing::count_temp_files(dir.path()), 0u);
  EXPECT_TRUE(store.list().empty());
  EXPECT_EQ(store.stats().errors, 1u);
}

TEST(LocalStore, PutOfAFifoIsRefusedWithoutWaitingAndLeavesNothing) {
  ScratchDir dir, elsewhere;
  ASSERT_EQ(::mkfifo((elsewhere / "engine.fifo").c_str(), 0600), 0);  // no writer will ever open it
  LocalStore store(test_config(dir.path()));
  try {
    store.put(key_from_seed(1), EngineSource::from_file(elsewhere / "engine.fifo"), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  EXPECT_EQ(testing::count_temp_files(dir.path()), 0u);
  EXPECT_TRUE(store.list().empty());
}

TEST(LocalStore, UnwritableDirectoryIsAnIoError) {
  EXPECT_THROW(LocalStore(test_config("/proc/graphcache-cannot-exist")), Error);
}

}  // namespace
}  // namespace graphcache
