// acond's attestation_data: the JSON its Report binds into REPORTDATA, written by acond and read
// back by a verifier (binding.acon). The layout is ACON's at commit 3430805 (acond/src/pod.rs,
// report.rs): serde_json's compact output, members in this order, images sorted by Image ID.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/bytes.h"
#include "acon/common/result.h"

namespace acon::image {

// The nonce of a Report request: the u128 (nonce_hi << 64) | nonce_lo as 16 little-endian bytes.
Bytes requestor_nonce(uint64_t nonce_lo, uint64_t nonce_hi);

// Every loaded image (Image ID) with the IDs of its containers, running or exited.
using AttestedImages = std::map<std::string, std::vector<uint32_t>>;

// What a container attached through acond's in-container IPC: ACON's type (0 none, 1 binary,
// 2 string) and its text (UTF-8; empty for type 0).
struct ContainerAttestation {
  int32_t type = 0;
  std::string data;
};
using ContainerAttestations = std::map<uint32_t, ContainerAttestation>;

// {"api_version":"1.0.0","requestor_nonce":[16 ints],"acond_nonce":[16 ints],
//  "attestation_data":{"<Image ID>":{"<cid>":{},...},...}}: images sorted by ID, containers by
// number (ACON's BTreeMap<String, BTreeMap<u32, _>>), container IDs as string keys. A container
// listed in `attached` is {"type":N,"data":"<text>"} (serde_json's escaping), any other {}.
std::string write_attestation_data(ByteView requestor_nonce, ByteView acond_nonce,
                                   const AttestedImages& images,
                                   const ContainerAttestations& attached = {});

// REPORTDATA as acond binds it: SHA-384 of the exact bytes, then 16 zero bytes (64 bytes).
Bytes attestation_report_data(ByteView attestation_data);

// The requestor_nonce member read back: 16 values 0..255. Errc::parse naming what is wrong.
Result<Bytes> read_requestor_nonce(std::string_view attestation_data);

}  // namespace acon::image
