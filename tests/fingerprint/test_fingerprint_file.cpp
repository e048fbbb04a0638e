// File-backed slots are memory-mapped: equal to the same bytes in memory, and a multi-GB sparse file
// (holes read as zeros, so it costs no disk) hashes to the reference, with ranges crossing 4 GiB.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "graphcache/error.hpp"
#include "graphcache/fingerprint.hpp"
#include "reference_fingerprint.hpp"

namespace graphcache {
namespace {

using testing::reference_fingerprint;
using testing::ReferenceSlot;

class TempFile {
 public:
  TempFile() {
    std::string pattern = (std::filesystem::temp_directory_path() / "graphcache-fp-XXXXXX").string();
    fd_ = ::mkstemp(pattern.data());
    if (fd_ < 0) throw std::runtime_error("mkstemp failed");
    path_ = pattern;
  }
  ~TempFile() {
    ::close(fd_);
    std::filesystem::remove(path_);
  }
  void write_at(uint64_t offset, const std::vector<uint8_t>& bytes) {
    ASSERT_EQ(::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset)), ssize_t(bytes.size()));
  }
  void resize(uint64_t size) { ASSERT_EQ(::ftruncate(fd_, static_cast<off_t>(size)), 0); }
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string path_;
};

std::vector<uint8_t> random_bytes(size_t size, uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::vector<uint8_t> bytes(size);
  for (auto& byte : bytes) byte = static_cast<uint8_t>(generator());
  return bytes;
}

WeightView file_view(const std::string& path, uint64_t offset, uint64_t length,
                     ir::DType dtype = ir::DType::kFloat16) {
  WeightView view{dtype, {static_cast<int64_t>(length / 2)}, {}, "file_weight"};
  view.data.source = ir::WeightData::Source::kFile;
  view.data.path = path;
  view.data.offset = offset;
  view.data.length = length;
  return view;
}

ReferenceSlot pread_slot(const WeightView& view, int fd) {
  const uint64_t base = view.data.offset;
  return ReferenceSlot{view.dtype, view.dims, view.data.length,
                       [fd, base](uint64_t offset, uint64_t size, uint8_t* out) {
                         ASSERT_EQ(::pread(fd, out, size, static_cast<off_t>(base + offset)), ssize_t(size));
                       }};
}

TEST(FingerprintFile, FileRangesEqualTheSameBytesInMemory) {
  TempFile file;
  const auto bytes = random_bytes(3 * kFingerprintChunkBytes + 101, 11);
  file.write_at(0, bytes);
  const uint64_t offset = 4099, length = 2 * kFingerprintChunkBytes + 7;
  WeightView memory{ir::DType::kFloat16, {static_cast<int64_t>(length / 2)}, {}, "memory_weight"};
  memory.data.source = ir::WeightData::Source::kMemory;
  memory.data.pointer = bytes.data() + offset;
  memory.data.length = length;
  const WeightView from_file = file_view(file.path(), offset, length);
  EXPECT_EQ(fingerprint_weights({from_file}), fingerprint_weights({memory}));
  EXPECT_EQ(fingerprint_weights({from_file}), reference_fingerprint({pread_slot(from_file, file.fd())}));
  // Two slots of one file share a mapping; a zero-length slot at the very end is valid.
  const WeightView second = file_view(file.path(), 0, 100), empty = file_view(file.path(), bytes.size(), 0);
  EXPECT_EQ(fingerprint_weights({from_file, second, empty}),
            reference_fingerprint({pread_slot(from_file, file.fd()), pread_slot(second, file.fd()),
                                   pread_slot(empty, file.fd())}));
}

TEST(FingerprintFile, RangeOutsideTheFileIsAnInvalidModel) {
  TempFile file;
  file.write_at(0, random_bytes(1000, 12));
  for (const auto& [offset, length] :
       {std::pair<uint64_t, uint64_t>{0, 1001}, {1001, 0}, {999, 2}, {~0ull, 2}}) {
    try {
      fingerprint_weights({file_view(file.path(), offset, length)});
      ADD_FAILURE() << "no error for offset " << offset << " length " << length;
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kInvalidModel);
      EXPECT_NE(std::string(error.what()).find(file.path()), std::string::npos);
    }
  }
}

TEST(FingerprintFile, MultiGigabyteSparseFileEqualsReference) {
  TempFile file;
  const uint64_t size = (uint64_t{4} << 30) + 3;  // past 4 GiB: 32-bit offsets would wrap
  file.resize(size);
  // Non-zero islands at chunk edges and across the 4 GiB line, the rest holes.
  for (uint64_t offset :
       {uint64_t{0}, kFingerprintChunkBytes - 5, uint64_t{1} << 31, (uint64_t{4} << 30) - 9, size - 3}) {
    file.write_at(offset, random_bytes(offset == size - 3 ? 3 : 4096, offset));
  }
  const std::vector<WeightView> views{
      file_view(file.path(), 0, size - 11, ir::DType::kBFloat16),
      file_view(file.path(), (uint64_t{4} << 30) - 100, 103, ir::DType::kInt8)};
  const Digest expected =
      reference_fingerprint({pread_slot(views[0], file.fd()), pread_slot(views[1], file.fd())});
  std::vector<uint64_t> progress;
  FingerprintOptions options;
  options.progress = [&](uint64_t done, uint64_t) { progress.push_back(done); };
  EXPECT_EQ(fingerprint_weights(views, options), expected);
  EXPECT_GE(progress.size(), 4u);  // every 256 MiB of 4 GiB, and the end
  EXPECT_EQ(progress.back(), size - 11 + 103);
}

}  // namespace
}  // namespace graphcache
