#include "acon/common/hash.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>

#include <cctype>
#include <climits>
#include <mutex>
#include <string>
#include <unordered_map>

namespace acon {
namespace ossl {

std::string drain_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error recorded" : out;
}

namespace {
// Fetched algorithms, kept for the life of the process and released at exit. OpenSSL is
// initialised before the cache is built, so its own atexit cleanup runs after our destructor.
// The first fetch loads the OpenSSL configuration (openssl.cnf, or $OPENSSL_CONF) and with it
// whatever providers and default properties it names (a FIPS setup included), so every digest
// and cipher comes from the provider the system policy selects. That first fetch is most of what
// a short tool run costs (about 5.3 M instructions on OpenSSL 3.0: legacy name tables ~3.3 M, the
// configuration file ~0.8 M, the error strings its loading pulls in ~0.9 M); skipping the
// configuration (OPENSSL_INIT_NO_LOAD_CONFIG) saves ~1.9 M of it but bypasses that policy, so
// the library loads it; only a process that computes nothing but digests of public data opts out
// (acon-eventlog: tools/tool_util.h, OpenSslUse::digests_only).
template <class T, T* (*Fetch)(OSSL_LIB_CTX*, const char*, const char*), void (*Free)(T*)>
class FetchCache {
 public:
  FetchCache() { OPENSSL_init_crypto(0, nullptr); }
  FetchCache(const FetchCache&) = delete;
  FetchCache& operator=(const FetchCache&) = delete;
  ~FetchCache() {
    for (auto& [name, fetched] : entries_) Free(fetched);
  }
  const T* get(const char* name) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(name);
    if (it != entries_.end()) return it->second;
    T* fetched = Fetch(nullptr, name, nullptr);
    if (fetched == nullptr) ERR_clear_error();
    entries_.emplace(name, fetched);
    return fetched;
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, T*> entries_;
};
}  // namespace

const EVP_MD* md(const char* name) {
  static FetchCache<EVP_MD, EVP_MD_fetch, EVP_MD_free> cache;
  return cache.get(name);
}
const EVP_CIPHER* cipher(const char* name) {
  static FetchCache<EVP_CIPHER, EVP_CIPHER_fetch, EVP_CIPHER_free> cache;
  return cache.get(name);
}

}  // namespace ossl

namespace {
struct HashInfo {
  HashAlg alg;
  std::string_view name;
  const char* ossl_name;
  size_t size;
};
constexpr HashInfo kHashes[] = {
    {HashAlg::sha1, "sha1", "SHA1", 20},
    {HashAlg::sha256, "sha256", "SHA2-256", 32},
    {HashAlg::sha384, "sha384", "SHA2-384", 48},
    {HashAlg::sha512, "sha512", "SHA2-512", 64},
    {HashAlg::sm3, "sm3", "SM3", 32},
};
const HashInfo& info(HashAlg alg) { return kHashes[static_cast<int>(alg)]; }

// Cached per algorithm so the hot path does no map lookup.
const EVP_MD* md_for(HashAlg alg) {
  static const EVP_MD* const cache[] = {ossl::md("SHA1"), ossl::md("SHA2-256"),
                                        ossl::md("SHA2-384"), ossl::md("SHA2-512"),
                                        ossl::md("SM3")};
  return cache[static_cast<int>(alg)];
}
}  // namespace

std::string_view hash_name(HashAlg alg) { return info(alg).name; }
size_t hash_size(HashAlg alg) { return info(alg).size; }
bool hash_available(HashAlg alg) { return md_for(alg) != nullptr; }

std::optional<HashAlg> hash_from_name(std::string_view name) {
  // "sha384", "SHA384", "SHA-384", "sha_384"; one separator after the family name at most.
  std::string norm;
  for (char c : name) norm.push_back(static_cast<char>(std::tolower(static_cast<uint8_t>(c))));
  if (norm.size() > 4 && (norm[3] == '-' || norm[3] == '_') &&
      (norm.starts_with("sha") || norm.starts_with("sm3")))
    norm.erase(3, 1);
  if (norm == "sm3256") norm = "sm3";  // TPM2_ALG_SM3_256, as tpm2-tools spells it
  for (const auto& h : kHashes) {
    if (h.name == norm) return h.alg;
  }
  return std::nullopt;
}

Result<Hasher> Hasher::create(HashAlg alg) {
  const EVP_MD* md = md_for(alg);
  if (md == nullptr) {
    return make_error(Errc::unsupported,
                      "hash: " + std::string(hash_name(alg)) + " not provided by this OpenSSL");
  }
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1)
    return make_error(Errc::crypto, "hash: init failed: " + ossl::drain_errors());
  return Hasher(alg, std::move(ctx));
}

Result<Hasher> Hasher::copy() const {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_MD_CTX_copy_ex(ctx.get(), ctx_.get()) != 1)
    return make_error(Errc::crypto, "hash: copying the state failed: " + ossl::drain_errors());
  return Hasher(alg_, std::move(ctx));
}

void Hasher::update(ByteView data) {
  // Cannot fail for a software digest once initialised.
  EVP_DigestUpdate(ctx_.get(), data.data(), data.size());
}

Bytes Hasher::finish() {
  Bytes out(hash_size(alg_));
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), out.data(), &len);
  EVP_DigestInit_ex2(ctx_.get(), nullptr, nullptr);
  out.resize(len);
  return out;
}

void Hasher::finish_into(std::span<uint8_t> out) {
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), out.data(), &len);
  EVP_DigestInit_ex2(ctx_.get(), nullptr, nullptr);
}

Result<Bytes> digest(HashAlg alg, ByteView data) {
  const EVP_MD* md = md_for(alg);
  if (md == nullptr) {
    return make_error(Errc::unsupported,
                      "hash: " + std::string(hash_name(alg)) + " not provided by this OpenSSL");
  }
  Bytes out(hash_size(alg));
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1)
    return make_error(Errc::crypto, "hash: digest failed: " + ossl::drain_errors());
  return out;
}

Result<Bytes> hmac(HashAlg alg, ByteView key, ByteView data) {
  const EVP_MD* md = md_for(alg);
  if (md == nullptr) {
    return make_error(Errc::unsupported,
                      "hmac: " + std::string(hash_name(alg)) + " not provided by this OpenSSL");
  }
  Bytes out(hash_size(alg));
  unsigned int len = 0;
  // OpenSSL takes no null key pointer, even for an empty key.
  static constexpr uint8_t kNoKey = 0;
  if (key.size() > static_cast<size_t>(INT_MAX) ||
      HMAC(md, key.empty() ? &kNoKey : key.data(), static_cast<int>(key.size()), data.data(),
           data.size(), out.data(), &len) == nullptr ||
      len != out.size())
    return make_error(Errc::crypto, "hmac: failed: " + ossl::drain_errors());
  return out;
}

Bytes sha256(ByteView data) { return *digest(HashAlg::sha256, data); }
Bytes sha384(ByteView data) { return *digest(HashAlg::sha384, data); }
Bytes sha512(ByteView data) { return *digest(HashAlg::sha512, data); }

}  // namespace acon
