// GetSecret's KBS side. See secrets.h.
#include "acon/acond/secrets.h"

#include "acon/common/jose.h"

namespace acon::acond {
namespace {

// A token is renewed this long before its "exp", so that a GET does not race its expiry.
constexpr auto kRenewBefore = std::chrono::seconds(30);

// The token's "exp", read without verifying it: it only decides when to attest again. The KBS
// verifies the token; acond trusts nothing in it.
std::optional<std::chrono::system_clock::time_point> token_expiry(std::string_view token) {
  auto jws = jose::jws_parse(token);
  if (!jws) return std::nullopt;
  auto claims = parse_json(as_chars(jws->payload));
  if (!claims || !claims->is_object() || !claims->contains("exp") ||
      !(*claims)["exp"].is_number_integer()) {
    return std::nullopt;
  }
  return std::chrono::system_clock::time_point(
      std::chrono::seconds((*claims)["exp"].get<int64_t>()));
}

}  // namespace

kbs::ClientConfig kbs_client_config(const KbsConfig& config) {
  kbs::ClientConfig client;
  client.url = config.url;
  client.ca_file = config.ca_file;
  client.insecure_http = config.insecure_http;
  client.connect_timeout = std::chrono::seconds(config.connect_timeout_seconds);
  client.total_timeout = std::chrono::seconds(config.timeout_seconds);
  // The broker decides when to attest again (secrets.h); the client must not re-attest on every
  // 401, which a policy refusal also answers.
  client.reattest_on_unauthorized = false;
  return client;
}

SecretBroker::SecretBroker(kbs::ClientConfig config, std::string tee, TdEvidenceSource evidence,
                           RuntimeEventCount events)
    : config_(std::move(config)),
      tee_(std::move(tee)),
      evidence_(std::move(evidence)),
      events_(std::move(events)) {}

size_t SecretBroker::attestations() const {
  std::lock_guard lock(mutex_);
  return attestations_;
}

bool SecretBroker::token_usable_locked() const {
  if (!client_ || !client_->token()) return false;
  if (attested_events_ != events_()) return false;
  return !token_expiry_ || std::chrono::system_clock::now() + kRenewBefore < *token_expiry_;
}

Status SecretBroker::attest_locked() {
  client_.reset();
  token_expiry_.reset();
  // A fresh TEE key per RCAR: the KBS seals resources to the key bound into this evidence.
  ACON_TRY(kbs::TeeKey tee_key, kbs::TeeKey::generate());
  ACON_TRY(kbs::KbsClient client, kbs::KbsClient::create(config_, std::move(tee_key)));
  size_t events = 0;
  ++attestations_;
  auto token = client.attest(tee_, [this, &events](ByteView report_data) -> Result<Json> {
    ACON_TRY(TdEvidence evidence, evidence_(report_data));
    events = evidence.runtime_events;
    return std::move(evidence.primary);
  });
  if (!token) return token.error();
  attested_events_ = events;
  token_expiry_ = token_expiry(*token);
  client_ = std::move(client);
  return {};
}

Result<SecretBytes> SecretBroker::fetch(std::string_view resource_path) {
  std::lock_guard lock(mutex_);
  const bool cached = token_usable_locked();
  if (!cached) ACON_CHECK(attest_locked());
  auto secret = client_->get_resource(resource_path, kbs::ResourceAuth::bearer);
  const auto& failure = client_->last_failure();
  if (secret || !cached || !failure || failure->status != 401 || failure->type == "PolicyDeny") {
    return secret;
  }
  // The KBS no longer takes the cached token (it restarted with another key, say): once more
  // with evidence of now. A policy refusal is final: evidence of now shows the same images.
  ACON_CHECK(attest_locked());
  return client_->get_resource(resource_path, kbs::ResourceAuth::bearer);
}

std::string secret_failure_message(const Error& error) { return "KBS: " + error.message; }

}  // namespace acon::acond
