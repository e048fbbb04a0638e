#include "graphcache/signing.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

#include "common/unique_fd.hpp"
#include "engine_chunk_reader.hpp"
#include "entry_format.hpp"
#include "graphcache/error.hpp"
#include "sha256.hpp"

namespace graphcache {
namespace {

constexpr std::string_view kSignaturePrefix = "ed25519:";
constexpr std::string_view kMessageDomain{"graphcache entry signature v1\0", 30};
constexpr size_t kHashChunk = 4 << 20;

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

[[noreturn]] void bad_key(const std::string& path, const std::string& why) {
  throw Error(ErrorKind::kInvalidArgument, "key file '" + path + "': " + why);
}

std::string hex(const uint8_t* data, size_t size) {
  static const char* kDigits = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

// Exactly 2 * out.size() lowercase or uppercase hex digits, else false.
bool unhex(std::string_view text, uint8_t* out, size_t size) {
  if (text.size() != 2 * size) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < size; ++i) {
    const int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

using store::Sha256;

std::array<uint8_t, 32> sha256(const void* data, size_t size) {
  return Sha256::of(data, size);
}

// SHA-256 and size of the engine bytes of a put, streamed from the engine file when it is one.
std::pair<std::array<uint8_t, 32>, uint64_t> engine_digest(const EngineSource& engine) {
  store::EngineChunkReader reader(engine, kHashChunk);
  Sha256 h;
  reader.for_each_chunk([&](std::string_view bytes) { h.add(bytes.data(), bytes.size()); });
  return {h.digest(), reader.size()};
}

std::vector<uint8_t> signed_message(const Key& key, const PublicKeyBytes& signer, EntryMetadata metadata,
                                    const std::array<uint8_t, 32>& engine_sha, uint64_t engine_size) {
  metadata.signature.clear();
  const std::string meta = store::serialize_metadata(metadata);
  const auto meta_sha = sha256(meta.data(), meta.size());
  std::vector<uint8_t> m(kMessageDomain.begin(), kMessageDomain.end());
  m.insert(m.end(), key.bytes.begin(), key.bytes.end());
  m.insert(m.end(), signer.begin(), signer.end());
  m.insert(m.end(), meta_sha.begin(), meta_sha.end());
  m.insert(m.end(), engine_sha.begin(), engine_sha.end());
  uint8_t size_le[8];
  store::put_le(size_le, engine_size);
  m.insert(m.end(), size_le, size_le + 8);
  return m;
}

PublicKeyBytes raw_public(EVP_PKEY* pkey, const std::string& path) {
  PublicKeyBytes out{};
  size_t n = out.size();
  if (EVP_PKEY_get_raw_public_key(pkey, out.data(), &n) != 1 || n != out.size())
    bad_key(path, "cannot read the Ed25519 public key");
  return out;
}

std::string read_small_file(const std::string& path) {
  UniqueFd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) bad_key(path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) bad_key(path, "not a regular file");
  if (st.st_size > (64 << 10)) bad_key(path, "larger than 64 KiB, not a PEM key");
  std::string text(static_cast<size_t>(st.st_size), '\0');
  if (::read(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    bad_key(path, "short read");
  return text;
}

// A PEM private key (PKCS#8, as openssl genpkey writes) or public key (SubjectPublicKeyInfo); Ed25519 only.
PkeyPtr load_pem(const std::string& path, bool want_private) {
  const std::string text = read_small_file(path);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())),
                                                BIO_free);
  EVP_PKEY* raw = nullptr;
  if (want_private || text.find("PRIVATE KEY-----") != std::string::npos) {
    raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  } else {
    raw = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  }
  PkeyPtr key(raw, EVP_PKEY_free);
  if (!key) bad_key(path, want_private ? "not a PEM private key" : "not a PEM public or private key");
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) bad_key(path, "not an Ed25519 key");
  return key;
}

std::vector<std::string> expand_key_paths(const std::vector<std::string>& entries) {
  std::vector<std::string> files;
  for (const std::string& entry : entries) {
    struct stat st {};
    if (::stat(entry.c_str(), &st) != 0) bad_key(entry, std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
      files.push_back(entry);
      continue;
    }
    struct CloseDir {
      void operator()(DIR* d) const { ::closedir(d); }
    };
    std::unique_ptr<DIR, CloseDir> dir(::opendir(entry.c_str()));
    if (!dir) bad_key(entry, std::strerror(errno));
    std::vector<std::string> found;
    while (const dirent* e = ::readdir(dir.get())) {
      const std::string name = e->d_name;
      if (name.size() > 4 && name.ends_with(".pem")) found.push_back(entry + "/" + name);
    }
    if (found.empty()) bad_key(entry, "folder holds no *.pem key");
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

void write_new_file(const std::string& path, const std::string& text, mode_t mode) {
  UniqueFd fd{::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)};
  if (!fd.valid()) {
    throw Error(errno == EEXIST ? ErrorKind::kInvalidArgument : ErrorKind::kIo,
                "cannot create '" + path + "': " + std::strerror(errno));
  }
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) || fd.close() != 0) {
    ::unlink(path.c_str());
    throw Error(ErrorKind::kIo, "cannot write '" + path + "'");
  }
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace

std::string public_key_hex(const PublicKeyBytes& key) {
  return hex(key.data(), key.size());
}

const char* to_string(SignatureStatus status) noexcept {
  switch (status) {
    case SignatureStatus::kUnsigned:
      return "unsigned";
    case SignatureStatus::kTrusted:
      return "signed by a trusted key";
    case SignatureStatus::kUnknownKey:
      return "signed by a key that is not trusted";
    case SignatureStatus::kInvalid:
      return "bad signature (tampered or replayed)";
  }
  return "?";
}

PublicKeyBytes generate_key_pair(const std::string& private_path, const std::string& public_path) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), EVP_PKEY_free);
  if (!key) throw Error(ErrorKind::kInternal, "cannot generate an Ed25519 key");
  std::unique_ptr<BIO, decltype(&BIO_free)> priv(BIO_new(BIO_s_mem()), BIO_free),
      pub(BIO_new(BIO_s_mem()), BIO_free);
  if (PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1) {
    throw Error(ErrorKind::kInternal, "cannot encode the key as PEM");
  }
  write_new_file(private_path, bio_text(priv.get()), 0600);
  try {
    write_new_file(public_path, bio_text(pub.get()), 0644);
  } catch (...) {
    ::unlink(private_path.c_str());
    throw;
  }
  return raw_public(key.get(), public_path);
}

