// Incremental SHA-256 through OpenSSL's EVP API (signed entries and bundles hash what they vouch for).
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>

#include "graphcache/error.hpp"

namespace graphcache::store {

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
      throw Error(ErrorKind::kInternal, "cannot initialise SHA-256");
  }
  void add(const void* data, size_t size) { EVP_DigestUpdate(ctx_.get(), data, size); }
  // The digest of everything added so far; the hash can go on (finishing a copy of the state).
  std::array<uint8_t, 32> digest() const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> copy(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::array<uint8_t, 32> out{};
    unsigned int n = 0;
    if (!copy || EVP_MD_CTX_copy_ex(copy.get(), ctx_.get()) != 1 ||
        EVP_DigestFinal_ex(copy.get(), out.data(), &n) != 1)
      throw Error(ErrorKind::kInternal, "SHA-256 failed");
    return out;
  }
  static std::array<uint8_t, 32> of(const void* data, size_t size) {
    Sha256 h;
    h.add(data, size);
    return h.digest();
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

}  // namespace graphcache::store
