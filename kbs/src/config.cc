#include "acon/kbs/config.h"

// toml++ header-only and without exceptions: parse errors come back as values.
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "acon/common/bytes.h"
#include "acon/common/keys.h"
#include "acon/common/x509.h"
#include "acon/dcap/cache.h"
#include "acon/dcap/chain.h"
#include "acon/dcap/collateral.h"
#include "acon/dcap/fetch.h"
#include "acon/kbs/default_policies.h"
#include "acon/tpm/quote.h"

namespace acon::kbs {

namespace {

using Setter = std::function<Status(const toml::node&)>;

class TableReader {
 public:
  TableReader(std::string_view file, std::string section)
      : file_(file), section_(std::move(section)) {}

  Error bad(const toml::node& node, std::string_view key, std::string_view expected) const {
    return make_error(Errc::parse, std::string(file_) + ": line " +
                                       std::to_string(node.source().begin.line) + ": [" + section_ +
                                       "] " + std::string(key) + ": expected " +
                                       std::string(expected));
  }

  Setter text(std::string_view key, std::string& out) const {
    return [this, key, &out](const toml::node& node) -> Status {
      auto v = node.value<std::string>();
      if (!node.is_string() || !v) return bad(node, key, "a string");
      out = *v;
      return {};
    };
  }
  Setter path(std::string_view key, std::filesystem::path& out,
              const std::filesystem::path& base) const {
    return [this, key, &out, base](const toml::node& node) -> Status {
      auto v = node.value<std::string>();
      if (!node.is_string() || !v) return bad(node, key, "a path string");
      out = v->empty() ? std::filesystem::path() : base / *v;
      return {};
    };
  }
  Setter paths(std::string_view key, std::vector<std::filesystem::path>& out,
               const std::filesystem::path& base) const {
    return [this, key, &out, base](const toml::node& node) -> Status {
      const auto* array = node.as_array();
      if (!array) return bad(node, key, "an array of path strings");
      out.clear();
      for (const auto& item : *array) {
        auto v = item.value<std::string>();
        if (!item.is_string() || !v || v->empty()) return bad(item, key, "a path string");
        out.push_back(base / *v);
      }
      return {};
    };
  }
  Setter strings(std::string_view key, std::vector<std::string>& out) const {
    return [this, key, &out](const toml::node& node) -> Status {
      const auto* array = node.as_array();
      if (!array) return bad(node, key, "an array of strings");
      out.clear();
      for (const auto& item : *array) {
        auto v = item.value<std::string>();
        if (!item.is_string() || !v) return bad(item, key, "a string");
        out.push_back(*v);
      }
      return {};
    };
  }
  Setter flag(std::string_view key, bool& out) const {
    return [this, key, &out](const toml::node& node) -> Status {
      if (!node.is_boolean()) return bad(node, key, "true or false");
      out = *node.value<bool>();
      return {};
    };
  }
  template <class T>
  Setter integer(std::string_view key, T& out, int64_t min, int64_t max) const {
    return [this, key, &out, min, max](const toml::node& node) -> Status {
      const auto* v = node.as_integer();
      if (!v || v->get() < min || v->get() > max)
        return bad(node, key, "an integer in " + std::to_string(min) + ".." + std::to_string(max));
      out = static_cast<T>(v->get());
      return {};
    };
  }
  Setter number(std::string_view key, double& out, double min, double max) const {
    return [this, key, &out, min, max](const toml::node& node) -> Status {
      std::optional<double> v;
      if (const auto* i = node.as_integer()) v = static_cast<double>(i->get());
      if (const auto* f = node.as_floating_point()) v = f->get();
      if (!v || *v < min || *v > max)
        return bad(node, key, "a number in " + std::to_string(min) + ".." + std::to_string(max));
      out = *v;
      return {};
    };
  }
  Setter seconds(std::string_view key, std::chrono::seconds& out, int64_t min, int64_t max) const {
    return [this, key, &out, min, max](const toml::node& node) -> Status {
      const auto* v = node.as_integer();
      if (!v || v->get() < min || v->get() > max)
        return bad(node, key, "seconds in " + std::to_string(min) + ".." + std::to_string(max));
      out = std::chrono::seconds(v->get());
      return {};
    };
  }

