// Evidence checks: quote, bindings, and the appraisal that runs them all (checks.h). Replay of
// the logs is in checks_replay.cc, init-data in init_data.cc.
#include "acon/appraisal/checks.h"

#include <algorithm>
#include <cstdio>

#include "acon/common/kbs_binding.h"
#include "acon/eventlog/event_log.h"
#include "acon/image/attestation_data.h"

#include "acon/appraisal/claims.h"
#include "acon/dcap/claims.h"
#include "acon/tdx/quote.h"
#include "firmware_log.h"
#include "tdx_logs.h"

namespace acon::appraisal {
namespace {

CheckResult named(std::string name, Outcome outcome, std::string reason, Json detail = nullptr) {
  return CheckResult{std::move(name), outcome, std::move(reason), std::move(detail)};
}

constexpr std::string_view kSimulatedLabel =
    " - SIMULATED platform (ACON simulator's root CA was configured as a trust anchor): this is "
    "not evidence of real hardware";

// The configured collateral is used in place (it is read-only and holds the TCB info, QE
// identity, CRLs and chain, tens of KB that a copy per appraisal would duplicate); collateral
// that comes with the evidence or from a fetch is owned by `owned`.
Result<const dcap::Collateral*> collateral_for(const tdx::Quote& quote, const Evidence& evidence,
                                               const AppraisalOptions& options,
                                               std::optional<dcap::Collateral>& owned) {
  if (evidence.collateral) {
    auto collateral = dcap::parse_collateral_bundle(*evidence.collateral);
    if (!collateral) return collateral.error().wrap("evidence collateral");
    return &owned.emplace(std::move(*collateral));
  }
  if (options.collateral) return &*options.collateral;
  if (options.fetcher) {
    auto collateral = options.fetcher->fetch_for_quote(quote, options.at);
    if (!collateral) return collateral.error().wrap("collateral fetch");
    return &owned.emplace(std::move(*collateral));
  }
  return make_error(Errc::not_found,
                    "no collateral: the evidence carries none and no collateral or PCS fetcher "
                    "was configured");
}

QuoteChecks check_dcap_quote(const Evidence& evidence, const AppraisalOptions& options) {
  QuoteChecks out;
  out.signature.name = "quote.signature";
  out.tcb.name = "quote.tcb";
  const Bytes& bytes = evidence.platform == Platform::tdx ? evidence.tdx.quote : evidence.sgx.quote;
  auto skip_tcb = [&out](std::string why) {
    out.tcb.outcome = Outcome::skipped;
    out.tcb.reason = std::move(why);
  };
  auto quote = tdx::parse_quote(bytes);
  if (!quote) {
    out.signature.outcome = Outcome::error;
    out.signature.reason = "the quote does not parse: " + quote.error().message;
    skip_tcb("the quote does not parse");
    return out;
  }
  if (quote->is_tdx() != (evidence.platform == Platform::tdx)) {
    out.signature.outcome = Outcome::error;
    out.signature.reason = std::string("the evidence is for ") +
                           std::string(platform_name(evidence.platform)) + " but the quote is " +
                           (quote->is_tdx() ? "a TDX quote" : "an SGX quote");
    skip_tcb("the quote is for another platform");
    return out;
  }
  std::optional<dcap::Collateral> owned_collateral;
  auto collateral = collateral_for(*quote, evidence, options, owned_collateral);
  if (!collateral) {
    out.signature.outcome = Outcome::error;
    out.signature.reason = "the quote cannot be verified: " + collateral.error().message;
    skip_tcb("the quote was not verified");
    return out;
  }
  dcap::VerifyOptions verify;
  verify.at = options.at;
  verify.anchors = options.anchors;
  verify.strict_expiry = options.strict_expiry;
  verify.allow_collateral_pck_chain = options.allow_collateral_pck_chain;
  verify.cache = options.cache;
  auto verdict = dcap::verify_quote(*quote, **collateral, verify);
  if (!verdict) {
    out.signature.outcome = Outcome::error;
    out.signature.reason = "the quote cannot be verified: " + verdict.error().message;
    skip_tcb("the quote was not verified");
    return out;
  }
  out.simulated = verdict->simulated;
  const std::string label = out.simulated ? std::string(kSimulatedLabel) : std::string();
  const std::string status = dcap::qvl_status_text_label(verdict->status);
  Json detail = dcap::verdict_json(*verdict);
  out.signature.detail = detail;
  out.tcb.detail = std::move(detail);
  if (!verdict->tcb) {
    out.signature.outcome = Outcome::fail;
    out.signature.reason = "DCAP verification failed with " + status +
                           (verdict->failure.empty() ? "" : ": " + verdict->failure) + label;
    skip_tcb("the quote's signatures did not verify, so no TCB level applies");
  } else {
    out.signature.outcome = Outcome::pass;
    out.signature.reason =
        "the PCK chain, collateral, QE report and quote signature verify" + label;
    const std::string tcb_status(dcap::tcb_status_name(verdict->tcb->tcb_status));
    if (verdict->accepted) {
      out.tcb.outcome = Outcome::pass;
      out.tcb.reason = "TCB status " + tcb_status + " (" + status + ") is acceptable" +
                       (verdict->collateral_expired ? ", on expired collateral" : "") + label;
    } else {
      out.tcb.outcome = Outcome::fail;
      out.tcb.reason = "TCB status " + tcb_status + " (" + status + ") is not acceptable" +
                       (verdict->failure.empty() ? "" : ": " + verdict->failure) + label;
    }
  }
  out.verdict = std::move(*verdict);
  return out;
}

QuoteChecks check_tpm_quote(const Evidence& evidence, const AppraisalOptions& options) {
  QuoteChecks out;
  out.signature.name = "quote.signature";
  out.tcb = named("quote.tcb", Outcome::skipped, "a TPM quote has no TCB status");
  if (!options.ak_trust) {
    out.signature.outcome = Outcome::error;
    out.signature.reason = "no AK trust (pinned key or AK CA) was configured for vTPM quotes";
    return out;
  }
  auto ak = vtpm_ak_key(evidence.vtpm);
  if (!ak) {
    out.signature.outcome = Outcome::error;
    out.signature.reason = "the AK public key does not parse: " + ak.error().message;
    return out;
  }
  // The nonce the caller expects, or else the KBS binding of the runtime data, or else acond's
  // (its REPORTDATA over attestation_data). binding.kbs / binding.acon explain a mismatch; here it
  // only keeps an unbound quote from passing.
  Bytes expected_extra_data = options.tpm_extra_data;
  if (expected_extra_data.empty() && !evidence.runtime_data && evidence.attestation_data) {
    expected_extra_data = image::attestation_report_data(*evidence.attestation_data);
  } else if (expected_extra_data.empty() && evidence.runtime_data) {
    auto bound = kbs_tpm_extra_data(*evidence.runtime_data);
    if (!bound) {
      out.signature.outcome = Outcome::error;
      out.signature.reason = "the runtime data cannot be hashed: " + bound.error().message;
      return out;
    }
    expected_extra_data = std::move(*bound);
  }
  tpm::PcrValues pcrs;
  for (const auto& [bank, values] : evidence.vtpm.pcrs) {
    auto alg = hash_from_name(bank);
    if (!alg) {
      out.signature.outcome = Outcome::error;
      out.signature.reason = "PCR bank \"" + bank + "\" is not a hash algorithm";
      return out;
    }
    pcrs[*alg] = values;
  }
  tpm::AkEvidence ak_evidence;
  ak_evidence.key = std::move(*ak);
  tpm::VerifyOptions verify;
  verify.expected_extra_data = expected_extra_data;
  verify.at = options.at;
  auto verified =
      tpm::verify_quote(evidence.vtpm.quote, pcrs, ak_evidence, *options.ak_trust, verify);
  if (verified) {
    out.signature.outcome = Outcome::pass;
    out.signature.reason =
        "the TPM quote is signed by the trusted AK, carries the expected extraData and its PCR "
        "digest matches the quoted PCR values";
  } else {
    out.signature.outcome =
        verified.error().code == Errc::verify_failed ? Outcome::fail : Outcome::error;
    out.signature.reason = "TPM quote verification: " + verified.error().message;
  }
  return out;
}

std::string hex_or_empty(ByteView bytes) { return hex_encode(bytes); }

// Trustee's TPM claims (its verifier's parse_tee_evidence and extend_claim): init_data (PCR 8),
// report_data (extraData), ak_public (base64 DER SubjectPublicKeyInfo) and pcr00..pcr23 of the
// SHA-256 bank, as far as the evidence has them.
Json vtpm_claims(const VtpmEvidence& evidence, const tpm::Quote* quote, const Bytes* pcr8) {
  Json out = Json::object();
  if (pcr8) out["init_data"] = hex_encode(*pcr8);
  if (quote) out["report_data"] = hex_encode(quote->attest.extra_data);
  if (auto key = vtpm_ak_key(evidence)) out["ak_public"] = base64_encode(key->to_der());
  if (auto bank = evidence.pcrs.find("sha256"); bank != evidence.pcrs.end())
    for (const auto& [index, value] : bank->second) {
      char name[8];
      std::snprintf(name, sizeof name, "pcr%02u", static_cast<unsigned>(index));
      out[name] = hex_encode(value);
    }
  return out;
}

}  // namespace

Result<PublicKey> vtpm_ak_key(const VtpmEvidence& evidence) {
  if (evidence.ak_encoding == AkEncoding::spki_der) {
    auto key = PublicKey::from_der(evidence.ak_public);
    if (!key) return key.error().wrap("ak_public (DER SubjectPublicKeyInfo)");
    return key;
  }
  auto ak = tpm::parse_tpm2b_public(evidence.ak_public);
  if (!ak) return ak.error().wrap("ak_public (TPM2B_PUBLIC)");
  return std::move(ak->key);
}

QuoteChecks check_quote(const Evidence& evidence, const AppraisalOptions& options) {
  if (evidence.platform == Platform::vtpm) return check_tpm_quote(evidence, options);
  return check_dcap_quote(evidence, options);
}

// ---- bindings ----

Result<Json> kbs_runtime_data_object(const RuntimeData& runtime_data) {
  return acon::kbs_runtime_data_object(runtime_data.nonce, runtime_data.tee_pubkey,
                                       runtime_data.additional_evidence);
}

Result<std::string> kbs_runtime_data_jcs(const RuntimeData& runtime_data) {
  return acon::kbs_runtime_data_jcs(runtime_data.nonce, runtime_data.tee_pubkey,
                                    runtime_data.additional_evidence);
}

namespace {

// Trustee's KBS binding at `size` bytes of the hash: 64 (REPORTDATA, zero-padded) or 32 (a TPM
// quote's extraData, truncated). `field` names the compared value in messages.
CheckResult binding_kbs(ByteView report_data, const std::optional<RuntimeData>& runtime,
                        const std::optional<std::string>& expected_nonce, size_t size,
                        const std::string& field, const std::string& rule) {
  if (!runtime)
    return named("binding.kbs", Outcome::skipped,
                 "no KBS runtime data (nonce, tee-pubkey) was supplied");
  if (expected_nonce && runtime->nonce != *expected_nonce)
    return named("binding.kbs", Outcome::fail,
                 "the runtime data's nonce \"" + runtime->nonce +
                     "\" is not the challenge nonce \"" + *expected_nonce + "\"",
                 Json{{"nonce", runtime->nonce}, {"expected_nonce", *expected_nonce}});
  auto jcs = kbs_runtime_data_jcs(*runtime);
  if (!jcs)
    return named("binding.kbs", Outcome::error,
                 "the runtime data cannot be hashed: " + jcs.error().message);
  auto report_data_expected =
      kbs_report_data(runtime->nonce, runtime->tee_pubkey, runtime->additional_evidence);
  if (!report_data_expected)
    return named("binding.kbs", Outcome::error,
                 "the runtime data cannot be hashed: " + report_data_expected.error().message);
  Bytes expected = std::move(*report_data_expected);
  expected.resize(size, 0);
  Json detail = {{"jcs", *jcs},
                 {"expected_report_data", hex_encode(expected)},
                 {"report_data", hex_or_empty(report_data)}};
  if (ct_equal(expected, report_data))
    return named("binding.kbs", Outcome::pass,
                 field +
                     " equals SHA-384 of the canonical runtime data (nonce, tee-pubkey, "
                     "additional-evidence), " +
                     rule,
                 std::move(detail));
  return named("binding.kbs", Outcome::fail,
               field + " differs from SHA-384 of the canonical runtime data " + rule +
                   " (nonce \"" + runtime->nonce +
                   "\"): the quote was not made for this nonce and key",
               std::move(detail));
}

}  // namespace

CheckResult check_binding_kbs(ByteView report_data, const std::optional<RuntimeData>& runtime,
                              const std::optional<std::string>& expected_nonce) {
  return binding_kbs(report_data, runtime, expected_nonce, 64, "REPORTDATA",
                     "zero-padded to 64 bytes");
}

Result<Bytes> kbs_tpm_extra_data(const RuntimeData& runtime_data) {
  ACON_TRY(Bytes report_data, kbs_report_data(runtime_data.nonce, runtime_data.tee_pubkey,
                                              runtime_data.additional_evidence));
  report_data.resize(kTpmReportDataSize);
  return report_data;
}

CheckResult check_binding_kbs_tpm(ByteView extra_data, const std::optional<RuntimeData>& runtime,
                                  const std::optional<std::string>& expected_nonce) {
  return binding_kbs(extra_data, runtime, expected_nonce, kTpmReportDataSize,
                     "the TPM quote's extraData", "cut to its first 32 bytes");
}

CheckResult check_binding_acon(ByteView report_data, const std::optional<Bytes>& attestation_data,
                               const std::optional<Bytes>& requestor_nonce) {
  if (!attestation_data)
    return named("binding.acon", Outcome::skipped, "no ACON attestation_data was supplied");
  Bytes expected = image::attestation_report_data(*attestation_data);
  Json detail = {{"expected_report_data", hex_encode(expected)},
                 {"report_data", hex_or_empty(report_data)}};
  if (!ct_equal(expected, report_data))
    return named("binding.acon", Outcome::fail,
                 "REPORTDATA differs from SHA-384 of the attestation_data bytes followed by 16 "
                 "zero bytes",
                 std::move(detail));
  const std::string bound =
      "REPORTDATA equals SHA-384 of the attestation_data bytes followed by 16 zero bytes, as "
      "acond builds it";
  if (!requestor_nonce) return named("binding.acon", Outcome::pass, bound, std::move(detail));
  auto read = image::read_requestor_nonce(as_chars(*attestation_data));
  if (!read) return named("binding.acon", Outcome::error, read.error().message, std::move(detail));
  const Bytes& carried = *read;
  detail["requestor_nonce"] = hex_encode(carried);
  detail["expected_requestor_nonce"] = hex_encode(*requestor_nonce);
  if (!ct_equal(carried, *requestor_nonce))
    return named("binding.acon", Outcome::fail,
                 "attestation_data's requestor_nonce " + hex_encode(carried) +
                     " is not the nonce of this Report request " + hex_encode(*requestor_nonce) +
                     " (a replayed report)",
                 std::move(detail));
  return named("binding.acon", Outcome::pass, bound + ", and it carries this request's nonce",
               std::move(detail));
}

// ---- the appraisal ----

EvidenceAppraisal appraise_evidence(const Evidence& evidence, const AppraisalOptions& options) {
  EvidenceAppraisal out;
  Json claims = Json::object();  // out.claims once complete
  QuoteChecks quote_checks = check_quote(evidence, options);
  out.simulated = quote_checks.simulated;
  out.verdict = std::move(quote_checks.verdict);
  out.checks.push_back(std::move(quote_checks.signature));
  out.checks.push_back(std::move(quote_checks.tcb));

  // platform: what the quote is from, so that one policy can hold tiers for each platform.
  Json acon = {{"platform", platform_name(evidence.platform)},
               {"simulated", out.simulated},
               {"runtime_events", Json::array()}};
  auto add_all = [&out](CheckResults checks) {
    for (CheckResult& check : checks) out.checks.push_back(std::move(check));
  };
  std::vector<RuntimeLogEvent> aael_events;
  // TDX with a firmware-log cache: what the firmware events give on their own.
  std::shared_ptr<const FirmwareLogFacts> firmware;
  // The images the runtime log names, re-checked in log order; last, whatever the platform, so
  // every appraisal lists the same check names.
  auto finish = [&]() {
    ImageAppraisal images = appraise_images(aael_events, evidence.images, options.images);
    add_all(std::move(images.checks));
    acon["images"] = std::move(images.images);
    claims["acon"] = std::move(acon);
    out.claims = claims_with_entries_from(std::move(claims), firmware);
    return std::move(out);
  };

  if (evidence.platform == Platform::vtpm) {
    auto tpm_quote = tpm::parse_quote(evidence.vtpm.quote);
    const std::string unparsed =
        tpm_quote ? "" : "the TPM quote does not parse: " + tpm_quote.error().message;
    // CoCo's TPM attester (KBS tee "tpm") binds the KBS runtime data through extraData.
    if (!evidence.runtime_data) {
      out.checks.push_back(
          named("binding.kbs", Outcome::skipped,
                "a vTPM quote binds its nonce through extraData, checked by quote.signature"));
    } else if (!tpm_quote) {
      out.checks.push_back(named("binding.kbs", Outcome::error, unparsed));
    } else {
      out.checks.push_back(check_binding_kbs_tpm(tpm_quote->attest.extra_data,
                                                 evidence.runtime_data, options.expected_nonce));
      auto runtime_claims = kbs_runtime_data_object(*evidence.runtime_data);
      claims["report_data"] = hex_encode(tpm_quote->attest.extra_data);
      claims["runtime_data_claims"] = runtime_claims ? std::move(*runtime_claims) : Json(nullptr);
    }
    // acond quotes with extraData = its REPORTDATA, so attestation_data binds as on TDX
    // (quote.signature is what proves the extraData is the TPM's).
    if (!evidence.attestation_data) {
      out.checks.push_back(named("binding.acon", Outcome::skipped,
                                 "a vTPM quote binds its nonce through extraData, checked by "
                                 "quote.signature"));
    } else if (!tpm_quote) {
      out.checks.push_back(named("binding.acon", Outcome::error, unparsed));
    } else {
      out.checks.push_back(check_binding_acon(tpm_quote->attest.extra_data,
                                              evidence.attestation_data,
                                              options.expected_requestor_nonce));
    }
    // Init-data in SHA-256 PCR 8, when that PCR is quoted (Trustee's TPM verifier and claims).
    const Bytes* pcr8 = nullptr;
    if (tpm_quote) {
      for (const tpm::PcrSelection& selection : tpm_quote->attest.pcr_selection) {
        const bool quoted = selection.alg == eventlog::tpm_alg_for_hash(HashAlg::sha256) &&
                            std::find(selection.pcrs.begin(), selection.pcrs.end(),
                                      kTpmInitDataPcr) != selection.pcrs.end();
        auto bank = evidence.vtpm.pcrs.find("sha256");
        if (!quoted || bank == evidence.vtpm.pcrs.end()) continue;
        if (auto value = bank->second.find(kTpmInitDataPcr); value != bank->second.end())
          pcr8 = &value->second;
      }
    }
    Json init_claims = nullptr;
    out.checks.push_back(check_init_data_tpm(pcr8, evidence.init_data, &init_claims));
    if (pcr8) {
      claims["init_data"] = hex_encode(*pcr8);
      claims["init_data_claims"] = std::move(init_claims);
    }
    claims["vtpm"] = vtpm_claims(evidence.vtpm, tpm_quote ? &*tpm_quote : nullptr, pcr8);
    ReplayChecks replay = check_vtpm_replay(evidence.vtpm);
    add_all(std::move(replay.registers));
    out.checks.push_back(std::move(replay.unexplained));
    aael_events = std::move(replay.aael_events);
    return finish();
  }

  const Bytes& bytes = evidence.platform == Platform::tdx ? evidence.tdx.quote : evidence.sgx.quote;
  auto quote = tdx::parse_quote(bytes);
  const bool usable = quote && quote->is_tdx() == (evidence.platform == Platform::tdx);
  if (!usable) {
    const std::string why =
        "the quote does not parse as a " + std::string(platform_name(evidence.platform)) + " quote";
    for (const char* name :
         {"binding.kbs", "binding.acon", "init_data", "replay.rtmr0", "replay.rtmr1",
          "replay.rtmr2", "replay.rtmr3", "runtime_log.unexplained", "claims.uefi_event_logs"})
      out.checks.push_back(named(name, Outcome::error, why));
    return finish();
  }

  ByteView report_data = evidence.platform == Platform::tdx ? quote->td_report()->report_data
                                                            : quote->enclave_report()->report_data;
  out.checks.push_back(
      check_binding_kbs(report_data, evidence.runtime_data, options.expected_nonce));
  out.checks.push_back(
      check_binding_acon(report_data, evidence.attestation_data, options.expected_requestor_nonce));
  claims["report_data"] = hex_encode(report_data);
  if (evidence.runtime_data) {
    auto runtime_claims = kbs_runtime_data_object(*evidence.runtime_data);
    claims["runtime_data_claims"] = runtime_claims ? std::move(*runtime_claims) : Json(nullptr);
  } else {
    claims["runtime_data_claims"] = nullptr;
  }

  if (evidence.platform != Platform::tdx) {
    add_all({named("init_data", Outcome::skipped, "an SGX quote has no MRCONFIGID"),
             named("runtime_log.unexplained", Outcome::skipped,
                   "SGX evidence carries no runtime log")});
    return finish();
  }
  const tdx::TdReport10& report = *quote->td_report();
  Json init_claims = nullptr;
  out.checks.push_back(check_init_data(report.mr_config_id, evidence.init_data, &init_claims));
  claims["init_data"] = hex_encode(report.mr_config_id);
  claims["init_data_claims"] = std::move(init_claims);

  // The logs are parsed once for the replay and for Trustee's uefi_event_logs.
  Result<TdxLogs> logs = parse_tdx_logs(evidence.tdx);
  // With a firmware-log cache, what the firmware events give on their own (their Trustee entries,
  // the register values they extend to) comes from it, or is derived once and kept.
  if (options.firmware_log_cache && logs && logs->log)
    firmware = firmware_log_facts(*logs, *options.firmware_log_cache);
  ReplayChecks replay = check_tdx_replay(evidence.tdx, report, logs, firmware.get());
  add_all(std::move(replay.registers));
  out.checks.push_back(std::move(replay.unexplained));
  acon["runtime_events"] = std::move(replay.runtime_events);
  aael_events = std::move(replay.aael_events);

  if (out.verdict) {
    ClaimsDocument trustee =
        tdx_claims(*quote, *out.verdict, logs && logs->log ? &*logs->log : nullptr, firmware.get());
    claims["tdx"] = std::move(trustee.claims["tdx"]);
    out.prewritten_event_log = std::move(trustee.prewritten_event_log);
    out.checks.push_back(std::move(trustee.event_log));
  } else {
    out.checks.push_back(named("claims.uefi_event_logs", Outcome::error,
                               "the quote reached no verdict, so Trustee issues no claims"));
  }
  return finish();
}

}  // namespace acon::appraisal
