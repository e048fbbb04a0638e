// Every damaged entry is a miss: flip bytes in each region of the file (fixed header fields, payload
// checksum, header checksum, metadata, payload), truncate it, pad it, change its version. Each get must
// return nothing, warn once, count one corrupt entry and remove the file - and never throw.
#include <gtest/gtest.h>
#include <fstream>

#include "entry_format.hpp"
#include "graphcache/local_store.hpp"
#include "store_test_util.hpp"

namespace graphcache {
namespace {

using testing::key_from_seed;
using testing::ScratchDir;

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

class Corruption : public ::testing::TestWithParam<bool /*compressed*/> {
 protected:
  void SetUp() override {
    StoreConfig config = testing::test_config(dir_.path());
    config.compress = GetParam();
    store_ = std::make_unique<LocalStore>(config, [this](const std::string& w) { warnings_.push_back(w); });
    EntryMetadata meta;
    meta.input_names = {"images"};
    meta.output_names = {"logits"};
    meta.tool_versions = {{"tensorrt", "10.3"}};
    std::vector<uint8_t> payload = testing::make_payload(11, 6000);
    store_->put(key_, EngineSource::from_memory(payload.data(), payload.size()), meta);
    path_ = store_->entry_path(key_);
    pristine_ = read_file(path_);
    std::memcpy(&metadata_size_, pristine_.data() + 56, 8);
  }

  // Writes `damaged` as the entry and checks it is detected; returns the warning text.
  std::string expect_detected(const std::vector<uint8_t>& damaged, const std::string& what) {
    write_file(path_, damaged);
    const size_t warnings_before = warnings_.size();
    const uint64_t corrupt_before = store_->stats().corrupt;
    std::optional<Entry> entry;
    EXPECT_NO_THROW(entry = store_->get(key_)) << what;
    EXPECT_FALSE(entry) << what << " was served";
    EXPECT_EQ(warnings_.size(), warnings_before + 1) << what;
    EXPECT_EQ(store_->stats().corrupt, corrupt_before + 1) << what;
    EXPECT_FALSE(std::filesystem::exists(path_)) << what << ": corrupt entry not removed";
    return warnings_.size() > warnings_before ? warnings_.back() : std::string();
  }

  void flip_range(size_t begin, size_t end, size_t step, const std::string& region) {
    ASSERT_LT(begin, end);
    ASSERT_LE(end, pristine_.size());
    for (size_t pos = begin; pos < end; pos += step) {
      for (uint8_t mask : {0x01, 0x80}) {
        std::vector<uint8_t> damaged = pristine_;
        damaged[pos] ^= mask;
        expect_detected(damaged, region + " byte " + std::to_string(pos) + " ^ " + std::to_string(mask));
      }
    }
    // The last byte of the region too, whatever the step.
    std::vector<uint8_t> damaged = pristine_;
    damaged[end - 1] ^= 0xFF;
    expect_detected(damaged, region + " last byte");
  }

  ScratchDir dir_;
  std::vector<std::string> warnings_;
  std::unique_ptr<LocalStore> store_;
  const Key key_ = key_from_seed(123);
  std::string path_;
  std::vector<uint8_t> pristine_;
  uint64_t metadata_size_ = 0;
};

TEST_P(Corruption, PristineEntryIsServed) {
  auto entry = store_->get(key_);
  ASSERT_TRUE(entry);
  EXPECT_TRUE(testing::payload_is_intact(entry->engine->data(), entry->engine->size()));
  EXPECT_TRUE(warnings_.empty());
}

TEST_P(Corruption, EveryHeaderFieldByte) {
  flip_range(0, 80, 1, "header");
}
TEST_P(Corruption, EveryPayloadChecksumByte) {
  flip_range(80, 88, 1, "payload checksum");
}
TEST_P(Corruption, EveryHeaderChecksumByte) {
  flip_range(88, 96, 1, "header checksum");
}
TEST_P(Corruption, EveryMetadataByte) {
  flip_range(96, 96 + metadata_size_, 1, "metadata");
}
TEST_P(Corruption, PayloadBytes) {
  flip_range(96 + metadata_size_, pristine_.size(), 61, "payload");
}

TEST_P(Corruption, Truncation) {
  for (size_t length :
       {size_t{0}, size_t{1}, size_t{50}, size_t{95}, size_t{96}, size_t{96 + metadata_size_ / 2},
        size_t{96 + metadata_size_}, pristine_.size() / 2, pristine_.size() - 1}) {
    std::vector<uint8_t> damaged(pristine_.begin(), pristine_.begin() + static_cast<std::ptrdiff_t>(length));
    expect_detected(damaged, "truncated to " + std::to_string(length));
  }
}

TEST_P(Corruption, TrailingGarbage) {
  std::vector<uint8_t> damaged = pristine_;
  damaged.push_back(0);
  expect_detected(damaged, "one byte appended");
}

TEST_P(Corruption, VersionMismatchNamesTheVersion) {
  std::vector<uint8_t> damaged = pristine_;
  damaged[8] = 2;  // a future format version
  const std::string warning = expect_detected(damaged, "version 2");
  EXPECT_NE(warning.find("version 2"), std::string::npos) << warning;
}

TEST_P(Corruption, EntryUnderAnotherKeysName) {
  // A valid entry copied to the wrong name must not be served for that key.
  const Key other = key_from_seed(124);
  const std::string other_path = store_->entry_path(other);
  std::filesystem::create_directories(std::filesystem::path(other_path).parent_path());
  write_file(other_path, pristine_);
  EXPECT_FALSE(store_->get(other));
  EXPECT_EQ(store_->stats().corrupt, 1u);
  EXPECT_TRUE(store_->get(key_)) << "the real entry is untouched";
}

TEST_P(Corruption, VerifyFindsAndRemovesDamagedEntries) {
  std::vector<uint8_t> payload = testing::make_payload(12, 3000);
  store_->put(key_from_seed(5), EngineSource::from_memory(payload.data(), payload.size()), {});
  std::vector<uint8_t> damaged = pristine_;
  damaged.back() ^= 1;
  write_file(path_, damaged);
  VerifyReport r = store_->verify();
  EXPECT_EQ(r.checked, 2u);
  EXPECT_EQ(r.ok, 1u);
  EXPECT_EQ(r.corrupt, 1u);
  EXPECT_EQ(store_->stats().entries, 1u);
  EXPECT_EQ(store_->verify().corrupt, 0u);
}

INSTANTIATE_TEST_SUITE_P(Store, Corruption, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Compressed" : "Plain";
                         });

}  // namespace
}  // namespace graphcache