  Status read(const toml::table& table, const std::map<std::string_view, Setter>& keys) const {
    for (const auto& [key, node] : table) {
      auto it = keys.find(key.str());
      if (it == keys.end())
        return make_error(Errc::parse, std::string(file_) + ": line " +
                                           std::to_string(node.source().begin.line) + ": [" +
                                           section_ + "]: unknown key \"" + std::string(key.str()) +
                                           "\"");
      ACON_CHECK(it->second(node));
    }
    return {};
  }

 private:
  std::string_view file_;
  std::string section_;
};

Result<std::string> read_file_bounded(const std::filesystem::path& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::io, path.string() + ": cannot open");
  std::string out;
  out.resize(limit + 1);
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  if (out.size() > limit)
    return make_error(Errc::invalid_argument,
                      path.string() + ": larger than " + std::to_string(limit) + " bytes");
  return out;
}

Status write_file(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return make_error(Errc::io, path.string() + ": cannot create");
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) return make_error(Errc::io, path.string() + ": write failed");
  if (::chmod(path.c_str(), mode) != 0)
    return make_error(Errc::io, path.string() + ": chmod failed");
  return {};
}

Result<Certificate> read_certificate(const std::filesystem::path& path) {
  ACON_TRY(std::string bytes, read_file_bounded(path, 1 << 20));
  auto cert = Certificate::from_pem(bytes);
  if (!cert) cert = Certificate::from_der(as_bytes(bytes));
  if (!cert) return cert.error().wrap(path.string());
  return cert;
}

Result<PublicKey> read_public_key(const std::filesystem::path& path) {
  ACON_TRY(std::string pem, read_file_bounded(path, 1 << 20));
  auto key = PublicKey::from_pem(pem);
  if (!key) return key.error().wrap(path.string());
  return key;
}

Result<PrivateKey> read_private_key(const std::filesystem::path& path) {
  ACON_TRY(std::string pem, read_file_bounded(path, 1 << 20));
  auto key = PrivateKey::from_pem(pem);
  if (!key) return key.error().wrap(path.string());
  return key;
}

}  // namespace

