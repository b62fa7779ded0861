#!/usr/bin/env bash
# Regenerates tests/data/acon/certs/: one self-signed signer certificate (DER) and its private key
# (PEM, test-only) per key type and signatureAlgorithm the image library must handle, plus
# signatures made by the `openssl` CLI over doc-example/manifest.canonical.json, so that the
# tests check our verifier against OpenSSL's signer. Uses only the `openssl` CLI (3.0+). Keys are
# fresh on every run; tests read the outputs and never run this script.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/certs"
msg="$here/doc-example/manifest.canonical.json"
mkdir -p "$out"
cd "$out"
rm -f ./*.pem ./*.der ./*.sig

subj() { echo "/O=acon tests/CN=ACON image signer $1"; }
days=36500

# name  key-generation options              certificate digest option(s)
self_signed() {
  local name=$1 md=$2
  shift 2
  openssl genpkey "$@" -out "$name.key.pem" 2>/dev/null
  openssl req -new -x509 -key "$name.key.pem" $md -days $days -subj "$(subj "$name")" \
    -outform DER -out "$name.cert.der"
}

self_signed p256 -sha256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
self_signed p384 -sha384 -algorithm EC -pkeyopt ec_paramgen_curve:P-384
self_signed p521 -sha512 -algorithm EC -pkeyopt ec_paramgen_curve:P-521
self_signed rsa3072 -sha384 -algorithm RSA -pkeyopt rsa_keygen_bits:3072
self_signed ed25519 "" -algorithm ED25519
# RSA key, certificate signed with RSASSA-PSS (SHA-384): what aconcli calls SHA384-RSAPSS.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsapss.key.pem 2>/dev/null
openssl req -new -x509 -key rsapss.key.pem -sha384 -sigopt rsa_padding_mode:pss \
  -sigopt rsa_pss_saltlen:-1 -days $days -subj "$(subj rsapss)" -outform DER -out rsapss.cert.der
# Unsupported by both profiles: SHA-1 and SHA-224 signature algorithms.
self_signed sha1_rsa -sha1 -algorithm RSA -pkeyopt rsa_keygen_bits:2048
self_signed sha224_ec -sha224 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
# An Ed25519 signer key certified by a P-384 CA with ecdsa-with-SHA384: IDs use SHA-384 while
# manifests are signed with pure Ed25519.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ca_p384.key.pem 2>/dev/null
openssl req -new -x509 -key ca_p384.key.pem -sha384 -days $days -subj "$(subj ca_p384)" \
  -out ca_p384.cert.pem
openssl genpkey -algorithm ED25519 -out ed25519_by_p384.key.pem
openssl req -new -key ed25519_by_p384.key.pem -subj "$(subj ed25519_by_p384)" -out leaf.csr.pem
openssl x509 -req -in leaf.csr.pem -CA ca_p384.cert.pem -CAkey ca_p384.key.pem -sha384 \
  -set_serial 7 -days $days -outform DER -out ed25519_by_p384.cert.der 2>/dev/null
rm -f leaf.csr.pem ca_p384.key.pem ca_p384.cert.pem

# OpenSSL-made manifest signatures (`openssl dgst -<hash> -sign`, the form acond verifies).
openssl dgst -sha256 -sign p256.key.pem -out p256.manifest.sig "$msg"
openssl dgst -sha384 -sign p384.key.pem -out p384.manifest.sig "$msg"
openssl dgst -sha512 -sign p521.key.pem -out p521.manifest.sig "$msg"
openssl dgst -sha384 -sign rsa3072.key.pem -out rsa3072.manifest.sig "$msg"
openssl dgst -sha384 -sign rsapss.key.pem -out rsapss.manifest.sig "$msg"
openssl pkeyutl -sign -inkey ed25519.key.pem -rawin -in "$msg" -out ed25519.manifest.sig
openssl pkeyutl -sign -inkey ed25519_by_p384.key.pem -rawin -in "$msg" \
  -out ed25519_by_p384.manifest.sig
