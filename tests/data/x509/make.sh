#!/usr/bin/env bash
# Regenerates the test PKI in this directory (see README.md). Uses only the `openssl` CLI (3.0+).
# Keys are fresh on every run, so signatures and public keys change, but subjects, serials,
# validity windows, extensions and CRL contents are fixed. Tests read the outputs; they never
# run this script.
set -euo pipefail

out="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

# Validity windows (UTCTime, as `openssl ca` wants them).
ca_start=200101000000Z
ca_end=400101000000Z
leaf_start=240101000000Z
leaf_end=260101000000Z
crl_last=240601000000Z
crl_next=250601000000Z
revoked_at=240515000000Z

# SGX-extension stand-in: SEQUENCE { SEQUENCE { OID 1.2.840.113741.1.13.1.1 (PPID),
# OCTET STRING 00112233445566778899aabbccddeeff } }.
sgx_ext_der=3020301e060a2a864886f84d010d0101041000112233445566778899aabbccddeeff

cat >openssl.cnf <<'EOF'
[ ca ]
default_ca = this_ca

[ this_ca ]
dir              = .
database         = $dir/$ENV::CA_NAME.index
serial           = $dir/$ENV::CA_NAME.serial
crlnumber        = $dir/$ENV::CA_NAME.crlnumber
new_certs_dir    = $dir/newcerts
policy           = policy_any
unique_subject   = no
copy_extensions  = none
email_in_dn      = no
default_md       = sha256
crl_extensions   = crl_ext

[ policy_any ]
commonName             = supplied
organizationName       = optional
localityName           = optional
stateOrProvinceName    = optional
countryName            = optional

[ req ]
distinguished_name = req_dn
prompt             = no

[ req_dn ]
CN = unused

[ crl_ext ]
authorityKeyIdentifier = keyid:always
EOF

cat >ext.cnf <<EOF
[ root_ext ]
basicConstraints       = critical, CA:TRUE, pathlen:1
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ platform_ext ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ pck_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
1.2.840.113741.1.13.1  = DER:${sgx_ext_der}

[ plain_leaf_ext ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
subjectKeyIdentifier   = hash
EOF

mkdir newcerts
export OPENSSL_CONF="$work/openssl.cnf"
export CA_NAME=none  # openssl.cnf reads it on every load, also for `req`

dn() { echo "/CN=$1/O=Acon Test/L=Santa Clara/ST=CA/C=US"; }

# new_ca NAME: empty database for one issuing CA.
new_ca() {
  : >"$1.index"
  echo 01 >"$1.crlnumber"
}

# issue CA_NAME ISSUER_KEY ISSUER_CERT|- SUBJECT_KEY SUBJECT_DN SERIAL EXT START END OUT [MD]
# ISSUER_CERT "-" means self-signed.
issue() {
  local ca=$1 ikey=$2 icert=$3 skey=$4 subj=$5 serial=$6 ext=$7 start=$8 end=$9 outf=${10}
  local md=${11:-sha256}
  echo "$serial" >"$ca.serial"
  openssl req -new -key "$skey" -subj "$subj" -out "$outf.csr"
  local signer=(-cert "$icert")
  [[ $icert == - ]] && signer=(-selfsign)
  CA_NAME=$ca openssl ca -batch -notext -preserveDN -keyfile "$ikey" "${signer[@]}" \
    -in "$outf.csr" -out "$outf" -md "$md" -extfile ext.cnf -extensions "$ext" \
    -startdate "$start" -enddate "$end" 2>/dev/null
}

# gencrl CA_NAME KEY CERT OUT
gencrl() {
  CA_NAME=$1 openssl ca -gencrl -keyfile "$2" -cert "$3" -md sha256 \
    -crl_lastupdate "$crl_last" -crl_nextupdate "$crl_next" -out "$4.pem" 2>/dev/null
  openssl crl -in "$4.pem" -outform DER -out "$4.der"
}

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# Root CA (self-signed) and a second, unrelated root.
ec_key root.key
new_ca root
issue root root.key - root.key "$(dn 'Acon Test SGX Root CA')" 1000 root_ext \
  "$ca_start" "$ca_end" root.pem

ec_key other_root.key
new_ca other_root
issue other_root other_root.key - other_root.key "$(dn 'Acon Test Other Root CA')" 1000 \
  root_ext "$ca_start" "$ca_end" other_root.pem

# Intermediate "Platform CA", issued by the root.
ec_key platform.key
issue root root.key root.pem platform.key "$(dn 'Acon Test SGX PCK Platform CA')" 2000 \
  platform_ext "$ca_start" "$ca_end" platform_ca.pem

# Leaves (PCK-like) issued by the Platform CA.
new_ca platform
ec_key leaf_good.key
issue platform platform.key platform_ca.pem leaf_good.key "$(dn 'Acon Test SGX PCK Certificate')" \
  3001 pck_ext "$leaf_start" "$leaf_end" leaf_good.pem
ec_key leaf_revoked.key
issue platform platform.key platform_ca.pem leaf_revoked.key \
  "$(dn 'Acon Test SGX PCK Certificate Revoked')" 3002 pck_ext "$leaf_start" "$leaf_end" \
  leaf_revoked.pem

# Revoke serial 3002 with a fixed revocation date (`openssl ca -revoke` would use the clock).
awk -F'\t' -v OFS='\t' -v at="$revoked_at,keyCompromise" \
  '$4 == "3002" { $1 = "R"; $3 = at } { print }' platform.index >platform.index.new
mv platform.index.new platform.index

gencrl root root.key root.pem root_crl
gencrl platform platform.key platform_ca.pem platform_crl

# RSA-3072 certificate signed with sha384WithRSAEncryption (self-signed).
openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out rsa.key
new_ca rsa
issue rsa rsa.key - rsa.key "$(dn 'Acon Test RSA-3072 Leaf')" 4001 plain_leaf_ext \
  "$leaf_start" "$leaf_end" rsa3072_sha384.pem sha384

# Ed25519 self-signed certificate.
openssl genpkey -algorithm ED25519 -out ed25519.key
new_ca ed
issue ed ed25519.key - ed25519.key "$(dn 'Acon Test Ed25519 Leaf')" 5001 plain_leaf_ext \
  "$leaf_start" "$leaf_end" ed25519.pem default

# Outputs.
for f in root other_root platform_ca leaf_good leaf_revoked rsa3072_sha384 ed25519; do
  cp "$f.pem" "$out/$f.pem"
done
openssl x509 -in leaf_good.pem -outform DER -out "$out/leaf_good.der"
cat platform_ca.pem root.pem >"$out/chain_platform_root.pem"
cp root_crl.der platform_crl.der platform_crl.pem "$out/"
echo "wrote test PKI to $out"
