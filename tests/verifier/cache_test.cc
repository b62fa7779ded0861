// VerificationCache (cache.h): a second quote from the same platform costs only the QE report and
// quote signatures; any change of collateral or trust anchors misses; concurrent use is safe.
// Expectations: shared/specs/tdx-quote-dcap.md §5 (13 verifications uncached, 2 warm).
#include "acon/verifier/cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "acon/verifier/dcap.h"
#include "test_util.h"

namespace acon::verifier {
namespace {

constexpr int64_t kPinnedTime = 1751624191;  // vectors.json phala-tdx-v4-uptodate

struct Platform {
  Bytes quote = test::read_data_bytes("quotes/phala-dcap-qvl/tdx_quote");
  // Same PCK chain, different signed body: a "second quote" of the platform as far as the
  // caches go (its quote signature then fails, which is counted all the same).
  Bytes other_quote = test::read_data_bytes("quotes/negative/v4_report_data.bin");
  Result<Collateral> collateral =
      parse_collateral_bundle(test::read_data("quotes/phala-dcap-qvl/tdx_quote_collateral.json"));
};

VerifyOptions options_with(VerificationCache* cache) {
  VerifyOptions options;
  options.at = Time(std::chrono::seconds(kPinnedTime));
  options.cache = cache;
  return options;
}

TEST(VerificationCache, SecondQuoteOfAPlatformCostsTwoVerifications) {
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
  EXPECT_EQ(stats.collateral_hits + stats.pck_chain_hits, 0u);

  auto warm = verify_quote(p.quote, *p.collateral, options);
  ASSERT_TRUE(warm.ok());
  EXPECT_TRUE(warm->accepted);
  EXPECT_EQ(warm->ecdsa_verifications, 2u);  // QE report + quote
  EXPECT_EQ(warm->advisory_ids, cold->advisory_ids);
  EXPECT_EQ(verdict_json(*warm), verdict_json(*cold));

  auto other = verify_quote(p.other_quote, *p.collateral, options);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->ecdsa_verifications, 2u);
  EXPECT_EQ(qvl_status_text(other->status), "STATUS_INVALID_QUOTE_SIGNATURE");
  stats = cache.stats();
  EXPECT_EQ(stats.collateral_hits, 2u);
  EXPECT_EQ(stats.pck_chain_hits, 2u);
  EXPECT_EQ(stats.collateral_misses, 1u);
  EXPECT_EQ(stats.pck_chain_misses, 1u);
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

TEST(VerificationCache, AnyCollateralOrAnchorChangeMisses) {
  Platform p;
  ASSERT_TRUE(p.collateral.ok());
  const std::string base_key =
      VerificationCache::collateral_key(*p.collateral, default_trust_anchors());
  const std::string base_chain =
      VerificationCache::pck_chain_key("pem", *p.collateral, default_trust_anchors());
  // The readable part names the FMSPC and the TCB info window.
  EXPECT_EQ(base_key.rfind("b0c06f000000/", 0), 0u) << base_key;

  Collateral tcb_json = *p.collateral;
  tcb_json.tcb_info.signed_json.back() = ' ';
  EXPECT_NE(VerificationCache::collateral_key(tcb_json, default_trust_anchors()), base_key);

  Collateral qe_signature = *p.collateral;
  qe_signature.qe_identity.signature[0] ^= 1;
  EXPECT_NE(VerificationCache::collateral_key(qe_signature, default_trust_anchors()), base_key);

  Collateral crl = *p.collateral;
  crl.pck_crl = crl.root_ca_crl;
  EXPECT_NE(VerificationCache::collateral_key(crl, default_trust_anchors()), base_key);
  EXPECT_NE(VerificationCache::pck_chain_key("pem", crl, default_trust_anchors()), base_chain);

  Collateral chain = *p.collateral;
  chain.tcb_info_issuer_chain.pop_back();
  EXPECT_NE(VerificationCache::collateral_key(chain, default_trust_anchors()), base_key);

  TrustAnchors none;
  EXPECT_NE(VerificationCache::collateral_key(*p.collateral, none), base_key);
  EXPECT_NE(VerificationCache::pck_chain_key("pem", *p.collateral, none), base_chain);
  EXPECT_NE(VerificationCache::pck_chain_key("pem2", *p.collateral, default_trust_anchors()),
            base_chain);

  // A cached success is not reused under other anchors: the chain fails again.
  VerificationCache cache;
  ASSERT_TRUE(verify_quote(p.quote, *p.collateral, options_with(&cache)).ok());
  VerifyOptions untrusted = options_with(&cache);
  untrusted.anchors = none;
  auto verdict = verify_quote(p.quote, *p.collateral, untrusted);
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(qvl_status_text(verdict->status), "STATUS_SGX_ROOT_CA_UNTRUSTED");
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
}

}  // namespace
}  // namespace acon::verifier
