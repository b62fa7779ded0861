// libcbor ownership and the COSE_Sign1 layout used for the EAR CWT; private to acon_appraisal.
#pragma once

#include <cbor.h>

#include <memory>
#include <vector>

#include "acon/appraisal/ear.h"

namespace acon::appraisal {

struct CborRelease {
  void operator()(cbor_item_t* item) const { cbor_decref(&item); }
};
// One reference to a libcbor item; containers take their own references when items are added.
using CborPtr = std::unique_ptr<cbor_item_t, CborRelease>;

// COSE algorithm ES256 (RFC 9053 §2.1) and header labels (RFC 9052 §3.1, RFC 9360 §2).
inline constexpr int64_t kCoseAlgEs256 = -7;
inline constexpr int64_t kCoseLabelAlg = 1;
inline constexpr int64_t kCoseLabelX5chain = 33;
inline constexpr uint64_t kCoseSign1Tag = 18;

// The serialized protected header {1: -7, 33: x5chain} (x5chain omitted for an empty chain; one
// certificate as a bstr, more as an array of bstr, RFC 9360).
Result<Bytes> cose_protected_header(const std::vector<Certificate>& chain);
// Sig_structure = ["Signature1", protected, h'', payload] (RFC 9052 §4.4), serialized.
Result<Bytes> cose_sig_structure(ByteView protected_header, ByteView payload);
// 18([protected, {}, payload, signature]).
Result<Bytes> cose_sign1_encode(ByteView protected_header, ByteView payload, ByteView signature);

struct CoseSign1 {
  Bytes protected_header;  // as serialized, for the Sig_structure
  std::optional<int64_t> alg;
  std::vector<Bytes> x5chain;  // DER, leaf first
  Bytes payload;
  size_t payload_offset = 0;  // of the payload's bytes within the message
  Bytes signature;
};
// Structure only; the alg, chain and signature are judged by the caller.
Result<CoseSign1> cose_sign1_decode(ByteView message);

}  // namespace acon::appraisal
