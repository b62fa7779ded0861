// acond's in-container IPC requests come from any process in any container: the parser must
// refuse every malformed message by value, and what it accepts must encode to a message that
// parses to the same request. Replies are parsed by clients inside containers: same rule.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "acon/acond/ipc.h"
#include "fuzz_support.h"

namespace ipc = acon::acond::ipc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  acon::ByteView input(data, size);
  if (auto request = ipc::parse_request(input)) {
    acon::Bytes encoded;
    if (auto* get = std::get_if<ipc::GetReportRequest>(&*request)) {
      encoded = ipc::encode_get_report_request(*get);
    } else if (auto* secret = std::get_if<ipc::GetSecretRequest>(&*request)) {
      encoded = ipc::encode_get_secret_request(*secret);
      // The path is the whole rest of the message.
      if (!std::equal(encoded.begin(), encoded.end(), input.begin(), input.end())) std::abort();
    } else {
      encoded = ipc::encode_set_attestation_data_request(
          std::get<ipc::SetAttestationDataRequest>(*request));
    }
    auto again = ipc::parse_request(encoded);
    if (!again || again->index() != request->index()) std::abort();
    if (auto* get = std::get_if<ipc::GetReportRequest>(&*again)) {
      const auto& first = std::get<ipc::GetReportRequest>(*request);
      if (get->attestation != first.attestation || get->nonce[0] != first.nonce[0] ||
          get->nonce[1] != first.nonce[1] || get->request_type != first.request_type) {
        std::abort();
      }
    }
  }
  if (auto reply = ipc::parse_reply(input)) {
    if (auto* get = std::get_if<ipc::GetReportReply>(&*reply)) {
      auto again = ipc::parse_reply(ipc::encode_get_report_reply(*get));
      if (!again) std::abort();
      const auto& back = std::get<ipc::GetReportReply>(*again);
      if (back.rtmr3_log != get->rtmr3_log || back.attestation_json != get->attestation_json ||
          back.data != get->data) {
        std::abort();
      }
    }
    if (auto* secret = std::get_if<ipc::GetSecretReply>(&*reply)) {
      auto encoded = ipc::encode_get_secret_reply(acon::view(secret->secret));
      if (!std::equal(encoded.begin(), encoded.end(), input.begin(), input.end())) std::abort();
    }
  }
  return 0;
}
