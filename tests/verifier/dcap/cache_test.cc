// VerificationCache (cache.h): a second quote from the same platform costs only the quote
// signature; a cache hit never hides a changed byte (QE report, its signature, the PCK chain, a
// CRL, the collateral, the anchors: each altered gives the verdict an uncached run gives);
// concurrent use is safe.
// Expectations: docs/dcap-verification.md §13 (13 verifications uncached, 1 warm).
#include "acon/dcap/cache.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "acon/dcap/verify.h"
#include "test_util.h"

namespace acon::dcap {
namespace {

constexpr int64_t kPinnedTime = 1751624191;  // vectors.json phala-tdx-v4-uptodate

const std::string kCollateralFile = "quotes/phala-dcap-qvl/tdx_quote_collateral.json";

struct Platform {
  Bytes quote = test::read_data_bytes("quotes/phala-dcap-qvl/tdx_quote");
  // Same PCK chain and QE report, different signed body: a "second quote" of the platform as far
  // as the caches go (its quote signature then fails, which is counted all the same).
  Bytes other_quote = test::read_data_bytes("quotes/negative/v4_report_data.bin");
  Result<Collateral> collateral = parse_collateral_bundle(test::read_data(kCollateralFile));
};

VerifyOptions options_with(VerificationCache* cache) {
  VerifyOptions options;
  options.at = Time(std::chrono::seconds(kPinnedTime));
  options.cache = cache;
  return options;
}

// A CRL with one bit of its signature flipped: still well-formed DER, no longer Intel's.
Crl with_flipped_signature_bit(const Crl& crl) {
  unsigned char* raw = nullptr;
  int len = i2d_X509_CRL(crl.get(), &raw);
  EXPECT_GT(len, 0);
  Bytes der(raw, raw + std::max(len, 0));
  OPENSSL_free(raw);
  der.back() ^= 0x01;
  auto parsed = Crl::from_der(der);
  EXPECT_TRUE(parsed.ok()) << parsed.error().to_string();
  return parsed.ok() ? *parsed : crl;
}

TEST(VerificationCache, SecondQuoteOfAPlatformCostsOneVerification) {
  Platform p;
  ASSERT_TRUE(p.collateral.ok());
  VerificationCache cache;
  VerifyOptions options = options_with(&cache);

  auto cold = verify_quote(p.quote, *p.collateral, options);
  ASSERT_TRUE(cold.ok());
  EXPECT_TRUE(cold->accepted);
  EXPECT_EQ(cold->ecdsa_verifications, 13u);
  CacheStats stats = cache.stats();
  EXPECT_EQ(stats.collateral_misses, 1u);
  EXPECT_EQ(stats.pck_chain_misses, 1u);
  EXPECT_EQ(stats.qe_report_misses, 1u);
  EXPECT_EQ(stats.collateral_hits + stats.pck_chain_hits + stats.qe_report_hits, 0u);

  auto warm = verify_quote(p.quote, *p.collateral, options);
  ASSERT_TRUE(warm.ok());
  EXPECT_TRUE(warm->accepted);
  EXPECT_EQ(warm->ecdsa_verifications, 1u);  // the quote signature
  EXPECT_EQ(warm->advisory_ids, cold->advisory_ids);
  EXPECT_EQ(verdict_json(*warm), verdict_json(*cold));

  auto other = verify_quote(p.other_quote, *p.collateral, options);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->ecdsa_verifications, 1u);
  EXPECT_EQ(qvl_status_text(other->status), "STATUS_INVALID_QUOTE_SIGNATURE");
  stats = cache.stats();
  EXPECT_EQ(stats.collateral_hits, 2u);
  EXPECT_EQ(stats.pck_chain_hits, 2u);
  EXPECT_EQ(stats.qe_report_hits, 2u);
  EXPECT_EQ(stats.collateral_misses, 1u);
  EXPECT_EQ(stats.pck_chain_misses, 1u);
  EXPECT_EQ(stats.qe_report_misses, 1u);
}

// The attestation key is decoded once per distinct key, the signature made with it is checked
// every time: a remembered key never turns an altered quote signature into a good one.
TEST(VerificationCache, AttestationKeyIsDecodedOnceButEverySignatureIsChecked) {
  Platform p;
  ASSERT_TRUE(p.collateral.ok());
  auto parsed = tdx::parse_quote(p.quote);
  ASSERT_TRUE(parsed.ok());
  VerificationCache cache;
  VerifyOptions options = options_with(&cache);
  auto warm_up = verify_quote(p.quote, *p.collateral, options);
  ASSERT_TRUE(warm_up.ok());
  EXPECT_TRUE(warm_up->accepted);

  const ByteView xy = parsed->signature.attestation_key;
  auto cached = cache.attestation_key(xy);
  auto fresh = PublicKey::from_ec_xy(Curve::p256, xy);
  ASSERT_TRUE(cached.ok() && fresh.ok());
  EXPECT_TRUE(*cached == *fresh);

  const size_t signature_at = parsed->offset_of(parsed->signature.quote_signature);
  for (size_t byte : {size_t{0}, size_t{31}, size_t{32}, size_t{63}}) {
    Bytes altered = p.quote;
    altered[signature_at + byte] ^= 0x01;
    auto verdict = verify_quote(altered, *p.collateral, options);
    ASSERT_TRUE(verdict.ok());
    EXPECT_FALSE(verdict->accepted) << "signature byte " << byte;
    EXPECT_EQ(qvl_status_text(verdict->status), "STATUS_INVALID_QUOTE_SIGNATURE");
  }
  auto again = verify_quote(p.quote, *p.collateral, options);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->accepted);

