// acon-tpm: host-side TPM chores. `enroll` trusts a TPM's attestation key from its EK
// certificate (docs/tpm.md): it checks the EK certificate chain, checks that the TPM's EK is the
// certified key, has the TPM prove with TPM2_ActivateCredential that the AK sits beside that EK,
// and writes the AK's public key as PEM for a verifier to pin. The AK is created exactly as
// acond's vtpm backend creates it with acond's defaults, so the PEM verifies acond's quotes.
// Exit codes: 0 enrolled, 1 refused (chain, EK or activation), 2 bad input or TPM unreachable.
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>

#include "acon/guest/vtpm.h"
#include "acon/tpm/credential.h"
#include "tool_util.h"

namespace acon {
namespace {

struct Inputs {
  std::string tcti;
  std::string ek_roots;
  std::string ek_intermediates;
  std::string time;
  std::string ek_type = "rsa";
  std::string out;
};

// A certificate outside its validity is a refusal like any other chain failure.
int fail(const Error& error) {
  const int code = tools::fail(error);
  return error.code == Errc::expired ? tools::kExitRejected : code;
}

Result<std::vector<Certificate>> read_certificates(const std::string& option,
                                                   const std::string& path) {
  ACON_TRY(std::string pem, tools::read_input(path));
  auto certs = Certificate::all_from_pem(pem);
  if (!certs) return certs.error().wrap(option + " " + path);
  return std::move(*certs);
}

int enroll(const Inputs& in) {
  tpm::EkTrust trust;
  auto roots = read_certificates("--ek-roots", in.ek_roots);
  if (!roots) return fail(roots.error());
  trust.roots = std::move(*roots);
  if (!in.ek_intermediates.empty()) {
    auto intermediates = read_certificates("--ek-intermediates", in.ek_intermediates);
    if (!intermediates) return fail(intermediates.error());
    trust.intermediates = std::move(*intermediates);
  }
  Time at = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  if (!in.time.empty()) {
    auto parsed = tools::parse_time_option("--time", in.time);
    if (!parsed) return fail(parsed.error());
    at = *parsed;
  }

  tpm::EkType ek_type = tpm::EkType::rsa2048;
  if (in.ek_type == "ecc")
    ek_type = tpm::EkType::ecc_nist_p256;
  else if (in.ek_type != "rsa")
    return fail(make_error(Errc::invalid_argument,
                           "--ek-type: \"" + in.ek_type + "\" is neither rsa nor ecc"));

  // acond's backend options (guest/acond/main.cc): only the TCTI differs.
  guest::VtpmOptions options;
  options.tcti = in.tcti;
  auto backend = guest::VtpmBackend::open(options);
  if (!backend) return fail(backend.error());
  guest::VtpmEnrolment enrolment(**backend);
  auto enrolled = tpm::enrol_attestation_key(enrolment, trust, at, ek_type);
  if (!enrolled) return fail(enrolled.error());

  const std::string pem = enrolled->ak.key.to_pem();
  if (auto written = tools::write_output(in.out, as_bytes(pem), false); !written)
    return fail(written.error());
  std::cerr << "acon-tpm: enrolled the AK (name " << hex_encode(enrolled->ak.name)
            << ") of the TPM whose EK certificate is " << enrolled->ek_certificate.subject()
            << " serial " << enrolled->ek_certificate.serial_hex() << " from "
            << enrolled->ek_certificate.issuer() << "\n";
  return tools::kExitOk;
}

int run(int argc, char** argv) {
  CLI::App app{"acon-tpm: enrol a TPM's attestation key from its EK certificate"};
  app.require_subcommand(1);
  tools::add_input_limit_option(app);
  Inputs in;
  auto* enroll_cmd = app.add_subcommand(
      "enroll",
      "Check the EK certificate, activate a credential for acond's AK, write the AK as PEM");
  enroll_cmd->add_option("--tcti", in.tcti, "tpm2-tss TCTI, e.g. swtpm:host=127.0.0.1,port=2321")
      ->required();
  enroll_cmd->add_option("--ek-roots", in.ek_roots, "PEM bundle of the trusted EK CAs")->required();
  enroll_cmd->add_option("--ek-intermediates", in.ek_intermediates,
                         "PEM bundle of intermediate CAs between the roots and the EK certificate");
  enroll_cmd->add_option("--time", in.time,
                         "validity time for the certificates: Unix seconds or RFC 3339 "
                         "(default: now)");
  enroll_cmd->add_option("--ek-type", in.ek_type,
                         "the EK to enrol with: rsa (template L-1, certificate at NV 0x01c00002; "
                         "the default) or ecc (L-2, NIST P-256, 0x01c0000a)");
  enroll_cmd->add_option("--out", in.out, "where to write the AK public key PEM ('-': stdout)")
      ->required();
  if (auto code = tools::parse_command_line(app, argc, argv)) return *code;
  return enroll(in);
}

}  // namespace
}  // namespace acon

int main(int argc, char** argv) { return acon::tools::guarded_main(argc, argv, acon::run); }
