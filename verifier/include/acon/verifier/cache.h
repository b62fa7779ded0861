// Caches of verified DCAP collateral and PCK chains, so that repeated quotes from one platform
// cost only the QE report and quote signatures (spec §5: 13 ECDSA verifications uncached, 2
// warm). Thread-safe: lookups take a shared lock, inserts an exclusive one.
//
// Keys are digests over every byte the cached verification depended on, so any change misses:
// - collateral: "fmspc/ca/issueDate..nextUpdate" of the TCB info (readable part), then SHA-256 over
//   the TCB info and QE identity signed JSON and signatures, all issuer-chain certificates, both
//   CRLs and the trust anchors;
// - PCK chain: SHA-256 of the quote's PEM chain text, both CRLs and the trust anchors.
// Only successful verifications are stored; times are never cached (expiry is computed per call).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "acon/verifier/chain.h"
#include "acon/verifier/collateral.h"
#include "acon/verifier/sgx_extension.h"

namespace acon::verifier {

struct CacheStats {
  uint64_t collateral_hits = 0;
  uint64_t collateral_misses = 0;
  uint64_t pck_chain_hits = 0;
  uint64_t pck_chain_misses = 0;
};

// A PCK chain that verified against the CRLs and anchors of its key, with its SGX extension.
struct VerifiedPckChain {
  PckChain chain;
  SgxExtension sgx;
};

class VerificationCache {
 public:
  // Each map is cleared when it would exceed max_entries (simple bound; platforms are few).
  explicit VerificationCache(size_t max_entries = 4096) : max_entries_(max_entries) {}

  static std::string collateral_key(const Collateral& collateral, const TrustAnchors& anchors);
  static std::string pck_chain_key(std::string_view pem_chain, const Collateral& collateral,
                                   const TrustAnchors& anchors);

  // Counts a hit or a miss.
  bool collateral_verified(const std::string& key);
  void remember_collateral(const std::string& key);

  // Counts a hit or a miss; nullptr on a miss. Entries are immutable once stored.
  std::shared_ptr<const VerifiedPckChain> pck_chain(const std::string& key);
  void remember_pck_chain(const std::string& key, VerifiedPckChain verified);

  CacheStats stats() const;
  void clear();

 private:
  size_t max_entries_;
  mutable std::shared_mutex mutex_;
  std::unordered_set<std::string> collateral_;
  std::unordered_map<std::string, std::shared_ptr<const VerifiedPckChain>> pck_chains_;
  mutable std::mutex stats_mutex_;
  CacheStats stats_;
};

}  // namespace acon::verifier
