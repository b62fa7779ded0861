#include "acon/common/hash.h"

#include <openssl/err.h>

#include <cctype>
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
template <class T, T* (*Fetch)(OSSL_LIB_CTX*, const char*, const char*)>
const T* fetch_cached(const char* name) {
  // The fetched objects live for the whole process; they are never freed on purpose.
  static std::mutex mu;
  static std::unordered_map<std::string, T*> cache;
  std::lock_guard lock(mu);
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  T* fetched = Fetch(nullptr, name, nullptr);
  if (fetched == nullptr) ERR_clear_error();
  cache.emplace(name, fetched);
  return fetched;
}
}  // namespace

const EVP_MD* md(const char* name) { return fetch_cached<EVP_MD, EVP_MD_fetch>(name); }
const EVP_CIPHER* cipher(const char* name) {
  return fetch_cached<EVP_CIPHER, EVP_CIPHER_fetch>(name);
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

Bytes sha256(ByteView data) { return *digest(HashAlg::sha256, data); }
Bytes sha384(ByteView data) { return *digest(HashAlg::sha384, data); }
Bytes sha512(ByteView data) { return *digest(HashAlg::sha512, data); }

}  // namespace acon
