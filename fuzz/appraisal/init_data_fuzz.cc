// Init-data TOML as Trustee reads it never crashes on arbitrary input; what parses has the
// digest of its algorithm over the exact input and an object of claims.
#include <cstdint>
#include <cstdlib>

#include "acon/appraisal/checks.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace acon;
  using namespace acon::appraisal;
  InitData init_data{"toml", std::string(reinterpret_cast<const char*>(data), size)};
  auto parsed = parse_init_data(init_data);
  if (!parsed.ok()) return 0;
  auto expected = digest(parsed->algorithm, std::string_view(init_data.body));
  if (!expected.ok() || *expected != parsed->digest || !parsed->claims.is_object()) std::abort();
  Bytes mr_config_id(48, 0);
  (void)check_init_data(mr_config_id, init_data);
  return 0;
}
