// Resource policy TOML parsing never crashes, and a policy that parses evaluates over a fixed EAR
// (two submods, images, a simulated flag) for several paths and TEEs to a decision that
// names its policy and rule, gives a reason, and allows only through an allow rule.
#include <cstdint>
#include <cstdlib>

#include "acon/appraisal/ear.h"
#include "acon/common/bytes.h"
#include "acon/kbs/resource_policy.h"
#include "fuzz_support.h"

namespace {

using namespace acon;

const appraisal::Ear& fixed_ear() {
  static const appraisal::Ear claims = [] {
    appraisal::TrustVector affirming;
    affirming.set(appraisal::TrustClaim::hardware, 2);
    affirming.set(appraisal::TrustClaim::executables, 3);
    appraisal::TrustVector warning = affirming;
    warning.set(appraisal::TrustClaim::executables, 33);
    Json evidence = *parse_json(R"json({
      "tdx": {"td_attributes": {"debug": false}, "tcb_status": "UpToDate", "pce.svn": 13},
      "report_data": "00", "runtime_data_claims": {"nonce": "n"},
      "acon": {"simulated": true,
               "images": [{"image_id": "sha384/5a/01", "signer_digest": "5a",
                           "verdict": {"acond": "accepted"}}]}})json");
    appraisal::Ear ear;
    ear.iat = Time(std::chrono::seconds(1767225600));
    ear.verifier_id = {"acon", "fuzz"};
    ear.submods["cpu0"] = appraisal::Submod::from_vector(affirming, "default", evidence);
    ear.submods["gpu0"] = appraisal::Submod::from_vector(warning, "default", evidence);
    return ear;
  }();
  return claims;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto policy = kbs::parse_resource_policy(as_chars(ByteView(data, size)), "fuzz.toml");
  if (!policy.ok()) return 0;
  for (std::string_view path : {"default/key/1", "secrets/admin-key/v1", "bad/path"}) {
    for (std::string_view tee : {"tdx", "sgx"}) {
      kbs::Decision d = kbs::evaluate(*policy, fixed_ear(), path, tee);
      if (d.policy_id != policy->id || d.rule.empty() || d.reason.empty()) std::abort();
      if (!d.allow) continue;
      // An allow names the rule that decided, and that rule allows.
      if (!d.rule.starts_with("rules[")) std::abort();
      size_t index = std::strtoul(d.rule.c_str() + 6, nullptr, 10);
      if (index == 0 || index > policy->rules.size() ||
          policy->rules[index - 1].effect != kbs::Effect::allow) {
        std::abort();
      }
    }
  }
  return 0;
}