Result<KbsConfig> parse_kbs_config(std::string_view text, const std::filesystem::path& base,
                                   std::string_view name) {
  if (text.size() > kMaxConfigBytes)
    return make_error(Errc::invalid_argument, std::string(name) + ": larger than 1 MiB");
  // ASCII only: toml++ 3.3.0 mishandles some non-ASCII input (see appraisal's toml_guard.h),
  // and no key or value here needs more than ASCII.
  for (size_t i = 0, line = 1; i < text.size(); ++i) {
    if (static_cast<unsigned char>(text[i]) >= 0x80)
      return make_error(Errc::parse, std::string(name) + ": line " + std::to_string(line) +
                                         ": non-ASCII byte (the configuration is ASCII)");
    line += text[i] == '\n';
  }
  toml::parse_result parsed = toml::parse(text, std::string(name));
  if (!parsed)
    return make_error(Errc::parse, std::string(name) + ": line " +
                                       std::to_string(parsed.error().source().begin.line) + ": " +
                                       std::string(parsed.error().description()));
  const toml::table& root = parsed.table();
  KbsConfig c;
  c.storage_path = base / "kbs.db";

  auto section = [&](std::string_view key, auto&& fill) -> Status {
    const toml::node* node = root.get(key);
    if (!node) return {};
    const toml::table* table = node->as_table();
    if (!table)
      return make_error(Errc::parse,
                        std::string(name) + ": [" + std::string(key) + "] is not a table");
    TableReader reader(name, std::string(key));
    return fill(reader, *table);
  };
  for (const auto& [key, node] : root) {
    static const char* kSections[] = {"server", "kbs",   "attestation", "storage",
                                      "audit",  "admin", "rate_limit"};
    bool known = false;
    for (const char* s : kSections) known = known || key.str() == s;
    if (!known)
      return make_error(Errc::parse, std::string(name) + ": line " +
                                         std::to_string(node.source().begin.line) +
                                         ": unknown section \"" + std::string(key.str()) + "\"");
  }

  ACON_CHECK(section("server", [&](const TableReader& r, const toml::table& t) {
    return r.read(t, {{"listen", r.strings("listen", c.server.listen)},
                      {"insecure_http", r.flag("insecure_http", c.server.insecure_http)},
                      {"certificate", r.text("certificate", c.server.certificate)},
                      {"private_key", r.text("private_key", c.server.private_key)},
                      {"threads", r.integer("threads", c.server.threads, 0, 1024)},
                      {"max_body_bytes", r.integer("max_body_bytes", c.server.max_body_bytes, 1024,
                                                   int64_t{1} << 30)},
                      {"max_header_bytes",
                       r.integer("max_header_bytes", c.server.max_header_bytes, 1024, 16 << 20)},
                      {"read_timeout_seconds",
                       r.seconds("read_timeout_seconds", c.server.read_timeout, 1, 3600)}});
  }));
  if (!c.server.certificate.empty()) c.server.certificate = (base / c.server.certificate).string();
  if (!c.server.private_key.empty()) c.server.private_key = (base / c.server.private_key).string();

  ACON_CHECK(section("kbs", [&](const TableReader& r, const toml::table& t) {
    return r.read(
        t,
        {{"id", r.text("id", c.kbs.id)},
         {"session_lifetime_seconds",
          r.seconds("session_lifetime_seconds", c.kbs.session_lifetime, 1, 86400)},
         {"max_sessions", r.integer("max_sessions", c.kbs.max_sessions, 16, int64_t{1} << 32)},
         {"token_validity_seconds",
          r.seconds("token_validity_seconds", c.kbs.token_validity, 1, 86400 * 30)},
         {"token_leeway_seconds", r.seconds("token_leeway_seconds", c.kbs.token_leeway, 0, 3600)},
         {"token_signing_key", r.path("token_signing_key", c.token_signing_key, base)},
         {"token_certificate_chain",
          r.paths("token_certificate_chain", c.token_certificate_chain, base)},
         {"trusted_token_roots", r.paths("trusted_token_roots", c.trusted_token_roots, base)}});
  }));
  if (c.kbs.id.empty()) return make_error(Errc::parse, std::string(name) + ": [kbs] id is empty");

  ACON_CHECK(section("attestation", [&](const TableReader& r, const toml::table& t) {
    return r.read(
        t, {{"policy", r.path("policy", c.attestation_policy, base)},
            {"simulated_root", r.path("simulated_root", c.simulated_root, base)},
            {"trust_intel_root", r.flag("trust_intel_root", c.trust_intel_root)},
            {"tpm_ak_keys", r.paths("tpm_ak_keys", c.tpm_ak_keys, base)},
            {"collateral", r.path("collateral", c.collateral, base)},
            {"pcs_url", r.text("pcs_url", c.pcs_url)},
            {"pccs", r.flag("pccs", c.pccs)},
            {"collateral_cache_dir", r.path("collateral_cache_dir", c.collateral_cache_dir, base)},
            {"collateral_offline", r.flag("collateral_offline", c.collateral_offline)},
            {"fetch_timeout_seconds", r.seconds("fetch_timeout_seconds", c.fetch_timeout, 1, 300)},
            {"strict_expiry", r.flag("strict_expiry", c.strict_expiry)}});
  }));

  ACON_CHECK(section("storage", [&](const TableReader& r, const toml::table& t) {
    return r.read(t, {{"type", r.text("type", c.storage_type)},
                      {"path", r.path("path", c.storage_path, base)},
                      {"url", r.text("url", c.storage_url)},
                      {"url_env", r.text("url_env", c.storage_url_env)},
                      {"pool_size", r.integer("pool_size", c.storage_pool_size, 1, 1024)},
                      {"query_timeout_ms",
                       r.integer("query_timeout_ms", c.storage_query_timeout_ms, 0, 3600000)},
                      {"master_key", r.path("master_key", c.master_key, base)}});
  }));
  if (c.storage_type != "sqlite" && c.storage_type != "postgres")
    return make_error(Errc::unsupported, std::string(name) + ": [storage] type \"" +
                                             c.storage_type +
                                             "\": \"sqlite\" or \"postgres\" are available");

  ACON_CHECK(section("audit", [&](const TableReader& r, const toml::table& t) {
    return r.read(t, {{"signing_key", r.path("signing_key", c.audit_signing_key, base)}});
  }));

  ACON_CHECK(section("rate_limit", [&](const TableReader& r, const toml::table& t) {
    return r.read(
        t,
        {{"per_second", r.number("per_second", c.kbs.auth_rate_limit.rate_per_second, 0, 1000000)},
         {"burst", r.number("burst", c.kbs.auth_rate_limit.burst, 0, 1000000)},
         {"max_clients", r.integer("max_clients", c.kbs.auth_rate_limit.max_clients, 16, 1 << 26)},
         {"trusted_proxies", r.strings("trusted_proxies", c.kbs.trusted_proxies)}});
  }));

  ACON_CHECK(section("admin", [&](const TableReader& r, const toml::table& t) -> Status {
    for (const auto& [key, node] : t) {
      if (key.str() != "providers" && key.str() != "acl")
        return make_error(Errc::parse,
                          std::string(name) + ": line " + std::to_string(node.source().begin.line) +
                              ": [admin]: unknown key \"" + std::string(key.str()) + "\"");
    }
    if (const toml::node* providers = t.get("providers")) {
      const toml::array* array = providers->as_array();
      if (!array) return r.bad(*providers, "providers", "an array of tables");
      for (const auto& item : *array) {
        const toml::table* pt = item.as_table();
        if (!pt) return r.bad(item, "providers", "a table");
        std::filesystem::path key_path;
        std::string issuer, audience;
        TableReader pr(name, "admin.providers");
        ACON_CHECK(pr.read(*pt, {{"public_key", pr.path("public_key", key_path, base)},
                                 {"issuer", pr.text("issuer", issuer)},
                                 {"audience", pr.text("audience", audience)}}));
        if (key_path.empty()) return r.bad(item, "providers", "a public_key");
        ACON_TRY(std::string pem, read_file_bounded(key_path, 1 << 20));
        auto public_key = PublicKey::from_pem(pem);
        if (!public_key) return public_key.error().wrap(key_path.string());
        IdentityProvider provider{key_path.filename().string(), std::move(*public_key),
                                  std::nullopt, std::nullopt};
        if (!issuer.empty()) provider.issuer = issuer;
        if (!audience.empty()) provider.audience = audience;
        c.admin.providers.push_back(std::move(provider));
      }
    }
    if (const toml::node* acl = t.get("acl")) {
      const toml::array* array = acl->as_array();
      if (!array) return r.bad(*acl, "acl", "an array of tables");
      for (const auto& item : *array) {
        const toml::table* at = item.as_table();
        if (!at) return r.bad(item, "acl", "a table");
        AclRule rule;
        TableReader ar(name, "admin.acl");
        ACON_CHECK(ar.read(*at, {{"role", ar.text("role", rule.role)},
                                 {"methods", ar.strings("methods", rule.methods)},
                                 {"paths", ar.strings("paths", rule.paths)}}));
        c.admin.acl.push_back(std::move(rule));
      }
    }
    return {};
  }));
  return c;
}

