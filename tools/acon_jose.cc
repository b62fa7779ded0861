// acon-jose: keys, JWS, JWE and JCS from the command line, over acon's common/ library.
// Exit codes: 0 ok, 1 rejected (signature or decryption failed), 2 unusable input or usage.
#include <CLI/CLI.hpp>

#include <iostream>

#include "acon/common/jose.h"
#include "tool_util.h"

namespace acon {
namespace {

using tools::fail;
using tools::read_input;

Result<PrivateKey> parse_private_key(const std::string& text) {
  if (text.find("-----BEGIN") != std::string::npos) return PrivateKey::from_pem(text);
  ACON_TRY(Json jwk, parse_json(text));
  return PrivateKey::from_jwk(jwk);
}

// A public key file may also hold a private key; only its public half is used.
Result<PublicKey> parse_public_key(const std::string& text) {
  if (text.find("PRIVATE KEY-----") != std::string::npos) {
    ACON_TRY(PrivateKey key, PrivateKey::from_pem(text));
    return key.public_key();
  }
  if (text.find("-----BEGIN") != std::string::npos) return PublicKey::from_pem(text);
  ACON_TRY(Json jwk, parse_json(text));
  return PublicKey::from_jwk(jwk);
}

// The content of a file read whole, parsed; errors about the content name the file.
template <typename Parse>
auto load(const std::string& path, Parse parse) -> decltype(parse(std::string())) {
  ACON_TRY(std::string text, read_input(path));
  auto parsed = parse(text);
  if (!parsed) return parsed.error().wrap(path);
  return parsed;
}

Result<PrivateKey> load_private_key(const std::string& path) {
  return load(path, parse_private_key);
}
Result<PublicKey> load_public_key(const std::string& path) { return load(path, parse_public_key); }

Result<PrivateKey> generate(const std::string& type) {
  if (type == "ec-p256") return PrivateKey::generate_ec(Curve::p256);
  if (type == "ec-p384") return PrivateKey::generate_ec(Curve::p384);
  if (type == "ec-p521") return PrivateKey::generate_ec(Curve::p521);
  if (type == "rsa2048") return PrivateKey::generate_rsa(2048);
  if (type == "rsa3072") return PrivateKey::generate_rsa(3072);
  if (type == "ed25519") return PrivateKey::generate_ed25519();
  return make_error(Errc::invalid_argument, "unknown key type '" + type + "'");
}

int cmd_keygen(const std::string& type, const std::string& out, bool pem) {
  auto key = generate(type);
  if (!key) return fail(key.error());
  SecretBytes text;
  if (pem) {
    text = key->to_pem();
  } else {
    std::string jwk = key->to_jwk().dump();
    text = to_secret(as_bytes(jwk));
    secure_zero(jwk.data(), jwk.size());
    text.push_back('\n');
  }
  auto written = tools::write_private_file(out, view(text));
  if (!written) return fail(written.error());
  std::cout << key->public_key().to_jwk().dump() << "\n";
  return 0;
}

int cmd_pubkey(const std::string& key_path, bool pem) {
  auto key = load_public_key(key_path);
  if (!key) return fail(key.error());
  if (pem) {
    std::cout << key->to_pem();
  } else {
    Json jwk = key->to_jwk();
    std::cout << jwk.dump() << "\n";
  }
  return 0;
}

int cmd_thumbprint(const std::string& key_path) {
  auto key = load_public_key(key_path);
  if (!key) return fail(key.error());
  std::cout << key->thumbprint() << "\n";
  return 0;
}

int cmd_sign(const std::string& key_path, const std::string& alg_name, const std::string& header,
             const std::string& in) {
  auto key = load_private_key(key_path);
  if (!key) return fail(key.error());
  jose::JwsAlg alg = jose::default_jws_alg(key->public_key());
  if (!alg_name.empty()) {
    auto named = jose::jws_alg_from_name(alg_name);
    if (!named)
      return fail(make_error(Errc::invalid_argument, "unknown JWS alg '" + alg_name + "'"));
    alg = *named;
  }
  Json extra = Json::object();
  if (!header.empty()) {
    auto parsed = parse_json(header);
    if (!parsed) return fail(parsed.error().wrap("--header"));
    extra = *parsed;
  }
  auto payload = read_input(in);
  if (!payload) return fail(payload.error());
  auto token = jose::jws_sign(*key, alg, as_bytes(*payload), extra);
  if (!token) return fail(token.error());
  std::cout << *token << "\n";
  return 0;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

int cmd_verify(const std::string& key_path, const std::vector<std::string>& alg_names,
               const std::string& in) {
  auto key = load_public_key(key_path);
  if (!key) return fail(key.error());
  std::vector<jose::JwsAlg> allowed;
  for (const auto& name : alg_names) {
    auto alg = jose::jws_alg_from_name(name);
    if (!alg) return fail(make_error(Errc::invalid_argument, "unknown JWS alg '" + name + "'"));
    allowed.push_back(*alg);
  }
  auto token = read_input(in);
  if (!token) return fail(token.error());
  auto jws = jose::jws_verify(trim(*token), *key, allowed);
  if (!jws) return fail(jws.error().wrap(in));
  std::cout.write(reinterpret_cast<const char*>(jws->payload.data()),
                  static_cast<std::streamsize>(jws->payload.size()));
  return 0;
}

int cmd_encrypt(const std::string& key_path, const std::string& alg_name,
                const std::string& enc_name, bool compact, const std::string& in) {
  auto key = load_public_key(key_path);
  if (!key) return fail(key.error());
  auto alg = jose::jwe_alg_from_name(alg_name);
  if (!alg) return fail(make_error(Errc::invalid_argument, "unknown JWE alg '" + alg_name + "'"));
  auto enc = jose::jwe_enc_from_name(enc_name);
  if (!enc) return fail(make_error(Errc::invalid_argument, "unknown JWE enc '" + enc_name + "'"));
  auto plaintext = read_input(in);
  if (!plaintext) return fail(plaintext.error());
  if (compact) {
    auto jwe = jose::jwe_encrypt_compact(*key, *alg, *enc, as_bytes(*plaintext));
    if (!jwe) return fail(jwe.error());
    std::cout << *jwe << "\n";
  } else {
    auto jwe = jose::jwe_encrypt(*key, *alg, *enc, as_bytes(*plaintext));
    if (!jwe) return fail(jwe.error());
    std::cout << jwe->dump() << "\n";
  }
  return 0;
}

int cmd_decrypt(const std::string& key_path, const std::string& in) {
  auto key = load_private_key(key_path);
  if (!key) return fail(key.error());
  auto jwe = read_input(in);
  if (!jwe) return fail(jwe.error());
  auto plaintext = jose::jwe_decrypt(trim(*jwe), *key);
  if (!plaintext) return fail(plaintext.error().wrap(in));
  std::cout.write(reinterpret_cast<const char*>(plaintext->data()),
                  static_cast<std::streamsize>(plaintext->size()));
  return 0;
}

int cmd_jcs(const std::string& in) {
  auto text = read_input(in);
  if (!text) return fail(text.error());
  auto canonical = jcs_canonicalize_text(*text);
  if (!canonical) return fail(canonical.error().wrap(in));
  std::cout << *canonical;
  return 0;
}

int run(int argc, char** argv) {
  CLI::App app{
      "acon-jose: keys, JWS, JWE and JCS as acon uses them (KBS responses, tokens, report-data "
      "binding).\nKey files are JWK JSON or PEM. '-' reads standard input.\n"
      "Exit codes: 0 ok, 1 rejected (bad signature, failed decryption), 2 bad input or usage."};
  app.require_subcommand(1);
  tools::add_input_limit_option(app);

  std::string key, type = "ec-p256", out, alg, enc = "A256GCM", header, in = "-";
  std::vector<std::string> algs;
  bool pem = false, compact = false;

  auto* keygen = app.add_subcommand("keygen", "Generate a private key (written with mode 0600)");
  keygen->add_option("--type", type, "ec-p256 | ec-p384 | ec-p521 | rsa2048 | rsa3072 | ed25519")
      ->capture_default_str();
  keygen->add_option("--out", out, "File for the private key")->required();
  keygen->add_flag("--pem", pem, "Write PKCS#8 PEM instead of a JWK");

  auto* pubkey = app.add_subcommand("pubkey", "Print the public JWK (or PEM) of a key file");
  pubkey->add_option("--key", key, "Key file (JWK or PEM)")->required();
  pubkey->add_flag("--pem", pem, "Print SubjectPublicKeyInfo PEM");

  auto* thumb = app.add_subcommand("thumbprint", "Print the RFC 7638 SHA-256 thumbprint");
  thumb->add_option("--key", key, "Key file (JWK or PEM)")->required();

  auto* sign = app.add_subcommand("sign", "Sign a payload as compact JWS");
  sign->add_option("--key", key, "Private key file")->required();
  sign->add_option("--alg", alg,
                   "ES256 | ES384 | ES512 | EdDSA | RS256 | PS256 ... (default: from key)");
  sign->add_option("--header", header, "Extra protected header members as a JSON object");
  sign->add_option("--in", in, "Payload file")->capture_default_str();

  auto* verify = app.add_subcommand("verify", "Verify a compact JWS; prints the payload");
  verify->add_option("--key", key, "Public key file")->required();
  verify->add_option("--alg", algs,
                     "Accepted algorithm (repeatable; default: any that fits the key)");
  verify->add_option("--in", in, "File with the compact JWS")->capture_default_str();

  auto* encrypt = app.add_subcommand("encrypt", "Encrypt to a public key as JWE (flattened JSON)");
  encrypt->add_option("--key", key, "Recipient public key file")->required();
  encrypt
      ->add_option("--alg", alg,
                   "ECDH-ES+A256KW | ECDH-ES+A192KW | ECDH-ES+A128KW | RSA-OAEP-256 | RSA1_5")
      ->required();
  encrypt->add_option("--enc", enc, "A256GCM | A192GCM | A128GCM")->capture_default_str();
  encrypt->add_flag("--compact", compact, "Emit compact serialisation instead of flattened JSON");
  encrypt->add_option("--in", in, "Plaintext file")->capture_default_str();

  auto* decrypt =
      app.add_subcommand("decrypt", "Decrypt a JWE (flattened/general JSON or compact)");
  decrypt->add_option("--key", key, "Private key file")->required();
  decrypt->add_option("--in", in, "File with the JWE")->capture_default_str();

  auto* jcs = app.add_subcommand("jcs", "Print the RFC 8785 canonical form of a JSON document");
  jcs->add_option("--in", in, "JSON file")->capture_default_str();

  if (auto done = tools::parse_command_line(app, argc, argv)) return *done;
  if (*keygen) return cmd_keygen(type, out, pem);
  if (*pubkey) return cmd_pubkey(key, pem);
  if (*thumb) return cmd_thumbprint(key);
  if (*sign) return cmd_sign(key, alg, header, in);
  if (*verify) return cmd_verify(key, algs, in);
  if (*encrypt) return cmd_encrypt(key, alg, enc, compact, in);
  if (*decrypt) return cmd_decrypt(key, in);
  if (*jcs) return cmd_jcs(in);
  return tools::kExitBadInput;
}

}  // namespace
}  // namespace acon

int main(int argc, char** argv) { return acon::tools::guarded_main(argc, argv, acon::run); }
