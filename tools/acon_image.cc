// acon-image: build, sign, inspect and verify ACON images in a local repository (the image half
// of ACON's aconcli). Exit codes: 0 ok, 1 rejected (a signature, digest or launch policy does not
// hold), 2 unusable input or usage. The repository and everything done with it live in the image
// library (acon/image/repository.h, build.h, listing.h, progress.h); this file is options and
// printing.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdlib>
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
using tools::fail;
using tools::kExitOk;

// As ACON_TRY, but a failure ends the subcommand: its message (prefixed with `context` in
// CLI_TRY_IN) on stderr and the exit code of tools::fail().
#define CLI_TRY(decl, expr) CLI_TRY_IMPL(ACON_CONCAT(cli_try_, __LINE__), decl, expr, )
#define CLI_TRY_IN(decl, expr, context) \
  CLI_TRY_IMPL(ACON_CONCAT(cli_try_, __LINE__), decl, expr, .wrap(context))
#define CLI_TRY_IMPL(tmp, decl, expr, wrap_context)                \
  auto tmp = (expr);                                               \
  if (!tmp.ok()) return fail(std::move(tmp).error() wrap_context); \
  decl = std::move(tmp).value()

void warn(const std::string& text) { std::cerr << "acon-image: " << text << "\n"; }

// Progress bars are drawn on standard error, and only when it is a terminal.
img::ProgressBar::Sink progress_sink() {
  if (::isatty(2) != 1) return {};
  return [](std::string_view text) { std::cerr << text << std::flush; };
}

// A certificate file in DER or PEM, read bounded.
Result<Certificate> load_certificate(const std::string& path) {
  ACON_TRY(std::string data, tools::read_input(path));
  auto cert = img::parse_certificate_file(as_bytes(data));
  return cert ? cert : cert.error().wrap(path);
}

// Key files are read bounded into memory that is wiped when freed.
Result<PrivateKey> load_private_key(const std::string& path) {
  ACON_TRY(std::string text, tools::read_input(path));
  SecretBytes bytes(text.begin(), text.end());
  std::fill(text.begin(), text.end(), '\0');
  auto key = img::parse_private_key_file(view(bytes));
  return key ? std::move(key) : key.error().wrap(path);
}

img::CanonicalStyle canonical_style(const std::string& name) {
  return name == "go" ? img::CanonicalStyle::go : img::CanonicalStyle::jq;
}

Status refuse_existing(const std::string& path, bool force) {
  std::error_code ec;
  if (force || !fs::exists(path, ec)) return {};
  return make_error(Errc::invalid_argument, path + " exists (use --force to overwrite)");
}

// Options every subcommand shares, and those of each one.
struct Args {
  std::string repo, profile = "acond", canonical = "jq", output, cert, key, manifest;
  std::vector<std::string> images;
  bool force = false, json = false, no_trunc = false, skip_layers = false;
  // create
  img::ManifestRequest request;
  img::LayerInputOptions layer_options;
  std::string mtime, owner;
  bool allow_special = false;
  // keygen
  std::string type = "p384", subject = "CN=ACON test signer", hash = "sha384", cert_format = "der";
  int rsa_bits = 3072;
  unsigned days = 365;
  std::string mode = "both";
  img::CertProfile cert_profile() const {
    return profile == "aconcli" ? img::CertProfile::aconcli : img::CertProfile::acond;
  }
};

int cmd_create(CLI::App& cmd, Args& a) {
  if (a.output.empty()) a.output = "acon.json";
  if (auto s = refuse_existing(a.output, a.force); !s) return fail(s.error());
  CLI_TRY(img::Repository repo, img::Repository::locate(a.repo));
  const std::string mtime = a.mtime.empty() ? img::default_rootfs_mtime() : a.mtime;
  CLI_TRY(a.layer_options.create, img::rootfs_create_options(mtime, a.owner, a.allow_special));
  a.layer_options.checks.allow_special_files = a.allow_special;
  // Layers in command-line order across --rootfs, --tarball, --oci, --docker-save and --layer.
  std::vector<img::LayerInput> inputs;
  std::map<const CLI::Option*, size_t> seen;
  for (const CLI::Option* opt : cmd.parse_order()) {
    const auto source = img::layer_source_for_option(opt->get_name());
    const size_t index = seen[opt]++;
    if (source && index < opt->results().size()) inputs.push_back({*source, opt->results()[index]});
  }
  std::optional<img::ProgressBar> progress;
  img::ImageBuildCallbacks callbacks;
  callbacks.start = [&](const img::LayerInput& input) {
    return progress.emplace(img::layer_input_label(input), progress_sink()).callback();
  };
  callbacks.stored = [&](const img::StoredInput& stored) {
    progress.reset();
    for (const auto& layer : stored.stored) {
      std::cout << layer.digests.ref() << "\t" << layer.digests.size << " bytes\t" << layer.from
                << "\n";
    }
  };
  CLI_TRY(img::Manifest m, img::build_image(repo, inputs, a.layer_options, a.request, callbacks));
  for (const auto& problem : img::manifest_problems(m)) warn("warning: " + problem.message());
  if (auto s = img::write_file_atomic(a.output, img::pretty_manifest(m)); !s)
    return fail(s.error());
  std::cout << "wrote " << a.output << "\n";
  return kExitOk;
}

