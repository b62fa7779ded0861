// acon-client: drive acond over gRPC, the runtime half of Intel's aconcli over acon's client
// library (acon/acond/client.h): load images with their missing layers from an image
// repository (several images, one Finalize), start, exec, kill, restart and inspect containers,
// and take a report, written as an evidence bundle and verified on the spot. docs/acond.md.
// Exit codes: 0 done (report: every check passed), 1 acond refused or a check failed, 2 bad
// input, usage, or acond unreachable.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "acon/acond/client.h"
#include "acon/appraisal/checks.h"
#include "acon/dcap/fetch.h"
#include "acon/image/attestation_data.h"
#include "acon/tpm/quote.h"
#include "tool_util.h"

namespace acon {
namespace {

using tools::fail;

struct Inputs {
  acond::ClientOptions client = [] {
    acond::ClientOptions options;
    options.target = "tcp://127.0.0.1:1025";  // acond's default port on this machine
    return options;
  }();
  uint64_t deadline_seconds = 10;
  std::string tls_ca;
  // load
  std::string repository;
  std::vector<std::string> images;
  bool no_finalize = false;
  // start / exec
  std::string image_id;
  std::vector<std::string> envs;
  uint32_t container_id = 0;
  acond::ExecCommand exec;
  std::string stdin_path;
  int32_t signal_number = 0;
  uint64_t timeout = 30;
  bool json = false;
  // report
  std::vector<std::string> nonce;  // lo [hi]
  bool tdreport = false;
  std::string out;
  std::string bundle;
  bool verify = false;
  std::string root, collateral;
  std::string ak_pin;  // PEM public key: the vTPM AK the verifier trusts
  std::string ak_out;  // where to write the bundle's AK as a PEM public key
  std::optional<std::string> time;
};

Result<acond::Client> connect(Inputs& in) {
  in.client.deadline = std::chrono::seconds(in.deadline_seconds);
  if (!in.tls_ca.empty()) {
    ACON_TRY(in.client.tls_ca_pem, tools::read_input(in.tls_ca));
  }
  return acond::Client::connect(in.client);
}

int cmd_load(Inputs& in) {
  auto repository = image::Repository::locate(in.repository);
  if (!repository) return fail(repository.error());
  auto bundles = repository->read_bundles(in.images);
  if (!bundles) return fail(bundles.error());
  auto client = connect(in);
  if (!client) return fail(client.error());
  auto loaded = client->load(*repository, *bundles, !in.no_finalize);
  if (!loaded) return fail(loaded.error());
  for (const auto& image : *loaded) {
    std::cout << image.image_id;
    for (const auto& layer : image.sent_layers) std::cout << " +" << layer;
    std::cout << "\n";
  }
  if (!in.no_finalize) std::cout << "finalized\n";
  return tools::kExitOk;
}

int cmd_start(Inputs& in) {
  auto client = connect(in);
  auto id = client ? client->start(in.image_id, in.envs) : client.error();
  if (!id) return fail(id.error());
  std::cout << *id << "\n";
  return tools::kExitOk;
}

int cmd_exec(Inputs& in) {
  if (!in.stdin_path.empty()) {
    auto data = tools::read_input(in.stdin_path);
    if (!data) return fail(data.error());
    in.exec.stdin_bytes = to_bytes(*data);
  }
  in.exec.container_id = in.container_id;
  in.exec.envs = in.envs;
  auto client = connect(in);
  auto output = client ? client->exec(in.exec) : client.error();
  if (!output) return fail(output.error());
  std::fwrite(output->stdout_bytes.data(), 1, output->stdout_bytes.size(), stdout);
  std::fwrite(output->stderr_bytes.data(), 1, output->stderr_bytes.size(), stderr);
  return tools::kExitOk;
}

int cmd_status(Inputs& in, bool kill) {
  auto client = connect(in);
  if (!client) return fail(client.error());
  Status done = kill ? client->kill(in.container_id, in.signal_number)
                     : client->restart(in.container_id, in.timeout);
  return done ? tools::kExitOk : fail(done.error());
}

int cmd_inspect(Inputs& in) {
  auto client = connect(in);
  auto infos = client ? client->inspect(in.container_id) : client.error();
  if (!infos) return fail(infos.error());
  if (in.json) {
    Json out = Json::array();
    for (const auto& info : *infos) {
      out.push_back({{"container_id", info.container_id},
                     {"state", info.state},
                     {"wstatus", info.wstatus},
                     {"image_id", info.image_id},
                     {"exe_path", info.exe_path}});
    }
    std::cout << out.dump(2) << "\n";
    return tools::kExitOk;
  }
  std::printf("%-6s %-10s %-8s %-40s %s\n", "ID", "STATE", "STATUS", "EXE", "IMAGE");
  for (const auto& info : *infos) {
    // As aconcli prints it: the /proc state letter while running, "Terminated" once exited.
    std::string state =
        info.state == 0 ? "Terminated" : std::string(1, static_cast<char>(info.state));
    std::printf("%-6u %-10s %-8d %-40s %s\n", info.container_id, state.c_str(), info.wstatus,
                info.exe_path.c_str(), info.image_id.c_str());
  }
  return tools::kExitOk;
}

// Checks the bundle as an auditor would (appraisal/checks.h) against the nonce this report asked
// for; prints one line per check.
int verify_evidence(const appraisal::Evidence& evidence, const Bytes& requestor_nonce,
                    const Inputs& in) {
  appraisal::AppraisalOptions options;
  options.at = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  if (in.time) {
    auto at = tools::parse_time_option("--time", *in.time);
    if (!at) return fail(at.error());
    options.at = *at;
  }
  if (!in.root.empty()) {
    auto text = tools::read_input(in.root);
    auto root = text ? image::parse_certificate_file(as_bytes(*text)) : text.error();
    if (!root) return fail(root.error().wrap(in.root));
    options.anchors.roots = {*root};
  }
  if (!in.collateral.empty()) {
    auto collateral = dcap::load_collateral_bundle_file(in.collateral, tools::max_input_bytes());
    if (!collateral) return fail(collateral.error());
    options.collateral = std::move(*collateral);
  }
  options.expected_requestor_nonce = requestor_nonce;
  if (evidence.platform == appraisal::Platform::vtpm) {
    // No AK is trusted by default: the user names the key (recorded when the machine was
    // enrolled); without it quote.signature is an error.
    if (!in.ak_pin.empty()) {
      auto pem = tools::read_input(in.ak_pin);
      auto key = pem ? PublicKey::from_pem(*pem) : pem.error();
      if (!key) return fail(key.error().wrap(in.ak_pin));
      options.ak_trust = tpm::AkTrust::pinned(std::move(*key));
    }
  } else if (!in.ak_pin.empty()) {
    return fail(make_error(Errc::invalid_argument, "--ak-pin: acond's backend is not a vTPM"));
  }
  auto result = appraisal::appraise_evidence(evidence, options);
  for (const auto& check : result.checks) {
    std::cout << (check.outcome == appraisal::Outcome::pass   ? "ok    "
                  : check.outcome == appraisal::Outcome::fail ? "FAIL  "
                                                              : "      ")
              << check.name << ": " << check.reason << "\n";
  }
  return appraisal::any_failed(result.checks) ? tools::kExitRejected : tools::kExitOk;
}

int cmd_report(Inputs& in) {
  uint64_t nonce[2] = {0, 0};
  if (in.nonce.empty()) {
    auto random = random_bytes(16);
    if (!random) return fail(random.error());
    for (int i = 0; i < 16; ++i) nonce[i / 8] |= uint64_t{(*random)[i]} << (8 * (i % 8));
  }
  for (size_t i = 0; i < in.nonce.size() && i < 2; ++i) {
    auto value = tools::parse_u64_option("--nonce", in.nonce[i]);
    if (!value) return fail(value.error());
    nonce[i] = *value;
  }
  auto client = connect(in);
  if (!client) return fail(client.error());
  if (in.bundle.empty()) {
    auto report = client->report(nonce[0], nonce[1],
                                 in.tdreport ? acond::kRequestTdReport : acond::kRequestQuote);
    if (!report) return fail(report.error());
    for (const auto& entry : report->mrlog[3]) std::cout << entry << "\n";
    std::cout << report->attestation_data << "\n";
    auto written = tools::write_output(in.out.empty() ? "-" : in.out, report->data, true);
    return written ? tools::kExitOk : fail(written.error());
  }
  if (in.tdreport) {
    return fail(make_error(Errc::invalid_argument, "--bundle holds a quote: drop --tdreport"));
  }
  auto evidence = client->evidence(nonce[0], nonce[1]);
  if (!evidence) return fail(evidence.error());
  if (auto written = appraisal::write_evidence_directory(*evidence, in.bundle); !written)
    return fail(written.error());
  std::cout << "bundle " << in.bundle << ": quote, firmware log, runtime log, attestation_data, "
            << evidence->images.size() << " image(s)\n";
  if (!in.out.empty()) {
    const Bytes& quote = evidence->platform == appraisal::Platform::vtpm ? evidence->vtpm.quote
                                                                         : evidence->tdx.quote;
    if (auto written = tools::write_output(in.out, quote, false); !written)
      return fail(written.error());
  }
  if (!in.ak_out.empty()) {
    if (evidence->platform != appraisal::Platform::vtpm)
      return fail(make_error(Errc::invalid_argument, "--ak-out: acond's backend is not a vTPM"));
    auto ak = tpm::parse_tpm2b_public(evidence->vtpm.ak_public);
    if (!ak) return fail(ak.error().wrap("ak.tpm2b_public"));
    if (auto written = tools::write_output(in.ak_out, as_bytes(ak->key.to_pem()), false); !written)
      return fail(written.error());
  }
  return in.verify ? verify_evidence(*evidence, image::requestor_nonce(nonce[0], nonce[1]), in)
                   : tools::kExitOk;
}

int run(int argc, char** argv) {
  CLI::App app{
      "acon-client: drive acond (ACON's AconService over gRPC): load images, run containers, "
      "take verified reports.\nExit codes: 0 done, 1 refused by acond or a check failed, 2 bad "
      "input, usage, or acond unreachable."};
  app.require_subcommand(1);
  tools::add_input_limit_option(app);
  Inputs in;
  app.add_option("-c,--connect", in.client.target,
                 "acond's address: tcp://HOST:PORT, HOST:PORT, unix:///PATH or vsock://CID:PORT")
      ->capture_default_str();
  app.add_option("--deadline", in.deadline_seconds, "Seconds each RPC may take (AddBlob: 600)")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));

