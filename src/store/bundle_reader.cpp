// Reading and importing bundles (include/graphcache/bundle.hpp). Everything read is hostile until checked:
// sizes are compared with what the source holds before anything is staged, member names must be keys,
// and nothing becomes visible in the store before the whole bundle has been verified.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <unordered_set>

#include "bundle_format.hpp"
#include "common/atomic_file.hpp"
#include "common/unique_fd.hpp"
#include "entry_format.hpp"
#include "graphcache/bundle.hpp"
#include "graphcache/error.hpp"
#include "graphcache/local_store.hpp"
#include "graphcache/signing.hpp"
#include "sha256.hpp"

namespace graphcache {
namespace {

constexpr size_t kCopyChunk = 4 << 20;

[[noreturn]] void corrupt(const std::string& what) {
  throw Error(ErrorKind::kCorrupt, "bundle: " + what);
}

// A member name as text safe to print: printable ASCII kept, anything else as \xNN.
std::string printable(std::string_view name) {
  std::string out;
  for (unsigned char c : name) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

// The source, hashed as it is read, with its position (for "only N bytes remain").
class HashedStream {
 public:
  explicit HashedStream(BundleSource& source) : source_(source) {}

  size_t read_some(uint8_t* out, size_t size) {
    const size_t n = source_.read(out, size);
    hash_.add(out, n);
    offset_ += n;
    return n;
  }
  void read_exact(void* out, size_t size, const char* what) {
    auto* p = static_cast<uint8_t*>(out);
    for (size_t done = 0; done < size;) {
      const size_t n = read_some(p + done, size - done);
      if (n == 0) corrupt(std::string("truncated in ") + what + " at byte " + std::to_string(offset_));
      done += n;
    }
  }
  template <typename T>
  T read_int(const char* what) {
    uint8_t bytes[sizeof(T)];
    read_exact(bytes, sizeof(T), what);
    return store::get_le<T>(bytes);
  }
  // Bytes the source still holds, when its size is known.
  std::optional<uint64_t> remaining() const {
    if (!source_.size) return std::nullopt;
    return *source_.size > offset_ ? *source_.size - offset_ : 0;
  }
  std::array<uint8_t, 32> digest() const { return hash_.digest(); }
  uint64_t offset() const { return offset_; }

 private:
  BundleSource& source_;
  store::Sha256 hash_;
  uint64_t offset_ = 0;
};

using nlohmann::json;

void check_manifest(std::string_view text, const std::vector<std::pair<Key, uint64_t>>& members) {
  json manifest;
  try {
    manifest = json::parse(text);
    if (manifest.at("format").get<int>() != 1) corrupt("manifest format is not 1");
    const json& entries = manifest.at("entries");
    if (!entries.is_array() || entries.size() != members.size())
      corrupt("manifest lists " + std::to_string(entries.is_array() ? entries.size() : 0) +
              " entries, the bundle holds " + std::to_string(members.size()));
    for (size_t i = 0; i < members.size(); ++i) {
      const std::string key = entries[i].at("key").get<std::string>();
      if (!entries[i].at("bytes").is_number_unsigned() || key != members[i].first.hex() ||
          entries[i].at("bytes").get<uint64_t>() != members[i].second) {
        corrupt("manifest entry " + std::to_string(i) + " does not match member " + members[i].first.hex());
      }
    }
  } catch (const json::exception& e) {
    corrupt(std::string("manifest is not valid: ") + e.what());
  }
}

}  // namespace

BundleTrailer read_bundle(BundleSource& source, const EntryTrust* trust,
                          const std::function<void(const Key&, uint64_t, const MemberReader&)>& on_member) {
  HashedStream in(source);
  char tag[8];
  in.read_exact(tag, 8, "the header");
  if (std::string_view(tag, 8) != store::kBundleMagic) corrupt("not a graphcache bundle (bad magic)");
  const auto version = in.read_int<uint32_t>("the header");
  if (version != store::kBundleVersion)
    corrupt("format version " + std::to_string(version) + ", this build reads version 1");
  if (in.read_int<uint32_t>("the header") != 0) corrupt("reserved header field is not 0");

  BundleTrailer trailer;
  std::unordered_set<Key> seen;
  for (;;) {
    in.read_exact(tag, 8, "a member tag");
    const std::string_view t(tag, 8);
    if (t == store::kBundleTrailerTag) break;
    if (t != store::kBundleMemberTag) corrupt("bad member tag at byte " + std::to_string(in.offset() - 8));
    char name[64];
    in.read_exact(name, sizeof(name), "a member name");
    const std::string_view name_view(name, sizeof(name));
    if (!Digest::is_valid_hex(name_view)) {
      corrupt("member name '" + printable(name_view) +
              "' is not a 64-hex-digit key (member names never become paths)");
    }
    const Key key = Digest::from_hex(name_view);
    if (!seen.insert(key).second) corrupt("duplicate member " + key.hex());
    if (seen.size() > store::kBundleMaxMembers)
      corrupt("more than " + std::to_string(store::kBundleMaxMembers) + " members");
    const auto size = in.read_int<uint64_t>("a member size");
    if (size < store::kEntryHeaderSize)
      corrupt("member " + key.hex() + " is " + std::to_string(size) + " bytes, smaller than an entry header");
    if (const auto left = in.remaining(); left && size > *left) {
      corrupt("member " + key.hex() + " claims " + std::to_string(size) + " bytes, only " +
              std::to_string(*left) + " remain (truncated or forged size)");
    }
    uint64_t left_in_member = size;
    const MemberReader reader = [&](uint8_t* out, size_t want) -> size_t {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(want, left_in_member));
      if (n == 0) return 0;
      const size_t got = in.read_some(out, n);
      if (got == 0)
        corrupt("truncated in member " + key.hex() + " (" + std::to_string(left_in_member) +
                " bytes missing)");
      left_in_member -= got;
      return got;
    };
    on_member(key, size, reader);
    std::vector<uint8_t> drain(left_in_member ? std::min<uint64_t>(left_in_member, kCopyChunk) : 0);
    while (left_in_member > 0) reader(drain.data(), drain.size());
    trailer.manifest.emplace_back(key, size);
  }

