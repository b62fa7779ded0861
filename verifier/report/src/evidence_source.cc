#include "acon/report/evidence_source.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "acon/image/attestation_data.h"
#include "acon/image/repository.h"
#include "acon/report/archive.h"

extern char** environ;

namespace acon::report {
namespace {

using FileReader = std::function<Result<std::string>(const std::string&)>;

// A bundle's image directory name: images/000, images/001, ...
std::string image_prefix(size_t number) {
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "images/%03zu", number);
  return prefix;
}

// An image directory as a bundle holds it: manifest.json (required), signature, certificate.der.
Status add_image_files(const FileReader& read, const std::string& dir, size_t number,
                       std::vector<ArchiveFile>& files) {
  const std::string prefix = image_prefix(number) + "/";
  for (const char* name : {"manifest.json", "signature", "certificate.der"}) {
    const std::filesystem::path path = std::filesystem::path(dir) / name;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      if (std::string_view(name) == "manifest.json")
        return make_error(Errc::not_found, path.string() + ": missing");
      continue;
    }
    ACON_TRY(std::string content, read(path.string()));
    files.push_back({prefix + name, to_bytes(content)});
  }
  return {};
}

// Runs `args` (args[0] is the program) with its standard output discarded; its errors reach our
// standard error. The exit status, or an error when it could not run.
Result<int> run_quietly(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return make_error(Errc::io, args[0] + ": " + std::strerror(spawned));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return make_error(Errc::io, args[0] + ": " + std::strerror(errno));
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// acond's evidence for a fresh Report, written as a bundle by acon-client (the acond client
// library's tool: acon-verify does not link gRPC, which would double its start-up time,
// docs/acon-verify.md §1), then read back with the bundle loader.
Result<LoadedEvidence> from_acond(const EvidenceSource& source) {
  uint64_t nonce[2] = {source.acond_nonce.value_or(0), 0};
  if (!source.acond_nonce) {
    ACON_TRY(Bytes random, random_bytes(16));
    for (int i = 0; i < 16; ++i) nonce[i / 8] |= uint64_t{random[i]} << (8 * (i % 8));
  }
  std::string client = source.acon_client;
  if (client.empty()) {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return make_error(Errc::io, "/proc/self/exe: " + ec.message());
    client = (self.parent_path() / "acon-client").string();
  }
  ACON_TRY(TemporaryDirectory scratch, TemporaryDirectory::create());
  const std::string bundle = (scratch.path() / "bundle").string();
  ACON_TRY(int exit_code,
           run_quietly({client, "-c", source.acond, "report", "--nonce", std::to_string(nonce[0]),
                        std::to_string(nonce[1]), "--bundle", bundle}));
  if (exit_code != 0)
    return make_error(Errc::io, "--acond " + source.acond + ": acon-client report failed (exit " +
                                    std::to_string(exit_code) + ")");
  auto evidence = appraisal::load_evidence_directory(bundle);
  if (!evidence) return evidence.error().wrap("--acond " + source.acond);
  return LoadedEvidence{std::move(*evidence), "acond " + source.acond,
                        image::requestor_nonce(nonce[0], nonce[1])};
}

// A KBS attestation request, which carries no images: the auditor adds the manifests the runtime
// log names, one directory each.
Result<appraisal::Evidence> from_kbs_request(const EvidenceSource& source, const FileReader& read,
                                             std::vector<ArchiveFile> image_files) {
  ACON_TRY(std::string body, read(source.kbs_request));
  auto evidence = appraisal::load_kbs_attestation(body, source.tee);
  if (!evidence) return evidence.error().wrap(source.kbs_request);
  for (size_t i = 0; i < image_files.size();) {
    appraisal::ProvidedImage image;
    const std::string dir = image_files[i].path.substr(0, image_files[i].path.rfind('/'));
    image.name = source.image_dirs[evidence->images.size()];
    for (; i < image_files.size() && image_files[i].path.starts_with(dir + "/"); ++i) {
      const std::string name = image_files[i].path.substr(dir.size() + 1);
      Bytes& target = name == "manifest.json" ? image.manifest
                      : name == "signature"   ? image.signature
                                              : image.certificate_der;
      target = std::move(image_files[i].content);
    }
    evidence->images.push_back(std::move(image));
  }
  return evidence;
}

Result<appraisal::Evidence> from_bundle(const EvidenceSource& source, const FileReader& read) {
  std::error_code ec;
  if (std::filesystem::is_directory(source.bundle, ec)) {
    auto evidence = appraisal::load_evidence_directory(source.bundle);
    if (!evidence) return evidence.error().wrap(source.bundle);
    return evidence;
  }
  ACON_TRY(std::string content, read(source.bundle));
  const size_t first = content.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && content[first] == '{') {
    auto evidence = appraisal::parse_evidence_json(content);
    if (!evidence) return evidence.error().wrap(source.bundle);
    return evidence;
  }
  return load_evidence_archive(as_bytes(content), source.bundle);
}

Result<appraisal::Evidence> from_files(const EvidenceSource& source, const FileReader& read,
                                       std::vector<ArchiveFile> image_files) {
  const std::string description = "files";
  std::vector<ArchiveFile> files;
  for (const auto& [name, path] : source.files) {
    ACON_TRY(std::string content, read(path));
    files.push_back({name, to_bytes(content)});
  }
  if (files.empty())
    return make_error(Errc::invalid_argument,
                      "no evidence: give --bundle, --kbs-request or the files (--quote ...)");
  for (ArchiveFile& file : image_files) files.push_back(std::move(file));
  auto evidence = load_evidence_files(files, description);
  if (evidence) return evidence;
  // The loader names "files:<bundle name>"; the user named the file by its path.
  std::string message = evidence.error().message;
  std::vector<std::pair<std::string, std::string>> names = source.files;
  for (size_t i = 0; i < source.image_dirs.size(); ++i)
    names.emplace_back(image_prefix(i), source.image_dirs[i]);
  for (const auto& [name, path] : names)
    for (size_t at = message.find(description + ":" + name); at != std::string::npos;
         at = message.find(description + ":" + name, at + path.size()))
      message.replace(at, description.size() + 1 + name.size(), path);
  return make_error(evidence.error().code, std::move(message));
}

}  // namespace

Result<LoadedEvidence> load_evidence(const EvidenceSource& source) {
  if (!source.acond.empty()) return from_acond(source);
  const FileReader read = source.read_file ? source.read_file : [](const std::string& path) {
    return image::read_bounded_file(path, appraisal::kMaxEvidenceBytes);
  };
  std::vector<ArchiveFile> image_files;
  for (size_t i = 0; i < source.image_dirs.size(); ++i)
    ACON_CHECK(add_image_files(read, source.image_dirs[i], i, image_files));
  LoadedEvidence loaded;
  if (!source.kbs_request.empty()) {
    loaded.description = source.kbs_request + " (KBS attestation request, tee " + source.tee + ")";
    ACON_TRY(loaded.evidence, from_kbs_request(source, read, std::move(image_files)));
  } else if (!source.bundle.empty()) {
    if (!image_files.empty())
      return make_error(Errc::invalid_argument, "--image: a bundle holds its images itself");
    loaded.description = source.bundle;
    ACON_TRY(loaded.evidence, from_bundle(source, read));
  } else {
    loaded.description = "files";
    ACON_TRY(loaded.evidence, from_files(source, read, std::move(image_files)));
  }
  return loaded;
}

}  // namespace acon::report