  // A point off the curve is refused every time, never remembered.
  Bytes off_curve(xy.begin(), xy.end());
  off_curve.back() ^= 0x01;
  EXPECT_FALSE(cache.attestation_key(off_curve).ok());
  EXPECT_FALSE(cache.attestation_key(off_curve).ok());
}

TEST(VerificationCache, EqualBytesInOtherObjectsHit) {
  Platform p;
  ASSERT_TRUE(p.collateral.ok());
  VerificationCache cache;
  ASSERT_TRUE(verify_quote(p.quote, *p.collateral, options_with(&cache)).ok());
  // The same bundle parsed again: every certificate and CRL is a new object with equal DER.
  auto reparsed = parse_collateral_bundle(test::read_data(kCollateralFile));
  ASSERT_TRUE(reparsed.ok());
  ASSERT_NE(reparsed->root_ca_crl.get(), p.collateral->root_ca_crl.get());
  // So is a quote buffer at another address.
  Bytes quote_copy = p.quote;
  auto verdict = verify_quote(quote_copy, *reparsed, options_with(&cache));
  ASSERT_TRUE(verdict.ok());
  EXPECT_TRUE(verdict->accepted);
  EXPECT_EQ(verdict->ecdsa_verifications, 1u);
  // Anchors given as a new parse of the Intel root count as the same anchors.
  auto root = Certificate::from_der(intel_sgx_root_ca().der());
  ASSERT_TRUE(root.ok());
  VerifyOptions reparsed_anchor = options_with(&cache);
  reparsed_anchor.anchors = TrustAnchors{{*root}};
  verdict = verify_quote(p.quote, *p.collateral, reparsed_anchor);
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(verdict->ecdsa_verifications, 1u);
}

TEST(VerificationCache, TimeIsNeverCached) {
  Platform p;
  ASSERT_TRUE(p.collateral.ok());
  VerificationCache cache;
  VerifyOptions options = options_with(&cache);
  ASSERT_TRUE(verify_quote(p.quote, *p.collateral, options).ok());
  options.at = Time(std::chrono::seconds(1800000000));
  auto later = verify_quote(p.quote, *p.collateral, options);
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(later->collateral_expired);
  options.strict_expiry = true;
  auto strict = verify_quote(p.quote, *p.collateral, options);
  ASSERT_TRUE(strict.ok());
  EXPECT_FALSE(strict->accepted);
  EXPECT_EQ(cache.stats().collateral_hits, 2u);
}