  app.add_option("--tls-ca", in.tls_ca, "TLS to acond (--tls-cert): trust this CA (PEM)");
  app.add_option("--tls-name", in.client.tls_server_name,
                 "The name acond's certificate must carry (default: the target's host)");
  auto* load = app.add_subcommand("load",
                                  "AddManifest each image, AddBlob its missing layers, "
                                  "then Finalize");
  load->add_option("images", in.images, "Images: Image ID, alg/digest, digest prefix or dir")
      ->required();
  load->add_option("--repo", in.repository, "The .acon repository (default: nearest)");
  load->add_flag("--no-finalize", in.no_finalize, "Leave the TD open for more images");
  auto* finalize = app.add_subcommand("finalize", "No more images may be added");
  auto* start = app.add_subcommand("start", "Start a container of a loaded image; prints its ID");
  start->add_option("image_id", in.image_id, "Image ID")->required();
  auto* exec = app.add_subcommand("exec", "Run /lib/acon/entrypoint.d/COMMAND in a container");
  auto* kill = app.add_subcommand("kill", "Send a signal the image allows to a container");
  auto* restart = app.add_subcommand("restart", "Stop a container and start it again");
  auto* inspect = app.add_subcommand("inspect", "List containers (all, or one)");
  for (auto* sub : {exec, kill, restart}) {
    sub->add_option("container_id", in.container_id, "Container ID")->required();
  }
  inspect->add_option("container_id", in.container_id, "Container ID (default: all)");
  inspect->add_flag("--json", in.json, "JSON instead of a table");
  for (auto* sub : {start, exec}) {
    sub->add_option("-e,--env", in.envs, "K=V for the process (repeatable)");
  }
  exec->add_option("command", in.exec.command, "Entry point name")->required();
  exec->add_option("arguments", in.exec.arguments, "Its arguments");
  exec->add_option("-i,--stdin", in.stdin_path, "File given as standard input");
  exec->add_option("-t,--timeout", in.exec.timeout_seconds, "Seconds to wait for output")
      ->capture_default_str();
  exec->add_option("-s,--capture-size", in.exec.capture_size,
                   "Bytes kept of each of stdout and stderr (the last ones)")
      ->capture_default_str();
  kill->add_option("signal", in.signal_number, "Signal number; negative: the process group")
      ->required();
  restart->add_option("-t,--timeout", in.timeout, "Seconds to wait for the container to stop")
      ->capture_default_str();

