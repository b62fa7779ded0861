#!/usr/bin/env bash
# Regenerates tests/data/acon/hardening/: signer certificates (DER) whose keys acond verifies with
# but acon's certificate profiles refuse (DSA, ECDSA on secp256k1 and brainpoolP384r1, RSA-1024, an
# RSA-PSS subject key under a sha384WithRSAEncryption CA), each with `openssl dgst -<hash> -sign`
# over doc-example/manifest.canonical.json: the signature acond's Verifier checks. Uses only the
# `openssl` CLI (3.0+); keys are fresh on every run and not kept. Tests never run this script.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/hardening"
msg="$here/doc-example/manifest.canonical.json"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$out"
rm -f ./*.der ./*.sig

subj() { echo "/O=acon tests/CN=ACON hardening signer $1"; }
days=36500

# name  digest  key-generation options: a self-signed certificate and a manifest signature.
self_signed() {
  local name=$1 md=$2
  shift 2
  openssl genpkey "$@" -out "$tmp/$name.key.pem" 2>/dev/null
  openssl req -new -x509 -key "$tmp/$name.key.pem" "-$md" -days $days -subj "$(subj "$name")" \
    -outform DER -out "$name.cert.der"
  openssl dgst "-$md" -sign "$tmp/$name.key.pem" -out "$name.manifest.sig" "$msg"
}

openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048 \
  -pkeyopt dsa_paramgen_q_bits:256 -out "$tmp/dsa.param.pem" 2>/dev/null
self_signed dsa2048 sha256 -paramfile "$tmp/dsa.param.pem"
self_signed secp256k1 sha256 -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1
self_signed brainpoolp384r1 sha384 -algorithm EC -pkeyopt ec_paramgen_curve:brainpoolP384r1
self_signed rsa1024 sha256 -algorithm RSA -pkeyopt rsa_keygen_bits:1024

# An RSA-PSS subject key certified by an RSA-3072 CA with sha384WithRSAEncryption; the manifest
# signature is RSASSA-PSS with SHA-384 (the key's default padding), as acond's Verifier checks it.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$tmp/ca.key.pem" 2>/dev/null
openssl req -new -x509 -key "$tmp/ca.key.pem" -sha384 -days $days -subj "$(subj rsa_ca)" \
  -out "$tmp/ca.cert.pem"
openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rsapss_key.key.pem" \
  2>/dev/null
openssl req -new -key "$tmp/rsapss_key.key.pem" -subj "$(subj rsapss_key)" -out "$tmp/leaf.csr"
openssl x509 -req -in "$tmp/leaf.csr" -CA "$tmp/ca.cert.pem" -CAkey "$tmp/ca.key.pem" -sha384 \
  -set_serial 9 -days $days -outform DER -out rsapss_key.cert.der 2>/dev/null
openssl dgst -sha384 -sign "$tmp/rsapss_key.key.pem" -out rsapss_key.manifest.sig "$msg"
