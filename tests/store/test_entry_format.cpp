// The entry format on its own: what is written decodes to the same engine and metadata, from memory
// and from a file, compressed or not; the header fields sit where the format says.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <fstream>

#include "entry_format.hpp"
#include "graphcache/error.hpp"
#include "store_test_util.hpp"

namespace graphcache::store {
namespace {

using graphcache::testing::ScratchDir;

EntryMetadata full_metadata() {
  EntryMetadata m;
  m.key_parts = {{"structure", std::string(64, 'a')}, {"settings", "fp16=1"}};
  m.input_names = {"x", "y"};
  m.output_names = {"out"};
  m.weight_slots = {"w0", "w1", "b"};
  m.weight_fingerprint = graphcache::testing::key_from_seed(7);
  m.refit_mode = "refit_identical";
  m.tool_versions = {{"tensorrt", "10.3.0"}};
  m.extra = {{"note", "h\xc3\xa9llo"}};
  m.created_unix = 1700000000;
  return m;
}

std::vector<uint8_t> write_to_file(const std::string& path, const Key& key, const EngineSource& source,
                                   const EntryMetadata& meta, WriteOptions options) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  EXPECT_GE(fd, 0);
  uint64_t written = write_entry(fd, key, source, meta, options);
  ::close(fd);
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.size(), written);
  return bytes;
}

class NoOwner final : public EngineBlob {
 public:
  const uint8_t* data() const override { return nullptr; }
  uint64_t size() const override { return 0; }
};

void expect_round_trip(bool compress, bool from_file) {
  ScratchDir dir;
  const Key key = graphcache::testing::key_from_seed(1);
  const std::vector<uint8_t> engine = graphcache::testing::make_payload(42, 3 << 20);
  EngineSource source = EngineSource::from_memory(engine.data(), engine.size());
  if (from_file) {
    std::ofstream(dir / "engine.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(engine.data()), static_cast<std::streamsize>(engine.size()));
    source = EngineSource::from_file(dir / "engine.bin");
  }
  const EntryMetadata meta = full_metadata();
  std::vector<uint8_t> bytes = write_to_file(dir / "entry", key, source, meta, {compress, 3});

  DecodedEntry d = decode_entry(bytes.data(), bytes.size(), key);
  EXPECT_EQ(d.metadata, meta);
  EXPECT_EQ(d.header.engine_size, engine.size());
  EXPECT_EQ(d.header.flags, compress ? kFlagZstd : 0u);
  auto blob = engine_blob(d, std::make_shared<NoOwner>());
  ASSERT_EQ(blob->size(), engine.size());
  EXPECT_EQ(std::memcmp(blob->data(), engine.data(), engine.size()), 0);
}

TEST(EntryFormat, RoundTripFromMemory) {
  expect_round_trip(false, false);
}
TEST(EntryFormat, RoundTripFromFile) {
  expect_round_trip(false, true);
}
TEST(EntryFormat, RoundTripCompressedFromMemory) {
  expect_round_trip(true, false);
}
TEST(EntryFormat, RoundTripCompressedFromFile) {
  expect_round_trip(true, true);
}

TEST(EntryFormat, EmptyEngineAndEmptyMetadata) {
  ScratchDir dir;
  const Key key = graphcache::testing::key_from_seed(2);
  for (bool compress : {false, true}) {
    std::vector<uint8_t> bytes = write_to_file(dir / "entry", key, EngineSource::from_memory(nullptr, 0),
                                               EntryMetadata{}, {compress, 1});
    DecodedEntry d = decode_entry(bytes.data(), bytes.size(), key);
    EXPECT_EQ(engine_blob(d, nullptr)->size(), 0u);
    EXPECT_NE(d.metadata.created_unix, 0) << "created time is filled on write";
  }
}

TEST(EntryFormat, HeaderLayoutIsAsDocumented) {
  ScratchDir dir;
  const Key key = graphcache::testing::key_from_seed(3);
  const std::vector<uint8_t> engine(1000, 0xAB);
  std::vector<uint8_t> bytes =
      write_to_file(dir / "entry", key, EngineSource::from_memory(engine.data(), 1000), full_metadata(), {});
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 8), "GCENGINE");
  uint32_t version;
  std::memcpy(&version, bytes.data() + 8, 4);
  EXPECT_EQ(version, kEntryFormatVersion);
  EXPECT_EQ(std::memcmp(bytes.data() + 16, key.bytes.data(), 32), 0);
  uint64_t meta_size, payload_size;
  std::memcpy(&meta_size, bytes.data() + 56, 8);
  std::memcpy(&payload_size, bytes.data() + 64, 8);
  EXPECT_EQ(payload_size, 1000u);
  EXPECT_EQ(bytes.size(), kEntryHeaderSize + meta_size + payload_size);
  EXPECT_EQ(bytes.back(), 0xAB);
}

TEST(EntryFormat, WrongKeyIsCorrupt) {
  ScratchDir dir;
  std::vector<uint8_t> bytes = write_to_file(dir / "entry", graphcache::testing::key_from_seed(4),
                                             EngineSource::from_memory("abc", 3), {}, {});
  try {
    decode_entry(bytes.data(), bytes.size(), graphcache::testing::key_from_seed(5));
    FAIL() << "a misplaced entry must not decode";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("misplaced"), std::string::npos) << e.what();
  }
}

TEST(EntryFormat, MissingEngineFileIsInvalidArgument) {
  ScratchDir dir;
  int fd = ::open((dir / "entry").c_str(), O_RDWR | O_CREAT, 0644);
  try {
    write_entry(fd, Key{}, EngineSource::from_file(dir / "does-not-exist"), {}, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("does-not-exist"), std::string::npos);
  }
  ::close(fd);
}

TEST(EntryFormat, MetadataRejectsWrongShape) {
  EXPECT_THROW(parse_metadata("{}"), Error);
  EXPECT_THROW(parse_metadata("not json"), Error);
  EXPECT_EQ(parse_metadata(serialize_metadata(full_metadata())), full_metadata());
}

}  // namespace
}  // namespace graphcache::store
