// Policy TOML parsing never crashes, and a policy that parses evaluates over a fixed claims
// document (TDX claims with an event log, images, checks, reference values one of which has
// expired) to a full vector whose status is its worst tier and whose every claim is explained.
#include <cstdint>
#include <cstdlib>

#include "acon/appraisal/policy.h"
#include "acon/common/bytes.h"
#include "fuzz_support.h"

namespace {

using namespace acon;
using namespace acon::appraisal;

const Time kNow = Time(std::chrono::seconds(1767225600));

const Json& claims() {
  static const Json doc = *parse_json(R"json({
    "tdx": {"quote": {"header": {"tee_type": "81000000"},
                      "body": {"mr_td": "aa11", "tcb_svn": "03010200", "xfam": "e7"}},
            "td_attributes": {"debug": false}, "tcb_status": "OutOfDate",
            "advisory_ids": ["INTEL-SA-00837"], "pce.svn": 13,
            "uefi_event_logs": [{"type_name": "EV_EFI_BOOT_SERVICES_APPLICATION",
                                 "details": {"device_paths": ["File(kernel)"]},
                                 "digests": [{"alg": "SHA-384", "digest": "bb"}]}]},
    "report_data": "00", "init_data": "00", "init_data_claims": null,
    "acon": {"simulated": true,
             "images": [{"image_id": "img-a", "signer_digest": "5a",
                         "verdict": {"acond": "accepted"}}],
             "runtime_events": [{"type": "AddManifest"}]}})json");
  return doc;
}

const ReferenceValueStore& references() {
  static const ReferenceValueStore store = [] {
    ReferenceValueStore s;
    s.put({std::string(kRvpsVersion), "mr_td", kNow + std::chrono::hours(24), {"aa11"}});
    s.put({std::string(kRvpsVersion), "tdvfkernel", kNow - std::chrono::seconds(1), {"bb"}});
    return s;
  }();
  return store;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const CheckResults checks = {
      {"quote.signature", Outcome::pass, "", nullptr},
      {"replay.rtmr3", Outcome::fail, "RTMR3 differs", nullptr},
  };
  auto policy = parse_policy(as_chars(ByteView(data, size)), "fuzz.toml");
  if (!policy.ok()) return 0;
  auto appraisal = evaluate(*policy, claims(), checks, references(), kNow);
  if (!appraisal.ok()) std::abort();
  if (appraisal->status != appraisal->trust_vector.tier()) std::abort();
  for (size_t i = 0; i < kTrustClaimCount; ++i) {
    const Explanation& e = appraisal->explanations[i];
    if (!appraisal->trust_vector.claims[i] || *appraisal->trust_vector.claims[i] != e.value ||
        e.rule.empty() || e.reason.empty()) {
      std::abort();
    }
  }
  return 0;
}
