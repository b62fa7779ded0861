// Verified-collateral, verified-PCK-chain and verified-QE-report caches. See cache.h.
#include "acon/dcap/cache.h"

#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <functional>
#include <mutex>

namespace acon::dcap {

// The inputs verify_collateral_signatures read, held by value (certificates and CRLs share the
// caller's parsed objects).
struct VerificationCache::CollateralEntry {
  std::string tcb_info_json;
  std::array<uint8_t, 64> tcb_info_signature{};
  std::string qe_identity_json;
  std::array<uint8_t, 64> qe_identity_signature{};
  std::vector<Certificate> tcb_info_issuer_chain;
  std::vector<Certificate> qe_identity_issuer_chain;
  Crl root_ca_crl;
  std::vector<Certificate> anchors;
};

// The inputs verify_pck_chain read, and its result.
struct VerificationCache::PckChainEntry {
  Bytes chain_bytes;
  Crl root_ca_crl;
  Crl pck_crl;
  std::vector<Certificate> anchors;
  std::shared_ptr<const VerifiedPckChain> verified;
};

namespace {

bool same_certificates(const std::vector<Certificate>& a, const std::vector<Certificate>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), same_certificate);
}

bool equal_bytes(ByteView a, ByteView b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

uint64_t hash_view(ByteView data) { return std::hash<std::string_view>{}(as_chars(data)); }

// Candidates are picked by the two signatures (unique per signed JSON in practice).
uint64_t collateral_index(const Collateral& collateral) {
  std::array<uint8_t, 128> signatures{};
  std::copy(collateral.tcb_info.signature.begin(), collateral.tcb_info.signature.end(),
            signatures.begin());
  std::copy(collateral.qe_identity.signature.begin(), collateral.qe_identity.signature.end(),
            signatures.begin() + 64);
  return hash_view(signatures);
}

// Candidates are picked by the start of the chain: the leaf, whose serial number and key differ
// between platforms.
uint64_t pck_chain_index(ByteView chain_bytes) {
  return hash_view(chain_bytes.first(std::min<size_t>(chain_bytes.size(), 1024)));
}

template <class Entry>
bool collateral_matches(const Entry& entry, const Collateral& collateral,
                        const TrustAnchors& anchors) {
  return entry.tcb_info_signature == collateral.tcb_info.signature &&
         entry.qe_identity_signature == collateral.qe_identity.signature &&
         entry.tcb_info_json == collateral.tcb_info.signed_json &&
         entry.qe_identity_json == collateral.qe_identity.signed_json &&
         same_crl(entry.root_ca_crl, collateral.root_ca_crl) &&
         same_certificates(entry.tcb_info_issuer_chain, collateral.tcb_info_issuer_chain) &&
         same_certificates(entry.qe_identity_issuer_chain, collateral.qe_identity_issuer_chain) &&
         same_certificates(entry.anchors, anchors.roots);
}

template <class Entry>
bool pck_chain_matches(const Entry& entry, ByteView chain_bytes, const Collateral& collateral,
                       const TrustAnchors& anchors) {
  return equal_bytes(entry.chain_bytes, chain_bytes) &&
         same_crl(entry.root_ca_crl, collateral.root_ca_crl) &&
         same_crl(entry.pck_crl, collateral.pck_crl) &&
         same_certificates(entry.anchors, anchors.roots);
}

}  // namespace

template <class Entry>
template <class Matches>
std::shared_ptr<const Entry> VerificationCache::Buckets<Entry>::find(uint64_t index,
                                                                     const Matches& matches) const {
  auto it = map.find(index);
  if (it == map.end()) return nullptr;
  for (const auto& entry : it->second)
    if (matches(*entry)) return entry;
  return nullptr;
}

template <class Entry>
template <class Matches>
void VerificationCache::Buckets<Entry>::insert(uint64_t index, std::shared_ptr<const Entry> entry,
                                               size_t max_entries, const Matches& matches) {
  if (count >= max_entries) clear();
  auto& bucket = map[index];
  if (std::any_of(bucket.begin(), bucket.end(), [&](const auto& known) { return matches(*known); }))
    return;
  bucket.push_back(std::move(entry));
  ++count;
}

bool VerificationCache::collateral_verified(const Collateral& collateral,
                                            const TrustAnchors& anchors) {
  bool hit;
  {
    std::shared_lock lock(mutex_);
    hit = collateral_.find(collateral_index(collateral), [&](const CollateralEntry& entry) {
      return collateral_matches(entry, collateral, anchors);
    }) != nullptr;
  }
  ++(hit ? collateral_hits_ : collateral_misses_);
  return hit;
}

void VerificationCache::remember_collateral(const Collateral& collateral,
                                            const TrustAnchors& anchors) {
  auto entry = std::make_shared<const CollateralEntry>(
      CollateralEntry{collateral.tcb_info.signed_json, collateral.tcb_info.signature,
                      collateral.qe_identity.signed_json, collateral.qe_identity.signature,
                      collateral.tcb_info_issuer_chain, collateral.qe_identity_issuer_chain,
                      collateral.root_ca_crl, anchors.roots});
  std::unique_lock lock(mutex_);
  collateral_.insert(
      collateral_index(collateral), std::move(entry), max_entries_,
      [&](const CollateralEntry& known) { return collateral_matches(known, collateral, anchors); });
}

