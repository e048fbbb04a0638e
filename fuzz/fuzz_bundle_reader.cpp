// Bundle reader on arbitrary bytes. The first input byte picks the path:
//   bit 0: "fix up" the trailer of an unsigned bundle (the SHA-256 before the flag byte and end tag is
//          recomputed), so the fuzzer reaches manifest parsing instead of stopping at the digest gate;
//   bit 1: import the bytes from a real file into a real LocalStore (staging folder, verification,
//          renames); otherwise read_bundle runs on memory with a sink that decodes each member.
// Either way the reader must succeed or throw graphcache::Error(kCorrupt), and a failed import must
// leave the store without entries.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "bundle_format.hpp"
#include "entry_format.hpp"
#include "graphcache/bundle.hpp"
#include "graphcache/error.hpp"
#include "graphcache/local_store.hpp"
#include "graphcache/signing.hpp"
#include "scratch_store.hpp"
#include "sha256.hpp"

namespace {

void fix_up(std::vector<uint8_t>& b) {
  constexpr size_t kTail = 32 + 1 + 8;  // digest, unsigned flag, end tag
  if (b.size() < kTail) return;
  const size_t digest_at = b.size() - kTail;
  const auto digest = graphcache::store::Sha256::of(b.data(), digest_at);
  std::memcpy(b.data() + digest_at, digest.data(), digest.size());
  b[digest_at + 32] = 0;
  std::memcpy(b.data() + digest_at + 33, graphcache::store::kBundleEndTag.data(), 8);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::vector<uint8_t> bundle(data + 1, data + size);
  if (mode & 1) fix_up(bundle);
  const graphcache::EntryTrust no_keys{graphcache::TrustConfig{}};
  try {
    if (mode & 2) {
      graphcache::LocalStore& local = graphcache::fuzz::scratch_store();
      const std::string path = local.config().cache_dir + "/input.gcb";  // not an entry name
      std::ofstream(path, std::ios::binary | std::ios::trunc)
          .write(reinterpret_cast<const char*>(bundle.data()), static_cast<std::streamsize>(bundle.size()));
      try {
        graphcache::import_bundle(local, path, &no_keys);
      } catch (const graphcache::Error&) {
        if (!local.list().empty()) std::abort();  // a failed import left an entry behind
        throw;
      }
      local.clear();
      return 0;
    }
    size_t offset = 0;
    graphcache::BundleSource source;
    source.size = bundle.size();
    source.read = [&](uint8_t* out, size_t n) {
      n = std::min(n, bundle.size() - offset);
      if (n == 0) return n;  // an empty vector's data() may be null, and memcpy must not see null
      std::memcpy(out, bundle.data() + offset, n);
      offset += n;
      return n;
    };
    graphcache::read_bundle(
        source, &no_keys,
        [](const graphcache::Key& key, uint64_t member_size, const graphcache::MemberReader& read) {
          std::vector<uint8_t> entry(member_size);  // bounded: read_bundle checked it against the input size
          for (size_t done = 0; done < entry.size();) done += read(entry.data() + done, entry.size() - done);
          const auto decoded = graphcache::store::decode_entry(entry.data(), entry.size(), key);
          (void)decoded;
        });
  } catch (const graphcache::Error& e) {
    if (e.kind() != graphcache::ErrorKind::kCorrupt && e.kind() != graphcache::ErrorKind::kIo) std::abort();
  }
  return 0;
}
