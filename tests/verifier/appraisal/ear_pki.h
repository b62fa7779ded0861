// A throw-away PKI that issues EARs, for the EAR tests, the interop driver and the EAR
// benchmark: a P-256 root CA and a P-256 leaf "CoCo-Attestation-Service" (the issuer name
// Trustee's attestation-service puts in its tokens) issued by it, both valid around a given time.
#pragma once

#include <chrono>
#include <string>
#include <utility>

#include "acon/common/keys.h"
#include "acon/common/result.h"
#include "acon/common/x509.h"

namespace acon::test {

struct EarPki {
  PrivateKey root_key;
  PrivateKey leaf_key;
  Certificate root;  // CA, valid from a day before `around` for a year
  Certificate leaf;  // digitalSignature, valid from a day before `around` for 30 days
};

inline Result<EarPki> make_ear_pki(Time around, const std::string& root_name) {
  using namespace std::chrono_literals;
  ACON_TRY(PrivateKey root_key, PrivateKey::generate_ec(Curve::p256));
  ACON_TRY(PrivateKey leaf_key, PrivateKey::generate_ec(Curve::p256));
  CertificateRequest ca;
  ca.subject = {{"CN", root_name}};
  ca.serial = {1};
  ca.not_before = around - 24h;
  ca.not_after = around + 24h * 365;
  ca.is_ca = true;
  ca.key_usage = kKeyUsageKeyCertSign | kKeyUsageCrlSign;
  ACON_TRY(Certificate root, issue_certificate(ca, root_key.public_key(), root_key, nullptr));
  CertificateRequest ee;
  ee.subject = {{"CN", "CoCo-Attestation-Service"}};
  ee.serial = {2};
  ee.not_before = around - 24h;
  ee.not_after = around + 24h * 30;
  ee.key_usage = kKeyUsageDigitalSignature;
  ACON_TRY(Certificate leaf, issue_certificate(ee, leaf_key.public_key(), root_key, &root));
  return EarPki{std::move(root_key), std::move(leaf_key), std::move(root), std::move(leaf)};
}

}  // namespace acon::test
