// The TDX claims document. See claims.h and docs/claims.md.
#include "acon/appraisal/claims.h"

#include <map>
#include <string>

#include "acon/dcap/claims.h"
#include "acon/eventlog/replay.h"
#include "acon/eventlog/trustee.h"

namespace acon::appraisal {
namespace {

CheckResult dcap_check(const tdx::Quote& quote, const dcap::QuoteVerdict& verdict) {
  CheckResult check{"quote.dcap", Outcome::pass, "", nullptr};
  Json detail = {{"status", dcap::qvl_status_text(verdict.status)},
                 {"tcb_status", dcap::trustee_tcb_status(verdict.qv_result)},
                 {"collateral_expiration_status", verdict.collateral_expired ? "1" : "0"}};
  if (quote.td_report() == nullptr) {
    check.outcome = Outcome::fail;
    check.reason = "the quote carries no TD report (SGX quote); Trustee's TDX verifier refuses it";
  } else if (!verdict.accepted) {
    check.outcome = Outcome::fail;
    check.reason = "DCAP verification ended in " + dcap::qvl_status_text_label(verdict.status) +
                   (verdict.failure.empty() ? "" : ": " + verdict.failure) +
                   "; Trustee issues no claims for a terminal result";
  } else {
    check.reason = "DCAP verification ended in " + dcap::qvl_status_text_label(verdict.status) +
                   ", an acceptable result";
  }
  check.detail = std::move(detail);
  return check;
}

// Trustee compares CC MR 1..4 in the SHA-384 bank with RTMR0..3 and nothing else.
CheckResult replay_check(const eventlog::EventLog& log, const tdx::TdReport10& td) {
  CheckResult check{"ccel.replay", Outcome::pass, "", nullptr};
  eventlog::Replayer replayer;
  if (Status replayed = eventlog::replay(log, replayer); !replayed) {
    check.outcome = Outcome::fail;
    check.reason = "the event log does not replay: " + replayed.error().message;
    return check;
  }
  std::map<uint32_t, Bytes> expected;
  for (uint32_t rtmr = 0; rtmr < 4; ++rtmr)
    expected[tdx::ccel_mr_index_of_rtmr(rtmr)] = Bytes(td.rtmr[rtmr].begin(), td.rtmr[rtmr].end());
  Json registers = Json::array();
  std::string mismatched;
  for (const auto& c : eventlog::compare(replayer, HashAlg::sha384, expected)) {
    registers.push_back({{"register", std::string(eventlog::mr_name(c.index))},
                         {"expected", hex_encode(c.expected)},
                         {"replayed", hex_encode(c.replayed)},
                         {"match", c.match}});
    if (!c.match)
      mismatched += (mismatched.empty() ? "" : ", ") + std::string(eventlog::mr_name(c.index));
  }
  check.detail = {{"registers", std::move(registers)}};
  if (mismatched.empty()) {
    check.reason = "CC MR 1..4 of the event log replay (SHA-384) to RTMR0..3 of the quote";
  } else {
    check.outcome = Outcome::fail;
    check.reason = "the event log does not replay to the quote's " + mismatched;
  }
  return check;
}

}  // namespace

ClaimsDocument tdx_claims(const tdx::Quote& quote, const dcap::QuoteVerdict& verdict,
                          const eventlog::EventLog* ccel) {
  ClaimsDocument doc;
  Json tdx = dcap::quote_claims(quote);
  doc.claims = Json::object();
  for (const char* lifted : {"report_data", "init_data"}) {
    if (tdx.contains(lifted)) {
      doc.claims[lifted] = tdx[lifted];
      tdx.erase(lifted);
    }
  }
  Json tcb = dcap::tcb_claims(verdict);
  for (auto it = tcb.begin(); it != tcb.end(); ++it) tdx[it.key()] = it.value();
  doc.checks.push_back(dcap_check(quote, verdict));

  const tdx::TdReport10* td = quote.td_report();
  if (ccel == nullptr) {
    doc.checks.push_back({"ccel.replay", Outcome::skipped, "no CCEL event log was given", nullptr});
  } else if (td == nullptr) {
    doc.checks.push_back(
        {"ccel.replay", Outcome::skipped, "an SGX quote has no RTMRs to replay against", nullptr});
  } else if (auto entries = eventlog::trustee_uefi_event_logs(*ccel); !entries) {
    doc.checks.push_back({"ccel.replay", Outcome::fail,
                          "Trustee's event-log parser refuses this log: " + entries.error().message,
                          nullptr});
  } else {
    tdx["uefi_event_logs"] = std::move(*entries);
    doc.checks.push_back(replay_check(*ccel, *td));
  }
  doc.claims["tdx"] = std::move(tdx);
  doc.claims["acon"] = {{"simulated", verdict.simulated}};
  return doc;
}

}  // namespace acon::appraisal