  trailer.count = in.read_int<uint64_t>("the trailer");
  if (trailer.count != trailer.manifest.size())
    corrupt("trailer counts " + std::to_string(trailer.count) + " members, the bundle holds " +
            std::to_string(trailer.manifest.size()));
  const auto manifest_size = in.read_int<uint64_t>("the trailer");
  if (manifest_size > store::kBundleMaxManifestBytes || (in.remaining() && manifest_size > *in.remaining()))
    corrupt("manifest claims " + std::to_string(manifest_size) + " bytes (truncated or forged size)");
  std::string manifest(static_cast<size_t>(manifest_size), '\0');
  in.read_exact(manifest.data(), manifest.size(), "the manifest");
  check_manifest(manifest, trailer.manifest);

  const std::array<uint8_t, 32> computed = in.digest();
  std::array<uint8_t, 32> recorded{};
  in.read_exact(recorded.data(), recorded.size(), "the digest");
  if (computed != recorded) corrupt("SHA-256 mismatch: the bundle was modified or damaged");
  uint8_t is_signed = 0;
  in.read_exact(&is_signed, 1, "the signature flag");
  if (is_signed > 1) corrupt("bad signature flag");
  if (is_signed) {
    PublicKeyBytes signer{};
    std::array<uint8_t, 64> signature{};
    in.read_exact(signer.data(), signer.size(), "the signature");
    in.read_exact(signature.data(), signature.size(), "the signature");
    std::vector<uint8_t> message(store::kBundleSignatureDomain.begin(), store::kBundleSignatureDomain.end());
    message.insert(message.end(), recorded.begin(), recorded.end());
    if (!EntryTrust::verify_bytes(signer, message.data(), message.size(), signature.data(), signature.size()))
      corrupt("the bundle signature does not verify (tampered, or signed by another key)");
    trailer.signed_bundle = true;
    trailer.signer_hex = public_key_hex(signer);
    if (trust && trust->enforces() &&
        std::find(trust->trusted().begin(), trust->trusted().end(), signer) == trust->trusted().end())
      corrupt("the bundle is signed by " + trailer.signer_hex + ", which is not a trusted key");
  } else if (trust && trust->enforces()) {
    corrupt("the bundle is not signed and require_signature is on");
  }
  in.read_exact(tag, 8, "the end tag");
  if (std::string_view(tag, 8) != store::kBundleEndTag) corrupt("bad end tag");
  uint8_t extra;
  if (in.read_some(&extra, 1) != 0) corrupt("trailing bytes after the end tag");
  return trailer;
}

namespace {

// A folder of staged entries inside the cache directory (same file system, so publishing is a rename).
// Removed with what it holds unless released.
class StagingDir {
 public:
  explicit StagingDir(const std::string& cache_dir) {
    std::random_device random;
    path_ = cache_dir + "/.import-" + std::to_string(::getpid()) + "-" + std::to_string(random());
    if (::mkdir(path_.c_str(), 0700) != 0)
      throw Error(ErrorKind::kIo, "cannot create '" + path_ + "': " + std::strerror(errno));
  }
  ~StagingDir() {
    for (const std::string& f : files_) ::unlink(f.c_str());
    ::rmdir(path_.c_str());
  }
  std::string add(const Key& key) {
    files_.push_back(path_ + "/" + key.hex());
    return files_.back();
  }
  void published(const std::string& file) { std::erase(files_, file); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

// Checks a staged entry as a get would: checksums, key, and the signature (required, or present).
void verify_staged(int fd, uint64_t size, const Key& key, const EntryTrust* trust) {
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED)
    throw Error(ErrorKind::kIo, std::string("cannot map staged entry: ") + std::strerror(errno));
  struct Unmap {
    void* p;
    uint64_t n;
    ~Unmap() { ::munmap(p, n); }
  } unmap{map, size};
  store::DecodedEntry decoded;
  try {
    decoded = store::decode_entry(static_cast<const uint8_t*>(map), size, key);
  } catch (const Error& e) {
    corrupt("entry " + key.hex() + ": " + e.what());
  }
  if (!trust->enforces() && decoded.metadata.signature.empty()) return;
  struct Unowned final : EngineBlob {
    const uint8_t* p;
    uint64_t n;
    Unowned(const uint8_t* d, uint64_t s) : p(d), n(s) {}
    const uint8_t* data() const override { return p; }
    uint64_t size() const override { return n; }
  };
  std::shared_ptr<const EngineBlob> engine;
  try {
    engine = store::engine_blob(decoded, std::make_shared<Unowned>(static_cast<const uint8_t*>(map), size));
  } catch (const Error& e) {
    corrupt("entry " + key.hex() + ": " + e.what());
  }
  const SignatureCheck check = trust->check(key, decoded.metadata, engine->data(), engine->size());
  if (check.status == SignatureStatus::kInvalid)
    corrupt("entry " + key.hex() + ": " + to_string(check.status));
  if (trust->enforces() && check.status != SignatureStatus::kTrusted)
    corrupt("entry " + key.hex() + " refused: " + to_string(check.status));
}

}  // namespace

BundleImportReport import_bundle(LocalStore& store, const std::string& path, const EntryTrust* trust) {
  UniqueFd owned;
  int fd = STDIN_FILENO;
  if (path != "-") {
    owned = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!owned.valid())
      throw Error(ErrorKind::kInvalidArgument, "cannot open bundle '" + path + "': " + std::strerror(errno));
    fd = owned.get();
  }
  BundleSource source;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) source.size = static_cast<uint64_t>(st.st_size);
  source.read = [fd, &path](uint8_t* out, size_t size) -> size_t {
    for (;;) {
      const ssize_t n = ::read(fd, out, size);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR)
        throw Error(ErrorKind::kIo, "cannot read bundle '" + path + "': " + std::strerror(errno));
    }
  };

  // Without configured keys, signatures that are present are still checked (a tampered one is an error).
  const EntryTrust no_keys{TrustConfig{}};
  if (trust == nullptr) trust = &no_keys;
  const StoreConfig& config = store.config();
  StagingDir staging(config.cache_dir);
  std::vector<std::pair<Key, std::string>> staged;
  BundleImportReport report;
  std::vector<uint8_t> buffer(kCopyChunk);
  const BundleTrailer trailer =
      read_bundle(source, trust, [&](const Key& key, uint64_t size, const MemberReader& read) {
        if (config.max_size != 0 && size > config.max_size) {
          corrupt("member " + key.hex() + " is " + std::to_string(size) +
                  " bytes, larger than the cache's max size " + format_size(config.max_size));
        }
        struct statvfs fs {};
        if (::statvfs(staging.path().c_str(), &fs) == 0 &&
            size > static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize) {
          throw Error(ErrorKind::kIo,
                      "bundle member " + key.hex() + " needs " + format_size(size) + ", only " +
                          format_size(static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize) + " free");
        }
        const std::string file = staging.add(key);
        UniqueFd out{::open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644)};
        if (!out.valid())
          throw Error(ErrorKind::kIo, "cannot create '" + file + "': " + std::strerror(errno));
        uint64_t written = 0;
        for (size_t n; (n = read(buffer.data(), buffer.size())) != 0; written += n) {
          write_all(out.get(), buffer.data(), n, "'" + file + "'");
          // With fsync on, start this chunk's writeback now (asynchronous), so the disk works while the
          // next chunk is read and hashed and the fsync below waits for the tail only, not the member.
          if (config.fsync)
            ::sync_file_range(out.get(), static_cast<off_t>(written), n, SYNC_FILE_RANGE_WRITE);
        }
        // Durability: the entry must be on disk before its rename can make it visible, or a crash could
        // leave a published name over missing blocks. One fsync per member, not per write.
        if (config.fsync && ::fsync(out.get()) != 0)
          throw Error(ErrorKind::kIo, "cannot fsync '" + file + "'");
        verify_staged(out.get(), size, key, trust);
        // The staged bytes are clean once fsynced: hand their page-cache memory back now, so the next
        // member reuses it instead of new memory. On VMs whose free memory returns to the host (virtio
        // free page reporting, as on the development VM) touching new memory costs a host fault per
        // page: that was the 2.5-4.5 s of system time per GiB an import paid there
        // (bench/store/README.md). Also keeps a many-GiB import from evicting the rest of the page
        // cache. Without fsync the pages are dirty and stay; a hint either way, so its result is ignored.
        if (config.fsync) ::posix_fadvise(out.get(), 0, 0, POSIX_FADV_DONTNEED);
        staged.emplace_back(key, file);
        report.bytes += size;
      });
  // Everything checked: publish. Each rename is atomic; the set of them is ordered after every check.
  for (const auto& [key, file] : staged) {
    store.adopt_entry_file(key, file);
    staging.published(file);
  }
  report.entries = staged.size();
  report.signed_bundle = trailer.signed_bundle;
  report.signer_hex = trailer.signer_hex;
  return report;
}

}  // namespace graphcache