  auto* report = app.add_subcommand("report",
                                    "Report bound to a nonce: print the RTMR3 log and "
                                    "attestation_data, write the quote");
  report->add_option("--nonce", in.nonce, "NONCE_LO [NONCE_HI] (default: random)")->expected(1, 2);
  report->add_flag("--tdreport", in.tdreport, "A TDREPORT instead of a quote");
  report->add_option("-o,--out", in.out, "Write the TDREPORT or quote here (default: hex)");
  report->add_option("--bundle", in.bundle,
                     "Write an evidence bundle (quote, logs, attestation_data, images) here");
  auto* verify = report->add_flag("--verify", in.verify,
                                  "Check the bundle: quote, bindings, "
                                  "replay, images, launch policy");
  verify->needs(report->get_option("--bundle"));
  report->add_option("--root", in.root, "Trust this root CA instead of Intel's (acon-sim root)");
  report->add_option("--collateral", in.collateral, "DCAP collateral bundle JSON");
  report->add_option("--time", in.time, "Verification time (default: now)");
  report->add_option(
      "--ak-pin", in.ak_pin,
      "vTPM: trust this attestation key (PEM public key); none is trusted by default");
  report->add_option("--ak-out", in.ak_out,
                     "vTPM: write the bundle's attestation key as a PEM public key (to enrol it "
                     "for --ak-pin from a report taken where the machine is trusted)");
  if (auto code = tools::parse_command_line(app, argc, argv)) return *code;

  if (load->parsed()) return cmd_load(in);
  if (finalize->parsed()) {
    auto client = connect(in);
    Status done = client ? client->finalize() : Status(client.error());
    return done ? tools::kExitOk : fail(done.error());
  }
  if (start->parsed()) return cmd_start(in);
  if (exec->parsed()) return cmd_exec(in);
  if (kill->parsed()) return cmd_status(in, true);
  if (restart->parsed()) return cmd_status(in, false);
  if (inspect->parsed()) return cmd_inspect(in);
  return cmd_report(in);
}

}  // namespace
}  // namespace acon

int main(int argc, char** argv) { return acon::tools::guarded_main(argc, argv, acon::run); }
