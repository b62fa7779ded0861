// ACON images signed with the test keys of tests/data/acon/certs (P-256, P-384, P-521 signers),
// for every test that needs a signed manifest: the appraisal's images checks and acond's
// AddManifest. Signing with the library's own functions is what these tests want: the image
// tests prove those functions against aconcli and ACON's vectors.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "acon/common/hash.h"
#include "acon/image/manifest.h"
#include "acon/image/signature.h"
#include "test_util.h"

namespace acon::test {

struct ImageSigner {
  PrivateKey key;
  Certificate cert;
  image::ImageIdentity identity;  // signer part only
  std::string rule_prefix;        // "HASH/SIGNER/", as launch-policy rules name a signer
};

inline ImageSigner load_image_signer(const std::string& name) {
  auto key = must(PrivateKey::from_pem(read_data("acon/certs/" + name + ".key.pem")));
  auto cert = must(Certificate::from_der(read_data_bytes("acon/certs/" + name + ".cert.der")));
  auto identity = must(image::image_identity(cert, ""));
  std::string prefix = std::string(hash_name(identity.hash)) + "/" + identity.signer_digest + "/";
  return {std::move(key), std::move(cert), std::move(identity), std::move(prefix)};
}

// A manifest as a client sends it: the exact bytes, their signature, the DER certificate, and the
// Image ID the receiver computes under `profile`.
struct SignedImage {
  std::string manifest;
  Bytes signature;
  Bytes certificate;
  std::string image_id;
};

inline SignedImage sign_image(const ImageSigner& signer, const image::Manifest& manifest,
                              image::CanonicalStyle style = image::CanonicalStyle::jq,
                              image::CertProfile profile = image::CertProfile::aconcli) {
  std::string bytes = must(image::serialize_manifest(manifest, style));
  Bytes signature = must(image::sign_manifest(bytes, signer.key, signer.cert));
  std::string image_id = must(image::image_identity(signer.cert, bytes, profile)).image_id();
  return {std::move(bytes), std::move(signature), signer.cert.der(), std::move(image_id)};
}

// An application image: one entrypoint, the given layers and launch-policy accepts.
inline image::Manifest app_manifest(std::vector<std::string> layers,
                                    std::vector<std::string> accepts, bool reject_unaccepted) {
  image::Manifest m;
  m.layers = std::move(layers);
  m.entrypoint = std::vector<std::string>{"/bin/app"};
  m.working_dir = "/";
  m.policy.accepts = std::move(accepts);
  m.policy.reject_unaccepted = reject_unaccepted;
  return m;
}

// A layer digest as manifests list them, derived from a name.
inline std::string layer_digest(std::string_view seed) {
  return "sha384/" + hex_encode(sha384(as_bytes(seed)));
}

}  // namespace acon::test
