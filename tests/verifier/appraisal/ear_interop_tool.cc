// Test driver for ear_interop.py: issues EAR tokens with a fresh test PKI, and runs the verify
// API on tokens produced by independent implementations. Not installed; tests only.
//   ear_interop_tool issue DIR
//   ear_interop_tool verify-jwt|verify-cwt TOKEN --now TIME (--root PEM | --key PEM) [--aud A]
// Exit: 0 accepted (claims JSON on stdout), 1 refused (reason on stderr), 2 usage or I/O.
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "acon/appraisal/ear.h"
#include "ear_pki.h"

namespace {

using namespace acon;
using namespace acon::appraisal;
using namespace std::chrono_literals;

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() > kMaxEarTokenBytes * 2) return std::nullopt;
  return data;
}

bool write_file(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(out);
}

int fail(const std::string& what) {
  std::cerr << "ear_interop_tool: " << what << "\n";
  return 2;
}

int issue(const std::string& dir) {
  const Time iat = Time(1767225600s);  // 2026-01-01T00:00:00Z
  auto pki = test::make_ear_pki(iat, "EAR interop root");
  if (!pki) return fail(pki.error().to_string());
  auto signer = EarSigner::create(pki->leaf_key, {pki->leaf});
  if (!signer) return fail(signer.error().to_string());

  Ear ear;
  ear.iat = iat;
  ear.exp = iat + 5min;
  ear.iss = "CoCo-Attestation-Service";
  ear.aud = {"kbs.example"};
  ear.verifier_id = {"https://confidentialcontainers.org", "attestation-service 0.1.0"};
  TrustVector vector;
  vector.set(TrustClaim::instance_identity, ar4si::kNoClaim);
  vector.set(TrustClaim::configuration, ar4si::kApprovedConfig);
  vector.set(TrustClaim::executables, ar4si::kApprovedBoot);
  vector.set(TrustClaim::hardware, ar4si::kGenuineHardware);
  vector.set(TrustClaim::runtime_opaque, ar4si::kEncryptedMemoryRuntime);
  ear.submods["cpu0"] = Submod::from_vector(
      vector, "default",
      Json{
          {"tdx",
           {{"quote", {{"header", {{"version", "0400"}}}}}, {"td_attributes", {{"debug", false}}}}},
          {"report_data", "00ff"},
          {"init_data", nullptr},
          {"runtime_data_claims", {{"nonce", "bm9uY2U"}, {"tee-pubkey", {{"kty", "EC"}}}}},
          {"numbers", {-70000, 1.5, 18446744073709551615ull}}});
  auto jwt = sign_ear_jwt(ear, *signer);
  auto cwt = sign_ear_cwt(ear, *signer);
  if (!jwt || !cwt) return fail("signing failed");
  SecretBytes key_pem = pki->leaf_key.to_pem();
  bool ok = write_file(dir + "/ear.jwt", *jwt) && write_file(dir + "/ear.cwt", as_chars(*cwt)) &&
            write_file(dir + "/ear.json", ear_to_json_text(ear)) &&
            write_file(dir + "/root.pem", pki->root.to_pem()) &&
            write_file(dir + "/leaf.pem", pki->leaf.to_pem()) &&
            write_file(dir + "/leaf_key.pem", as_chars(view(key_pem)));
  return ok ? 0 : fail("cannot write to " + dir);
}

int verify_token(bool cwt, int argc, char** argv) {
  std::string token_path = argv[2];
  EarVerifyOptions options;
  bool have_now = false;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--now") {
      auto t = parse_time_text(value);
      if (!t) return fail(t.error().to_string());
      options.now = *t;
      have_now = true;
    } else if (flag == "--root" || flag == "--key") {
      auto pem = read_file(value);
      if (!pem) return fail("cannot read " + value);
      if (flag == "--root") {
        auto cert = Certificate::from_pem(*pem);
        if (!cert) return fail(cert.error().to_string());
        options.roots.push_back(*cert);
      } else {
        auto key = PublicKey::from_pem(*pem);
        if (!key) return fail(key.error().to_string());
        options.trusted_key = *key;
      }
    } else if (flag == "--aud") {
      options.audience = value;
    } else {
      return fail("unknown option " + flag);
    }
  }
  if (!have_now) return fail("--now is required");
  auto token = read_file(token_path);
  if (!token) return fail("cannot read " + token_path);
  auto ear = cwt ? verify_ear_cwt(as_bytes(*token), options) : verify_ear_jwt(*token, options);
  if (!ear) {
    std::cerr << "refused: " << ear.error().to_string() << "\n";
    return 1;
  }
  std::cout << ear_to_json_text(*ear) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "issue" && argc == 3) return issue(argv[2]);
  if ((command == "verify-jwt" || command == "verify-cwt") && argc >= 3 && argc % 2 == 1)
    return verify_token(command == "verify-cwt", argc, argv);
  return fail(
      "usage: issue DIR | verify-jwt|verify-cwt TOKEN --now T (--root P|--key P) [--aud A]");
}
