// Writing bundles (include/graphcache/bundle.hpp): one pass, streamed, hashed as written.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "bundle_format.hpp"
#include "common/atomic_file.hpp"
#include "common/unique_fd.hpp"
#include "entry_format.hpp"
#include "graphcache/bundle.hpp"
#include "graphcache/error.hpp"
#include "graphcache/local_store.hpp"
#include "graphcache/signing.hpp"
#include "local_layout.hpp"
#include "sha256.hpp"

namespace graphcache {
namespace {

constexpr size_t kBufferBytes = 4 << 20;

// Buffered output that hashes every byte it writes.
class HashedWriter {
 public:
  // `to_file`: fd is a regular file (not a pipe), whose written pages are recycled (see settle()).
  HashedWriter(int fd, std::string name, bool to_file) : fd_(fd), name_(std::move(name)), to_file_(to_file) {
    buffer_.reserve(kBufferBytes);
  }

  void add(const void* data, size_t size) {
    hash_.add(data, size);
    raw(data, size);
  }
  void raw(const void* data, size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    if (buffer_.size() + size > kBufferBytes) flush();
    if (size >= kBufferBytes) return write_out(p, size);
    buffer_.insert(buffer_.end(), p, p + size);
  }
  template <typename T>
  void add_int(T value) {
    uint8_t bytes[sizeof(T)];
    store::put_le(bytes, value);
    add(bytes, sizeof(T));
  }
  void flush() {
    write_out(buffer_.data(), buffer_.size());
    buffer_.clear();
  }
  std::array<uint8_t, 32> digest() const { return hash_.digest(); }
  uint64_t bytes() const { return bytes_ + buffer_.size(); }