std::shared_ptr<const VerifiedPckChain> VerificationCache::pck_chain(ByteView chain_bytes,
                                                                     const Collateral& collateral,
                                                                     const TrustAnchors& anchors) {
  std::shared_ptr<const VerifiedPckChain> found;
  {
    std::shared_lock lock(mutex_);
    auto entry = pck_chains_.find(pck_chain_index(chain_bytes), [&](const PckChainEntry& known) {
      return pck_chain_matches(known, chain_bytes, collateral, anchors);
    });
    if (entry) found = entry->verified;
  }
  ++(found ? pck_chain_hits_ : pck_chain_misses_);
  return found;
}

void VerificationCache::remember_pck_chain(ByteView chain_bytes, const Collateral& collateral,
                                           const TrustAnchors& anchors, VerifiedPckChain verified) {
  auto entry = std::make_shared<const PckChainEntry>(PckChainEntry{
      Bytes(chain_bytes.begin(), chain_bytes.end()), collateral.root_ca_crl, collateral.pck_crl,
      anchors.roots, std::make_shared<const VerifiedPckChain>(std::move(verified))});
  std::unique_lock lock(mutex_);
  pck_chains_.insert(pck_chain_index(chain_bytes), std::move(entry), max_entries_,
                     [&](const PckChainEntry& known) {
                       return pck_chain_matches(known, chain_bytes, collateral, anchors);
                     });
}

std::string VerificationCache::qe_report_key(const tdx::Quote& quote, const Certificate& pck_leaf) {
  const tdx::QuoteSignatureData& sig = quote.signature;
  unsigned char spki[256];
  unsigned char* end = spki;
  const X509_PUBKEY* key = X509_get_X509_PUBKEY(pck_leaf.get());
  // P-256 SubjectPublicKeyInfo is 91 bytes; anything that does not fit is not cached.
  if (key == nullptr || i2d_X509_PUBKEY(key, nullptr) > static_cast<int>(sizeof spki) ||
      i2d_X509_PUBKEY(key, &end) <= 0)
    return {};
  auto feed = [](std::string& out, ByteView data) {
    const uint32_t size = static_cast<uint32_t>(data.size());
    const char prefix[4] = {static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                            static_cast<char>(size >> 8), static_cast<char>(size)};
    out.append(prefix, 4);
    out.append(as_chars(data));
  };
  std::string out;
  out.reserve(12 + sig.qe_report.raw.size() + sig.qe_report_signature.size() +
              static_cast<size_t>(end - spki));
  feed(out, sig.qe_report.raw);
  feed(out, sig.qe_report_signature);
  feed(out, ByteView(spki, static_cast<size_t>(end - spki)));
  return out;
}

bool VerificationCache::qe_report_verified(const std::string& key) {
  bool hit = false;
  if (!key.empty()) {
    std::shared_lock lock(mutex_);
    hit = qe_reports_.count(key) != 0;
  }
  ++(hit ? qe_report_hits_ : qe_report_misses_);
  return hit;
}

void VerificationCache::remember_qe_report(const std::string& key) {
  if (key.empty()) return;
  std::unique_lock lock(mutex_);
  if (qe_reports_.size() >= max_entries_) qe_reports_.clear();
  qe_reports_.insert(key);
}

Result<PublicKey> VerificationCache::attestation_key(ByteView xy) {
  const std::string key(as_chars(xy));
  {
    std::shared_lock lock(mutex_);
    if (auto it = attestation_keys_.find(key); it != attestation_keys_.end()) return it->second;
  }
  ACON_TRY(PublicKey decoded, PublicKey::from_ec_xy(Curve::p256, xy));
  std::unique_lock lock(mutex_);
  if (attestation_keys_.size() >= max_entries_) attestation_keys_.clear();
  attestation_keys_.emplace(key, decoded);
  return decoded;
}

CacheStats VerificationCache::stats() const {
  CacheStats out;
  out.collateral_hits = collateral_hits_.load();
  out.collateral_misses = collateral_misses_.load();
  out.pck_chain_hits = pck_chain_hits_.load();
  out.pck_chain_misses = pck_chain_misses_.load();
  out.qe_report_hits = qe_report_hits_.load();
  out.qe_report_misses = qe_report_misses_.load();
  return out;
}

void VerificationCache::clear() {
  {
    std::unique_lock lock(mutex_);
    collateral_.clear();
    pck_chains_.clear();
    qe_reports_.clear();
    attestation_keys_.clear();
  }
  for (auto* counter : {&collateral_hits_, &collateral_misses_, &pck_chain_hits_,
                        &pck_chain_misses_, &qe_report_hits_, &qe_report_misses_})
    counter->store(0);
}

}  // namespace acon::dcap