Result<KbsConfig> load_kbs_config(const std::filesystem::path& file) {
  ACON_TRY(std::string text, read_file_bounded(file, kMaxConfigBytes));
  std::filesystem::path base = file.parent_path();
  if (base.empty()) base = ".";
  return parse_kbs_config(text, base, file.string());
}

Result<std::unique_ptr<Storage>> open_configured_storage(const KbsConfig& config) {
  if (config.master_key.empty())
    return make_error(Errc::invalid_argument, "[storage] master_key is required");
  ACON_TRY(std::string master_hex, read_file_bounded(config.master_key, 1024));
  while (!master_hex.empty() && (master_hex.back() == '\n' || master_hex.back() == ' '))
    master_hex.pop_back();
  auto master = hex_decode(master_hex);
  secure_zero(master_hex.data(), master_hex.size());
  if (!master || master->size() != 32)
    return make_error(Errc::invalid_argument,
                      config.master_key.string() + ": expected 32 bytes as 64 hex digits");
  SecretBytes master_key = to_secret(*master);
  secure_zero(master->data(), master->size());

  if (config.audit_signing_key.empty())
    return make_error(Errc::invalid_argument, "[audit] signing_key is required");
  ACON_TRY(PrivateKey audit_key, read_private_key(config.audit_signing_key));
  ACON_TRY(AuditSigner audit_signer, AuditSigner::create(std::move(audit_key)));
  if (config.storage_type == "postgres") {
    std::string url = config.storage_url;
    if (url.empty()) {
      const char* from_env =
          config.storage_url_env.empty() ? nullptr : std::getenv(config.storage_url_env.c_str());
      if (from_env == nullptr || *from_env == 0)
        return make_error(Errc::invalid_argument, "[storage] url is empty and the variable \"" +
                                                      config.storage_url_env +
                                                      "\" named by url_env is not set");
      url = from_env;
    }
    return open_postgres_storage(url, std::move(master_key), std::move(audit_signer),
                                 static_cast<size_t>(config.storage_pool_size),
                                 std::chrono::milliseconds(config.storage_query_timeout_ms));
  }
  return open_sqlite_storage(config.storage_path, std::move(master_key), std::move(audit_signer));
}

