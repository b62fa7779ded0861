// ACON image manifest: parsing with acond's serde semantics, stricter validation, canonical bytes
// (jq -cS, or Go json.Marshal as aconcli writes them), and layer / alias reference syntax.
// Format reference: docs/acon-manifest.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acon/common/hash.h"
#include "acon/common/json.h"
#include "acon/common/result.h"

namespace acon::image {

// aliases: OBJECT (layer digest or another alias) -> NAMEs, and "." -> image alias NAMEs.
struct Aliases {
  std::map<std::string, std::vector<std::string>> contents;
  std::map<std::string, std::vector<std::string>> self;  // JSON key "self"
};

// policy: {"accepts":[rule...],"rejectUnaccepted":bool}.
struct LaunchPolicy {
  std::vector<std::string> accepts;
  bool reject_unaccepted = false;
};

// The manifest fields acond knows (acond/src/image.rs). Optional keys are std::optional so that
// a parsed manifest re-serialises to the same key set; the *_or_default() accessors give acond's
// effective value. Keys acond ignores are kept in `unknown` (an object) so re-serialisation
// does not drop them.
struct Manifest {
  std::optional<std::vector<uint32_t>> acon_spec_version;  // "aconSpecVersion"
  std::optional<std::vector<std::string>> layers;          // bottom-first
  Aliases aliases;                                         // required
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> env;
  std::string working_dir;  // "workingDir", required
  std::optional<std::vector<uint32_t>> uids;
  std::optional<std::vector<int32_t>> log_fds;  // "logFDs"
  std::optional<bool> writable_fs;              // "writableFS"
  std::optional<bool> no_restart;               // "noRestart"
  std::vector<int32_t> signals;                 // required
  std::optional<uint64_t> max_instances;        // "maxInstances"
  LaunchPolicy policy;                          // required
  Json unknown = Json::object();                // members acond ignores, verbatim

  // The exact bytes this manifest was parsed from (empty for one built in code). Signatures and
  // Image IDs are computed over these bytes, never over a re-serialisation.
  std::string raw;

