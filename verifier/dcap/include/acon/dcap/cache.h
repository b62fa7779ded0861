// Caches of verified DCAP collateral, PCK chains and QE report signatures, so that repeated
// quotes from one platform cost only the quote signature (docs/dcap-verification.md §13: 13 nominal
// ECDSA verifications uncached, 1 warm). Thread-safe: lookups take a shared lock, inserts an
// exclusive one; counters are atomic.
//
// An entry is reused only when every input of the cached verification is equal, compared byte
// for byte (a hash only picks the candidates):
// - collateral (verify_collateral_signatures): the TCB info and QE identity signed JSON and
//   signatures, both issuer chains, the root CA CRL and the trust anchors;
// - PCK chain (verify_pck_chain + the SGX extension): the chain bytes (the quote's PEM text, or
//   the DER of the bundle's certificates), both CRLs and the trust anchors;
// - QE report signature: the 384 report bytes, the 64 signature bytes and the PCK leaf's
//   SubjectPublicKeyInfo.
// Certificates and CRLs count as equal when they are the same parsed object (immutable, and
// kept alive by the entry, so an address cannot come back as another object) or have equal DER.
// Only successful verifications are stored; times are never cached (expiry is computed per call).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "acon/dcap/chain.h"
#include "acon/dcap/collateral.h"
#include "acon/dcap/sgx_extension.h"
#include "acon/tdx/quote.h"

namespace acon::dcap {

struct CacheStats {
  uint64_t collateral_hits = 0;
  uint64_t collateral_misses = 0;
  uint64_t pck_chain_hits = 0;
  uint64_t pck_chain_misses = 0;
  uint64_t qe_report_hits = 0;
  uint64_t qe_report_misses = 0;
};

// A PCK chain that verified against the CRLs and anchors of its key, with its SGX extension.
struct VerifiedPckChain {
  PckChain chain;
  SgxExtension sgx;
  // is_simulated_pck_chain of the chain, decided once with it (a pure function of the
  // certificates, and re-parsing the leaf's SGX extension for it was ~2% of a warm appraisal).
  bool simulated = false;
};

class VerificationCache {
 public:
  // Each kind of entry is cleared when it would exceed max_entries (simple bound; platforms are
  // few).
  explicit VerificationCache(size_t max_entries = 4096) : max_entries_(max_entries) {}
  VerificationCache(const VerificationCache&) = delete;
  VerificationCache& operator=(const VerificationCache&) = delete;

  // Whether verify_collateral_signatures succeeded for equal collateral inputs under equal
  // anchors. Counts a hit or a miss.
  bool collateral_verified(const Collateral& collateral, const TrustAnchors& anchors);
  void remember_collateral(const Collateral& collateral, const TrustAnchors& anchors);

  // The PCK chain verified from exactly `chain_bytes` with equal CRLs and anchors; nullptr on a
  // miss. Counts a hit or a miss. Entries are immutable once stored.
  std::shared_ptr<const VerifiedPckChain> pck_chain(ByteView chain_bytes,
                                                    const Collateral& collateral,
                                                    const TrustAnchors& anchors);
  void remember_pck_chain(ByteView chain_bytes, const Collateral& collateral,
                          const TrustAnchors& anchors, VerifiedPckChain verified);

  // The bytes a QE report signature check depends on: report, signature, the PCK leaf's
  // SubjectPublicKeyInfo DER (length-prefixed). Empty when the leaf key cannot be encoded.
  static std::string qe_report_key(const tdx::Quote& quote, const Certificate& pck_leaf);
  // Whether a QE report signature with this key verified before. Counts a hit or a miss.
  bool qe_report_verified(const std::string& key);
  void remember_qe_report(const std::string& key);

  // The raw x||y P-256 attestation key of a quote as an OpenSSL key, decoded once per distinct
  // key: a platform's QE signs all its quotes with one key, and decoding it costs most of an
  // ECDSA verification. A decoded key, not a result: nothing about a signature is remembered.
  Result<PublicKey> attestation_key(ByteView xy);

  CacheStats stats() const;
  void clear();

 private:
  struct CollateralEntry;
  struct PckChainEntry;
  // Entries keyed by a non-cryptographic hash of part of their inputs; each candidate in a
  // bucket is compared in full. Emptied when it would exceed max_entries_. Guarded by mutex_.
  template <class Entry>
  struct Buckets {
    std::unordered_map<uint64_t, std::vector<std::shared_ptr<const Entry>>> map;
    size_t count = 0;
    template <class Matches>
    std::shared_ptr<const Entry> find(uint64_t index, const Matches& matches) const;
    template <class Matches>
    void insert(uint64_t index, std::shared_ptr<const Entry> entry, size_t max_entries,
                const Matches& matches);
    void clear() {
      map.clear();
      count = 0;
    }
  };

  size_t max_entries_;
  mutable std::shared_mutex mutex_;
  Buckets<CollateralEntry> collateral_;
  Buckets<PckChainEntry> pck_chains_;
  std::unordered_set<std::string> qe_reports_;
  std::unordered_map<std::string, PublicKey> attestation_keys_;  // by x||y

  std::atomic<uint64_t> collateral_hits_{0};
  std::atomic<uint64_t> collateral_misses_{0};
  std::atomic<uint64_t> pck_chain_hits_{0};
  std::atomic<uint64_t> pck_chain_misses_{0};
  std::atomic<uint64_t> qe_report_hits_{0};
  std::atomic<uint64_t> qe_report_misses_{0};
};

}  // namespace acon::dcap