Result<OpenedKbs> open_kbs(const KbsConfig& config, Time now) {
  OpenedKbs opened;
  KbsOptions options = config.kbs;

  // Evidence verification: the pinned Intel root unless disabled; the simulator's root only when
  // configured, and its evidence is then labelled simulated.
  options.evidence.anchors.roots.clear();
  if (config.trust_intel_root) options.evidence.anchors = dcap::default_trust_anchors();
  if (!config.simulated_root.empty()) {
    ACON_TRY(Certificate root, read_certificate(config.simulated_root));
    options.evidence.anchors.roots.push_back(std::move(root));
  }
  options.evidence.strict_expiry = config.strict_expiry;
  // TPM quotes verify only with a pinned AK: the evidence's own AK proves nothing by itself.
  if (!config.tpm_ak_keys.empty()) {
    std::vector<PublicKey> aks;
    for (const auto& path : config.tpm_ak_keys) {
      ACON_TRY(PublicKey ak, read_public_key(path));
      aks.push_back(std::move(ak));
    }
    options.evidence.ak_trust = tpm::AkTrust::any_of(std::move(aks));
  }
  if (!config.collateral.empty()) {
    ACON_TRY(std::string text, read_file_bounded(config.collateral, size_t{16} << 20));
    auto collateral = dcap::parse_collateral_bundle(text);
    if (!collateral) return collateral.error().wrap(config.collateral.string());
    options.evidence.collateral = std::move(*collateral);
  }
  if (!config.pcs_url.empty()) {
    dcap::PcsConfig pcs;
    pcs.base_url = config.pcs_url;
    pcs.kind = config.pccs ? dcap::PcsConfig::Kind::pccs : dcap::PcsConfig::Kind::pcs;
    pcs.cache_dir = config.collateral_cache_dir.string();
    pcs.offline = config.collateral_offline;
    pcs.timeout = config.fetch_timeout;
    opened.fetcher = std::make_unique<dcap::CollateralFetcher>(pcs);
    options.evidence.fetcher = opened.fetcher.get();
  }
  opened.cache = std::make_unique<dcap::VerificationCache>();
  options.evidence.cache = opened.cache.get();
  options.evidence.firmware_log_cache = std::make_shared<appraisal::FirmwareLogCache>();
  for (const auto& path : config.trusted_token_roots) {
    ACON_TRY(Certificate root, read_certificate(path));
    options.token_roots.push_back(std::move(root));
  }

  if (config.token_signing_key.empty())
    return make_error(Errc::invalid_argument, "[kbs] token_signing_key is required");
  ACON_TRY(PrivateKey token_key, read_private_key(config.token_signing_key));
  std::vector<Certificate> chain;
  for (const auto& path : config.token_certificate_chain) {
    ACON_TRY(Certificate cert, read_certificate(path));
    chain.push_back(std::move(cert));
  }
  auto signer = appraisal::EarSigner::create(std::move(token_key), std::move(chain));
  if (!signer) return signer.error().wrap(config.token_signing_key.string());

  std::string policy_text(default_attestation_policy());
  std::string policy_name = "built-in default attestation policy";
  if (!config.attestation_policy.empty()) {
    ACON_TRY(policy_text, read_file_bounded(config.attestation_policy, appraisal::kMaxPolicyBytes));
    policy_name = config.attestation_policy.string();
  }
  ACON_TRY(appraisal::Policy policy, appraisal::parse_policy(policy_text, policy_name));

  ACON_TRY(std::unique_ptr<Storage> storage, open_configured_storage(config));
  ACON_TRY(AdminAuthorizer admin, AdminAuthorizer::create(config.admin));
  ACON_TRY(opened.kbs, Kbs::create(std::move(options), std::move(storage), std::move(*signer),
                                   std::move(admin), std::move(policy), now));
  return opened;
}

}  // namespace acon::kbs

