// A hostile cache directory: symlinks planted at entry paths (to /etc/passwd, to a valid entry kept
// elsewhere), a fan-out directory symlinked out of the cache, a FIFO at an entry path, and entries owned
// by another user. Symlinks are never followed, nothing outside the cache is ever read as an entry or
// deleted (gc, verify, clear, rm), and nothing blocks or throws from get().
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "entry_format.hpp"
#include "graphcache/error.hpp"
#include "graphcache/local_store.hpp"
#include "store_test_util.hpp"

namespace graphcache {
namespace {

namespace fs = std::filesystem;
using testing::key_from_seed;
using testing::make_payload;
using testing::ScratchDir;
using testing::test_config;

class HostileCacheDir : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(scratch_ / "cache");
    fs::create_directories(scratch_ / "outside");
    store_ = std::make_unique<LocalStore>(test_config(scratch_ / "cache"),
                                          [this](const std::string& w) { warnings_.push_back(w); });
  }

  void put(const Key& key, uint64_t seed) {
    const std::vector<uint8_t> payload = make_payload(seed, 4096);
    store_->put(key, EngineSource::from_memory(payload.data(), payload.size()), EntryMetadata{});
  }

  // A file outside the cache with known contents; returns its path.
  std::string outside_file(const std::string& name, const std::string& contents) {
    const std::string path = scratch_ / ("outside/" + name);
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }

  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  ScratchDir scratch_;
  std::vector<std::string> warnings_;
  std::unique_ptr<LocalStore> store_;
};

TEST_F(HostileCacheDir, SymlinkToEtcPasswdAtAnEntryPathIsNotFollowed) {
  const Key key = key_from_seed(1);
  const std::string path = store_->entry_path(key);
  fs::create_directories(fs::path(path).parent_path());
  fs::create_symlink("/etc/passwd", path);
  const std::string passwd_before = read("/etc/passwd");

  EXPECT_FALSE(store_->get(key).has_value());
  EXPECT_EQ(store_->stats().corrupt, 1u);
  EXPECT_FALSE(fs::is_symlink(fs::symlink_status(path))) << "the planted link is removed";
  EXPECT_EQ(read("/etc/passwd"), passwd_before) << "the target is untouched";
  ASSERT_FALSE(warnings_.empty());
  EXPECT_NE(warnings_.back().find("symlink"), std::string::npos) << warnings_.back();
}

TEST_F(HostileCacheDir, SymlinkToAValidEntryElsewhereIsNotServed) {
  // A well-formed entry for `key` kept outside the cache, linked in: still not served.
  const Key key = key_from_seed(2);
  put(key, 2);
  const std::string path = store_->entry_path(key);
  const std::string elsewhere = scratch_ / "outside/entry";
  fs::copy_file(path, elsewhere);
  fs::remove(path);
  fs::create_symlink(elsewhere, path);
  const std::string elsewhere_bytes = read(elsewhere);

  EXPECT_TRUE(store_->list().empty()) << "list() does not report a symlink as an entry";
  EXPECT_EQ(store_->verify().checked, 0u);
  EXPECT_FALSE(store_->get(key).has_value());
  EXPECT_TRUE(fs::exists(elsewhere)) << "the link target must not be deleted";
  EXPECT_EQ(read(elsewhere), elsewhere_bytes);
}

TEST_F(HostileCacheDir, SymlinkedFanOutDirectoryNeverLeadsGcOutsideTheCache) {
  // <cache>/<aa> -> <outside>/victim, which holds files named like entries of the aa/bb fan-out.
  const Key key = key_from_seed(3);
  const std::string hex = key.hex();
  const std::string victim_dir = scratch_ / "outside/victim";
  const std::string victim = victim_dir + "/" + hex.substr(2, 2) + "/" + hex;
  put(key, 3);  // a real entry, copied out as a well-formed victim file
  fs::create_directories(fs::path(victim).parent_path());
  fs::copy_file(store_->entry_path(key), victim);
  const std::string garbage = outside_file("victim/" + hex.substr(2, 2) + "/" + key_from_seed(4).hex(), "x");
  fs::remove_all(scratch_ / ("cache/" + hex.substr(0, 2)));
  fs::create_directory_symlink(victim_dir, scratch_ / ("cache/" + hex.substr(0, 2)));
  const uint64_t victim_size = fs::file_size(victim);

  EXPECT_TRUE(store_->list().empty());
  const GcReport gc = store_->gc(/*max_size=*/1, /*max_entries=*/1);
  EXPECT_EQ(gc.evicted, 0u);
  const VerifyReport verify = store_->verify();
  EXPECT_EQ(verify.checked, 0u);
  EXPECT_EQ(store_->clear(), 0u);
  EXPECT_FALSE(store_->get(key).has_value()) << "not served through the symlinked directory";
  EXPECT_THROW(store_->remove(key), Error);
  const std::vector<uint8_t> payload = make_payload(5, 64);
  EXPECT_THROW(store_->put(key, EngineSource::from_memory(payload.data(), payload.size()), EntryMetadata{}),
               Error);

  ASSERT_TRUE(fs::exists(victim)) << "gc/verify/clear/get/rm deleted a file outside the cache";
  EXPECT_EQ(fs::file_size(victim), victim_size) << "put wrote outside the cache";
  EXPECT_TRUE(fs::exists(garbage));
  EXPECT_EQ(testing::count_temp_files(victim_dir), 0u);
}

