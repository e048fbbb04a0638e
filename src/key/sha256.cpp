#include "sha256.hpp"

#include <openssl/evp.h>

#include <bit>
#include <memory>

#include "graphcache/error.hpp"

namespace graphcache::key {

static_assert(std::endian::native == std::endian::little, "the key encoding assumes a little-endian host");

Digest sha256(std::initializer_list<std::string_view> pieces) {
  // One context per thread, reused: creating an EVP context per node would dominate small graphs.
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                           &EVP_MD_CTX_free);
  // Fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm up (under a lock) on every init.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  Digest out;
  unsigned int len = 0;
  bool ok = ctx && md && EVP_DigestInit_ex(ctx.get(), md, nullptr) == 1;
  for (std::string_view piece : pieces)
    ok = ok && EVP_DigestUpdate(ctx.get(), piece.data(), piece.size()) == 1;
  if (!ok || EVP_DigestFinal_ex(ctx.get(), out.bytes.data(), &len) != 1 || len != out.bytes.size())
    throw Error(ErrorKind::kInternal, "OpenSSL SHA-256 failed");
  return out;
}

Digest sha256(std::string_view bytes) {
  return sha256({bytes});
}

}  // namespace graphcache::key