namespace acon::kbs {

namespace {

// subjectAltName = {dNSName "localhost", iPAddress 127.0.0.1}, DER.
Bytes localhost_san() {
  Bytes names = {0x82, 0x09, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0x87, 0x04, 127, 0, 0, 1};
  Bytes out = {0x30, static_cast<uint8_t>(names.size())};
  append(out, names);
  return out;
}

Result<Bytes> serial_number() {
  ACON_TRY(Bytes serial, random_bytes(16));
  serial[0] = static_cast<uint8_t>((serial[0] & 0x7f) | 0x01);
  return serial;
}

}  // namespace

Result<std::filesystem::path> init_kbs_directory(const std::filesystem::path& dir,
                                                 const InitOptions& options, Time now) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec))
    return make_error(Errc::invalid_argument, dir.string() + ": exists and is not empty");
  std::filesystem::create_directories(dir / "keys", ec);
  if (ec) return make_error(Errc::io, dir.string() + ": " + ec.message());
  ::chmod((dir / "keys").c_str(), 0700);

  auto write_key = [&](const char* file, const PrivateKey& key) -> Status {
    SecretBytes pem = key.to_pem();
    return write_file(dir / "keys" / file, as_chars(view(pem)), 0600);
  };
  ACON_TRY(PrivateKey ear_key, PrivateKey::generate_ec(Curve::p256));
  ACON_CHECK(write_key("token-signing.pem", ear_key));
  ACON_CHECK(
      write_file(dir / "keys" / "token-signing.pub.pem", ear_key.public_key().to_pem(), 0644));
  // P-256 for the audit log: every release and refusal is signed, and with Debian 12's OpenSSL
  // an ECDSA P-256 signature costs about half an Ed25519 one on x86-64 (`openssl speed
  // ecdsap256 ed25519`; the load benchmark prints both), its verification less too.
  ACON_TRY(PrivateKey audit_key, PrivateKey::generate_ec(Curve::p256));
  ACON_CHECK(write_key("audit-signing.pem", audit_key));
  ACON_CHECK(
      write_file(dir / "keys" / "audit-signing.pub.pem", audit_key.public_key().to_pem(), 0644));
  ACON_TRY(PrivateKey admin_key, PrivateKey::generate_ed25519());
  ACON_CHECK(write_key("admin.pem", admin_key));
  ACON_CHECK(write_file(dir / "keys" / "admin.pub.pem", admin_key.public_key().to_pem(), 0644));
  {
    ACON_TRY(Bytes master, random_bytes(32));
    std::string hex = hex_encode(master) + "\n";
    secure_zero(master.data(), master.size());
    Status written = write_file(dir / "keys" / "master.key", hex, 0600);
    secure_zero(hex.data(), hex.size());
    ACON_CHECK(written);
  }

  if (!options.insecure_http) {
    // A CA of this KBS's own and a server certificate for localhost and 127.0.0.1: clients pin
    // tls-ca.pem.
    ACON_TRY(PrivateKey ca_key, PrivateKey::generate_ec(Curve::p256));
    CertificateRequest ca;
    ca.subject = {{"CN", "acon-kbs local CA"}};
    ACON_TRY(ca.serial, serial_number());
    ca.not_before = now - std::chrono::hours(1);
    ca.not_after = now + std::chrono::days(3650);
    ca.is_ca = true;
    ca.path_length = 0;
    ca.key_usage = kKeyUsageKeyCertSign | kKeyUsageCrlSign;
    ACON_TRY(Certificate ca_cert, issue_certificate(ca, ca_key.public_key(), ca_key, nullptr));
    ACON_TRY(PrivateKey tls_key, PrivateKey::generate_ec(Curve::p256));
    CertificateRequest leaf;
    leaf.subject = {{"CN", "localhost"}};
    ACON_TRY(leaf.serial, serial_number());
    leaf.not_before = ca.not_before;
    leaf.not_after = now + std::chrono::days(825);
    leaf.key_usage = kKeyUsageDigitalSignature;
    leaf.extensions.push_back({"2.5.29.17", localhost_san(), false});
    leaf.extensions.push_back({"2.5.29.37",
                               Bytes{0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07,
                                     0x03, 0x01},  // serverAuth
                               false});
    ACON_TRY(Certificate leaf_cert,
             issue_certificate(leaf, tls_key.public_key(), ca_key, &ca_cert));
    ACON_CHECK(write_file(dir / "keys" / "tls-ca.pem", ca_cert.to_pem(), 0644));
    ACON_CHECK(write_file(dir / "keys" / "tls.pem", leaf_cert.to_pem() + ca_cert.to_pem(), 0644));
    ACON_CHECK(write_key("tls.key", tls_key));
  }
  ACON_CHECK(write_file(dir / "attestation-policy.toml", default_attestation_policy(), 0644));
  std::string sim_line =
      "simulated_root = \"\"              # acon's simulated TDX root: empty = never trusted\n";
  if (!options.simulated_root.empty()) {
    ACON_TRY(Certificate root, read_certificate(options.simulated_root));
    ACON_CHECK(write_file(dir / "keys" / "simulated-root.pem", root.to_pem(), 0644));
    sim_line =
        "simulated_root = \"keys/simulated-root.pem\"  # evidence it verifies is labelled "
        "simulated\n";
  }

  std::string tpm_line =
      "tpm_ak_keys = []                  # pinned TPM AKs (PEM): empty = tpm evidence refused\n";
  if (!options.tpm_ak_keys.empty()) {
    tpm_line = "tpm_ak_keys = [";
    for (size_t i = 0; i < options.tpm_ak_keys.size(); ++i) {
      ACON_TRY(PublicKey ak, read_public_key(options.tpm_ak_keys[i]));
      const std::string name = "keys/tpm-ak-" + std::to_string(i) + ".pem";
      ACON_CHECK(write_file(dir / name, ak.to_pem(), 0644));
      tpm_line += (i ? ", \"" : "\"") + name + "\"";
    }
    tpm_line += "]  # the only TPM AKs whose quotes verify\n";
  }

  std::string collateral_line;
  if (!options.collateral.empty()) {
    ACON_TRY(std::string bundle, read_file_bounded(options.collateral, size_t{16} << 20));
    if (auto parsed = dcap::parse_collateral_bundle(bundle); !parsed)
      return parsed.error().wrap(options.collateral.string());
    ACON_CHECK(write_file(dir / "collateral.json", bundle, 0644));
    collateral_line = "collateral = \"collateral.json\"   # used for every quote\n";
  }

  std::string config =
      "# acon-kbs configuration, written by `acon-kbs init`. docs/kbs.md lists every key.\n"
      "[server]\n"
      "listen = [\"" +
      options.listen + "\"]\n" +
      (options.insecure_http
           ? std::string(
                 "insecure_http = true  # plain HTTP: only behind a TLS-terminating proxy\n")
           : std::string("insecure_http = false\ncertificate = \"keys/tls.pem\"\n"
                         "private_key = \"keys/tls.key\"\n")) +
      "\n[kbs]\n"
      "id = \"acon-kbs\"                       # the EAR's iss and aud\n"
      "token_signing_key = \"keys/token-signing.pem\"\n"
      "session_lifetime_seconds = 300\n"
      "token_validity_seconds = 300\n"
      "\n[attestation]\n"
      "policy = \"attestation-policy.toml\"\n" +
      sim_line + tpm_line + collateral_line +
      "trust_intel_root = true\n"
      "\n[storage]\n"
      "type = \"sqlite\"\n"
      "path = \"kbs.db\"\n"
      "master_key = \"keys/master.key\"\n"
      "\n[audit]\n"
      "signing_key = \"keys/audit-signing.pem\"\n"
      "\n[rate_limit]\n"
      "per_second = 50   # /auth and /attest per client address; 0 = off\n"
      "burst = 100\n"
      "\n[admin]\n"
      "[[admin.providers]]\n"
      "public_key = \"keys/admin.pub.pem\"\n"
      "[[admin.acl]]\n"
      "role = \"admin\"\n"
      "methods = [\"GET\", \"POST\", \"DELETE\"]\n"
      "paths = [\"/kbs/v0/resource/**\", \"/kbs/v0/attestation-policy\", "
      "\"/kbs/v0/resource-policy\",\n"
      "         \"/kbs/v0/reference-value\", \"/kbs/v0/reference-value/**\", \"/kbs/v0/audit\"]\n";
  ACON_CHECK(write_file(dir / "config.toml", config, 0600));
  return dir / "config.toml";
}

}  // namespace acon::kbs