int cmd_keygen(const Args& a) {
  if (auto repo = img::Repository::locate(a.repo); repo.ok() && repo->holds(a.key)) {
    return fail(make_error(Errc::invalid_argument,
                           a.key + ": private keys are never stored in the repository"));
  }
  for (const auto& out : {a.key, a.cert}) {
    if (auto s = refuse_existing(out, a.force); !s) return fail(s.error());
  }
  img::TestSignerRequest req{a.type, a.rsa_bits, *hash_from_name(a.hash), {}, a.days, {}};
  CLI_TRY(req.subject, img::parse_subject(a.subject));
  req.now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  CLI_TRY(img::TestSigner signer, img::make_test_signer(req));
  const SecretBytes pem = signer.key.to_pem();
  if (auto s = tools::write_private_file(a.key, view(pem)); !s) return fail(s.error());
  const Certificate& cert = signer.certificate;
  if (auto s = img::write_file_atomic(
          a.cert, a.cert_format == "pem" ? cert.to_pem() : to_string(cert.der()));
      !s) {
    return fail(s.error());
  }
  CLI_TRY(std::string id, img::signer_id(cert));
  std::cout << id << "\t" << a.cert << "\n";
  if (!img::signer_id(cert, img::CertProfile::acond)) {
    warn("warning: acond refuses " + a.type + " certificates (aconcli accepts them)");
  }
  return kExitOk;
}

int cmd_sign(const Args& a) {
  CLI_TRY(img::Repository repo, img::Repository::locate(a.repo));
  CLI_TRY(std::string text, tools::read_input(a.manifest));
  CLI_TRY_IN(img::Manifest parsed, img::parse_manifest(text), a.manifest);
  if (auto s = img::review_for_signing(repo, parsed, a.force, warn); !s)
    return fail(s.error().wrap(a.manifest));
  CLI_TRY(Certificate cert, load_certificate(a.cert));
  CLI_TRY(PrivateKey key, load_private_key(a.key));
  CLI_TRY_IN(img::SignedManifest signed_manifest,
             img::sign_manifest_text(text, parsed, key, cert, canonical_style(a.canonical)),
             a.manifest);
  if (!img::id_hash_for_certificate(cert, img::CertProfile::acond)) {
    warn("warning: acond refuses this certificate type");
  }
  if (auto dir = repo.store(signed_manifest); !dir) return fail(dir.error());
  std::cout << signed_manifest.identity.image_id() << "\n";
  return kExitOk;
}

int cmd_hash(const Args& a) {
  CLI_TRY(Certificate cert, load_certificate(a.cert));
  CLI_TRY(std::string signer, img::signer_id(cert));
  std::cout << signer << "\t" << a.cert << "\n";
  const auto style =
      a.canonical == "none" ? std::nullopt : std::optional(canonical_style(a.canonical));
  int rc = kExitOk;
  for (const auto& path : a.images) {
    auto bytes = tools::read_input(path);
    auto id = bytes ? img::manifest_file_identity(cert, *bytes, style) : bytes.error();
    if (!id) {
      rc = fail(bytes ? id.error().wrap(path) : id.error());
      continue;
    }
    std::cout << id->image_id() << "\t" << path << "\n";
  }
  return rc;
}

int cmd_alias_substitute(const Args& a) {
  CLI_TRY(img::Repository repo, img::Repository::locate(a.repo));
  CLI_TRY(std::string text, tools::read_input(a.manifest));
  CLI_TRY_IN(img::Manifest m, img::parse_manifest(text), a.manifest);
  CLI_TRY(img::AliasSubstitution out,
          img::alias_substitute(m, repo.verified_manifests(a.cert_profile())));
  for (const auto& [from, to] : out.replaced) std::cout << from << " -> " << to << "\n";
  for (const auto& rule : out.added_accepts) std::cout << "accepts += " << rule << "\n";
  if (out.replaced.empty()) std::cout << "no layer has an alias in the repository\n";
  const std::string target = a.output.empty() ? a.manifest : a.output;
  if (auto s = img::write_file_atomic(target, img::pretty_manifest(out.manifest)); !s) {
    return fail(s.error());
  }
  return kExitOk;
}