// Each lookup misses once any input it covers differs, and hits for the unchanged original.
TEST(VerificationCache, LookupsCoverEveryInput) {
  Platform p;
  ASSERT_TRUE(p.collateral.ok());
  const Collateral& base = *p.collateral;
  const TrustAnchors anchors = default_trust_anchors();
  auto quote = tdx::parse_quote(p.quote);
  ASSERT_TRUE(quote.ok());
  auto pem = quote->pck_chain_pem();
  ASSERT_TRUE(pem.ok());
  const ByteView chain = as_bytes(*pem);
  auto chain_certs = pck_chain_from_quote(*quote);
  ASSERT_TRUE(chain_certs.ok());
  auto verified = verify_pck_chain(*chain_certs, base.root_ca_crl, base.pck_crl, anchors);
  ASSERT_TRUE(verified.ok());
  auto sgx = sgx_extension_of(verified->leaf);
  ASSERT_TRUE(sgx.ok());

  VerificationCache cache;
  cache.remember_collateral(base, anchors);
  cache.remember_pck_chain(chain, base, anchors, VerifiedPckChain{*verified, *sgx, false});
  EXPECT_TRUE(cache.collateral_verified(base, anchors));
  EXPECT_NE(cache.pck_chain(chain, base, anchors), nullptr);

  std::vector<std::pair<std::string, std::function<void(Collateral&)>>> collateral_changes = {
      {"tcb_info json", [](Collateral& c) { c.tcb_info.signed_json.back() = ' '; }},
      {"tcb_info signature", [](Collateral& c) { c.tcb_info.signature[0] ^= 1; }},
      {"qe_identity json", [](Collateral& c) { c.qe_identity.signed_json[20] ^= 1; }},
      {"qe_identity signature", [](Collateral& c) { c.qe_identity.signature[63] ^= 1; }},
      {"root CA CRL",
       [](Collateral& c) { c.root_ca_crl = with_flipped_signature_bit(c.root_ca_crl); }},
      {"tcb_info chain", [](Collateral& c) { c.tcb_info_issuer_chain.pop_back(); }},
      {"qe_identity chain",
       [](Collateral& c) { c.qe_identity_issuer_chain[0] = c.pck_crl_issuer_chain[0]; }},
  };
  for (const auto& [what, change] : collateral_changes) {
    SCOPED_TRACE(what);
    Collateral changed = base;
    change(changed);
    EXPECT_FALSE(cache.collateral_verified(changed, anchors));
  }
  std::vector<std::pair<std::string, std::function<void(Collateral&)>>> crl_changes = {
      {"root CA CRL",
       [](Collateral& c) { c.root_ca_crl = with_flipped_signature_bit(c.root_ca_crl); }},
      {"PCK CRL", [](Collateral& c) { c.pck_crl = with_flipped_signature_bit(c.pck_crl); }},
      {"PCK CRL swapped", [](Collateral& c) { c.pck_crl = c.root_ca_crl; }},
  };
  for (const auto& [what, change] : crl_changes) {
    SCOPED_TRACE(what);
    Collateral changed = base;
    change(changed);
    EXPECT_EQ(cache.pck_chain(chain, changed, anchors), nullptr);
  }
  // Every byte of the chain text counts, the last one too.
  for (size_t offset : {size_t{0}, chain.size() / 2, chain.size() - 1}) {
    Bytes changed(chain.begin(), chain.end());
    changed[offset] ^= 0x01;
    EXPECT_EQ(cache.pck_chain(changed, base, anchors), nullptr) << offset;
  }
  EXPECT_EQ(cache.pck_chain(chain.first(chain.size() - 1), base, anchors), nullptr);

  TrustAnchors none;
  auto other_root = Certificate::from_pem(test::read_data("x509/root.pem"));
  ASSERT_TRUE(other_root.ok());
  for (const TrustAnchors& other :
       {none, TrustAnchors{{*other_root}}, TrustAnchors{{intel_sgx_root_ca(), *other_root}}}) {
    EXPECT_FALSE(cache.collateral_verified(base, other));
    EXPECT_EQ(cache.pck_chain(chain, base, other), nullptr);
  }

  // QE report keys: the report, the signature and the leaf key each count.
  const std::string key = VerificationCache::qe_report_key(*quote, verified->leaf);
  ASSERT_FALSE(key.empty());
  cache.remember_qe_report(key);
  EXPECT_TRUE(cache.qe_report_verified(key));
  EXPECT_NE(VerificationCache::qe_report_key(*quote, verified->intermediate), key);
  for (const char* file : {"v4_qe_report_isvsvn.bin", "v4_qe_report_sig.bin"}) {
    Bytes bytes = test::read_data_bytes(std::string("quotes/negative/") + file);
    auto changed = tdx::parse_quote(bytes);
    ASSERT_TRUE(changed.ok());
    EXPECT_FALSE(
        cache.qe_report_verified(VerificationCache::qe_report_key(*changed, verified->leaf)))
        << file;
  }
}

