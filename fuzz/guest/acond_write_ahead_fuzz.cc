// acond's write-ahead record is read back from disk at start-up, after a crash that may have torn
// it anywhere: the reader must refuse every malformed file by value, and a record it accepts must
// encode back to the same bytes (so recovery appends exactly what was written ahead).
#include <cstdint>
#include <cstdlib>

#include "acon/acond/measurement_log.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  acon::ByteView input(data, size);
  auto record = acon::acond::parse_write_ahead(input);
  if (!record) return 0;
  if (record->expected_register.size() != 48 || record->extend_digest.size() != 48 ||
      record->record.empty()) {
    std::abort();
  }
  acon::Bytes encoded = acon::acond::encode_write_ahead(*record);
  if (encoded != acon::Bytes(input.begin(), input.end())) std::abort();
  return 0;
}
