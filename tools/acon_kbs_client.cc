// acon-kbs-client: talk to a CoCo-compatible Key Broker Service over the client library
// (acon/kbs/client.h): attest a TD (simulated or real) with RCAR, fetch resources sealed to the
// TEE key, and make the admin calls with a minted or saved admin JWT. docs/kbs-client.md.
// Exit codes: 0 done, 1 the KBS refused (401, 403, 404, ...), 2 bad input, usage, or the KBS
// unreachable.
#include <CLI/CLI.hpp>

#include <ctime>
#include <iostream>
#include <memory>

#include "acon/kbs/client.h"
#include "acon/kbs/evidence_provider.h"
#include "tool_util.h"

namespace acon {
namespace {

using kbs::KbsClient;

struct Inputs {
  std::string url;
  std::string ca;
  bool insecure_http = false;
  uint64_t timeout_seconds = 60;
  // attest
  std::string tee;  // empty: "tpm" for vtpm evidence, else "tdx"
  std::string evidence;
  bool acond_ak = false;
  std::string key_type = "ec-p256";
  std::string init_data;
  std::string token_out;
  std::string tee_key_out;
  // get-resource
  std::string path;
  std::string out;
  bool bearer = false;
  std::string token_file;
  std::string tee_key_file;
  // admin
  std::string admin_key;
  std::string admin_token_file;
  std::string role = "admin";
  std::string subject = "admin";
  std::string audience;
  std::string issuer;
  uint64_t validity = 300;
  std::string file;
  std::string attestation_policy;
  std::string resource_policy;
  std::string policy_id = "default";
  std::string name;
  uint64_t from = 1;
  uint64_t limit = 1000;
};

// A refusal by the KBS (401, 403, 404) exits 1; unusable input or transport failures exit 2.
int fail(const Error& error) {
  const int code = tools::fail(error);
  return error.code == Errc::not_found ? tools::kExitRejected : code;
}

Result<std::string> read_text(const std::string& path) { return tools::read_input(path); }

Result<kbs::TeeKey> tee_key_for(const Inputs& in) {
  auto type = kbs::tee_key_type_from_name(in.key_type);
  if (!type)
    return make_error(
        Errc::invalid_argument,
        "--key-type: \"" + in.key_type + "\" is not ec-p256, ec-p521, rsa-oaep-256 or rsa1_5");
  if (in.tee_key_file.empty()) return kbs::TeeKey::generate(*type);
  ACON_TRY(std::string pem, read_text(in.tee_key_file));
  auto key = PrivateKey::from_pem(pem);
  secure_zero(pem.data(), pem.size());
  if (!key) return key.error().wrap(in.tee_key_file);
  const jose::JweAlg alg = *type == kbs::TeeKeyType::rsa_oaep_256 ? jose::JweAlg::RSA_OAEP_256
                           : *type == kbs::TeeKeyType::rsa1_5     ? jose::JweAlg::RSA1_5
                                                                  : jose::JweAlg::ECDH_ES_A256KW;
  return kbs::TeeKey::from_private_key(std::move(*key), alg);
}

Result<KbsClient> connect(const Inputs& in, kbs::TeeKey key) {
  kbs::ClientConfig config;
  config.url = in.url;
  if (!in.ca.empty()) config.ca_file = in.ca;
  config.insecure_http = in.insecure_http;
  config.total_timeout = std::chrono::seconds(in.timeout_seconds);
  return KbsClient::create(std::move(config), std::move(key));
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  return text;
}

// The admin JWT: minted from --admin-key, or read from --admin-token.
Result<std::string> admin_token(const Inputs& in) {
  if (!in.admin_token_file.empty()) {
    ACON_TRY(std::string token, read_text(in.admin_token_file));
    return trimmed(std::move(token));
  }
  if (in.admin_key.empty())
    return make_error(Errc::invalid_argument, "admin calls need --admin-key or --admin-token");
  ACON_TRY(std::string pem, read_text(in.admin_key));
  auto key = PrivateKey::from_pem(pem);
  secure_zero(pem.data(), pem.size());
  if (!key) return key.error().wrap(in.admin_key);
  kbs::AdminTokenClaims claims;
  claims.role = in.role;
  claims.subject = in.subject;
  claims.validity = std::chrono::seconds(in.validity);
  if (!in.audience.empty()) claims.audience = in.audience;
  if (!in.issuer.empty()) claims.issuer = in.issuer;
  return kbs::make_admin_token(*key, claims, static_cast<int64_t>(std::time(nullptr)));
}

Result<KbsClient> admin_client(const Inputs& in) {
  ACON_TRY(std::string token, admin_token(in));
  // Admin calls decrypt nothing; the TEE key only completes the client.
  ACON_TRY(kbs::TeeKey key, kbs::TeeKey::generate());
  ACON_TRY(KbsClient client, connect(in, std::move(key)));
  client.set_admin_token(std::move(token));
  return client;
}

Status attest(const Inputs& in, KbsClient& client) {
  ACON_TRY(kbs::EvidenceProvider provider, kbs::evidence_provider(in.evidence));
  std::optional<std::string> init_data;
  if (!in.init_data.empty()) {
    ACON_TRY(std::string toml, read_text(in.init_data));
    init_data = std::move(toml);
  }
  const std::string tee = !in.tee.empty() ? in.tee : kbs::tee_for_evidence(in.evidence);
  ACON_TRY(std::string token, client.attest(tee, std::move(provider), std::move(init_data)));
  if (!in.token_out.empty()) ACON_CHECK(tools::write_private_file(in.token_out, as_bytes(token)));
  if (!in.tee_key_out.empty()) {
    SecretBytes pem = client.tee_key().private_key().to_pem();
    ACON_CHECK(tools::write_private_file(in.tee_key_out, view(pem)));
  }
  return {};
}

int cmd_attest(const Inputs& in) {
  auto key = tee_key_for(in);
  if (!key) return fail(key.error());
  auto client = connect(in, std::move(*key));
  if (!client) return fail(client.error());
  Status done = attest(in, *client);
  if (!done) return fail(done.error());
  std::cout << "attested: token " << client->token()->size() << " bytes"
            << (in.token_out.empty() ? "" : ", written to " + in.token_out) << "\n";
  return tools::kExitOk;
}

int cmd_get_resource(const Inputs& in) {
  auto key = tee_key_for(in);
  if (!key) return fail(key.error());
  auto client = connect(in, std::move(*key));
  if (!client) return fail(client.error());
  Result<SecretBytes> secret = make_error(Errc::invalid_argument, "unset");
  if (!in.token_file.empty()) {
    auto token = read_text(in.token_file);
    if (!token) return fail(token.error());
    secret = client->get_resource_with_token(in.path, trimmed(std::move(*token)));
  } else {
    Status attested = attest(in, *client);
    if (!attested) return fail(attested.error());
    secret = client->get_resource(
        in.path, in.bearer ? kbs::ResourceAuth::bearer : kbs::ResourceAuth::cookie);
  }
  if (!secret) return fail(secret.error());
  Status written = in.out.empty() || in.out == "-"
                       ? tools::write_output("-", view(*secret), false)
                       : tools::write_private_file(in.out, view(*secret));
  return written ? tools::kExitOk : fail(written.error());
}

int run(int argc, char** argv) {
  Inputs in;
  CLI::App app{
      "acon-kbs-client: attest to a Key Broker Service (CoCo RCAR), fetch resources, "
      "and administer it"};
  app.require_subcommand(1);
  tools::add_input_limit_option(app);
  app.add_option("--url", in.url, "KBS base URL, e.g. https://kbs.example:8080");
  app.add_option("--ca", in.ca, "PEM trust anchors for https (default: the system store)");
  app.add_flag("--insecure-http", in.insecure_http, "Allow a plain http:// URL");
  app.add_option("--timeout", in.timeout_seconds, "Seconds per request (default 60)");

  auto add_attest_options = [&](CLI::App* sub) {
    sub->add_option("--tee", in.tee, "TEE type sent in /auth (default tpm for vtpm, else tdx)");
    sub->add_option("--evidence", in.evidence, "sim:STATEFILE | tdx | vtpm[:TCTI]");
    sub->add_option("--key-type", in.key_type,
                    "TEE key: ec-p256 (default), ec-p521, rsa-oaep-256, rsa1_5");
    sub->add_option("--init-data", in.init_data, "Init-data TOML sent with the attestation");
  };
  auto* attest_cmd = app.add_subcommand("attest", "RCAR: /auth, evidence, /attest");
  add_attest_options(attest_cmd);
  attest_cmd->get_option("--evidence")->required();
  attest_cmd->add_option("--token-out", in.token_out, "Write the attestation token here (0600)");
  attest_cmd->add_option("--tee-key-out", in.tee_key_out,
                         "Write the TEE private key (PEM, 0600), for get-resource --token");

  auto* get = app.add_subcommand("get-resource", "Attest (or use --token), then GET a resource");
  get->add_option("path", in.path, "repository/type/tag")->required();
  add_attest_options(get);
  get->add_option("-o,--out", in.out, "Write the resource here (0600; default stdout)");
  get->add_flag("--bearer", in.bearer, "Send the token as Authorization: Bearer, not the cookie");
  get->add_option("--token", in.token_file, "A saved token (attest --token-out): no RCAR");
  get->add_option("--tee-key", in.tee_key_file, "The TEE private key the token is bound to");
  get->get_option("--token")->needs(get->get_option("--tee-key"));
  get->get_option("--token")->excludes(get->get_option("--evidence"));

  auto add_admin_options = [&](CLI::App* sub) {
    sub->add_option("--admin-key", in.admin_key,
                    "PEM private key (Ed25519 or P-256) to mint the "
                    "admin JWT with");
    sub->add_option("--admin-token", in.admin_token_file, "A file holding an admin JWT");
    sub->add_option("--role", in.role, "Role claim of the minted JWT (default admin)");
    sub->add_option("--subject", in.subject, "sub claim of the minted JWT (default admin)");
    sub->add_option("--audience", in.audience, "aud claim of the minted JWT");
    sub->add_option("--issuer", in.issuer, "iss claim of the minted JWT");
    sub->get_option("--admin-key")->excludes(sub->get_option("--admin-token"));
  };
  auto* set_resource = app.add_subcommand("set-resource", "Store a resource (admin)");
  set_resource->add_option("path", in.path, "repository/type/tag")->required();
  set_resource->add_option("--file", in.file, "The resource bytes (- for stdin)")->required();
  add_admin_options(set_resource);
  auto* delete_resource = app.add_subcommand("delete-resource", "Delete a resource (admin)");
  delete_resource->add_option("path", in.path, "repository/type/tag")->required();
  add_admin_options(delete_resource);
  auto* set_policy = app.add_subcommand("set-policy", "Set the attestation or resource policy");
  auto* attestation_opt =
      set_policy->add_option("--attestation", in.attestation_policy, "Attestation policy (TOML)");
  auto* resource_opt =
      set_policy->add_option("--resource", in.resource_policy, "Resource policy file");
  attestation_opt->excludes(resource_opt);
  set_policy->add_option("--policy-id", in.policy_id, "Attestation policy id (default default)");
  add_admin_options(set_policy);
  auto* list_policies =
      app.add_subcommand("list-resource-policies", "List the resource policy ids (admin)");
  add_admin_options(list_policies);
  auto* set_rv = app.add_subcommand("set-reference-values", "POST an RVPS message (admin)");
  set_rv->add_option("file", in.file, "RVPS message JSON")->required();
  add_admin_options(set_rv);
  auto* get_rv = app.add_subcommand("get-reference-value", "GET one reference value (admin)");
  get_rv->add_option("name", in.name, "Reference value name")->required();
  add_admin_options(get_rv);
  auto* audit = app.add_subcommand("audit-export", "Print the release audit log (JSON lines)");
  audit->add_option("--from", in.from, "First record, counting from 1 (default 1)");
  audit->add_option("--limit", in.limit, "At most this many records (default 1000)");
  add_admin_options(audit);
  auto* token_cmd = app.add_subcommand("admin-token", "Print an admin JWT minted from a key");
  token_cmd->add_option("--key", in.admin_key, "PEM private key (Ed25519 or P-256)")->required();
  token_cmd->add_option("--role", in.role, "role claim (default admin)");
  token_cmd->add_option("--subject", in.subject, "sub claim (default admin)");
  token_cmd->add_option("--validity", in.validity, "Seconds until exp (default 300)");
  token_cmd->add_option("--audience", in.audience, "aud claim");
  token_cmd->add_option("--issuer", in.issuer, "iss claim");
  auto* ak_cmd = app.add_subcommand(
      "tpm-ak",
      "Print the AK public key (PEM) that --evidence vtpm quotes with, for the KBS to pin");
  ak_cmd->add_option("--evidence", in.evidence, "vtpm[:TCTI]")->required();
  ak_cmd->add_flag("--acond", in.acond_ak,
                   "The AK acond --backend vtpm quotes with for GetSecret (its options), not "
                   "CoCo's attester's");
  if (auto code = tools::parse_command_line(app, argc, argv)) return *code;

  if (ak_cmd->parsed()) {
    auto vtpm =
        kbs::open_vtpm_evidence(in.evidence, in.acond_ak ? kbs::VtpmAk::acond : kbs::VtpmAk::coco);
    if (!vtpm) return fail(vtpm.error());
    std::cout << (*vtpm)->ak_public_pem();
    return tools::kExitOk;
  }

  if (token_cmd->parsed()) {
    auto token = admin_token(in);
    if (!token) return fail(token.error());
    std::cout << *token << "\n";
    return tools::kExitOk;
  }
  if (in.url.empty()) return fail(make_error(Errc::invalid_argument, "--url is required"));
  if (attest_cmd->parsed()) return cmd_attest(in);
  if (get->parsed()) {
    if (in.token_file.empty() && in.evidence.empty())
      return fail(make_error(Errc::invalid_argument, "get-resource needs --evidence or --token"));
    return cmd_get_resource(in);
  }

  auto client = admin_client(in);
  if (!client) return fail(client.error());
  Status done;
  if (set_resource->parsed()) {
    auto data = tools::read_input(in.file);
    if (!data) return fail(data.error());
    done = client->set_resource(in.path, as_bytes(*data));
    secure_zero(data->data(), data->size());
  } else if (delete_resource->parsed()) {
    done = client->delete_resource(in.path);
  } else if (set_policy->parsed()) {
    if (in.attestation_policy.empty() == in.resource_policy.empty())
      return fail(make_error(Errc::invalid_argument,
                             "set-policy needs one of --attestation or --resource"));
    const bool attestation = !in.attestation_policy.empty();
    auto text = read_text(attestation ? in.attestation_policy : in.resource_policy);
    if (!text) return fail(text.error());
    done = attestation ? client->set_attestation_policy(*text, in.policy_id)
                       : client->set_resource_policy(*text);
  } else if (set_rv->parsed()) {
    auto text = read_text(in.file);
    if (!text) return fail(text.error());
    done = client->set_reference_values(*text);
  } else if (list_policies->parsed() || get_rv->parsed()) {
    auto value = list_policies->parsed() ? client->list_resource_policies()
                                         : client->get_reference_value(in.name);
    if (!value) return fail(value.error());
    std::cout << value->dump(2) << "\n";
  } else {
    auto lines = client->audit_export(in.from, in.limit);
    if (!lines) return fail(lines.error());
    std::cout << *lines;
  }
  return done ? tools::kExitOk : fail(done.error());
}

}  // namespace
}  // namespace acon

int main(int argc, char** argv) { return acon::tools::guarded_main(argc, argv, acon::run); }
