// acon's crypto wrappers, each next to the same work done with raw OpenSSL EVP calls, so the
// acon/raw ratio isolates wrapper overhead. Keys and inputs are made once, outside the timed
// loops; the raw variants call no acon code inside the loop.
//
// Naming: BM_<primitive>_acon[_<api>] vs BM_<primitive>_raw_evp; scripts/bench.sh pairs them.
#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "acon/common/hash.h"
#include "acon/common/jose.h"
#include "acon/common/keys.h"
#include "acon/common/signature.h"
#include "bench_util.h"

namespace {

using acon::bench::die;
using acon::bench::thread_cpu_seconds;

// ---- raw OpenSSL plumbing (deliberately independent of acon/common/ossl.h) ----

template <auto Fn>
struct Free {
  template <class T>
  void operator()(T* p) const {
    Fn(p);
  }
};
using Pkey = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Free<EVP_MD_CTX_free>>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, Free<EVP_CIPHER_CTX_free>>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, Free<ECDSA_SIG_free>>;

template <class T>
T must(acon::Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "acon_bench_crypto: %s: %s\n", what, r.error().to_string().c_str());
    std::abort();
  }
  return std::move(r).value();
}

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i * 131 + 7);
  return out;
}

// Fetched once, as a careful raw-EVP caller would.
const EVP_MD* fetched_md(const char* name) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) die(name);
  return md;
}
const EVP_CIPHER* fetched_cipher(const char* name) {
  const EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, name, nullptr);
  if (c == nullptr) die(name);
  return c;
}

Pkey raw_p256() {
  Pkey key(EVP_EC_gen("P-256"));
  if (!key) die("EVP_EC_gen");
  return key;
}

// ECDSA-SHA256, DER output into a buffer of EVP_PKEY_get_size() bytes; siglen is updated.
bool raw_sign(EVP_PKEY* key, const uint8_t* msg, size_t n, uint8_t* sig, size_t* siglen) {
  MdCtx ctx(EVP_MD_CTX_new());
  return ctx &&
         EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key, nullptr) == 1 &&
         EVP_DigestSign(ctx.get(), sig, siglen, msg, n) == 1;
}

bool raw_verify(EVP_PKEY* key, const uint8_t* msg, size_t n, const uint8_t* sig, size_t siglen) {
  MdCtx ctx(EVP_MD_CTX_new());
  return ctx &&
         EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key, nullptr) ==
             1 &&
         EVP_DigestVerify(ctx.get(), sig, siglen, msg, n) == 1;
}

std::vector<uint8_t> raw_sign_der(EVP_PKEY* key, std::string_view msg) {
  std::vector<uint8_t> sig(static_cast<size_t>(EVP_PKEY_get_size(key)));
  size_t len = sig.size();
  if (!raw_sign(key, reinterpret_cast<const uint8_t*>(msg.data()), msg.size(), sig.data(), &len))
    die("raw sign");
  sig.resize(len);
  return sig;
}

