// Fuzzes ACON manifest parsing, validation and canonicalisation. Parse errors are parse errors
// naming the manifest; canonical text (jq and Go styles) is a fixed point of canonicalisation;
// a model that serialises parses back to the same model.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "acon/image/manifest.h"
#include "fuzz_support.h"

namespace {

using namespace acon::image;

void check_canonical(std::string_view text, CanonicalStyle style) {
  auto canon = canonicalize_json(text, style);
  if (!canon.ok()) return;
  auto again = canonicalize_json(*canon, style);
  if (!again.ok() || *again != *canon) abort();
  if (canon->find('\n') != std::string::npos) abort();  // compact: newlines only as \n escapes
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_canonical(text, CanonicalStyle::jq);
  check_canonical(text, CanonicalStyle::go);

  auto m = parse_manifest(text);
  if (!m.ok()) {
    if (m.error().code != acon::Errc::parse) abort();
    if (!m.error().message.starts_with("manifest")) abort();
    return 0;
  }
  if (m->raw != text) abort();
  // A parsed manifest is valid JSON, so both canonical forms exist unless a number is outside
  // float64 (Go refuses those).
  if (!canonicalize_json(text, CanonicalStyle::jq).ok()) abort();
  auto problems = manifest_problems(*m);
  if (validate_manifest(*m).ok() != problems.empty()) abort();

  for (CanonicalStyle style : {CanonicalStyle::jq, CanonicalStyle::go}) {
    auto bytes = serialize_manifest(*m, style);
    if (!bytes.ok()) {
      if (bytes.error().code != acon::Errc::invalid_argument) abort();
      continue;
    }
    auto back = parse_manifest(*bytes);
    if (!back.ok()) abort();
    auto again = serialize_manifest(*back, style);  // serialisation is a fixed point
    if (!again.ok() || *again != *bytes) abort();
    if (manifest_problems(*back).size() != problems.size()) abort();
  }
  return 0;
}
