// The audit log's export parser never crashes; an accepted line survives re-export unchanged, and
// verifying it (as an auditor's tool would, against any key) never crashes either.
#include <cstdint>
#include <cstdlib>

#include "acon/kbs/audit.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto record = acon::kbs::audit_record_from_line(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!record) return 0;
  auto again = acon::kbs::audit_record_from_line(acon::kbs::audit_record_to_line(*record));
  if (!again || !(*again == *record)) std::abort();
  static const acon::PublicKey key = [] {
    auto k = acon::PrivateKey::generate_ed25519();
    if (!k) std::abort();
    return k->public_key();
  }();
  acon::kbs::AuditVerifier verifier(key, acon::kbs::AuditHead{record->seq - 1, record->prev_hash});
  (void)verifier.add(*record);
  (void)verifier.finish();
  return 0;
}
