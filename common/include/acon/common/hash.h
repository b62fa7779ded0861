// Message digests: one-shot and incremental.
#pragma once

#include <optional>
#include <string_view>

#include "acon/common/bytes.h"
#include "acon/common/ossl.h"

namespace acon {

enum class HashAlg { sha1, sha256, sha384, sha512, sm3 };

// Lower-case name as used in logs and JSON ("sha384", "sm3").
std::string_view hash_name(HashAlg alg);
// Accepts "sha384", "SHA384", "SHA-384"; nullopt for anything else.
std::optional<HashAlg> hash_from_name(std::string_view name);
size_t hash_size(HashAlg alg);
// SM3 depends on how OpenSSL was built; the others are always present.
bool hash_available(HashAlg alg);

class Hasher {
 public:
  static Result<Hasher> create(HashAlg alg);

  void update(ByteView data);
  void update(std::string_view text) { update(as_bytes(text)); }
  // Returns the digest and resets the hasher for reuse with the same algorithm.
  Bytes finish();
  // Writes the digest into `out` (exactly hash_size() bytes) and resets, without allocating.
  void finish_into(std::span<uint8_t> out);
  HashAlg alg() const { return alg_; }
  // A hasher in the same state, so that a common prefix is hashed once and several messages
  // that start with it are finished from copies (EAR tokens, docs/ear.md). Only reads this one,
  // so several threads may copy one hasher at once.
  Result<Hasher> copy() const;

 private:
  Hasher(HashAlg alg, ossl::MdCtxPtr ctx) : alg_(alg), ctx_(std::move(ctx)) {}
  HashAlg alg_;
  ossl::MdCtxPtr ctx_;
};

// One-shot digest; fails only for an algorithm this OpenSSL lacks (SM3).
Result<Bytes> digest(HashAlg alg, ByteView data);
inline Result<Bytes> digest(HashAlg alg, std::string_view text) {
  return digest(alg, as_bytes(text));
}

// HMAC (RFC 2104) with `alg`'s digest; fails only for an algorithm this OpenSSL lacks (SM3).
Result<Bytes> hmac(HashAlg alg, ByteView key, ByteView data);

// The always-available digests, for callers that need no error path.
Bytes sha256(ByteView data);
Bytes sha384(ByteView data);
Bytes sha512(ByteView data);

}  // namespace acon