struct EntryTrust::Impl {
  PkeyPtr signing{nullptr, EVP_PKEY_free};
  std::optional<PublicKeyBytes> signer;
  std::vector<PublicKeyBytes> trusted;
  bool require = false;
};

EntryTrust::EntryTrust(const TrustConfig& config) : impl_(std::make_unique<Impl>()) {
  if (!config.signing_key.empty()) {
    impl_->signing = load_pem(config.signing_key, /*want_private=*/true);
    impl_->signer = raw_public(impl_->signing.get(), config.signing_key);
  }
  for (const std::string& path : expand_key_paths(config.trusted_keys)) {
    const PkeyPtr key = load_pem(path, /*want_private=*/false);
    const PublicKeyBytes raw = raw_public(key.get(), path);
    if (std::find(impl_->trusted.begin(), impl_->trusted.end(), raw) == impl_->trusted.end())
      impl_->trusted.push_back(raw);
  }
  impl_->require = config.require_signature;
  if (impl_->require && impl_->trusted.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "require_signature is on but no trusted key is configured (trusted_keys / "
                "GRAPHCACHE_TRUSTED_KEYS / --trusted-keys): every entry would be refused");
  }
}

EntryTrust::~EntryTrust() = default;

bool EntryTrust::signs() const {
  return impl_->signing != nullptr;
}

