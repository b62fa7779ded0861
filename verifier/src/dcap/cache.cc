// Verified-collateral and verified-PCK-chain caches. See cache.h.
#include "acon/verifier/cache.h"

#include <openssl/x509.h>

#include "acon/common/hash.h"

namespace acon::verifier {
namespace {

// Everything a key covers is gathered in one buffer and hashed once. Length-prefixed, so that no
// two different inputs give the same buffer by shifting a boundary.
using KeyMaterial = Bytes;

void feed(KeyMaterial& material, ByteView data) {
  append_u32be(material, static_cast<uint32_t>(data.size()));
  append(material, data);
}

void feed(KeyMaterial& material, const Certificate& cert) { feed(material, cert.der()); }

void feed(KeyMaterial& material, const Crl& crl) {
  unsigned char* der = nullptr;
  int len = i2d_X509_CRL(crl.get(), &der);
  if (len > 0) feed(material, ByteView(der, static_cast<size_t>(len)));
  OPENSSL_free(der);
}

void feed_crls_and_anchors(KeyMaterial& material, const Collateral& collateral,
                           const TrustAnchors& anchors) {
  feed(material, collateral.root_ca_crl);
  feed(material, collateral.pck_crl);
  for (const Certificate& root : anchors.roots) feed(material, root);
}

std::string finish_hex(const KeyMaterial& material) { return hex_encode(sha256(material)); }

}  // namespace

std::string VerificationCache::collateral_key(const Collateral& collateral,
                                              const TrustAnchors& anchors) {
  const TcbInfo& tcb = collateral.tcb_info.value;
  std::string readable = hex_encode(tcb.fmspc) + "/" + collateral.pck_crl.issuer() + "/" +
                         format_rfc3339(tcb.issue_date) + ".." + format_rfc3339(tcb.next_update);
  KeyMaterial material;
  feed(material, as_bytes(collateral.tcb_info.signed_json));
  feed(material, collateral.tcb_info.signature);
  feed(material, as_bytes(collateral.qe_identity.signed_json));
  feed(material, collateral.qe_identity.signature);
  for (const auto* chain : {&collateral.tcb_info_issuer_chain, &collateral.qe_identity_issuer_chain,
                            &collateral.pck_crl_issuer_chain}) {
    feed(material, as_bytes(std::to_string(chain->size())));
    for (const Certificate& cert : *chain) feed(material, cert);
  }
  feed_crls_and_anchors(material, collateral, anchors);
  return readable + "/" + finish_hex(material);
}

std::string VerificationCache::pck_chain_key(std::string_view pem_chain,
                                             const Collateral& collateral,
                                             const TrustAnchors& anchors) {
  KeyMaterial material;
  feed(material, as_bytes(pem_chain));
  feed_crls_and_anchors(material, collateral, anchors);
  return finish_hex(material);
}

bool VerificationCache::collateral_verified(const std::string& key) {
  bool hit;
  {
    std::shared_lock lock(mutex_);
    hit = collateral_.count(key) != 0;
  }
  std::lock_guard stats_lock(stats_mutex_);
  ++(hit ? stats_.collateral_hits : stats_.collateral_misses);
  return hit;
}

void VerificationCache::remember_collateral(const std::string& key) {
  std::unique_lock lock(mutex_);
  if (collateral_.size() >= max_entries_) collateral_.clear();
  collateral_.insert(key);
}

std::shared_ptr<const VerifiedPckChain> VerificationCache::pck_chain(const std::string& key) {
  std::shared_ptr<const VerifiedPckChain> found;
  {
    std::shared_lock lock(mutex_);
    auto it = pck_chains_.find(key);
    if (it != pck_chains_.end()) found = it->second;
  }
  std::lock_guard stats_lock(stats_mutex_);
  ++(found ? stats_.pck_chain_hits : stats_.pck_chain_misses);
  return found;
}

void VerificationCache::remember_pck_chain(const std::string& key, VerifiedPckChain verified) {
  auto entry = std::make_shared<const VerifiedPckChain>(std::move(verified));
  std::unique_lock lock(mutex_);
  if (pck_chains_.size() >= max_entries_) pck_chains_.clear();
  pck_chains_[key] = std::move(entry);
}

CacheStats VerificationCache::stats() const {
  std::lock_guard stats_lock(stats_mutex_);
  return stats_;
}

void VerificationCache::clear() {
  {
    std::unique_lock lock(mutex_);
    collateral_.clear();
    pck_chains_.clear();
  }
  std::lock_guard stats_lock(stats_mutex_);
  stats_ = {};
}

}  // namespace acon::verifier
