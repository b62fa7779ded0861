// RVPS message parsing never crashes; what registers survives the store's JSON record form
// unchanged, and every registered value is valid at registration time.
#include <cstdint>
#include <cstdlib>

#include "acon/appraisal/reference_values.h"
#include "acon/common/bytes.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace acon;
  using namespace acon::appraisal;
  const Time now = Time(std::chrono::seconds(1767225600));
  ReferenceValueStore store;
  auto names = store.register_message(as_chars(ByteView(data, size)), now);
  if (!names.ok()) return 0;
  for (const auto& name : *names) {
    if (!store.get(name, now).ok()) std::abort();
  }
  auto back = ReferenceValueStore::from_json(store.to_json());
  if (!back.ok() || back->to_json() != store.to_json()) std::abort();
  return 0;
}
