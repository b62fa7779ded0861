// acon-verify's options and commands (main.cc wires the command line to them): `quote` and
// `claims` in quote_commands.cc, `appraise` and `evidence` in appraisal_commands.cc.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "acon/appraisal/checks.h"
#include "acon/common/bytes.h"
#include "acon/dcap/verify.h"
#include "acon/report/evidence_source.h"

namespace acon::verify_tool {

struct Inputs {
  std::string quote;
  std::string collateral;
  std::string pcs;  // PCS or PCCS base URL; collateral fetched for the quote's platform
  bool pccs = false;
  std::string root_crl_url;
  std::string cache_dir;  // on-disk collateral cache for --pcs
  bool offline = false;
  std::optional<std::string> time;
  std::string root;
  bool json = false;
  bool strict = false;
  bool allow_collateral_pck_chain = false;
  std::string eventlog;  // claims: the TD's CCEL event log
  bool compact = false;  // claims: one-line JSON
  // appraise:
  std::string evidence;                       // bundle directory or evidence JSON
  std::string policy;                         // policy TOML
  std::vector<std::string> reference_values;  // RVPS messages
  std::optional<std::string> nonce;           // the challenge nonce the runtime data must carry
  std::optional<Bytes> requestor_nonce;       // the nonce sent in acond's Report request
  std::vector<std::string> audience;
  std::string ear_key;  // P-256 private key (PEM) to sign the EAR with
  // evidence:
  report::EvidenceSource source;     // bundle, KBS request, files one by one, or acond
  std::vector<std::string> tpm_aks;  // pinned vTPM AKs (PEM): appraise and evidence
  bool allow_simulated = false;
  bool report_json = false;
  std::string html;
  bool no_color = false;
};

// The options every command shares: verification time (default now), expiry rule, where the
// PCK chain may come from, and --root, which replaces the pinned Intel root (DER or PEM).
Result<dcap::VerifyOptions> verify_options(const Inputs& in);
// The appraisal library's evidence options with those.
appraisal::AppraisalOptions appraisal_options(const dcap::VerifyOptions& verify);

int cmd_quote(const Inputs& in);
int cmd_claims(const Inputs& in);
int cmd_appraise(const Inputs& in);
int cmd_evidence(const Inputs& in);

}  // namespace acon::verify_tool
