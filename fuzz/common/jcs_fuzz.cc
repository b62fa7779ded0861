// Fuzzes the strict JSON parser and RFC 8785 canonicalisation: canonical output must parse
// again and canonicalise to itself (JCS is idempotent); and what parse_json accepts, nlohmann's
// parser accepts with the same tree, type for type (parse_json's fast path must not differ).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "acon/common/json.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = acon::parse_json(text);
  if (!parsed.ok()) {
    if (parsed.error().code != acon::Errc::parse) abort();
    return 0;
  }
  const acon::Json reference =
      acon::Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (reference.is_discarded() || !acon::same_json_tree(*parsed, reference)) abort();
  (void)acon::dump_compact(*parsed);

  // Whatever the strict parser accepts (valid UTF-8, finite numbers, bounded depth) JCS can
  // express.
  auto canonical = acon::jcs_canonicalize(*parsed);
  if (!canonical.ok()) abort();

  // The text entry point must agree with parse + canonicalise.
  auto direct = acon::jcs_canonicalize_text(text);
  if (!direct.ok() || *direct != *canonical) abort();

  auto again = acon::jcs_canonicalize_text(*canonical);
  if (!again.ok() || *again != *canonical) abort();
  return 0;
}
