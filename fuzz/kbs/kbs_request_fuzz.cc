// The KBS's request path (Kbs::handle): routes, headers (cookie, bearer), and every JSON body —
// Request, Attestation, admin policy envelopes, RVPS messages — over a real KBS on SQLite.
// Input: byte 0 picks the method and two switches (a fresh session cookie from /auth; a valid
// admin token), then "target\ncookie\nauthorization\nbody".
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "acon/appraisal/policy.h"
#include "acon/common/jose.h"
#include "acon/kbs/default_policies.h"
#include "acon/kbs/service.h"
#include "acon/kbs/storage.h"
#include "fuzz_support.h"

namespace {

struct Harness {
  acon::PrivateKey admin_key = *acon::PrivateKey::generate_ed25519();
  std::unique_ptr<acon::kbs::Kbs> kbs;
  std::string admin_bearer;
  acon::kbs::Now now{acon::Time(std::chrono::seconds(1'750'000'000)),
                     acon::kbs::SteadyTime{} + std::chrono::hours(1)};

  Harness() {
    std::string dir_pattern = (std::filesystem::temp_directory_path() / "fuzz-kbs-XXXXXX").string();
    std::filesystem::path dir = mkdtemp(dir_pattern.data());
    auto storage = acon::kbs::open_sqlite_storage(
        dir / "kbs.db", acon::SecretBytes(32, 7),
        *acon::kbs::AuditSigner::create(*acon::PrivateKey::generate_ed25519()));
    acon::kbs::AdminConfig admin;
    admin.providers.push_back({"fuzz", admin_key.public_key(), std::nullopt, std::nullopt});
    admin.acl.push_back({"admin", {"GET", "POST", "DELETE"}, {"/kbs/v0/**"}});
    acon::kbs::KbsOptions options;
    options.max_sessions = 4096;
    kbs = *acon::kbs::Kbs::create(
        options, std::move(*storage),
        *acon::appraisal::EarSigner::create(*acon::PrivateKey::generate_ec(acon::Curve::p256)),
        *acon::kbs::AdminAuthorizer::create(std::move(admin)),
        *acon::appraisal::parse_policy(acon::kbs::default_attestation_policy()), now.wall);
    nlohmann::json claims = {{"sub", "fuzz"}, {"role", "admin"}, {"exp", 1'900'000'000}};
    admin_bearer = "Bearer " + *acon::jose::jws_sign(admin_key, acon::jose::JwsAlg::EdDSA,
                                                     acon::as_bytes(claims.dump()));
  }
};

std::string_view next_field(std::string_view& rest) {
  auto nl = rest.find('\n');
  std::string_view field = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return field;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness harness;
  if (size == 0) return 0;
  static constexpr const char* kMethods[] = {"GET", "POST", "DELETE", "PUT"};
  const uint8_t control = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  acon::kbs::HttpRequest request;
  request.method = kMethods[control & 3];
  request.target = next_field(rest);
  request.cookie = next_field(rest);
  request.authorization = next_field(rest);
  request.body = rest;
  request.peer = "192.0.2.1";
  std::string cookie;
  if (control & 4) {
    acon::kbs::HttpRequest auth;
    auth.method = "POST";
    auth.target = "/kbs/v0/auth";
    auth.body = R"({"version":"0.4.0","tee":"tdx","extra-params":""})";
    auto challenge = harness.kbs->handle(auth, harness.now);
    for (auto& [name, value] : challenge.headers)
      if (name == "Set-Cookie") cookie = value.substr(0, value.find(';'));
    request.cookie = cookie;
  }
  if (control & 8) request.authorization = harness.admin_bearer;
  acon::kbs::HttpResponse response = harness.kbs->handle(request, harness.now);
  if (response.status < 200 || response.status > 599) __builtin_trap();
  return 0;
}
