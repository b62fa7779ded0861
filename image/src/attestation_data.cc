#include "acon/image/attestation_data.h"

#include <algorithm>

#include "acon/common/hash.h"
#include "acon/common/json.h"

namespace acon::image {
namespace {

void append_byte_array(std::string& out, ByteView bytes) {
  out += '[';
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(bytes[i]);
  }
  out += ']';
}

}  // namespace

Bytes requestor_nonce(uint64_t nonce_lo, uint64_t nonce_hi) {
  Bytes out;
  for (uint64_t half : {nonce_lo, nonce_hi})
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(half >> (8 * i)));
  return out;
}

std::string write_attestation_data(ByteView requestor_nonce, ByteView acond_nonce,
                                   const AttestedImages& images,
                                   const ContainerAttestations& attached) {
  std::string out = R"({"api_version":"1.0.0","requestor_nonce":)";
  append_byte_array(out, requestor_nonce);
  out += R"(,"acond_nonce":)";
  append_byte_array(out, acond_nonce);
  out += R"(,"attestation_data":{)";
  bool first_image = true;
  for (const auto& [image_id, containers] : images) {
    if (!first_image) out += ',';
    first_image = false;
    out += Json(image_id).dump();
    out += ":{";
    std::vector<uint32_t> sorted = containers;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (i) out += ',';
      out += "\"" + std::to_string(sorted[i]) + "\":";
      auto found = attached.find(sorted[i]);
      if (found == attached.end()) {
        out += "{}";
      } else {
        // nlohmann escapes as serde_json does: \" \\ \b \f \n \r \t, other control
        // characters as lower-case \u00xx, '/' and non-ASCII as they are.
        out += "{\"type\":" + std::to_string(found->second.type) +
               ",\"data\":" + Json(found->second.data).dump() + "}";
      }
    }
    out += '}';
  }
  out += "}}";
  return out;
}

Bytes attestation_report_data(ByteView attestation_data) {
  Bytes out = sha384(attestation_data);
  out.resize(64, 0);
  return out;
}

Result<Bytes> read_requestor_nonce(std::string_view attestation_data) {
  auto json = parse_json(attestation_data);
  if (!json) return make_error(Errc::parse, "attestation_data: not JSON: " + json.error().message);
  const Json* nonce = json->is_object() && json->contains("requestor_nonce")
                          ? &(*json)["requestor_nonce"]
                          : nullptr;
  Bytes out;
  if (nonce && nonce->is_array() && nonce->size() == 16)
    for (const Json& byte : *nonce)
      if (byte.is_number_unsigned() && byte.get<uint64_t>() <= 255)
        out.push_back(static_cast<uint8_t>(byte.get<uint64_t>()));
  if (out.size() != 16)
    return make_error(Errc::parse,
                      "attestation_data.requestor_nonce: missing or not 16 byte values");
  return out;
}

}  // namespace acon::image
