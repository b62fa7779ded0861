// What the TDX driver and the host's quote service hand back is untrusted input to the TD: the
// TDREPORT parser and the legacy backend's GET_QUOTE response handling (tdx_quote_hdr, QGS v1.0
// GET_QUOTE_RESP framing) must reject every malformed answer without reading past the buffer.
// The fuzz input is the driver: its first 1024 bytes answer GET_REPORT0, the rest is copied into
// the shared GET_QUOTE buffer as the host's reply.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "acon/guest/tdx.h"
#include "fuzz_support.h"

namespace {

using acon::ByteView;
namespace guest = acon::guest;

class FuzzedDriver final : public guest::IoctlDevice {
 public:
  explicit FuzzedDriver(ByteView answer) : answer_(answer) {}

  int ioctl(unsigned long request, void* arg) override {
    if (request == guest::kTdxCmdGetReport0) {
      auto* req = static_cast<uint8_t*>(arg);
      const size_t n = std::min<size_t>(answer_.size(), 1024);
      if (n != 0) std::memcpy(req + 64, answer_.data(), n);
      return 0;
    }
    if (request == guest::kTdxCmdGetQuote) {
      uint64_t buf = 0, len = 0;
      std::memcpy(&buf, arg, 8);
      std::memcpy(&len, static_cast<uint8_t*>(arg) + 8, 8);
      ByteView reply = answer_.size() > 1024 ? answer_.subspan(1024) : ByteView{};
      const size_t n = std::min<size_t>(reply.size(), len);
      if (n != 0)
        std::memcpy(reinterpret_cast<void*>(static_cast<uintptr_t>(buf)), reply.data(), n);
      return 0;
    }
    return ENOTTY;
  }

 private:
  ByteView answer_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView input(data, size);
  auto report = acon::tdx::parse_tdreport(input);
  if (report.ok() && size != 1024) abort();

  guest::TdxLegacyBackend backend(std::make_unique<FuzzedDriver>(input), "/nonexistent");
  guest::ReportData report_data{};
  auto quote = backend.quote(report_data);
  if (quote.ok() && quote->empty()) abort();
  (void)backend.read(3, acon::HashAlg::sha384);
  return 0;
}