// The core guarantee: after the original quote and collateral warmed the cache, any altered
// input gives exactly the verdict it gives with no cache at all.
TEST(VerificationCache, HitNeverHidesAChangedByte) {
  Platform p;
  ASSERT_TRUE(p.collateral.ok());
  auto parsed = tdx::parse_quote(p.quote);
  ASSERT_TRUE(parsed.ok());
  const size_t qe_report_at = parsed->offset_of(parsed->signature.qe_report.raw);
  const size_t qe_signature_at = parsed->offset_of(parsed->signature.qe_report_signature);
  auto pem = parsed->pck_chain_pem();
  ASSERT_TRUE(pem.ok());
  const size_t chain_at = parsed->offset_of(as_bytes(*pem));

  struct Alteration {
    std::string what;
    std::function<void(Bytes&)> quote;
    std::function<void(Collateral&)> collateral;
    std::function<void(TrustAnchors&)> anchors;
  };
  auto flip = [](size_t offset) { return [offset](Bytes& q) { q[offset] ^= 0x01; }; };
  // Another base64 digit a few characters before the n-th END line: a changed bit near the end
  // of that certificate's DER, inside its signature value.
  auto flip_signature_of_certificate = [&](int n) {
    size_t at = 0;
    for (int i = 0; i <= n; ++i) at = pem->find("-----END CERTIFICATE-----", i == 0 ? 0 : at + 1);
    EXPECT_NE(at, std::string_view::npos);
    while (at > 0 && ((*pem)[at - 1] == '\n' || (*pem)[at - 1] == '\r' || (*pem)[at - 1] == '='))
      --at;
    at -= 5;
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>((*pem)[at])));
    return [at = chain_at + at](Bytes& q) { q[at] = q[at] == 'A' ? 'B' : 'A'; };
  };
  const std::vector<Alteration> alterations = {
      {"QE report misc_select", flip(qe_report_at + 16), {}, {}},
      {"QE report isv_svn", flip(qe_report_at + 258), {}, {}},
      {"QE report report_data", flip(qe_report_at + 320), {}, {}},
      {"QE report signature r", flip(qe_signature_at), {}, {}},
      {"QE report signature s", flip(qe_signature_at + 63), {}, {}},
      {"PCK chain leaf", flip_signature_of_certificate(0), {}, {}},
      {"PCK chain intermediate", flip_signature_of_certificate(1), {}, {}},
      {"PCK chain root", flip_signature_of_certificate(2), {}, {}},
      {"PCK chain leaf PEM body",
       [](Bytes& q) { q = test::read_data_bytes("quotes/negative/v4_pck_leaf_pem_body.bin"); },
       {},
       {}},
      {"PCK CRL", {}, [](Collateral& c) { c.pck_crl = with_flipped_signature_bit(c.pck_crl); }, {}},
      {"root CA CRL",
       {},
       [](Collateral& c) { c.root_ca_crl = with_flipped_signature_bit(c.root_ca_crl); },
       {}},
      {"PCK CRL of the other CA", {}, [](Collateral& c) { c.pck_crl = c.root_ca_crl; }, {}},
      {"TCB info json", {}, [](Collateral& c) { c.tcb_info.signed_json[30] ^= 0x01; }, {}},
      {"TCB info signature", {}, [](Collateral& c) { c.tcb_info.signature[7] ^= 0x01; }, {}},
      {"QE identity json", {}, [](Collateral& c) { c.qe_identity.signed_json[30] ^= 0x01; }, {}},
      {"QE identity signature", {}, [](Collateral& c) { c.qe_identity.signature[40] ^= 0x01; }, {}},
      {"TCB info issuer chain",
       {},
       [](Collateral& c) { c.tcb_info_issuer_chain = {intel_sgx_root_ca()}; },
       {}},
      {"trust anchors", {}, {}, [](TrustAnchors& a) { a.roots.clear(); }},
  };

  for (const Alteration& alteration : alterations) {
    SCOPED_TRACE(alteration.what);
    Bytes quote = p.quote;
    Collateral collateral = *p.collateral;
    TrustAnchors anchors = default_trust_anchors();
    if (alteration.quote) alteration.quote(quote);
    if (alteration.collateral) alteration.collateral(collateral);
    if (alteration.anchors) alteration.anchors(anchors);

    VerifyOptions uncached = options_with(nullptr);
    uncached.anchors = anchors;
    auto expected = verify_quote(quote, collateral, uncached);

    VerificationCache cache;
    for (int i = 0; i < 2; ++i) {
      auto warmup = verify_quote(p.quote, *p.collateral, options_with(&cache));
      ASSERT_TRUE(warmup.ok() && warmup->accepted);
    }
    VerifyOptions cached = options_with(&cache);
    cached.anchors = anchors;
    auto got = verify_quote(quote, collateral, cached);

    ASSERT_EQ(got.ok(), expected.ok());
    if (!expected.ok()) {
      EXPECT_EQ(got.error().to_string(), expected.error().to_string());
      continue;
    }
    // Every alteration is one that verification notices.
    EXPECT_FALSE(expected->accepted) << verdict_json(*expected).dump();
    EXPECT_EQ(verdict_json(*got), verdict_json(*expected));
    EXPECT_EQ(got->failure, expected->failure);
    // And the original still hits afterwards.
    auto again = verify_quote(p.quote, *p.collateral, options_with(&cache));
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->accepted);
    EXPECT_EQ(again->ecdsa_verifications, 1u);
  }
}

