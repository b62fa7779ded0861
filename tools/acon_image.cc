// acon-image: build, sign, inspect and verify ACON images in a local repository (the image half
// of ACON's aconcli). The repository and everything done with it live in the image library
// (acon/image/repository.h, build.h, listing.h, progress.h); this file is options and printing.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>

#include "acon/image/build.h"
#include "acon/image/listing.h"
#include "acon/image/progress.h"
#include "acon/image/repository.h"
#include "tool_util.h"

namespace acon {
namespace {

namespace fs = std::filesystem;
namespace img = image;
using tools::kExitOk;

void warn(const std::string& text) { std::cerr << "acon-image: " << text << "\n"; }

// `result`, its error prefixed with `context` (the file it came from).
template <class T>
Result<T> in(const std::string& context, Result<T> result) {
  return result ? std::move(result) : Result<T>(result.error().wrap(context));
}

// Certificate (DER or PEM) and key files are read bounded; key bytes are wiped when freed.
Result<Certificate> load_certificate(const std::string& path) {
  ACON_TRY(std::string data, tools::read_input(path));
  return in(path, img::parse_certificate_file(as_bytes(data)));
}
Result<PrivateKey> load_private_key(const std::string& path) {
  ACON_TRY(std::string text, tools::read_input(path));
  SecretBytes bytes(text.begin(), text.end());
  std::fill(text.begin(), text.end(), '\0');
  return in(path, img::parse_private_key_file(view(bytes)));
}

// Options every subcommand shares, and those of each one.
struct Args {
  std::string repo, dir = ".", profile = "acond", canonical = "jq", output, cert, key, manifest;
  std::vector<std::string> images;
  bool force = false, json = false, no_trunc = false, skip_layers = false;
  img::ManifestRequest request;  // create
  img::LayerInputOptions layer_options;
  std::optional<std::string> mtime;
  std::string created = "acon.json", owner, max_instances = "1", mode = "both";  // mode: verify
  img::TestSignerRequest signer;                                                 // keygen
  std::string subject = "CN=ACON test signer", hash = "sha384", cert_format = "der";
  img::CertProfile cert_profile() const {
    return profile == "aconcli" ? img::CertProfile::aconcli : img::CertProfile::acond;
  }
  img::CanonicalStyle canonical_style() const {
    return canonical == "go" ? img::CanonicalStyle::go : img::CanonicalStyle::jq;
  }
};

Result<int> cmd_init(CLI::App&, Args& a) {
  ACON_TRY(img::Repository repo,
           img::Repository::create(fs::path(a.dir) / img::kRepositoryDirName));
  std::cout << "initialized ACON repository " << repo.dir().string() << "\n";
  return kExitOk;
}

Result<int> cmd_create(CLI::App& cmd, Args& a) {
  ACON_CHECK(img::refuse_existing(a.created, a.force));
  ACON_TRY(img::Repository repo, img::Repository::locate(a.repo));
  ACON_TRY(a.request.max_instances, tools::parse_u64_option("--max-instances", a.max_instances));
  ACON_TRY(a.layer_options.create,
           img::rootfs_create_options(a.mtime.value_or(img::default_rootfs_mtime()), a.owner,
                                      a.layer_options.checks.allow_special_files));
  // Layers in command-line order across --rootfs, --tarball, --oci, --docker-save and --layer.
  std::vector<img::LayerInput> inputs;
  std::map<const CLI::Option*, size_t> seen;
  for (const CLI::Option* opt : cmd.parse_order()) {
    const auto source = img::layer_source_for_option(opt->get_name());
    const size_t index = seen[opt]++;
    if (source && index < opt->results().size()) inputs.push_back({*source, opt->results()[index]});
  }
  img::ProgressBar progress(img::ProgressBar::terminal(STDERR_FILENO));
  const img::ImageBuildCallbacks callbacks{
      [&](const auto& input) { return progress.start(img::layer_input_label(input)); },
      [&](const img::StoredInput& stored) {
        progress.finish();
        for (const auto& l : stored.stored)
          std::cout << l.digests.ref() << "\t" << l.digests.size << " bytes\t" << l.from << "\n";
      }};
  ACON_TRY(img::Manifest m, img::build_image(repo, inputs, a.layer_options, a.request, callbacks));
  for (const auto& problem : img::manifest_problems(m)) warn("warning: " + problem.message());
  ACON_CHECK(img::write_file_atomic(a.created, img::pretty_manifest(m)));
  std::cout << "wrote " << a.created << "\n";
  return kExitOk;
}

Result<int> cmd_keygen(CLI::App&, Args& a) {
  if (auto repo = img::Repository::locate(a.repo)) ACON_CHECK(repo->check_private_key_path(a.key));
  for (const auto& out : {a.key, a.cert}) ACON_CHECK(img::refuse_existing(out, a.force));
  a.signer.hash = *hash_from_name(a.hash);
  ACON_TRY(a.signer.subject, img::parse_subject(a.subject));
  a.signer.now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  ACON_TRY(img::TestSigner signer, img::make_test_signer(a.signer));
  const Certificate& cert = signer.certificate;
  ACON_CHECK(tools::write_private_file(a.key, view(signer.key.to_pem())));
  ACON_CHECK(img::write_file_atomic(
      a.cert, a.cert_format == "pem" ? cert.to_pem() : to_string(cert.der())));
  ACON_TRY(std::string id, img::signer_id(cert));
  std::cout << id << "\t" << a.cert << "\n";
  if (!img::signer_id(cert, img::CertProfile::acond)) {
    warn("warning: acond refuses " + a.signer.type + " certificates (aconcli accepts them)");
  }
  return kExitOk;
}

Result<int> cmd_sign(CLI::App&, Args& a) {
  ACON_TRY(img::Repository repo, img::Repository::locate(a.repo));
  ACON_TRY(std::string text, tools::read_input(a.manifest));
  ACON_TRY(img::Manifest parsed, in(a.manifest, img::parse_manifest(text)));
  ACON_CHECK(in(a.manifest, img::review_for_signing(repo, parsed, a.force, warn)));
  ACON_TRY(Certificate cert, load_certificate(a.cert));
  ACON_TRY(PrivateKey key, load_private_key(a.key));
  ACON_TRY(img::SignedManifest signed_manifest,
           in(a.manifest, img::sign_manifest_text(text, parsed, key, cert, a.canonical_style())));
  if (!img::id_hash_for_certificate(cert, img::CertProfile::acond)) {
    warn("warning: acond refuses this certificate type");
  }
  ACON_CHECK(repo.store(signed_manifest));
  std::cout << signed_manifest.identity.image_id() << "\n";
  return kExitOk;
}

Result<int> cmd_hash(CLI::App&, Args& a) {
  ACON_TRY(Certificate cert, load_certificate(a.cert));
  ACON_TRY(std::string signer, img::signer_id(cert));
  std::cout << signer << "\t" << a.cert << "\n";
  const auto style = a.canonical == "none" ? std::nullopt : std::optional(a.canonical_style());
  int rc = kExitOk;
  for (const auto& path : a.images) {  // every file, also after one fails
    auto bytes = tools::read_input(path);
    auto id = bytes ? in(path, img::manifest_file_identity(cert, *bytes, style)) : bytes.error();
    if (!id) rc = tools::fail(id.error());
    if (id) std::cout << id->image_id() << "\t" << path << "\n";
  }
  return rc;
}

Result<int> cmd_alias_substitute(CLI::App&, Args& a) {
  ACON_TRY(img::Repository repo, img::Repository::locate(a.repo));
  ACON_TRY(std::string text, tools::read_input(a.manifest));
  ACON_TRY(img::Manifest m, in(a.manifest, img::parse_manifest(text)));
  ACON_TRY(img::AliasSubstitution out,
           img::alias_substitute(m, repo.verified_manifests(a.cert_profile())));
  for (const auto& [from, to] : out.replaced) std::cout << from << " -> " << to << "\n";
  for (const auto& rule : out.added_accepts) std::cout << "accepts += " << rule << "\n";
  if (out.replaced.empty()) std::cout << "no layer has an alias in the repository\n";
  ACON_CHECK(img::write_file_atomic(a.output.empty() ? a.manifest : a.output,
                                    img::pretty_manifest(out.manifest)));
  return kExitOk;
}

Result<int> cmd_ls(CLI::App&, Args& a) {
  ACON_TRY(img::Repository repo, img::Repository::locate(a.repo));
  const auto rows = img::list_images(repo, a.cert_profile());
  std::cout << (a.json ? img::image_listing_json(rows).dump(2) + "\n"
                       : img::image_listing_table(rows, a.no_trunc));
  return kExitOk;
}

Result<int> cmd_verify(CLI::App&, Args& a) {
  ACON_TRY(img::Repository repo, img::Repository::locate(a.repo));
  img::ProgressBar progress(img::ProgressBar::terminal(STDERR_FILENO));
  ACON_TRY(auto modes, img::policy_modes_named(a.mode));
  const img::ImageSetOptions options{
      modes, !a.skip_layers, a.cert_profile(),
      [&](const auto& name) { return progress.start("hash " + name); }};
  // Load everything first: unusable input is exit 2 before any verdict.
  ACON_TRY(std::vector<img::Bundle> bundles, repo.read_bundles(a.images));
  const img::ImageSetCheck check = img::check_image_set(repo, a.images, bundles, options);
  progress.finish();
  std::cout << (a.json ? img::image_set_report(check).dump(2) + "\n"
                       : img::image_set_text_report(check));
  return check.rejected ? tools::kExitRejected : kExitOk;
}

Result<int> cmd_export(CLI::App&, Args& a) {
  ACON_TRY(img::Repository repo, img::Repository::locate(a.repo));
  ACON_TRY(std::vector<fs::path> roots, repo.find_bundles(a.images));
  img::ProgressBar progress(img::ProgressBar::terminal(STDERR_FILENO));
  ACON_TRY(img::ExportSummary done,
           img::export_bundle(repo, roots, a.output, a.cert_profile(), progress.start("export")));
  progress.finish();
  std::cout << "exported " << done.images << " image(s), " << done.layers << " layer(s) to "
            << a.output << "\n";
  return kExitOk;
}

Result<int> cmd_import(CLI::App&, Args& a) {
  ACON_TRY(img::Repository repo, img::Repository::locate(a.repo));
  int rc = kExitOk;
  for (const auto& file : a.images) {  // every bundle, also after one is refused
    img::ProgressBar progress(img::ProgressBar::terminal(STDERR_FILENO));
    auto imported =
        img::import_bundle(repo, file, a.cert_profile(), warn, progress.start("import " + file));
    progress.finish();
    if (!imported) rc = std::max(rc, tools::fail(imported.error()));
    if (!imported) continue;
    for (const auto& sm : *imported) std::cout << "imported " << sm.identity.image_id() << "\n";
  }
  return rc;
}

int run(int argc, char** argv) {
  CLI::App app{
      "acon-image: build, sign and verify ACON images in a local repository (.acon/, aconcli's "
      "layout).\nLayers are uncompressed tarballs named by SHA-384; manifests are signed in "
      "canonical JSON.\nExit codes: 0 ok, 1 rejected (signature, digest or launch policy), 2 "
      "unusable input or usage."};
  app.require_subcommand(1);
  tools::add_input_limit_option(app);
  Args a;
  app.add_option("--repo", a.repo,
                 "Repository: .acon or a directory holding it (default: the nearest .acon up)");
  using Body = Result<int> (*)(CLI::App&, Args&);
  std::vector<std::pair<CLI::App*, Body>> commands;
  const auto sub = [&](const char* name, Body body, const char* what) {
    return commands.emplace_back(app.add_subcommand(name, what), body).first;
  };
  const auto opt = [](CLI::App* cmd, const char* name, auto& into, const char* what) {
    return cmd->add_option(name, into, what)->allow_extra_args(false);
  };
  const auto choice = [&](CLI::App* cmd, const char* name, std::string& into, const char* what,
                          std::vector<std::string> choices) {
    opt(cmd, name, into, what)->check(CLI::IsMember(std::move(choices)))->capture_default_str();
  };
  const auto range = [&](CLI::App* cmd, const char* name, auto& into, const char* what, int low,
                         int high) {
    opt(cmd, name, into, what)->check(CLI::Range(low, high))->capture_default_str();
  };
  sub("init", cmd_init, "Create an empty repository (DIR/.acon)")
      ->add_option("dir", a.dir, "Where to create .acon")
      ->capture_default_str();
  auto* create = sub(
      "create", cmd_create,
      "Store layers from the given inputs (in command-line order) and write a manifest for them");
  img::ManifestRequest& r = a.request;
  std::vector<std::string> inputs;  // read back in parse order by cmd_create
  opt(create, "--rootfs", inputs, "Root filesystem directory packed as one deterministic layer");
  opt(create, "--tarball", inputs, "Rootfs tarball (plain/gzip/zstd/xz/bzip2; - = stdin)");
  opt(create, "--oci", inputs, "OCI layout dir: its layers, Entrypoint+Cmd, Env, WorkingDir");
  opt(create, "--docker-save", inputs, "`docker save` tarball (also Docker 25+): as --oci");
  opt(create, "--layer", inputs, "sha384/HEX in the repository, or signer/HASH/SIGNER/NAME");
  opt(create, "--ref", a.layer_options.ref,
      "Which image of a multi-image --oci index (ref.name) or --docker-save (tag)");
  opt(create, "--platform", a.layer_options.platform, "Platform in multi-platform OCI indexes")
      ->capture_default_str();
  opt(create, "-o,--output", a.created, "Manifest file to write")->capture_default_str();
  create->add_flag("--force", a.force, "Overwrite an existing manifest file");
  opt(create, "--entrypoint", r.entrypoint, "entrypoint element (replaces the image config's)");
  opt(create, "--env", r.env,
      "env rule K (any value) or K=V (allowed, first = default); replaces the image config's");
  opt(create, "--working-dir", r.working_dir, "workingDir (default: the image config's, else /)");
  opt(create, "--uid", r.uids, "Extra UID mapped into the container");
  opt(create, "--log-fd", r.log_fds, "logFDs entry");
  create->add_flag("--writable-fs", r.writable_fs, "writableFS: add a writable overlay layer");
  create->add_flag("--no-restart", r.no_restart, "noRestart: forbid Restart");
  opt(create, "--signal", r.signals, "Allowed signal (<0: process group; first: for restart)");
  opt(create, "--max-instances", a.max_instances, "maxInstances (0..2^64-1)")
      ->capture_default_str();
  opt(create, "--self-alias", r.self_aliases, "Image alias NAME:SVN in aliases.self[\".\"]");
  opt(create, "--alias", r.content_aliases,
      "aliases.contents entry OBJECT=NAME (OBJECT: a layer reference, or @N: the N-th layer)");
  opt(create, "--accept", r.accepts,
      "policy.accepts rule HASH/SIGNER/MANIFEST (SIGNER may be *; MANIFEST a digest, *, NAME:SVN)");
  create->add_flag("--reject-unaccepted", r.reject_unaccepted, "policy.rejectUnaccepted");
  opt(create, "--mtime", a.mtime,
      "--rootfs entry mtime: seconds or 'preserve' (default: $SOURCE_DATE_EPOCH, else 0)");
  opt(create, "--owner", a.owner, "UID:GID for every --rootfs entry (default: the files' own)");
  create->add_flag("--allow-special-files", a.layer_options.checks.allow_special_files,
                   "Allow device nodes and FIFOs in layers (refused by default)");
  auto* keygen = sub("keygen", cmd_keygen,
                     "Make a test signer: a private key (PEM) and a self-signed certificate");
  opt(keygen, "-k,--key", a.key, "Private key output (PKCS#8 PEM, mode 0600)")->required();
  opt(keygen, "-c,--cert", a.cert, "Certificate output")->required();
  choice(keygen, "--type", a.signer.type, "Key type", {"p384", "p256", "p521", "rsa", "ed25519"});
  range(keygen, "--rsa-bits", a.signer.rsa_bits, "RSA modulus size", 2048, 16384);
  choice(keygen, "--hash", a.hash, "Certificate signature hash = hash of Signer and Image IDs",
         {"sha256", "sha384", "sha512"});
  opt(keygen, "--subject", a.subject, "Subject, TYPE=VALUE[,TYPE=VALUE...]")->capture_default_str();
  range(keygen, "--days", a.signer.days, "Validity in days", 1, 36500);
  choice(keygen, "--cert-format", a.cert_format, "Certificate file format", {"der", "pem"});
  keygen->add_flag("--force", a.force, "Overwrite existing files");
  auto* sign = sub("sign", cmd_sign,
                   "Canonicalise and sign a manifest; store manifest, signature and certificate");
  opt(sign, "manifest", a.manifest, "Manifest file")->required();
  opt(sign, "-k,--key", a.key, "Private key (PEM or DER)")->required();
  opt(sign, "-c,--cert", a.cert, "Signer certificate (DER or PEM)")->required();
  sign->add_flag("--force", a.force, "Sign despite manifest validation problems");
  choice(sign, "--canonical", a.canonical,
         "jq (jq -jcS ., as ACON's doc) | go (aconcli's encoding/json)", {"jq", "go"});
  auto* hash = sub("hash", cmd_hash,
                   "Print the Signer ID of a certificate and the Image IDs manifests would get");
  opt(hash, "cert", a.cert, "Certificate (DER or PEM)")->required();
  hash->add_option("manifests", a.images, "Manifest files");
  choice(hash, "--canonical", a.canonical,
         "Hash the jq or go canonical form (as sign stores it), or none (the bytes)",
         {"jq", "go", "none"});
  auto* alias = sub("alias-substitute", cmd_alias_substitute,
                    "Replace layer digests by the signer/... aliases of signed images");
  opt(alias, "manifest", a.manifest, "Manifest file (rewritten in place)")->required();
  opt(alias, "-o,--output", a.output, "Write the result here instead");
  auto* ls = sub("ls", cmd_ls, "List the images in the repository");
  ls->add_flag("--json", a.json, "JSON output");
  ls->add_flag("--no-trunc", a.no_trunc, "Full digests");
  auto* verify = sub("verify", cmd_verify,
                     "Check signatures, IDs, layers and launch policy of images in load order");
  verify->add_option("images", a.images, "Image ID, [HASH/]digest prefix or bundle dir")
      ->required();
  choice(verify, "--mode", a.mode,
         "Launch-policy algorithm: acond (greedy, as acond) | spec (graph)",
         {"acond", "spec", "both"});
  verify->add_flag("--no-layers", a.skip_layers, "Skip the layer presence and digest checks");
  verify->add_flag("--json", a.json, "JSON report");
  auto* exp = sub("export", cmd_export,
                  "Write images, the vendor images their layers need and the layers to a tarball");
  exp->add_option("images", a.images, "Images to export")->required();
  opt(exp, "-o,--output", a.output, "Bundle tarball to write")->required();
  auto* imp = sub("import", cmd_import,
                  "Verify exported bundles and add their manifests and layers to the repository");
  imp->add_option("files", a.images, "Bundle tarballs (plain or compressed)")->required();
  for (auto* cmd : {alias, ls, verify, exp, imp}) {
    choice(cmd, "--profile", a.profile,
           "Certificate rules: acond (RSA/ECDSA with SHA-2) | aconcli (also Ed25519, RSA-PSS)",
           {"acond", "aconcli"});
  }
  if (auto rc = tools::parse_command_line(app, argc, argv)) return *rc;
  for (auto& [cmd, body] : commands) {
    if (!*cmd) continue;
    auto rc = body(*cmd, a);
    return rc ? *rc : tools::fail(rc.error());
  }
  return tools::kExitBadInput;
}

}  // namespace
}  // namespace acon

int main(int argc, char** argv) { return acon::tools::guarded_main(argc, argv, acon::run); }