 private:
  void write_out(const uint8_t* p, size_t size) {
    const uint64_t start = bytes_;
    bytes_ += size;
    write_all(fd_, p, size, "bundle '" + name_ + "'");
    if (to_file_) settle(start);
  }
  // A bundle of many GiB is written once and read elsewhere: start each range's writeback as soon as it
  // is written, and a few MiB behind, wait for it and drop its clean pages, so the page cache holds a
  // few MiB of the bundle instead of all of it, and the next writes reuse that memory. (New memory is
  // what costs: on VMs that hand free memory back to the host each new page faults on the host, which
  // made writing a 1 GiB bundle cost seconds of system time; bench/store/README.md.) Hints only: their
  // results are ignored, and the final fsync still makes the whole file durable before it is renamed.
  void settle(uint64_t start) {
    ::sync_file_range(fd_, static_cast<off_t>(start), static_cast<off_t>(bytes_ - start),
                      SYNC_FILE_RANGE_WRITE);
    if (bytes_ - settled_ < 2 * kBufferBytes) return;
    const uint64_t end = bytes_ - kBufferBytes;
    ::sync_file_range(fd_, static_cast<off_t>(settled_), static_cast<off_t>(end - settled_),
                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    ::posix_fadvise(fd_, static_cast<off_t>(settled_), static_cast<off_t>(end - settled_),
                    POSIX_FADV_DONTNEED);
    settled_ = end;
  }

  int fd_;
  std::string name_;
  bool to_file_;
  std::vector<uint8_t> buffer_;
  store::Sha256 hash_;
  uint64_t bytes_ = 0;
  uint64_t settled_ = 0;  // bytes [0, settled_) are on disk and out of the page cache
};

// Copies the entry file of `key` into the bundle as one member; returns its size and whether it is signed.
std::pair<uint64_t, bool> write_member(LocalStore& store, const Key& key, HashedWriter& out,
                                       std::vector<uint8_t>& chunk) {
  const std::string path = store.entry_path(key);
  UniqueFd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)};
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    throw Error(ErrorKind::kInvalidArgument, "no entry for key " + key.hex());
  const auto size = static_cast<uint64_t>(st.st_size);
  out.add(store::kBundleMemberTag.data(), store::kBundleMemberTag.size());
  const std::string hex = key.hex();
  out.add(hex.data(), hex.size());
  out.add_int<uint64_t>(size);
  bool is_signed = false;
  for (uint64_t done = 0; done < size;) {
    const ssize_t n = ::pread(fd.get(), chunk.data(), std::min<uint64_t>(chunk.size(), size - done),
                              static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(ErrorKind::kIo, "entry " + hex + " changed while being bundled; try again");
    if (done == 0 && static_cast<uint64_t>(n) >= store::kEntryHeaderSize) {
      // The signature is in the metadata right after the header; a cheap look for the report.
      const store::EntryHeader h = store::parse_header(chunk.data(), static_cast<uint64_t>(n));
      const auto meta_end = store::kEntryHeaderSize + h.metadata_size;
      if (meta_end <= static_cast<uint64_t>(n)) {
        const std::string_view meta(reinterpret_cast<const char*>(chunk.data()) + store::kEntryHeaderSize,
                                    h.metadata_size);
        is_signed = meta.find("\"signature\":\"ed25519:") != std::string_view::npos;
      }
    }
    out.add(chunk.data(), static_cast<size_t>(n));
    done += static_cast<uint64_t>(n);
  }
  return {size, is_signed};
}

}  // namespace

BundleCreateReport create_bundle(LocalStore& store, const std::vector<Key>& keys, const std::string& out_path,
                                 const EntryTrust* trust) {
  std::vector<Key> selected = keys;
  if (selected.empty()) {
    for (const EntryInfo& info : store.list()) selected.push_back(info.key);
  }
  // Every entry is checked (checksums; signature when this store requires one) before it is bundled, so
  // a damaged local entry is reported here rather than failing every import.
  for (const Key& key : selected) {
    if (!store.peek(key)) throw Error(ErrorKind::kInvalidArgument, "no valid entry for key " + key.hex());
  }

  // A file is written next to `out_path` and renamed over it once complete (common/atomic_file.hpp);
  // on any error the temp file is removed. "-" streams to stdout.
  std::optional<AtomicFile> file;
  int fd = STDOUT_FILENO;
  if (out_path != "-") {
    const std::filesystem::path target(out_path);
    const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
    file.emplace(out_path,
                 (dir / ("." + target.filename().string() + "." + store::temp_file_name())).string());
    fd = file->fd();
  }
  BundleCreateReport report;
  struct stat out_stat {};
  HashedWriter out(fd, out_path, ::fstat(fd, &out_stat) == 0 && S_ISREG(out_stat.st_mode));
  out.add(store::kBundleMagic.data(), store::kBundleMagic.size());
  out.add_int<uint32_t>(store::kBundleVersion);
  out.add_int<uint32_t>(0);
  nlohmann::json entries = nlohmann::json::array();
  std::vector<uint8_t> chunk(kBufferBytes);
  for (const Key& key : selected) {
    const auto [size, is_signed] = write_member(store, key, out, chunk);
    entries.push_back({{"key", key.hex()}, {"bytes", size}});
    ++report.entries;
    if (!is_signed) ++report.unsigned_entries;
  }
  const std::string manifest = nlohmann::json{
      {"format", 1},
      {"created_unix", static_cast<int64_t>(std::time(nullptr))},
      {"entries", entries}}.dump();
  out.add(store::kBundleTrailerTag.data(), store::kBundleTrailerTag.size());
  out.add_int<uint64_t>(report.entries);
  out.add_int<uint64_t>(manifest.size());
  out.add(manifest.data(), manifest.size());
  const std::array<uint8_t, 32> digest = out.digest();
  out.raw(digest.data(), digest.size());
  report.signed_bundle = trust != nullptr && trust->signs();
  const uint8_t flag = report.signed_bundle ? 1 : 0;
  out.raw(&flag, 1);
  if (report.signed_bundle) {
    std::vector<uint8_t> message(store::kBundleSignatureDomain.begin(), store::kBundleSignatureDomain.end());
    message.insert(message.end(), digest.begin(), digest.end());
    const PublicKeyBytes signer = *trust->signer();
    const std::array<uint8_t, 64> signature = trust->sign_bytes(message.data(), message.size());
    out.raw(signer.data(), signer.size());
    out.raw(signature.data(), signature.size());
  }
  out.raw(store::kBundleEndTag.data(), store::kBundleEndTag.size());
  out.flush();
  report.bytes = out.bytes();
  if (file) file->commit(/*durable=*/true);  // fsync, rename, fsync of the folder
  return report;
}

}  // namespace graphcache