TEST(VerificationCache, FailuresAreNotCached) {
  Platform p;
  ASSERT_TRUE(p.collateral.ok());
  VerificationCache cache;
  VerifyOptions untrusted = options_with(&cache);
  untrusted.anchors = TrustAnchors{};
  ASSERT_TRUE(verify_quote(p.quote, *p.collateral, untrusted).ok());
  ASSERT_TRUE(verify_quote(p.quote, *p.collateral, untrusted).ok());
  EXPECT_EQ(cache.stats().pck_chain_hits, 0u);
  EXPECT_EQ(cache.stats().pck_chain_misses, 2u);

  // A QE report whose signature fails is not remembered either.
  Bytes bad = test::read_data_bytes("quotes/negative/v4_qe_report_sig.bin");
  VerifyOptions options = options_with(&cache);
  for (int i = 0; i < 2; ++i) {
    auto verdict = verify_quote(bad, *p.collateral, options);
    ASSERT_TRUE(verdict.ok());
    EXPECT_EQ(qvl_status_text(verdict->status), "STATUS_INVALID_QE_REPORT_SIGNATURE");
  }
  EXPECT_EQ(cache.stats().qe_report_hits, 0u);
}

TEST(VerificationCache, BoundedAndClearable) {
  Platform p;
  ASSERT_TRUE(p.collateral.ok());
  VerificationCache cache(1);
  auto other_root = Certificate::from_pem(test::read_data("x509/root.pem"));
  ASSERT_TRUE(other_root.ok());
  const TrustAnchors intel = default_trust_anchors();
  const TrustAnchors both{{intel_sgx_root_ca(), *other_root}};
  cache.remember_collateral(*p.collateral, intel);
  cache.remember_collateral(*p.collateral, both);  // evicts the first
  EXPECT_TRUE(cache.collateral_verified(*p.collateral, both));
  EXPECT_FALSE(cache.collateral_verified(*p.collateral, intel));
  cache.clear();
  EXPECT_FALSE(cache.collateral_verified(*p.collateral, both));
  EXPECT_EQ(cache.stats().collateral_misses, 1u);
}

TEST(VerificationCache, ConcurrentVerificationsAgree) {
  Platform p;
  ASSERT_TRUE(p.collateral.ok());
  VerificationCache cache;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20;
  std::atomic<int> accepted{0}, rejected{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const Bytes& quote = (t + i) % 2 == 0 ? p.quote : p.other_quote;
        auto verdict = verify_quote(quote, *p.collateral, options_with(&cache));
        if (!verdict.ok())
          ++errors;
        else if (verdict->accepted)
          ++accepted;
        else
          ++rejected;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(accepted.load(), kThreads * kPerThread / 2);
  EXPECT_EQ(rejected.load(), kThreads * kPerThread / 2);
  CacheStats stats = cache.stats();
  EXPECT_EQ(stats.pck_chain_hits + stats.pck_chain_misses, uint64_t{kThreads * kPerThread});
  EXPECT_LE(stats.pck_chain_misses, uint64_t{kThreads});
  EXPECT_EQ(stats.qe_report_hits + stats.qe_report_misses, uint64_t{kThreads * kPerThread});
  EXPECT_LE(stats.qe_report_misses, uint64_t{kThreads});
}

}  // namespace
}  // namespace acon::dcap
