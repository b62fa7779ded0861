// Shared between the EAR encoders and the token code; not part of the public API.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "acon/appraisal/ear.h"
#include "acon/common/hash.h"

namespace acon::appraisal {

// 9999-12-31T23:59:59Z: times beyond it cannot be compared with a leeway without overflow and
// are not what an attestation result means.
inline constexpr int64_t kMaxEarTimeSeconds = 253402300799;
Result<Time> time_from_seconds(int64_t seconds, std::string_view field);

// ear_to_json_text appending to `out` (sign_ear_jwt writes into a per-thread buffer). False when
// the text does not hold the EAR's own values (append_compact_json).
bool append_ear_json_text(std::string& out, const Ear& ear);

// Where the first submod's prewritten uefi_event_logs entries belong in a claims text written
// without them: their text goes at `offset` of what append_ear_json_text(out, ear, &splice)
// wrote. `entries` is null when nothing was left out; the exactness returned includes the
// left-out entries'.
struct ClaimsSplice {
  size_t offset = 0;
  std::shared_ptr<const PrewrittenEntries> entries;
};
bool append_ear_json_text(std::string& out, const Ear& ear, ClaimsSplice* splice);

// The beginning of JWTs whose claims start with the same text up to the end of the same
// prewritten entries (all tokens of one signer for TDs of one image): the token's text that far
// in whole base64 groups, the claims bytes left over after them, and the SHA-256 state of the
// signing input that far.
struct JwtPrefix {
  std::string head;  // the claims text before the entries
  std::shared_ptr<const PrewrittenEntries> entries;
  std::string token_text;  // header "." base64url(the first 3k bytes of head + entries text)
  std::string leftover;    // the remaining 0..2 bytes of head + entries text
  Hasher signing_state;    // SHA-256 after token_text
};

// A signer's few most recently used prefixes. Entries are matched on the head's bytes and the
// prewritten entries' identity (immutable, kept alive by the cache), so a hit is exactly the
// prefix that would be computed.
struct JwtPrefixCache {
  static constexpr size_t kMaxPrefixes = 8;
  std::mutex mutex;
  std::vector<std::shared_ptr<const JwtPrefix>> prefixes;  // most recently used first
};

// Walks the CBOR item heads of `data` without building anything: refuses nesting deeper than
// `max_depth`, truncation and reserved encodings, naming the byte offset (plus `base_offset`).
// libcbor's decref recurses, so depth is bounded before anything is built.
Status check_cbor_structure(ByteView data, size_t max_depth, size_t base_offset);

}  // namespace acon::appraisal