void set_ops_rate(benchmark::State& state) {
  state.counters["ops"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// Shared fixtures, built on first use (outside any timed loop).
struct Keys {
  acon::PrivateKey acon_key = must(acon::PrivateKey::generate_ec(acon::Curve::p256), "keygen");
  acon::PrivateKey acon_peer = must(acon::PrivateKey::generate_ec(acon::Curve::p256), "keygen");
  Pkey raw_key = raw_p256();
  Pkey raw_peer = raw_p256();
};
const Keys& keys() {
  static const Keys k;
  return k;
}

constexpr size_t kEcdsaMessageSize = 64;
constexpr std::string_view kJwsPayload =
    R"({"iat":1700000000,"nonce":"q2WbS5m8tC4","sub":"acon-guest","tee":"tdx"})";
constexpr size_t kJwePlaintextSize = 256;

// ---- SHA-384 throughput ----

void BM_sha384_acon_digest(benchmark::State& state) {
  const auto data = pattern(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto d = acon::digest(acon::HashAlg::sha384, data);
    if (!d) {
      state.SkipWithError("acon::digest failed");
      break;
    }
    benchmark::DoNotOptimize(d->data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_sha384_acon_hasher(benchmark::State& state) {
  const auto data = pattern(static_cast<size_t>(state.range(0)));
  auto hasher = must(acon::Hasher::create(acon::HashAlg::sha384), "Hasher::create");
  for (auto _ : state) {
    hasher.update(data);
    auto d = hasher.finish();
    benchmark::DoNotOptimize(d.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_sha384_raw_evp(benchmark::State& state) {
  const auto data = pattern(static_cast<size_t>(state.range(0)));
  static const EVP_MD* const md = fetched_md("SHA2-384");
  std::array<uint8_t, EVP_MAX_MD_SIZE> out{};
  for (auto _ : state) {
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1) {
      state.SkipWithError("EVP_Digest failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

#define ACON_SHA_SIZES Arg(64)->Arg(1 << 10)->Arg(16 << 10)->Arg(1 << 20)
BENCHMARK(BM_sha384_acon_digest)->ACON_SHA_SIZES;
BENCHMARK(BM_sha384_acon_hasher)->ACON_SHA_SIZES;
BENCHMARK(BM_sha384_raw_evp)->ACON_SHA_SIZES;

// ---- ECDSA P-256 / SHA-256, DER signatures ----

void BM_ecdsa_p256_sign_acon(benchmark::State& state) {
  const auto msg = pattern(kEcdsaMessageSize);
  const auto& key = keys().acon_key;
  for (auto _ : state) {
    auto sig = acon::sign(key, {acon::SigKind::ecdsa, acon::HashAlg::sha256}, msg);
    if (!sig) {
      state.SkipWithError("acon::sign failed");
      break;
    }
    benchmark::DoNotOptimize(sig->data());
  }
  set_ops_rate(state);
}

void BM_ecdsa_p256_sign_raw_evp(benchmark::State& state) {
  const auto msg = pattern(kEcdsaMessageSize);
  EVP_PKEY* key = keys().raw_key.get();
  std::vector<uint8_t> sig(static_cast<size_t>(EVP_PKEY_get_size(key)));
  for (auto _ : state) {
    size_t len = sig.size();
    if (!raw_sign(key, msg.data(), msg.size(), sig.data(), &len)) {
      state.SkipWithError("EVP_DigestSign failed");
      break;
    }
    benchmark::DoNotOptimize(sig.data());
  }
  set_ops_rate(state);
}

void BM_ecdsa_p256_verify_acon(benchmark::State& state) {
  const auto msg = pattern(kEcdsaMessageSize);
  const auto& key = keys().acon_key;
  const auto sig =
      must(acon::sign(key, {acon::SigKind::ecdsa, acon::HashAlg::sha256}, msg), "sign");
  const auto& pub = key.public_key();
  for (auto _ : state) {
    auto ok = acon::verify(pub, {acon::SigKind::ecdsa, acon::HashAlg::sha256}, msg, sig);
    if (!ok) {
      state.SkipWithError("acon::verify failed");
      break;
    }
  }
  set_ops_rate(state);
}

void BM_ecdsa_p256_verify_raw_evp(benchmark::State& state) {
  const auto msg = pattern(kEcdsaMessageSize);
  EVP_PKEY* key = keys().raw_key.get();
  const auto sig =
      raw_sign_der(key, std::string_view(reinterpret_cast<const char*>(msg.data()), msg.size()));
  for (auto _ : state) {
    if (!raw_verify(key, msg.data(), msg.size(), sig.data(), sig.size())) {
      state.SkipWithError("EVP_DigestVerify failed");
      break;
    }
  }
  set_ops_rate(state);
}

BENCHMARK(BM_ecdsa_p256_sign_acon);
BENCHMARK(BM_ecdsa_p256_sign_raw_evp);
BENCHMARK(BM_ecdsa_p256_verify_acon);
BENCHMARK(BM_ecdsa_p256_verify_raw_evp);

// ---- ES256 JWS ----

// ASCII(b64url(header) "." b64url(payload)) of a token: everything before the second '.'.
std::string signing_input(std::string_view token) {
  return std::string(token.substr(0, token.rfind('.')));
}

// acon: header + payload base64url, JSON header, ECDSA sign, DER -> r||s, signature base64url.
void BM_jws_es256_sign_acon(benchmark::State& state) {
  const auto& key = keys().acon_key;
  const auto payload = acon::as_bytes(kJwsPayload);
  for (auto _ : state) {
    auto token = acon::jose::jws_sign(key, acon::jose::JwsAlg::ES256, payload);
    if (!token) {
      state.SkipWithError("jws_sign failed");
      break;
    }
    benchmark::DoNotOptimize(token->data());
  }
  set_ops_rate(state);
}

// raw: EVP ECDSA-SHA256 over the same signing input, DER output (no encoding work).
void BM_jws_es256_sign_raw_evp(benchmark::State& state) {
  const std::string input = signing_input(must(
      acon::jose::jws_sign(keys().acon_key, acon::jose::JwsAlg::ES256, acon::as_bytes(kJwsPayload)),
      "jws_sign"));
  EVP_PKEY* key = keys().raw_key.get();
  std::vector<uint8_t> sig(static_cast<size_t>(EVP_PKEY_get_size(key)));
  for (auto _ : state) {
    size_t len = sig.size();
    if (!raw_sign(key, reinterpret_cast<const uint8_t*>(input.data()), input.size(), sig.data(),
                  &len)) {
      state.SkipWithError("EVP_DigestSign failed");
      break;
    }
    benchmark::DoNotOptimize(sig.data());
  }
  set_ops_rate(state);
}

// acon: split, base64url-decode, parse JSON header, alg checks, r||s -> DER, ECDSA verify.
void BM_jws_es256_verify_acon(benchmark::State& state) {
  const auto& key = keys().acon_key;
  const std::string token =
      must(acon::jose::jws_sign(key, acon::jose::JwsAlg::ES256, acon::as_bytes(kJwsPayload)),
           "jws_sign");
  const std::array<acon::jose::JwsAlg, 1> allowed{acon::jose::JwsAlg::ES256};
  for (auto _ : state) {
    auto jws = acon::jose::jws_verify(token, key.public_key(), allowed);
    if (!jws) {
      state.SkipWithError("jws_verify failed");
      break;
    }
    benchmark::DoNotOptimize(jws->payload.data());
  }
  set_ops_rate(state);
}

// raw: EVP ECDSA-SHA256 verify of the same signing input with a DER signature.
void BM_jws_es256_verify_raw_evp(benchmark::State& state) {
  const std::string input = signing_input(must(
      acon::jose::jws_sign(keys().acon_key, acon::jose::JwsAlg::ES256, acon::as_bytes(kJwsPayload)),
      "jws_sign"));
  EVP_PKEY* key = keys().raw_key.get();
  const auto sig = raw_sign_der(key, input);
  for (auto _ : state) {
    if (!raw_verify(key, reinterpret_cast<const uint8_t*>(input.data()), input.size(), sig.data(),
                    sig.size())) {
      state.SkipWithError("EVP_DigestVerify failed");
      break;
    }
  }
  set_ops_rate(state);
}

BENCHMARK(BM_jws_es256_sign_acon);
BENCHMARK(BM_jws_es256_sign_raw_evp);
BENCHMARK(BM_jws_es256_verify_acon);
BENCHMARK(BM_jws_es256_verify_raw_evp);

// ---- JWE ECDH-ES+A256KW / A256GCM encrypt of 256 bytes to a P-256 key ----

void BM_jwe_ecdh_es_a256kw_a256gcm_acon(benchmark::State& state) {
  const auto plaintext = pattern(kJwePlaintextSize);
  const auto& recipient = keys().acon_peer.public_key();
  for (auto _ : state) {
    auto jwe = acon::jose::jwe_encrypt(recipient, acon::jose::JweAlg::ECDH_ES_A256KW,
                                       acon::jose::JweEnc::A256GCM, plaintext);
    if (!jwe) {
      state.SkipWithError("jwe_encrypt failed");
      break;
    }
    benchmark::DoNotOptimize(jwe->size());
  }
  set_ops_rate(state);
}

// The cryptographic work a JWE encryption needs, straight from EVP: random CEK and IV, ephemeral
// P-256 key (and its public point, for "epk"), ECDH with peer validation (as
// EVP_PKEY_derive_set_peer does by default), one-block SHA-256 Concat KDF, AES-256 key wrap of
// the CEK, AES-256-GCM over 256 bytes with the protected header as AAD. No JSON, no base64. The
// key wrap is OpenSSL 3.0's AES-256-WRAP cipher, which runs portable AES rather than AES-NI
// (acon's runs RFC 3394 over AES-ECB, ~2 us less to wrap and ~3.5 us less to unwrap).
bool raw_jwe(EVP_PKEY* peer, int validate_peer, const std::vector<uint8_t>& plaintext,
             const std::vector<uint8_t>& aad, std::vector<uint8_t>& out) {
  static const EVP_MD* const sha256 = fetched_md("SHA2-256");
  static const EVP_CIPHER* const wrap = fetched_cipher("AES-256-WRAP");
  static const EVP_CIPHER* const gcm = fetched_cipher("AES-256-GCM");
  // Concat KDF OtherInfo for alg "ECDH-ES+A256KW", empty apu/apv, 256-bit key.
  // u32be(len) || "ECDH-ES+A256KW" || u32be(0) (apu) || u32be(0) (apv) || u32be(256).
  static constexpr std::array<uint8_t, 30> other_info = {
      0,   0,   0,   14, 'E', 'C', 'D', 'H', '-', 'E', 'S', '+', 'A', '2', '5',
      '6', 'K', 'W', 0,  0,   0,   0,   0,   0,   0,   0,   0,   0,   1,   0};

  std::array<uint8_t, 32> cek{}, z{}, kek{};
  std::array<uint8_t, 12> iv{};
  std::array<uint8_t, 65> epk{};
  std::array<uint8_t, 40> wrapped{};
  std::array<uint8_t, 16> tag{};
  bool ok = RAND_bytes(cek.data(), static_cast<int>(cek.size())) == 1 &&
            RAND_bytes(iv.data(), static_cast<int>(iv.size())) == 1;

  Pkey eph(ok ? EVP_EC_gen("P-256") : nullptr);
  size_t epk_len = 0, z_len = z.size();
  PkeyCtx dctx(eph ? EVP_PKEY_CTX_new_from_pkey(nullptr, eph.get(), nullptr) : nullptr);
  ok = dctx &&
       EVP_PKEY_get_octet_string_param(eph.get(), OSSL_PKEY_PARAM_PUB_KEY, epk.data(), epk.size(),
                                       &epk_len) == 1 &&
       EVP_PKEY_derive_init(dctx.get()) == 1 &&
       EVP_PKEY_derive_set_peer_ex(dctx.get(), peer, validate_peer) == 1 &&
       EVP_PKEY_derive(dctx.get(), z.data(), &z_len) == 1;

  MdCtx md(EVP_MD_CTX_new());
  const uint8_t counter[4] = {0, 0, 0, 1};
  unsigned int kek_len = 0;
  ok = ok && md && EVP_DigestInit_ex2(md.get(), sha256, nullptr) == 1 &&
       EVP_DigestUpdate(md.get(), counter, sizeof counter) == 1 &&
       EVP_DigestUpdate(md.get(), z.data(), z_len) == 1 &&
       EVP_DigestUpdate(md.get(), other_info.data(), other_info.size()) == 1 &&
       EVP_DigestFinal_ex(md.get(), kek.data(), &kek_len) == 1;

  CipherCtx kw(EVP_CIPHER_CTX_new());
  int len = 0, fin = 0;
  ok = ok && kw && EVP_EncryptInit_ex2(kw.get(), wrap, kek.data(), nullptr, nullptr) == 1 &&
       EVP_EncryptUpdate(kw.get(), wrapped.data(), &len, cek.data(),
                         static_cast<int>(cek.size())) == 1 &&
       EVP_EncryptFinal_ex(kw.get(), wrapped.data() + len, &fin) == 1;

  CipherCtx enc(EVP_CIPHER_CTX_new());
  out.resize(plaintext.size());
  ok = ok && enc && EVP_EncryptInit_ex2(enc.get(), gcm, cek.data(), iv.data(), nullptr) == 1 &&
       EVP_EncryptUpdate(enc.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1 &&
       EVP_EncryptUpdate(enc.get(), out.data(), &len, plaintext.data(),
                         static_cast<int>(plaintext.size())) == 1 &&
       EVP_EncryptFinal_ex(enc.get(), out.data() + len, &fin) == 1 &&
       EVP_CIPHER_CTX_ctrl(enc.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag.size()),
                           tag.data()) == 1;

  OPENSSL_cleanse(cek.data(), cek.size());
  OPENSSL_cleanse(z.data(), z.size());
  OPENSSL_cleanse(kek.data(), kek.size());
  benchmark::DoNotOptimize(wrapped.data());
  benchmark::DoNotOptimize(tag.data());
  return ok;
}

void run_raw_jwe(benchmark::State& state, int validate_peer) {
  const auto plaintext = pattern(kJwePlaintextSize);
  // Stand-in for base64url(protected header) with its epk: about as long as acon's.
  const auto aad = pattern(188);
  EVP_PKEY* peer = keys().raw_peer.get();
  std::vector<uint8_t> out;
  for (auto _ : state) {
    if (!raw_jwe(peer, validate_peer, plaintext, aad, out)) {
      state.SkipWithError("raw JWE pipeline failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  set_ops_rate(state);
}

void BM_jwe_ecdh_es_a256kw_a256gcm_raw_evp(benchmark::State& state) { run_raw_jwe(state, 1); }
// Diagnostic: the same without re-validating the (already trusted) recipient key.
void BM_jwe_ecdh_es_a256kw_a256gcm_raw_evp_nocheck(benchmark::State& state) {
  run_raw_jwe(state, 0);
}

BENCHMARK(BM_jwe_ecdh_es_a256kw_a256gcm_acon);
BENCHMARK(BM_jwe_ecdh_es_a256kw_a256gcm_raw_evp);
BENCHMARK(BM_jwe_ecdh_es_a256kw_a256gcm_raw_evp_nocheck);

// ---- JWE ECDH-ES+A256KW / A256GCM decryption of 256 bytes (the client's side of a GET) ----

void BM_jwe_decrypt_ecdh_es_a256kw_a256gcm_acon(benchmark::State& state) {
  const auto plaintext = pattern(kJwePlaintextSize);
  const auto& own = keys().acon_peer;
  const acon::Json jwe =
      must(acon::jose::jwe_encrypt(own.public_key(), acon::jose::JweAlg::ECDH_ES_A256KW,
                                   acon::jose::JweEnc::A256GCM, plaintext),
           "jwe_encrypt");
  for (auto _ : state) {
    auto opened = acon::jose::jwe_decrypt_json(jwe, own);
    if (!opened) {
      state.SkipWithError("jwe_decrypt_json failed");
      break;
    }
    benchmark::DoNotOptimize(opened->data());
  }
  set_ops_rate(state);
}

// The cryptographic work of the decryption, straight from EVP: ECDH with the sender's
// ephemeral key (already an EVP_PKEY: no JWK import, no validation), the one-block Concat KDF,
// AES-256 key unwrap, AES-256-GCM decryption with tag check. The sealed inputs are made once.
void BM_jwe_decrypt_ecdh_es_a256kw_a256gcm_raw_evp(benchmark::State& state) {
  static const EVP_MD* const sha256 = fetched_md("SHA2-256");
  static const EVP_CIPHER* const wrap = fetched_cipher("AES-256-WRAP");
  static const EVP_CIPHER* const gcm = fetched_cipher("AES-256-GCM");
  EVP_PKEY* own = keys().raw_key.get();
  EVP_PKEY* ephemeral = keys().raw_peer.get();
  const auto plaintext = pattern(kJwePlaintextSize);
  const auto aad = pattern(188);
  std::array<uint8_t, 12> iv{};
  auto derive_kek = [&](std::array<uint8_t, 32>& kek) {
    static constexpr std::array<uint8_t, 30> other_info = {
        0,   0,   0,   14, 'E', 'C', 'D', 'H', '-', 'E', 'S', '+', 'A', '2', '5',
        '6', 'K', 'W', 0,  0,   0,   0,   0,   0,   0,   0,   0,   0,   1,   0};
    std::array<uint8_t, 32> z{};
    size_t z_len = z.size();
    PkeyCtx dctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
    MdCtx md(EVP_MD_CTX_new());
    const uint8_t counter[4] = {0, 0, 0, 1};
    unsigned int kek_len = 0;
    bool ok = dctx && md && EVP_PKEY_derive_init(dctx.get()) == 1 &&
              EVP_PKEY_derive_set_peer_ex(dctx.get(), ephemeral, 0) == 1 &&
              EVP_PKEY_derive(dctx.get(), z.data(), &z_len) == 1 &&
              EVP_DigestInit_ex2(md.get(), sha256, nullptr) == 1 &&
              EVP_DigestUpdate(md.get(), counter, sizeof counter) == 1 &&
              EVP_DigestUpdate(md.get(), z.data(), z_len) == 1 &&
              EVP_DigestUpdate(md.get(), other_info.data(), other_info.size()) == 1 &&
              EVP_DigestFinal_ex(md.get(), kek.data(), &kek_len) == 1;
    OPENSSL_cleanse(z.data(), z.size());
    return ok;
  };
  // Seal once: wrapped CEK, ciphertext and tag that the loop opens.
  std::array<uint8_t, 32> cek{}, kek{};
  std::array<uint8_t, 40> wrapped{};
  std::array<uint8_t, 16> tag{};
  std::vector<uint8_t> ciphertext(plaintext.size());
  {
    CipherCtx kw(EVP_CIPHER_CTX_new()), enc(EVP_CIPHER_CTX_new());
    int len = 0, fin = 0;
    if (RAND_bytes(cek.data(), static_cast<int>(cek.size())) != 1 || !derive_kek(kek) ||
        EVP_EncryptInit_ex2(kw.get(), wrap, kek.data(), nullptr, nullptr) != 1 ||
        EVP_EncryptUpdate(kw.get(), wrapped.data(), &len, cek.data(),
                          static_cast<int>(cek.size())) != 1 ||
        EVP_EncryptFinal_ex(kw.get(), wrapped.data() + len, &fin) != 1 ||
        EVP_EncryptInit_ex2(enc.get(), gcm, cek.data(), iv.data(), nullptr) != 1 ||
        EVP_EncryptUpdate(enc.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) !=
            1 ||
        EVP_EncryptUpdate(enc.get(), ciphertext.data(), &len, plaintext.data(),
                          static_cast<int>(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(enc.get(), ciphertext.data() + len, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(enc.get(), EVP_CTRL_AEAD_GET_TAG, 16, tag.data()) != 1)
      die("raw JWE seal");
  }
  std::vector<uint8_t> out(plaintext.size());
  for (auto _ : state) {
    std::array<uint8_t, 32> unwrapped{};
    CipherCtx kw(EVP_CIPHER_CTX_new()), dec(EVP_CIPHER_CTX_new());
    int len = 0, fin = 0;
    bool ok = derive_kek(kek) && kw && dec &&
              EVP_DecryptInit_ex2(kw.get(), wrap, kek.data(), nullptr, nullptr) == 1 &&
              EVP_DecryptUpdate(kw.get(), unwrapped.data(), &len, wrapped.data(),
                                static_cast<int>(wrapped.size())) == 1 &&
              EVP_DecryptFinal_ex(kw.get(), unwrapped.data() + len, &fin) == 1 &&
              EVP_DecryptInit_ex2(dec.get(), gcm, unwrapped.data(), iv.data(), nullptr) == 1 &&
              EVP_DecryptUpdate(dec.get(), nullptr, &len, aad.data(),
                                static_cast<int>(aad.size())) == 1 &&
              EVP_DecryptUpdate(dec.get(), out.data(), &len, ciphertext.data(),
                                static_cast<int>(ciphertext.size())) == 1 &&
              EVP_CIPHER_CTX_ctrl(dec.get(), EVP_CTRL_AEAD_SET_TAG, 16, tag.data()) == 1 &&
              EVP_DecryptFinal_ex(dec.get(), out.data() + len, &fin) == 1;
    OPENSSL_cleanse(unwrapped.data(), unwrapped.size());
    OPENSSL_cleanse(kek.data(), kek.size());
    if (!ok) {
      state.SkipWithError("raw JWE open failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  set_ops_rate(state);
}

BENCHMARK(BM_jwe_decrypt_ecdh_es_a256kw_a256gcm_acon);
BENCHMARK(BM_jwe_decrypt_ecdh_es_a256kw_a256gcm_raw_evp);

// ---- Ed25519 signature over a 32-byte hash (one audit record) ----

void BM_ed25519_sign_acon_prepared(benchmark::State& state) {
  const acon::PrivateKey key = must(acon::PrivateKey::generate_ed25519(), "ed25519 keygen");
  const acon::PreparedSigner signer =
      must(acon::PreparedSigner::create(key, acon::SigScheme{acon::SigKind::ed25519}), "signer");
  const auto hash = pattern(32);
  for (auto _ : state) {
    auto sig = signer.sign(hash);
    if (!sig) {
      state.SkipWithError("PreparedSigner::sign failed");
      break;
    }
    benchmark::DoNotOptimize(sig->data());
  }
  set_ops_rate(state);
}

void BM_ed25519_sign_raw_evp(benchmark::State& state) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) die("Ed25519 keygen");
  const auto hash = pattern(32);
  std::array<uint8_t, 64> sig{};
  for (auto _ : state) {
    MdCtx ctx(EVP_MD_CTX_new());
    size_t len = sig.size();
    if (!ctx ||
        EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key.get(), nullptr) !=
            1 ||
        EVP_DigestSign(ctx.get(), sig.data(), &len, hash.data(), hash.size()) != 1) {
      state.SkipWithError("Ed25519 sign failed");
      break;
    }
    benchmark::DoNotOptimize(sig.data());
  }
  set_ops_rate(state);
}

BENCHMARK(BM_ed25519_sign_acon_prepared);
BENCHMARK(BM_ed25519_sign_raw_evp);

// ---- Building blocks of the JWE path, to locate overhead ----

void BM_ec_p256_keygen_acon(benchmark::State& state) {
  for (auto _ : state) {
    auto key = acon::PrivateKey::generate_ec(acon::Curve::p256);
    if (!key) {
      state.SkipWithError("generate_ec failed");
      break;
    }
    benchmark::DoNotOptimize(key->get());
  }
  set_ops_rate(state);
}

void BM_ec_p256_keygen_raw_evp(benchmark::State& state) {
  for (auto _ : state) {
    Pkey key(EVP_EC_gen("P-256"));
    if (!key) {
      state.SkipWithError("EVP_EC_gen failed");
      break;
    }
    benchmark::DoNotOptimize(key.get());
  }
  set_ops_rate(state);
}

void BM_ecdh_p256_acon(benchmark::State& state) {
  const auto& own = keys().acon_key;
  const auto& peer = keys().acon_peer.public_key();
  for (auto _ : state) {
    auto z = acon::ecdh(own, peer);
    if (!z) {
      state.SkipWithError("acon::ecdh failed");
      break;
    }
    benchmark::DoNotOptimize(z->data());
  }
  set_ops_rate(state);
}

void BM_ecdh_p256_raw_evp(benchmark::State& state) {
  EVP_PKEY* own = keys().raw_key.get();
  EVP_PKEY* peer = keys().raw_peer.get();
  std::array<uint8_t, 32> z{};
  for (auto _ : state) {
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr));
    size_t len = z.size();
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
        EVP_PKEY_derive_set_peer_ex(ctx.get(), peer, 1) != 1 ||
        EVP_PKEY_derive(ctx.get(), z.data(), &len) != 1) {
      state.SkipWithError("EVP_PKEY_derive failed");
      break;
    }
    benchmark::DoNotOptimize(z.data());
  }
  set_ops_rate(state);
}

BENCHMARK(BM_ec_p256_keygen_acon);
BENCHMARK(BM_ec_p256_keygen_raw_evp);
BENCHMARK(BM_ecdh_p256_acon);
BENCHMARK(BM_ecdh_p256_raw_evp);

}  // namespace

BENCHMARK_MAIN();
