#!/bin/sh
# Regenerates the stored vTPM quote in this directory, independently of acon's code: swtpm as the
# TPM, tpm2-tools to create the AK, extend PCRs and quote, openssl for the AK certificates.
# Usage: tests/data/tpm/make_swtpm_quote.sh [port]   (uses port and port+1 on 127.0.0.1)
set -eu
out=$(cd "$(dirname "$0")" && pwd)
port=${1:-24321}
work=$(mktemp -d)
swtpm socket --tpm2 --tpmstate dir="$work" \
  --server type=tcp,port="$port",bindaddr=127.0.0.1 \
  --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
  --flags not-need-init,startup-clear &
pid=$!
trap 'kill $pid; rm -rf "$work"' EXIT
sleep 1
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"

# The AK: a restricted ECDSA P-256 / SHA-256 signing primary under the endorsement hierarchy,
# the template acon's vTPM backend uses.
tpm2_createprimary -Q -C e -g sha256 -G ecc256:ecdsa-sha256:null \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign|noda' \
  -c "$work/ak.ctx"
# Without a resource manager every tool leaves its objects loaded: persist the AK and flush.
ak=0x81010001
tpm2_evictcontrol -Q -C o -c "$work/ak.ctx" $ak
tpm2_flushcontext -t
tpm2_readpublic -Q -c $ak -f tss -o "$out/ak.tpm2b_public"
tpm2_readpublic -Q -c $ak -f pem -o "$out/ak.pem"

# Measurements in both banks: H(text) extended into PCRs 0, 4 and 7.
for m in "0 firmware" "4 bootloader" "7 secure-boot-config" "0 separator"; do
  set -- $m
  d256=$(printf '%s' "$2" | openssl dgst -sha256 -r | cut -d' ' -f1)
  d384=$(printf '%s' "$2" | openssl dgst -sha384 -r | cut -d' ' -f1)
  tpm2_pcrextend "$1:sha256=$d256,sha384=$d384"
done

# The 64-byte nonce: SHA-512 of a fixed text.
nonce=$(printf 'acon vtpm stored quote nonce' | openssl dgst -sha512 -r | cut -d' ' -f1)
printf '%s\n' "$nonce" > "$out/nonce.hex"
all=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23
tpm2_quote -Q -c $ak -l "sha384:$all+sha256:$all" -q "$nonce" \
  -m "$work/attest.bin" -s "$work/signature.bin"
# PCR values as raw concatenations in index order, one file per bank.
tpm2_pcrread -Q "sha256:$all" -o "$out/pcrs_sha256.bin"
tpm2_pcrread -Q "sha384:$all" -o "$out/pcrs_sha384.bin"
# acon's layout: TPM2B_ATTEST (16-bit big-endian size, TPMS_ATTEST) then TPMT_SIGNATURE.
python3 - "$work/attest.bin" "$work/signature.bin" "$out/quote.bin" <<'PY'
import struct, sys
attest = open(sys.argv[1], "rb").read()
signature = open(sys.argv[2], "rb").read()
open(sys.argv[3], "wb").write(struct.pack(">H", len(attest)) + attest + signature)
PY
# tpm2-tools' own check of what it produced.
tpm2_checkquote -Q -u "$out/ak.pem" -m "$work/attest.bin" -s "$work/signature.bin" -q "$nonce"

# A second AK, RSA-2048 with RSASSA-PSS / SHA-256, quoting sha256 PCRs 0..7 under a short nonce.
# tpm2_checkquote cannot check RSAPSS quotes (tpm2-software/tpm2-tools#3283); the TPM itself
# checks the signature instead (tpm2_verifysignature).
tpm2_flushcontext -t
tpm2_createprimary -Q -C e -g sha256 -G rsa2048:rsapss-sha256:null \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign|noda' \
  -c "$work/rsa_ak.ctx"
tpm2_flushcontext -t
tpm2_readpublic -Q -c "$work/rsa_ak.ctx" -f tss -o "$out/rsa_ak.tpm2b_public"
tpm2_flushcontext -t
tpm2_quote -Q -c "$work/rsa_ak.ctx" --scheme rsapss -g sha256 -l sha256:0,1,2,3,4,5,6,7 \
  -q 00112233445566778899aabbccddeeff -m "$work/rsa_attest.bin" -s "$work/rsa_signature.bin"
tpm2_flushcontext -t
tpm2_verifysignature -Q -c "$work/rsa_ak.ctx" -g sha256 -m "$work/rsa_attest.bin" \
  -s "$work/rsa_signature.bin"
python3 - "$work/rsa_attest.bin" "$work/rsa_signature.bin" "$out/rsapss_quote.bin" <<'PY'
import struct, sys
attest = open(sys.argv[1], "rb").read()
signature = open(sys.argv[2], "rb").read()
open(sys.argv[3], "wb").write(struct.pack(">H", len(attest)) + attest + signature)
PY

# AK certificates: a test CA certifies the AK's public key; another CA certifies nothing here.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/ca.key"
openssl req -x509 -new -key "$work/ca.key" -subj "/CN=acon test AK CA" -days 7300 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  -out "$out/ak_ca.pem"
openssl x509 -new -subj "/CN=acon test AK" -force_pubkey "$out/ak.pem" -CA "$out/ak_ca.pem" \
  -CAkey "$work/ca.key" -days 3650 -out "$out/ak_cert.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/other.key"
openssl req -x509 -new -key "$work/other.key" -subj "/CN=acon test other CA" -days 7300 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  -out "$out/other_ca.pem"