int cmd_ls(const Args& a) {
  CLI_TRY(img::Repository repo, img::Repository::locate(a.repo));
  const auto rows = img::list_images(repo, a.cert_profile());
  if (a.json) {
    std::cout << img::image_listing_json(rows).dump(2) << "\n";
  } else {
    std::cout << img::image_listing_table(rows, a.no_trunc);
  }
  return kExitOk;
}

int cmd_verify(const Args& a) {
  CLI_TRY(img::Repository repo, img::Repository::locate(a.repo));
  img::ImageSetOptions options;
  options.profile = a.cert_profile();
  options.check_layers = !a.skip_layers;
  if (a.mode != "both") {
    options.modes = {a.mode == "acond" ? img::PolicyMode::acond_greedy
                                       : img::PolicyMode::spec_graph};
  }
  std::optional<img::ProgressBar> progress;
  options.layer_progress = [&](const std::string& name) {
    return progress.emplace("hash " + name, progress_sink()).callback();
  };
  // Load everything first: unusable input is exit 2 before any verdict.
  CLI_TRY(std::vector<img::Bundle> bundles, repo.read_bundles(a.images));
  const img::ImageSetCheck check = img::check_image_set(repo, a.images, bundles, options);
  progress.reset();
  if (a.json) {
    std::cout << img::image_set_report(check).dump(2) << "\n";
  } else {
    std::cout << img::image_set_text_report(check);
  }
  return check.rejected ? tools::kExitRejected : kExitOk;
}

int cmd_export(const Args& a) {
  CLI_TRY(img::Repository repo, img::Repository::locate(a.repo));
  std::vector<fs::path> roots;
  for (const auto& spec : a.images) {
    CLI_TRY(fs::path dir, repo.find_bundle(spec));
    roots.push_back(dir);
  }
  img::ProgressBar progress("export", progress_sink());
  CLI_TRY(img::ExportSummary done,
          img::export_bundle(repo, roots, a.output, a.cert_profile(), progress.callback()));
  progress.finish();
  std::cout << "exported " << done.images << " image(s), " << done.layers << " layer(s) to "
            << a.output << "\n";
  return kExitOk;
}

int cmd_import(const Args& a) {
  CLI_TRY(img::Repository repo, img::Repository::locate(a.repo));
  int rc = kExitOk;
  for (const auto& file : a.images) {
    img::ProgressBar progress("import " + file, progress_sink());
    auto imported = img::import_bundle(repo, file, a.cert_profile(), warn, progress.callback());
    progress.finish();
    if (!imported) {
      rc = std::max(rc, fail(imported.error()));
      continue;
    }
    for (const auto& sm : *imported) std::cout << "imported " << sm.identity.image_id() << "\n";
  }
  return rc;
}

