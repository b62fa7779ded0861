// The KBS report-data binding (CoCo's RCAR): how a TEE's REPORTDATA commits to the challenge
// nonce, its ephemeral TEE key and the additional evidence. The attester (acon-kbs-client, acond)
// computes it before asking for a quote; the verifier (acon::appraisal) recomputes and compares.
#pragma once

#include <string>
#include <string_view>

#include "acon/common/bytes.h"
#include "acon/common/json.h"

namespace acon {

// {"tee-pubkey", "nonce", "additional-evidence"} with the tee-pubkey re-serialised to the members
// kbs-types' typed TeePubKey keeps: kty, crv, alg, x, y (EC), kty, alg, n, e (RSA), kty, alg, pub
// (AKP). Other JWK members are dropped, as the KBS drops them before hashing; a missing one is an
// error naming it. "additional-evidence" is always present ("" when there is none).
Result<Json> kbs_runtime_data_object(std::string_view nonce, const Json& tee_pubkey,
                                     std::string_view additional_evidence);
// RFC 8785 (JCS) text of that object.
Result<std::string> kbs_runtime_data_jcs(std::string_view nonce, const Json& tee_pubkey,
                                         std::string_view additional_evidence);
// SHA-384 of the JCS text, zero-padded to `size` bytes (64 for TDX REPORTDATA); a `size` below
// the digest's 48 bytes is invalid_argument.
Result<Bytes> kbs_report_data(std::string_view nonce, const Json& tee_pubkey,
                              std::string_view additional_evidence, size_t size = 64);

}  // namespace acon
