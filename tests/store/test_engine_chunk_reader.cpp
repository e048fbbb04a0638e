// The one reader every tier streams a put's engine through (local entry file, Redis chunks, the signed
// put's digest): chunks equal to the engine's bytes from memory and from a file, and a file that is
// missing, or changes size while it is read, is refused with an error that names it, never stored in part.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine_chunk_reader.hpp"
#include "graphcache/error.hpp"
#include "store_test_util.hpp"

namespace graphcache::store {
namespace {

using graphcache::testing::ScratchDir;

std::string pattern(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + 7) % 251);
  return bytes;
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::string> all_chunks(EngineChunkReader& reader) {
  std::vector<std::string> chunks;
  reader.for_each_chunk([&](std::string_view bytes) { chunks.emplace_back(bytes); });
  return chunks;
}

template <typename F>
Error error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return Error(ErrorKind::kInternal, "none");
}

TEST(EngineChunkReader, FileAndMemoryGiveTheSameChunks) {
  ScratchDir dir;
  const std::string bytes = pattern(10'000);
  write_file(dir / "engine", bytes);
  for (const uint64_t chunk_bytes :
       {uint64_t{1}, uint64_t{333}, uint64_t{4096}, uint64_t{10'000}, uint64_t{1} << 20}) {
    const EngineSource memory = EngineSource::from_memory(bytes.data(), bytes.size());
    const EngineSource file = EngineSource::from_file(dir / "engine");
    EngineChunkReader from_memory(memory, chunk_bytes), from_file(file, chunk_bytes);
    EXPECT_EQ(from_memory.size(), bytes.size());
    EXPECT_EQ(from_file.size(), bytes.size());
    const std::vector<std::string> a = all_chunks(from_memory), b = all_chunks(from_file);
    EXPECT_EQ(a, b) << chunk_bytes;
    std::string joined;
    for (const std::string& c : b) {
      EXPECT_LE(c.size(), chunk_bytes);
      joined += c;
    }
    EXPECT_EQ(joined, bytes) << chunk_bytes;
    EXPECT_EQ(b.size(), (bytes.size() + chunk_bytes - 1) / chunk_bytes);
  }
}

TEST(EngineChunkReader, EmptyEngineHasNoChunks) {
  ScratchDir dir;
  write_file(dir / "empty", "");
  const EngineSource file = EngineSource::from_file(dir / "empty");
  EngineChunkReader reader(file, 64);
  EXPECT_EQ(reader.size(), 0u);
  EXPECT_TRUE(all_chunks(reader).empty());
}

TEST(EngineChunkReader, MissingFileIsInvalidArgumentNamingIt) {
  ScratchDir dir;
  const EngineSource file = EngineSource::from_file(dir / "does-not-exist");
  const Error e = error_of([&] { EngineChunkReader reader(file, 64); });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(std::string(e.what()).find("does-not-exist"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
}

TEST(EngineChunkReader, FifoAndDirectoryAreRefusedWithoutWaiting) {
  ScratchDir dir;
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);  // no writer: a blocking open would hang here
  std::filesystem::create_directory(dir / "folder");
  for (const char* name : {"fifo", "folder"}) {
    const EngineSource file = EngineSource::from_file(dir / name);
    const Error e = error_of([&] { EngineChunkReader reader(file, 64); });
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << name;
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
}

TEST(EngineChunkReader, MemoryWithASizeButNoDataIsInvalidArgument) {
  EngineSource source;
  source.size = 10;
  EXPECT_EQ(error_of([&] { EngineChunkReader reader(source, 64); }).kind(), ErrorKind::kInvalidArgument);
}

TEST(EngineChunkReader, FileThatGrowsWhileReadIsRefused) {
  ScratchDir dir;
  write_file(dir / "engine", pattern(1000));
  const EngineSource file = EngineSource::from_file(dir / "engine");
  EngineChunkReader reader(file, 256);
  std::ofstream(dir / "engine", std::ios::binary | std::ios::app) << "more";  // still being written
  const Error e = error_of([&] { all_chunks(reader); });
  EXPECT_EQ(e.kind(), ErrorKind::kIo);
  EXPECT_NE(std::string(e.what()).find("changed size"), std::string::npos) << e.what();
}

TEST(EngineChunkReader, FileThatShrinksWhileReadIsRefused) {
  ScratchDir dir;
  write_file(dir / "engine", pattern(1000));
  const EngineSource file = EngineSource::from_file(dir / "engine");
  EngineChunkReader reader(file, 256);
  std::filesystem::resize_file(dir / "engine", 300);
  const Error e = error_of([&] { all_chunks(reader); });
  EXPECT_EQ(e.kind(), ErrorKind::kIo);
  EXPECT_NE(std::string(e.what()).find("changed size"), std::string::npos) << e.what();
}

}  // namespace
}  // namespace graphcache::store