TEST_F(HostileCacheDir, FifoOrDirectoryAtAnEntryPathIsAMissWithoutBlocking) {
  const Key fifo_key = key_from_seed(6), dir_key = key_from_seed(7);
  const std::string fifo = store_->entry_path(fifo_key);
  fs::create_directories(fs::path(fifo).parent_path());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  fs::create_directories(store_->entry_path(dir_key));

  EXPECT_FALSE(store_->get(fifo_key).has_value());  // a blocking open would hang here (test timeout)
  EXPECT_FALSE(store_->get(dir_key).has_value());
  EXPECT_EQ(store_->stats().corrupt, 2u);
  EXPECT_TRUE(store_->list().empty());
  // A put replaces the FIFO with a real entry.
  put(fifo_key, 6);
  EXPECT_TRUE(store_->get(fifo_key).has_value());
}

TEST_F(HostileCacheDir, EntriesOwnedByAnotherUserAreCheckedLikeAnyOther) {
  // Ownership is not a trust boundary (README "Security": write access to the directory is): an entry
  // owned by someone else is served only if it is well formed, and a corrupt one is a miss and removed.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown to nobody";
  const Key good = key_from_seed(8), bad = key_from_seed(9);
  put(good, 8);
  put(bad, 9);
  for (const Key& key : {good, bad}) {
    ASSERT_EQ(::chown(store_->entry_path(key).c_str(), 65534, 65534), 0);
    ASSERT_EQ(::chmod(store_->entry_path(key).c_str(), 0600), 0);
  }
  {
    std::fstream f(store_->entry_path(bad), std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(200);
    f.put('\x7f');
  }
  const auto hit = store_->get(good);
  ASSERT_TRUE(hit.has_value());
  EXPECT_TRUE(testing::payload_is_intact(hit->engine->data(), hit->engine->size()));
  EXPECT_FALSE(store_->get(bad).has_value());
  EXPECT_EQ(store_->stats().corrupt, 1u);
  EXPECT_FALSE(fs::exists(store_->entry_path(bad)));
}

TEST_F(HostileCacheDir, CompressedEntryClaimingATerabyteIsCorruptNotAnAllocation) {
  // A well-formed (checksummed) entry whose zstd frame and header both claim 2^40 engine bytes but hold
  // one 100-byte RLE block: the reader must not allocate the claim up front (it used to: bad_alloc, an
  // "error" rather than a corrupt entry, and the file stayed). Now: corrupt, counted, removed.
  const Key key = key_from_seed(10);
  const uint64_t claimed = uint64_t{1} << 40;
  std::string frame("\x28\xb5\x2f\xfd", 4);  // zstd magic
  frame.push_back('\xe0');                   // single segment, 8-byte content size
  for (int i = 0; i < 8; ++i) frame.push_back(static_cast<char>(claimed >> (8 * i)));
  const uint32_t block = 1u | (1u << 1) | (100u << 3);  // last block, RLE, 100 bytes
  for (int i = 0; i < 3; ++i) frame.push_back(static_cast<char>(block >> (8 * i)));
  frame.push_back('z');
  put(key, 1);
  const std::string path = store_->entry_path(key);
  {
    // Rewrite the entry around the forged frame, with valid sizes and checksums.
    const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC);
    ASSERT_GE(fd, 0);
    store::write_entry(fd, key, EngineSource::from_memory(frame.data(), frame.size()), EntryMetadata{}, {});
    ::close(fd);
  }
  std::string bytes = read(path);
  const uint64_t metadata_size = [&] {
    uint64_t m;
    std::memcpy(&m, bytes.data() + 56, 8);
    return m;
  }();
  const uint32_t flags = store::kFlagZstd;
  std::memcpy(bytes.data() + 12, &flags, 4);
  std::memcpy(bytes.data() + 72, &claimed, 8);
  std::string checked = bytes.substr(0, 88) + bytes.substr(store::kEntryHeaderSize, metadata_size);
  const uint64_t header_checksum = XXH3_64bits(checked.data(), checked.size());
  std::memcpy(bytes.data() + 88, &header_checksum, 8);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;

  EXPECT_FALSE(store_->get(key).has_value());
  EXPECT_EQ(store_->stats().corrupt, 1u);
  EXPECT_EQ(store_->stats().errors, 0u);
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace graphcache
