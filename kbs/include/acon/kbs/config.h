// acon-kbs's configuration file (TOML) and the KBS it describes. docs/kbs.md "Configuration"
// lists every key with its default. Relative paths are taken from the file's directory.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/result.h"
#include "acon/dcap/cache.h"
#include "acon/dcap/fetch.h"
#include "acon/kbs/admin_auth.h"
#include "acon/kbs/server.h"
#include "acon/kbs/service.h"

namespace acon::kbs {

inline constexpr size_t kMaxConfigBytes = 1 << 20;

struct KbsConfig {
  ServerOptions server;
  KbsOptions kbs;  // its `evidence` and `token_roots` are filled by open_kbs()
  std::filesystem::path token_signing_key;                     // P-256 PEM: the EAR's ES256 key
  std::vector<std::filesystem::path> token_certificate_chain;  // optional, leaf first
  std::vector<std::filesystem::path> trusted_token_roots;

  std::filesystem::path attestation_policy;  // appraisal policy TOML
  std::filesystem::path simulated_root;      // empty: simulated evidence never verifies
  bool trust_intel_root = true;
  // Pinned TPM attestation keys (PEM public keys) for tee "tpm". Empty: tpm evidence is refused,
  // since CoCo's TPM evidence carries its AK and nothing that vouches for it.
  std::vector<std::filesystem::path> tpm_ak_keys;
  std::filesystem::path collateral;  // one collateral bundle for every quote, or ...
  std::string pcs_url;               // ... PCS/PCCS to fetch it from
  bool pccs = false;
  std::filesystem::path collateral_cache_dir;
  bool collateral_offline = false;
  std::chrono::seconds fetch_timeout{10};
  bool strict_expiry = false;

  std::string storage_type = "sqlite";  // or "postgres"
  std::filesystem::path storage_path;   // sqlite: the database file
  // postgres: the libpq connection string; when empty, read from the environment variable
  // named by storage_url_env when the storage is opened (keeps a password out of the file).
  std::string storage_url;
  std::string storage_url_env = "ACON_KBS_DATABASE_URL";
  int64_t storage_pool_size = kDefaultPostgresPoolSize;
  int64_t storage_query_timeout_ms = kDefaultPostgresQueryTimeout.count();  // 0: none
  std::filesystem::path master_key;  // 32 bytes as 64 hex digits

  std::filesystem::path audit_signing_key;  // Ed25519 or P-256 PEM

  AdminConfig admin;
};

// Parses the file's text. Unknown sections and keys are refused, naming the line.
Result<KbsConfig> parse_kbs_config(std::string_view text, const std::filesystem::path& base_dir,
                                   std::string_view name = "kbs.toml");
Result<KbsConfig> load_kbs_config(const std::filesystem::path& file);

// The configured storage (the master key and audit signing key read from their files).
Result<std::unique_ptr<Storage>> open_configured_storage(const KbsConfig& config);

// Everything the configuration names, opened: keys read, storage opened, policy parsed.
struct OpenedKbs {
  std::unique_ptr<Kbs> kbs;
  std::unique_ptr<dcap::CollateralFetcher> fetcher;  // when pcs_url is set
  std::unique_ptr<dcap::VerificationCache> cache;
};
Result<OpenedKbs> open_kbs(const KbsConfig& config, Time now);

// `acon-kbs init DIR`: fresh keys (EAR ES256, audit P-256, admin Ed25519, master key, a TLS
// certificate for 127.0.0.1 and localhost with its own CA), the default policies and a config.toml
// that uses them. DIR must not exist or be empty. Returns the config file's path.
struct InitOptions {
  std::string listen = "127.0.0.1:8080";
  bool insecure_http = false;
  std::filesystem::path simulated_root;            // copied in and trusted when given
  std::filesystem::path collateral;                // a DCAP collateral bundle, copied in and used
  std::vector<std::filesystem::path> tpm_ak_keys;  // TPM AK public keys, copied in and pinned
};
Result<std::filesystem::path> init_kbs_directory(const std::filesystem::path& dir,
                                                 const InitOptions& options, Time now);

}  // namespace acon::kbs