bool EntryTrust::enforces() const {
  return impl_->require;
}

const std::vector<PublicKeyBytes>& EntryTrust::trusted() const {
  return impl_->trusted;
}

std::optional<PublicKeyBytes> EntryTrust::signer() const {
  return impl_->signer;
}

std::array<uint8_t, 64> EntryTrust::sign_bytes(const uint8_t* message, size_t size) const {
  if (!impl_->signing) throw Error(ErrorKind::kInvalidArgument, "no signing key is configured");
  MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::array<uint8_t, 64> signature{};
  size_t n = signature.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->signing.get()) != 1 ||
      EVP_DigestSign(ctx.get(), signature.data(), &n, message, size) != 1 || n != signature.size()) {
    throw Error(ErrorKind::kInternal, "Ed25519 signing failed");
  }
  return signature;
}

bool EntryTrust::verify_bytes(const PublicKeyBytes& public_key, const uint8_t* message, size_t size,
                              const uint8_t* signature, size_t signature_size) {
  PkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()),
              EVP_PKEY_free);
  MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!key || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1)
    return false;
  return EVP_DigestVerify(ctx.get(), signature, signature_size, message, size) == 1;
}

void EntryTrust::sign(const Key& key, const EngineSource& engine, EntryMetadata& metadata) const {
  if (!impl_->signing) return;
  if (metadata.created_unix == 0) metadata.created_unix = static_cast<int64_t>(std::time(nullptr));
  const auto [engine_sha, engine_size] = engine_digest(engine);
  const std::vector<uint8_t> message = signed_message(key, *impl_->signer, metadata, engine_sha, engine_size);
  const std::array<uint8_t, 64> signature = sign_bytes(message.data(), message.size());
  metadata.signature = std::string(kSignaturePrefix) + public_key_hex(*impl_->signer) + ":" +
                       hex(signature.data(), signature.size());
}

SignatureCheck EntryTrust::check(const Key& key, const EntryMetadata& metadata, const uint8_t* engine,
                                 uint64_t engine_size) const {
  SignatureCheck result;
  const std::string& text = metadata.signature;
  if (text.empty()) return result;
  result.status = SignatureStatus::kInvalid;
  PublicKeyBytes signer{};
  std::array<uint8_t, 64> signature{};
  const std::string_view view(text);
  const size_t colon = kSignaturePrefix.size() + 2 * signer.size();
  if (!view.starts_with(kSignaturePrefix) || view.size() != colon + 1 + 2 * signature.size() ||
      view[colon] != ':' ||
      !unhex(view.substr(kSignaturePrefix.size(), 2 * signer.size()), signer.data(), signer.size()) ||
      !unhex(view.substr(colon + 1), signature.data(), signature.size())) {
    return result;
  }
  result.signer_hex = public_key_hex(signer);
  const std::vector<uint8_t> message =
      signed_message(key, signer, metadata, sha256(engine, engine_size), engine_size);
  if (!verify_bytes(signer, message.data(), message.size(), signature.data(), signature.size()))
    return result;
  const bool trusted =
      std::find(impl_->trusted.begin(), impl_->trusted.end(), signer) != impl_->trusted.end();
  result.status = trusted ? SignatureStatus::kTrusted : SignatureStatus::kUnknownKey;
  return result;
}

bool EntryTrust::admits(const Key& key, const Entry& entry, std::string& why) const {
  if (!impl_->require) return true;
  const SignatureCheck c = check(key, entry.metadata, entry.engine->data(), entry.engine->size());
  if (c.status == SignatureStatus::kTrusted) return true;
  why = to_string(c.status);
  if (!c.signer_hex.empty()) why += " (signer " + c.signer_hex + ")";
  return false;
}

std::shared_ptr<const EntryTrust> make_entry_trust(const TrustConfig& config) {
  if (config.signing_key.empty() && config.trusted_keys.empty() && !config.require_signature) return nullptr;
  return std::make_shared<const EntryTrust>(config);
}

}  // namespace graphcache
