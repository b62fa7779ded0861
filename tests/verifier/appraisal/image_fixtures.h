// ACON images signed for the appraisal tests with the test keys of tests/data/acon/certs (P-384,
// P-521, P-256 signers), as a relying party receives them.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "acon/appraisal/evidence.h"
#include "acon/common/hash.h"
#include "acon/image/manifest.h"
#include "acon/image/signature.h"
#include "test_util.h"

namespace acon::appraisal::test_images {

struct Signer {
  PrivateKey key;
  Certificate cert;
  image::ImageIdentity identity;  // signer part only
  std::string rule_prefix;        // "HASH/SIGNER/"
};

inline Signer load_signer(const std::string& name) {
  auto key = PrivateKey::from_pem(test::read_data("acon/certs/" + name + ".key.pem"));
  auto cert = Certificate::from_der(test::read_data_bytes("acon/certs/" + name + ".cert.der"));
  EXPECT_TRUE(key.ok() && cert.ok()) << name;
  auto identity = image::image_identity(*cert, "");
  EXPECT_TRUE(identity.ok()) << name;
  std::string prefix = std::string(hash_name(identity->hash)) + "/" + identity->signer_digest + "/";
  return {std::move(*key), std::move(*cert), *identity, prefix};
}

struct Signed {
  ProvidedImage provided;
  std::string image_id;
};

inline Signed sign(const Signer& signer, const image::Manifest& manifest, const std::string& name) {
  auto bytes = image::serialize_manifest(manifest);
  EXPECT_TRUE(bytes.ok()) << (bytes ? "" : bytes.error().message);
  auto sig = image::sign_manifest(*bytes, signer.key, signer.cert);
  EXPECT_TRUE(sig.ok()) << (sig ? "" : sig.error().message);
  auto identity = image::image_identity(signer.cert, *bytes);
  EXPECT_TRUE(identity.ok());
  return {{name, to_bytes(*bytes), *sig, signer.cert.der()}, identity->image_id()};
}

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

inline std::string layer_digest(std::string_view seed) {
  return "sha384/" + hex_encode(sha384(as_bytes(seed)));
}

inline std::string add_manifest(const std::string& image_id) {
  return "github.com/intel/ACON AddManifest " + image_id;
}
inline const std::string kFinalizeText = "github.com/intel/ACON Finalize";

}  // namespace acon::appraisal::test_images
