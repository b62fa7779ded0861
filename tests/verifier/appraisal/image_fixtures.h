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
#include "image/signed_images.h"
#include "test_util.h"

namespace acon::appraisal::test_images {

using test::app_manifest;
using test::layer_digest;
using Signer = test::ImageSigner;

inline Signer load_signer(const std::string& name) { return test::load_image_signer(name); }

struct Signed {
  ProvidedImage provided;
  std::string image_id;
};

inline Signed sign(const Signer& signer, const image::Manifest& manifest, const std::string& name) {
  test::SignedImage image = test::sign_image(signer, manifest);
  return {
      {name, to_bytes(image.manifest), std::move(image.signature), std::move(image.certificate)},
      std::move(image.image_id)};
}

inline std::string add_manifest(const std::string& image_id) {
  return "github.com/intel/ACON AddManifest " + image_id;
}
inline const std::string kFinalizeText = "github.com/intel/ACON Finalize";

}  // namespace acon::appraisal::test_images