  const std::vector<std::string>& layers_or_default() const;
  const std::vector<std::string>& entrypoint_or_default() const;
  const std::vector<std::string>& env_or_default() const;
  const std::vector<uint32_t>& uids_or_default() const;
  bool writable_fs_or_default() const { return writable_fs.value_or(false); }
  bool no_restart_or_default() const { return no_restart.value_or(false); }
  uint64_t max_instances_or_default() const { return max_instances.value_or(0); }
};

// Parses manifest bytes exactly as acond's serde_json does: strict JSON (duplicate member names
// refused), required keys aliases/workingDir/signals/policy, unknown keys ignored, types and
// integer ranges (u32, i32, u64) checked, null never accepted. Keeps `bytes` in Manifest::raw.
// Errors (Errc::parse) name the field: "manifest.signals[2]: expected an i32, got 3000000000".
//   auto m = parse_manifest(file_bytes); if (!m) print(m.error().message);
Result<Manifest> parse_manifest(std::string_view bytes);

// Checks what acond only discovers at run time (or never): layer references, alias objects and
// names, env rules (bare K vs K=V allow-list, no mixing, no duplicate K=V, non-empty K),
// non-zero signals, launch-policy rule syntax, NAME:SVN image aliases, a non-empty entrypoint
// and an absolute workingDir. Returns the first problem, naming the field:
//   "manifest.env[3]: 'PATH=/bin' repeats an allowed value of PATH".
//   ACON_CHECK(validate_manifest(*m));
Status validate_manifest(const Manifest& manifest);

// What a manifest problem is about; tools decide from it whether the problem is fatal.
enum class ManifestProblemKind {
  spec_version,  // aconSpecVersion
  layer,         // a layers entry
  alias,         // an aliases.contents or aliases.self entry
  entrypoint,    // no entrypoint (a layer-only vendor manifest)
  working_dir,   // workingDir not absolute
  env,           // env rules
  signal,        // signals
  uid,           // uids
  policy,        // a policy.accepts rule
};

// One problem: its kind, the field it names and what is wrong.
struct ManifestProblem {
  ManifestProblemKind kind;
  std::string field;   // "manifest.env[3]"
  std::string detail;  // "'PATH=/bin' repeats an allowed value of PATH"
  std::string message() const { return field + ": " + detail; }
};

// Every problem validate_manifest() would report, in field order (empty = valid).
std::vector<ManifestProblem> manifest_problems(const Manifest& manifest);

enum class ProblemSeverity { fatal, warning };

// When signing: every problem is fatal except a missing entrypoint, since a layer-only (vendor)
// manifest is still worth signing.
ProblemSeverity signing_severity(ManifestProblemKind kind);

// When verifying signed images: problems with layers, aliases and the launch policy change which
// layers and images are loaded, so they reject the image; the others (acond's own run-time
// checks) are warnings.
ProblemSeverity verification_severity(ManifestProblemKind kind);

// Canonical JSON text styles.
enum class CanonicalStyle {
  // `jq -jcS .` (jq 1.6): keys sorted by bytes, compact, no trailing newline, every number
  // printed as a double the way jq does (1.0 -> 1, 1e1000 -> 1.7976931348623157e+308,
  // 1e-5 -> 1e-05, 123456789012345678 -> 123456789012345680), control characters and DEL
  // escaped, everything else (including <, >, &, non-ASCII) literal. What ACON's doc signs.
  jq,
  // aconcli's canonicalJson (Go 1.21 json.Unmarshal into interface{} then json.Marshal):
  // <, >, & and U+2028/9 written as \u003c etc., \b and \f as \u0008 / \u000c, DEL literal,
  // numbers through float64 in Go's format (1e-7, 1e+21); numbers outside float64 fail.
  go,
};

// Canonicalises any JSON text (not only manifests). Refuses invalid JSON and duplicate keys.
//   auto canon = canonicalize_json(bytes); // jq style
Result<std::string> canonicalize_json(std::string_view json_text,
                                      CanonicalStyle style = CanonicalStyle::jq);
// Text overloads so that a std::string or literal argument is read as JSON text, not converted
// to a JSON string value.
Result<std::string> canonicalize_json(const std::string& json_text,
                                      CanonicalStyle style = CanonicalStyle::jq);
Result<std::string> canonicalize_json(const char* json_text,
                                      CanonicalStyle style = CanonicalStyle::jq);
// Same, from an already parsed value.
Result<std::string> canonicalize_json(const Json& value, CanonicalStyle style = CanonicalStyle::jq);

// The manifest model as a JSON value: ACON's key names, optional keys only when set, plus the
// `unknown` members. aliases.contents, aliases.self and policy.accepts appear only when
// non-empty (as acond and aconcli write them); policy.rejectUnaccepted always.
Json manifest_to_json(const Manifest& manifest);

// Canonical bytes of a model (what a tool writes and signs). Fails if canonicalisation would
// change a value, e.g. maxInstances above 2^53 (jq prints it as a rounded double) or, in Go
// style, anything outside float64; such bytes would not parse back to the same manifest.
//   auto bytes = serialize_manifest(m); // then sign *bytes
Result<std::string> serialize_manifest(const Manifest& manifest,
                                       CanonicalStyle style = CanonicalStyle::jq);

// ---- Layer and alias references ------------------------------------------------------------

// Hash algorithms ACON uses in references: sha256, sha384, sha512 (lower-case names only).
std::optional<HashAlg> acon_hash_from_name(std::string_view name);

// "HASH/HEX": a layer tarball (or manifest) digest.
struct DigestRef {
  HashAlg alg;
  std::string hex;                // lower-case, hash_size(alg) * 2 digits
  std::string to_string() const;  // "sha384/<hex>"
  bool operator==(const DigestRef&) const = default;
};

// "signer/HASH/SIGNER/NAME": NAME as defined in aliases.contents of a manifest whose signer
// digest (hex of HASH(certificate DER)) is SIGNER.
struct AliasRef {
  HashAlg alg;
  std::string signer;             // lower-case hex, hash_size(alg) * 2 digits
  std::string name;               // a path component: non-empty, no '/', not "." or ".."
  std::string to_string() const;  // "signer/sha384/<signer>/<name>"
  bool operator==(const AliasRef&) const = default;
};

// A manifest.layers entry or an aliases.contents key.
struct LayerRef {
  std::optional<DigestRef> digest;  // exactly one of the two is set
  std::optional<AliasRef> alias;
  std::string to_string() const;
};

// Parses "HASH/HEX" (hex must be lower case and of the hash's length).
//   auto d = parse_digest_ref("sha384/0a1b..."); // error: "digest reference 'x': ..."
Result<DigestRef> parse_digest_ref(std::string_view text);
// Parses "signer/HASH/SIGNER/NAME".
Result<AliasRef> parse_alias_ref(std::string_view text);
// Either form, chosen by the "signer/" prefix.
Result<LayerRef> parse_layer_ref(std::string_view text);
// NAME as used in aliases.contents / aliases.self values and alias references.
Status check_alias_name(std::string_view name);

// ---- NAME:SVN ------------------------------------------------------------------------------

// "NAME:SVN" image alias (e.g. "SharedLayerA:1"); SVN parsed like Rust's u64::from_str
// (optional '+', decimal digits, no overflow), as acond does.
struct NameSvn {
  std::string name;
  uint64_t svn = 0;
  std::string to_string() const;  // "NAME:SVN" with canonical decimal
  bool operator==(const NameSvn&) const = default;
};
// Exactly two ':'-separated parts; the name may be empty only when allow_empty_name (acond
// accepts ":3"; validation does not).
Result<NameSvn> parse_name_svn(std::string_view text, bool allow_empty_name = true);
// Rust u64::from_str: "+7" ok, "" / "+" / "-1" / "1 " / overflow refused.
std::optional<uint64_t> parse_rust_u64(std::string_view text);
// Same name and a.svn >= b.svn.
inline bool satisfies(const NameSvn& have, const NameSvn& want) {
  return have.name == want.name && have.svn >= want.svn;
}

}  // namespace acon::image
