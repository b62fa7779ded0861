#!/usr/bin/env bash
# Regenerates the stored EK test data (tests/data/SOURCES.md, "vTPM EK certificates") without
# acon's code: swtpm_setup manufactures a TPM whose EK certificate swtpm's local CA issues (in a
# temporary directory, not /var/lib/swtpm-localca), tpm2-tools reads the certificate from NV and
# the EK swtpm_setup made persistent, tpm2_createek makes the ECC P-256 EK, and openssl checks
# the chain.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill "${swtpm_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/state" "$work/ca"
cat > "$work/localca.conf" <<CONF
statedir = $work/ca
signingkey = $work/ca/signkey.pem
issuercert = $work/ca/issuercert.pem
certserial = $work/ca/certserial
CONF
printf -- '--platform-manufacturer acon\n--platform-version 2.1\n--platform-model test\n' \
  > "$work/localca.options"
cat > "$work/setup.conf" <<CONF
create_certs_tool = swtpm_localca
create_certs_tool_config = $work/localca.conf
create_certs_tool_options = $work/localca.options
active_pcr_banks = sha256
CONF
swtpm_setup --tpm2 --tpmstate "$work/state" --create-ek-cert --config "$work/setup.conf" \
  --overwrite > "$work/setup.log"
port=$((20000 + RANDOM % 20000))
swtpm socket --tpm2 --tpmstate dir="$work/state" --server type=tcp,port=$port,bindaddr=127.0.0.1 \
  --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 --flags not-need-init,startup-clear &
swtpm_pid=$!
sleep 0.5
export TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=$port
tpm2_nvread -o "$out/ek_rsa_cert.der" 0x01c00002 2>/dev/null
tpm2_readpublic -c 0x81010001 -f tss -o "$out/ek_rsa.tpm2b_public" > /dev/null
# The ECC P-256 EK of template L-2 (swtpm 0.7.1 certifies a P-384 EK instead, so no certificate).
tpm2_createek -G ecc -c "$work/ek_ecc.ctx" -u "$out/ek_ecc.tpm2b_public" > /dev/null
cp "$work/ca/swtpm-localca-rootca-cert.pem" "$out/ek_root_ca.pem"
cp "$work/ca/issuercert.pem" "$out/ek_issuer_ca.pem"
openssl verify -CAfile "$out/ek_root_ca.pem" -untrusted "$out/ek_issuer_ca.pem" \
  <(openssl x509 -inform der -in "$out/ek_rsa_cert.der")