int run(int argc, char** argv) {
  CLI::App app{
      "acon-image: build, sign and verify ACON images in a local repository (.acon/, aconcli's "
      "layout).\n"
      "Layers are uncompressed tarballs named by SHA-384; manifests are signed in canonical JSON.\n"
      "Exit codes: 0 ok, 1 rejected (signature, digest or launch policy), 2 unusable input or "
      "usage."};
  app.require_subcommand(1);
  tools::add_input_limit_option(app);
  Args a;
  app.add_option("--repo", a.repo,
                 "Repository: the .acon directory or a directory holding it (default: the "
                 "nearest .acon in the working directory or above)");
  const auto sub = [&](const char* name, const char* what) {
    return app.add_subcommand(name, what);
  };
  const auto many = [](CLI::App* cmd, const char* name, auto& into, const char* what) {
    cmd->add_option(name, into, what)->allow_extra_args(false);
  };
  std::string init_dir = ".";
  auto* init = sub("init", "Create an empty repository (DIR/.acon)");
  init->add_option("dir", init_dir, "Where to create .acon")->capture_default_str();

  auto* create = sub(
      "create",
      "Store layers from the given inputs (in command-line order) and write a manifest for them");
  img::ManifestRequest& r = a.request;
  std::vector<std::string> layer_inputs;  // read back in parse order by cmd_create
  many(create, "--rootfs", layer_inputs,
       "Root filesystem directory packed as one deterministic layer (repeatable)");
  many(create, "--tarball", layer_inputs,
       "Rootfs tarball (plain, gzip, zstd, xz, bzip2; '-' = stdin) stored uncompressed as one "
       "layer (repeatable)");
  many(create, "--oci", layer_inputs,
       "OCI image layout directory: its layers plus Entrypoint+Cmd, Env, WorkingDir");
  many(create, "--docker-save", layer_inputs,
       "`docker save` tarball (legacy or Docker 25+ OCI layout): as --oci");
  many(create, "--layer", layer_inputs,
       "Existing layer reference to include: sha384/HEX in the repository, or a vendor layer "
       "signer/HASH/SIGNER/NAME (repeatable)");
  create->add_option("--ref", a.layer_options.ref,
                     "Which image of a multi-image --oci index (ref.name) or --docker-save (tag)");
  create
      ->add_option("--platform", a.layer_options.platform, "Platform in multi-platform OCI indexes")
      ->capture_default_str();
  create->add_option("-o,--output", a.output, "Manifest file to write (default: acon.json)");
  create->add_flag("--force", a.force, "Overwrite an existing manifest file");
  many(create, "--entrypoint", r.entrypoint,
       "entrypoint element (repeatable; replaces the image config's)");
  many(create, "--env", r.env,
       "env rule: K (any value) or K=V (allowed value, first = default) (repeatable; replaces the "
       "image config's)");
  create->add_option("--working-dir", r.working_dir,
                     "workingDir (default: the image config's, else /)");
  many(create, "--uid", r.uids, "Extra UID mapped into the container (repeatable)");
  many(create, "--log-fd", r.log_fds, "logFDs entry (repeatable)");
  create->add_flag("--writable-fs", r.writable_fs, "writableFS: add a writable overlay layer");
  create->add_flag("--no-restart", r.no_restart, "noRestart: forbid Restart");
  many(create, "--signal", r.signals,
       "Allowed signal (repeatable; negative = process group; the first is the restart signal)");
  create->add_option("--max-instances", r.max_instances, "maxInstances (0..2^64-1)")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            // Checked in full here: CLI11 alone would read "010" as octal.
            auto value = tools::parse_u64_option("--max-instances", text);
            if (!value) return value.error().message;
            text = std::to_string(*value);
            return "";
          },
          "UINT64"))
      ->capture_default_str();
  many(create, "--self-alias", r.self_aliases,
       "Image alias NAME:SVN in aliases.self[\".\"] (repeatable)");
  many(create, "--alias", r.content_aliases,
       "aliases.contents entry OBJECT=NAME; OBJECT is a layer reference or @N for this image's "
       "N-th layer (repeatable)");
  many(create, "--accept", r.accepts,
       "policy.accepts rule HASH/SIGNER/MANIFEST (SIGNER may be *, MANIFEST a digest, * or "
       "NAME:SVN) (repeatable)");
  create->add_flag("--reject-unaccepted", r.reject_unaccepted, "policy.rejectUnaccepted");
  create
      ->add_option("--mtime", a.mtime,
                   "Entry mtime for --rootfs layers: seconds, or 'preserve' (default: "
                   "$SOURCE_DATE_EPOCH, else 0)")
      ->check(CLI::Validator(
          [](const std::string& v) { return v.empty() ? "an empty value is not a time" : ""; }, "",
          "non-empty"));
  create->add_option("--owner", a.owner,
                     "UID:GID written for every --rootfs entry (default: the files' own)");
  create->add_flag("--allow-special-files", a.allow_special,
                   "Allow device nodes and FIFOs in layers (refused by default)");

  auto* keygen =
      sub("keygen", "Make a test signer: a private key (PEM) and a self-signed certificate");
  keygen->add_option("-k,--key", a.key, "Private key output (PKCS#8 PEM, mode 0600)")->required();
  keygen->add_option("-c,--cert", a.cert, "Certificate output")->required();
  keygen->add_option("--type", a.type, "p384 | p256 | p521 | rsa | ed25519")
      ->check(CLI::IsMember({"p384", "p256", "p521", "rsa", "ed25519"}))
      ->capture_default_str();
  keygen->add_option("--rsa-bits", a.rsa_bits, "RSA modulus size (2048..16384)")
      ->check(CLI::Range(2048, 16384))
      ->capture_default_str();
  keygen
      ->add_option("--hash", a.hash,
                   "Certificate signature hash, which is the hash of Signer and Image IDs")
      ->check(CLI::IsMember({"sha256", "sha384", "sha512"}))
      ->capture_default_str();
  keygen->add_option("--subject", a.subject, "Subject, TYPE=VALUE[,TYPE=VALUE...]")
      ->capture_default_str();
  keygen->add_option("--days", a.days, "Validity in days (1..36500)")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  keygen->add_option("--cert-format", a.cert_format, "der | pem")
      ->check(CLI::IsMember({"der", "pem"}))
      ->capture_default_str();
  keygen->add_flag("--force", a.force, "Overwrite existing files");

  auto* sign =
      sub("sign", "Canonicalise and sign a manifest; store manifest, signature and certificate");
  sign->add_option("manifest", a.manifest, "Manifest file")->required();
  sign->add_option("-k,--key", a.key, "Private key (PEM or DER)")->required();
  sign->add_option("-c,--cert", a.cert, "Signer certificate (DER or PEM)")->required();
  sign->add_flag("--force", a.force, "Sign despite manifest validation problems");

  auto* hash =
      sub("hash", "Print the Signer ID of a certificate and the Image IDs manifests would get");
  hash->add_option("cert", a.cert, "Certificate (DER or PEM)")->required();
  hash->add_option("manifests", a.images, "Manifest files");
  for (auto [cmd, what, choices] :
       {std::tuple{sign, "jq (jq -jcS ., as ACON's doc) | go (aconcli's encoding/json)",
                   std::vector<std::string>{"jq", "go"}},
        std::tuple{hash,
                   "Hash the jq or go canonical form (as sign stores it), or none (the bytes)",
                   std::vector<std::string>{"jq", "go", "none"}}}) {
    cmd->add_option("--canonical", a.canonical, what)
        ->check(CLI::IsMember(choices))
        ->capture_default_str();
  }

  auto* alias = sub("alias-substitute",
                    "Replace layer digests that signed repository manifests alias by signer/... "
                    "references, and accept those vendors");
  alias->add_option("manifest", a.manifest, "Manifest file (rewritten in place)")->required();
  alias->add_option("-o,--output", a.output, "Write the result here instead");

  auto* ls = sub("ls", "List the images in the repository");
  ls->add_flag("--json", a.json, "JSON output");
  ls->add_flag("--no-trunc", a.no_trunc, "Full digests");

  auto* verify = sub(
      "verify",
      "Check signatures, IDs, layers and launch-policy compatibility of images loaded in order");
  verify
      ->add_option("images", a.images,
                   "Images in load order: Image ID, [HASH/]digest prefix, or a bundle directory "
                   "(acon.json, signer.cer, signature)")
      ->required();
  verify
      ->add_option("--mode", a.mode,
                   "Launch-policy algorithm: acond (greedy, as acond) | spec (graph) | both")
      ->check(CLI::IsMember({"acond", "spec", "both"}))
      ->capture_default_str();
  verify->add_flag("--no-layers", a.skip_layers, "Skip the layer presence and digest checks");
  verify->add_flag("--json", a.json, "JSON report");

  auto* exp =
      sub("export",
          "Write images (with the vendor manifests their layers need) and layers to a tarball");
  exp->add_option("images", a.images, "Images to export")->required();
  exp->add_option("-o,--output", a.output, "Bundle tarball to write")->required();

  auto* imp =
      sub("import", "Verify exported bundles and add their manifests and layers to the repository");
  imp->add_option("files", a.images, "Bundle tarballs (plain or compressed)")->required();
  for (auto* cmd : {alias, ls, verify, exp, imp}) {
    cmd->add_option(
           "--profile", a.profile,
           "Certificate rules: acond (RSA/ECDSA with SHA-2) | aconcli (also Ed25519, RSA-PSS)")
        ->check(CLI::IsMember({"acond", "aconcli"}))
        ->capture_default_str();
  }

  if (auto rc = tools::parse_command_line(app, argc, argv)) return *rc;
  if (*init) {
    CLI_TRY(img::Repository repo,
            img::Repository::create(fs::path(init_dir) / img::kRepositoryDirName));
    std::cout << "initialized ACON repository " << repo.dir().string() << "\n";
    return kExitOk;
  }
  if (*create) return cmd_create(*create, a);
  if (*keygen) return cmd_keygen(a);
  if (*sign) return cmd_sign(a);
  if (*hash) return cmd_hash(a);
  if (*alias) return cmd_alias_substitute(a);
  if (*ls) return cmd_ls(a);
  if (*verify) return cmd_verify(a);
  if (*exp) return cmd_export(a);
  if (*imp) return cmd_import(a);
  return tools::kExitBadInput;
}

}  // namespace
}  // namespace acon

int main(int argc, char** argv) { return acon::tools::guarded_main(argc, argv, acon::run); }
