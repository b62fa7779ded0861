// Fetching DCAP collateral from Intel PCS v4 or a PCCS, with an on-disk cache, and loading it
// offline from a collateral bundle file.
// Reference: docs/dcap-verification.md §3 (endpoints and issuer-chain headers; the `ca=` of the
// PCK CRL follows the PCK intermediate CN "Platform" / "Processor").
//
// Everything fetched or read from the cache is only parsed here (parse_tcb_info_response,
// parse_qe_identity_response, parse_issuer_chain, parse_crl); signatures, chains, CRLs and
// validity windows are checked later by the verifier. Stale cache entries served in offline mode
// are returned as they are (and counted in FetchStats) so that the verifier reports the expiry.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "acon/common/bytes.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"
#include "acon/dcap/collateral.h"
#include "acon/tdx/quote.h"

namespace acon::dcap {

// The PCK CA that issued the PCK certificate; selects the PCK CRL (`ca=platform|processor`).
enum class PckCa { platform, processor };
std::string_view pck_ca_name(PckCa ca);  // "platform", "processor"
// From the intermediate's subject CN ("Intel SGX PCK Platform CA" / "... Processor CA").
Result<PckCa> pck_ca_from_common_name(std::string_view common_name);

// Which collateral a quote needs: the FMSPC from the SGX extension of the PCK certificate in its
// type-5 chain and the PCK CA from the intermediate's subject commonName. Only parsed, not
// verified: verify_quote checks the chain and everything fetched for it.
struct QuotePlatform {
  std::array<uint8_t, 6> fmspc{};
  PckCa ca = PckCa::platform;
};
Result<QuotePlatform> quote_platform(const tdx::Quote& quote);

struct PcsConfig {
  enum class Kind { pcs, pccs };
  enum class Update { standard, early };

  // Intel PCS ("https://api.trustedservices.intel.com") or a PCCS ("https://host:8081"), with no
  // trailing path; the /sgx|tdx/certification/v4/... paths are appended.
  std::string base_url = "https://api.trustedservices.intel.com";
  Kind kind = Kind::pcs;
  // The root CA CRL location. Empty: Intel's IntelSGXRootCA.der for PCS, and
  // <base_url>/sgx/certification/v4/rootcacrl (hex) for a PCCS.
  std::string root_ca_crl_url;
  // Cache directory (created when missing); empty disables the cache.
  std::string cache_dir;
  Update update = Update::standard;
  std::chrono::seconds timeout{30};  // whole transfer, per request
  size_t max_body_bytes = size_t{4} << 20;
  bool offline = false;                  // only the cache, never the network
  std::optional<std::string> ca_bundle;  // PEM file of TLS trust anchors (PCCS self-signed)
};

std::string_view pcs_kind_name(PcsConfig::Kind kind);        // "pcs", "pccs"
std::string_view pcs_update_name(PcsConfig::Update update);  // "standard", "early"

// What the last fetch() did, per collateral item (TCB info, QE identity, PCK CRL, root CA CRL).
struct FetchStats {
  int network_requests = 0;  // HTTP requests made (successful or not)
  int cache_hits = 0;        // items served from the cache
  int stale_served = 0;      // cache items past nextUpdate served because offline
  int cache_rejected = 0;    // cache files that did not parse (then refetched)
};

class CollateralFetcher {
 public:
  explicit CollateralFetcher(PcsConfig config);

  // TDX collateral for a 6-byte FMSPC and PCK CA. Cache entries whose nextUpdate is before `now`
  // are refetched (unless offline). Errors: invalid_argument (FMSPC size, configuration), io
  // (network, HTTP status, cache files), not_found (offline and not cached), parse.
  Result<Collateral> fetch(ByteView fmspc, PckCa ca, Time now);

  // The collateral for the platform a quote names (quote_platform): the FMSPC and PCK CA come
  // from the quote's own PCK chain, so the quote must carry one (certification data type 5).
  Result<Collateral> fetch_for_quote(const tdx::Quote& quote, Time now);

  const FetchStats& last_stats() const { return stats_; }
  const PcsConfig& config() const { return config_; }

  // The cache file name of an item ("pcs-50806f000000-platform-standard-tcb"); invalid_argument
  // unless `fmspc` has 6 bytes and `item` is one of tcb, qe, pckcrl, rootcrl.
  Result<std::string> cache_key(ByteView fmspc, PckCa ca, std::string_view item) const;

 private:
  struct Item;
  struct Partial;
  Status load_item(const Item& item, ByteView fmspc, PckCa ca, Time now, Partial& out);

  PcsConfig config_;
  FetchStats stats_;
};

// Offline mode from a bundle: reads a flat collateral bundle (parse_collateral_bundle) from a
// file of at most `max_bytes` (a larger one is "PATH: larger than N bytes"). Errors name the
// file: not_found when it does not exist, io when it cannot be read (a directory), parse.
inline constexpr size_t kMaxCollateralBundleBytes = size_t{16} << 20;
Result<Collateral> load_collateral_bundle_file(const std::string& path,
                                               size_t max_bytes = kMaxCollateralBundleBytes);

}  // namespace acon::dcap
