// The attestation policy a KBS uses until one is configured or stored: Trustee's default CPU
// policy in acon's policy format (verifier/appraisal/policies/default_cpu.toml).
#pragma once

#include <string_view>

namespace acon::kbs {

std::string_view default_attestation_policy();

}  // namespace acon::kbs
