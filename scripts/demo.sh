#!/usr/bin/env bash
# README command 1: acon's whole story on one machine, in under a minute after the build.
# First the auditor's tools on bundled real data (a real TD's boot and IMA logs against its quote,
# DCAP verification of a real quote, a CoCo runtime log, RFC 7520 vectors, the KBS binding). Then
# the story on the simulated TDX platform: a signer builds and signs two busybox images (one on a
# vendor layer) with acon-secret inside; a KBS (SQLite, TLS, in a temporary directory) holds a
# secret under a policy naming those images; acond on a simulated TD loads them, a container
# obtains the secret through acond; an auditor verifies acond's report with acon-verify evidence
# (terminal + HTML); acond refuses a tampered and a policy-incompatible image; the KBS refuses a
# second TD whose runtime log shows an image it does not list, and its audit log says so.
#
# Everything it starts is stopped and its temporary directory removed on exit. Environment:
#   BUILD_DIR=DIR          the build directory (default build)
#   DEMO_KEEP=DIR          keep every file the demo writes in DIR (the HTML report included)
#   DEMO_HTML=FILE         where the HTML report goes without DEMO_KEEP (default
#                          /tmp/acon-demo-report.html, replaced at each run; the one file kept)
#   DEMO_SKIP_INSTALL=1    do not check the Debian packages (CI, the ctest)
#   DEMO_SKIP_BUILD=1      do not configure or build (the ctest: the tools are already built)
set -euo pipefail
cd "$(dirname "$0")/.."

[ -n "${DEMO_SKIP_INSTALL:-}" ] || bash scripts/install-deps.sh >/dev/null
build=${BUILD_DIR:-build}
if [ -z "${DEMO_SKIP_BUILD:-}" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$build" acon-jose acon-eventlog acon-verify acon-image acon-sim acon-client acond \
    acon-kbs acon-kbs-client acon-secret >/dev/null
fi
tools=$(cd "$build/tools" && pwd)
jose=$tools/acon-jose
eventlog=$tools/acon-eventlog
verify=$tools/acon-verify
image=$tools/acon-image
sim=$tools/acon-sim
client=$tools/acon-client
kbs=$tools/acon-kbs
kbs_client=$tools/acon-kbs-client
secret_tool=$tools/acon-secret
acond=$(cd "$build/guest/acond" && pwd)/acond
logs=tests/data/eventlog
data=tests/data/jose
if [ -n "${DEMO_KEEP:-}" ]; then
  mkdir -p "$DEMO_KEEP"
  work=$(cd "$DEMO_KEEP" && pwd)
  html=$work/report.html
else
  work=$(mktemp -d)
  html=${DEMO_HTML:-/tmp/acon-demo-report.html}
fi
pids=()
cleanup() {
  # acond stops its containers when it stops (--stop-grace 1).
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -z "${DEMO_KEEP:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
py=/usr/bin/python3
member() { $py -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v if isinstance(v,str) else json.dumps(v))' "$@"; }
say() { printf '   %s\n' "$@"; }
indent() { sed 's/^/   /'; }
# Image IDs shortened for the terminal: sha384/<signer 12>.../<manifest 12>...
short() {
  sed -E -e 's#sha384/([0-9a-f]{12})[0-9a-f]{84}/([0-9a-f]{12})[0-9a-f]{84}#sha384/\1.../\2...#g' \
    -e 's#sha384/([0-9a-f]{12})[0-9a-f]{84}#sha384/\1...#g'
}

echo "== 1. Real data: a real TD's boot log (CCEL) and IMA log replayed against its quote's RTMRs"
$eventlog replay $logs/cc-trusted-api/ccel_data.bin --ima $logs/cc-trusted-api/ima_log.bin \
  --quote $logs/cc-trusted-api/quote.bin | grep -E '^RTMR|match|MATCH' | cut -c1-120 | indent

echo "== 2. Real data: a real TDX quote (Phala's test data) checked against Intel's collateral,"
echo "   at the time the collateral was fetched; Intel's SGX root is the only trust anchor"
$verify quote --quote tests/data/quotes/phala-dcap-qvl/tdx_quote \
  --collateral tests/data/quotes/phala-dcap-qvl/tdx_quote_collateral.json --time 2025-07-04T10:16:31Z \
  | sed -n '1,3p' | indent

echo "== 3. Real data: a CoCo runtime log (text AAEL) replayed into RTMR3, equal to the real quote's"
rtmr3=$($py -c 'import sys; q=open(sys.argv[1],"rb").read(); print(q[48+472:48+520].hex())' $logs/trustee_aael_legacy/AAEL_quote_tdx)
# Only RTMR3 is compared, so RTMR0..2 stay unproven and replay exits 1; the RTMR3 match is required.
$eventlog replay $logs/trustee/CCEL_data_ovmf --text-aael $logs/trustee_aael_legacy/AAEL_data_1 \
  --expect "RTMR3=$rtmr3" >"$work/aael_replay.txt" || true
grep "^RTMR3 match" "$work/aael_replay.txt" | cut -c1-120 | indent

echo "== 4. Published vectors: RFC 7520 §4.3 ES512 JWS verified, §5.4 ECDH-ES JWE decrypted"
member $data/rfc7520_4_3_es512.json key >"$work/es512.jwk"
member $data/rfc7520_4_3_es512.json compact >"$work/es512.jws"
say "JWS: $($jose verify --key "$work/es512.jwk" --alg ES512 --in "$work/es512.jws" | cut -c1-70)..."
member $data/rfc7520_5_4_ecdh_es_a128kw.json key >"$work/p384.jwk"
member $data/rfc7520_5_4_ecdh_es_a128kw.json compact >"$work/msg.jwe"
say "JWE: $($jose decrypt --key "$work/p384.jwk" --in "$work/msg.jwe" | cut -c1-70)..."

echo "== 5. The KBS binding (CoCo Trustee): REPORTDATA = SHA-384(JCS(runtime data)), reply a JWE"
$jose keygen --type ec-p256 --out "$work/tee.jwk" >"$work/tee-pub.jwk"
$py - "$work/tee-pub.jwk" >"$work/binding.json" <<'PY'
import json, sys
key = json.load(open(sys.argv[1]))
key["alg"] = "ECDH-ES+A256KW"
print(json.dumps({"tee-pubkey": key, "nonce": "demo-nonce", "additional-evidence": ""}))
PY
say "REPORTDATA: $($jose jcs --in "$work/binding.json" | sha384sum | cut -c1-64)... || 0^16"
printf 'a resource' >"$work/resource"
$jose encrypt --key "$work/tee-pub.jwk" --alg ECDH-ES+A256KW --enc A256GCM --in "$work/resource" >"$work/response.json"
say "the TEE key decrypts the KBS's JWE: $($jose decrypt --key "$work/tee.jwk" --in "$work/response.json")"

echo
echo "== 6. An operator makes a signer and builds two signed images from busybox-static"
# The demo's secret: a demo string, never a real one. Only its SHA-256 is printed.
secret_value="demo database password $(od -An -N6 -tx1 /dev/urandom | tr -d ' ')"
secret_digest=$(printf '%s' "$secret_value" | sha256sum | cut -d' ' -f1)
img() { (cd "$work" && "$image" "$@"); }
img init . >/dev/null
img keygen -k signer.pem -c signer.der >/dev/null
img keygen -k vendor.pem -c vendor.der >/dev/null
img keygen -k stranger.pem -c stranger.der >/dev/null
signer=$(img hash signer.der | cut -f1 | cut -d/ -f2)
vendor=$(img hash vendor.der | cut -f1 | cut -d/ -f2)
say "signer ${signer:0:16}... (the operator), vendor ${vendor:0:16}... (a base-layer vendor)"
# The vendor's layer: busybox and acon-secret, the container-side client of acond's GetSecret.
mkdir -p "$work/base/bin" "$work/app/etc"
cp /bin/busybox "$secret_tool" "$work/base/bin/"
ln -s busybox "$work/base/bin/sh"
img create -o vendor.json --rootfs base --alias @0=DemoBase:1 --self-alias DemoVendor:1 >/dev/null 2>&1
vendor_id=$(img sign -k vendor.pem -c vendor.der vendor.json 2>/dev/null | cut -d' ' -f1)
base_layer=$(member "$work/vendor.json" layers | $py -c 'import json,sys; print(json.load(sys.stdin)[0])')
# Image 1, "reader": its own busybox + acon-secret layer; it asks acond for the secret, which
# acon-secret writes to a new 0600 file in the container's /run (a tmpfs), and prints the file's
# mode and SHA-256.
mkdir -p "$work/reader/etc"
cp -a "$work/base/bin" "$work/reader/"
echo reader >"$work/reader/etc/image"
reader_cmd='acon-secret get default/demo/password -o /run/password && busybox stat -c %a /run/password && busybox sha256sum /run/password | busybox cut -c1-64'
img create -o reader.json --rootfs reader --entrypoint /bin/sh --entrypoint -c \
  --entrypoint "PATH=/bin; $reader_cmd" --signal 15 >/dev/null
reader_id=$(img sign -k signer.pem -c signer.der reader.json | cut -d' ' -f1)
say "image 1 (reader):     $reader_id"
# Image 2, "greeter": the vendor's layer (by its content digest) plus a layer of its own. (By the
# vendor's alias, acon-image alias-substitute, acond would resolve it, but acon-client stops at
# the alias that a new image's AddManifest reply lists, as aconcli does.)
echo "hello from a vendor-based image" >"$work/app/etc/greeting"
img create -o greeter.json --layer "$base_layer" --rootfs app --entrypoint /bin/sh --entrypoint -c \
  --entrypoint '/bin/busybox cat /etc/greeting' --signal 15 >/dev/null
greeter_id=$(img sign -k signer.pem -c signer.der greeter.json | cut -d' ' -f1)
say "image 2 (greeter):    $greeter_id"
say "  its layers: the vendor's ${base_layer:0:30}... and its own"
say "vendor manifest:      $vendor_id"
img verify "$vendor_id" "$reader_id" "$greeter_id" >/dev/null
say "acon-image verify: signatures, layers and launch policies of the three hold"

echo "== 7. A KBS (acon-kbs: SQLite, TLS, fresh keys in a temporary directory) holds the secret"
$sim create --state "$work/td.json" --quote-version 5 >/dev/null
# A second TD on the same simulated platform, used in step 11.
cp "$work/td.json" "$work/td2.json"
$sim collateral --state "$work/td.json" --out "$work/collateral.json"
$sim root --state "$work/td.json" --out "$work/sim-root.pem"
$kbs init "$work/kbs" --listen 127.0.0.1:0 --simulated-root "$work/sim-root.pem" \
  --collateral "$work/collateral.json" >/dev/null
$kbs --config "$work/kbs/config.toml" >"$work/kbs.out" 2>"$work/kbs.log" &
pids+=($!)
for _ in $(seq 200); do grep -q 'listening on' "$work/kbs.out" && break; sleep 0.05; done
kbs_port=$(sed -n 's/.*listening on https:\/\/[^:]*:\([0-9]*\).*/\1/p' "$work/kbs.out")
[ -n "$kbs_port" ] || { cat "$work/kbs.log"; exit 1; }
kbs_url=https://localhost:$kbs_port
say "acon-kbs listening on $kbs_url (TLS certificate from acon-kbs init's CA; trusts the simulator's root)"
admin() { $kbs_client --url "$kbs_url" --ca "$work/kbs/keys/tls-ca.pem" "$@" --admin-key "$work/kbs/keys/admin.pem"; }
# The resource policy: default/demo/* only for an affirmed TD (the default status) that loaded
# image 1 and nothing but images of these two signers (the KBS reads the Image IDs from the
# runtime log in the evidence and checks the manifests acond sends with it, acon_images).
cat >"$work/resource-policy.toml" <<TOML
version = 1
id = "default"
[[rules]]
resources = "default/demo/*"
effect = "allow"
allow_simulated = true
image_signers = ["$signer", "$vendor"]
image_ids = ["$reader_id"]
TOML
admin set-policy --attestation tests/data/kbs/sim-attestation.toml >/dev/null
admin set-policy --resource "$work/resource-policy.toml" >/dev/null
printf '%s' "$secret_value" | admin set-resource default/demo/password --file - >/dev/null
say "admin (acon-kbs-client): attestation policy for the simulated TD, resource policy:"
say "  default/demo/* needs image 1 loaded and only the operator's and vendor's signers;"
say "  secret default/demo/password stored (a demo string, SHA-256 ${secret_digest:0:16}...)"

echo "== 8. acond on the simulated TD, its [kbs] the KBS above; the operator loads the images"
start_acond() {  # state file, state dir -> the port, in $port
  "$acond" --backend sim --sim-state "$1" --state-dir "$2" --tcp-address 127.0.0.1 --tcp-port 0 \
    --stop-grace 1 --kbs-url "$kbs_url" --kbs-ca "$work/kbs/keys/tls-ca.pem" 2>"$2.log" &
  pids+=($!)
  for _ in $(seq 200); do grep -q tcp_port= "$2.log" 2>/dev/null && break; sleep 0.05; done
  port=$(sed -n 's/.*tcp_port=\([0-9]*\).*/\1/p' "$2.log")
  [ -n "$port" ] || { cat "$2.log"; exit 1; }
}
start_acond "$work/td.json" "$work/acond"
td1=127.0.0.1:$port
say "acond listening on $td1 (backend sim; each image measured into RTMR3 and its runtime log)"
say "acon-client load: for each image AddManifest (acond checks the signature and the launch"
say "policy, extends RTMR3 and logs the Image ID), then AddBlob for its layers (+):"
$client -c "$td1" load --no-finalize --repo "$work/.acon" "$vendor_id" "$reader_id" "$greeter_id" \
  | short | sed 's/^/     loaded /' 

echo "== 9. acond refuses a tampered image and a policy-incompatible one"
tampered=$work/tampered
cp -r "$work/.acon/manifests/${reader_id%/*/*}/${reader_id##*/}" "$tampered"
sed -i 's/default\/demo\/password/default\/demo\/other/' "$tampered/acon.json"
if $client -c "$td1" load --no-finalize --repo "$work/.acon" "$tampered" >"$work/refused.txt" 2>&1; then
  echo "   !! acond admitted a tampered image"; exit 1
fi
say "tampered copy of image 1 (one path changed in its manifest): $(tail -1 "$work/refused.txt" | cut -c1-110)"
# An image that accepts no other image in its TD: its launch policy rejects what is loaded.
mkdir -p "$work/loner/etc"
echo loner >"$work/loner/etc/name"
img create -o loner.json --layer "$base_layer" --rootfs loner --entrypoint /bin/true \
  --reject-unaccepted --signal 15 >/dev/null
loner_id=$(img sign -k signer.pem -c signer.der loner.json | cut -d' ' -f1)
if $client -c "$td1" load --no-finalize --repo "$work/.acon" "$loner_id" >"$work/refused.txt" 2>&1; then
  echo "   !! acond admitted a policy-incompatible image"; exit 1
fi
say "image with rejectUnaccepted and no accepts: $(tail -1 "$work/refused.txt" | cut -c1-110)"
$client -c "$td1" finalize >/dev/null
say "Finalize: no more images in this TD"

echo "== 10. A container of image 1 obtains the secret through acond (acon-secret in the container)"
run_container() {  # address, image, acond's state dir -> its output in $console, exit in $status
  local cid
  cid=$($client -c "$1" start "$2")
  for _ in $(seq 300); do
    $client -c "$1" inspect "$cid" | grep -q Terminated && break; sleep 0.05
  done
  status=$($client -c "$1" inspect "$cid" | tail -1 | awk '{print $3}')
  console=$(cat "$3/containers/$cid/console.log")
}
run_container "$td1" "$reader_id" "$work/acond"
if [ "$status" != 0 ] || [ "$console" != "$(printf '600\n%s' "$secret_digest")" ]; then
  echo "   !! the container did not receive the stored secret: $console"; exit 1
fi
say "acond attested the TD to the KBS (quote + runtime log), the KBS released the secret to acond,"
say "acond handed it to that container only; acon-secret wrote it to /run/password (mode $(echo "$console" | head -1)),"
say "whose SHA-256 the container printed: $(echo "$console" | tail -1 | cut -c1-16)... = the stored secret's"
run_container "$td1" "$greeter_id" "$work/acond"
say "a container of image 2 (vendor layer below its own) printed: $console"

echo "== 11. The auditor: acond's report as an evidence bundle, verified with acon-verify evidence"
$client -c "$td1" report --nonce "$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')" --bundle "$work/bundle" \
  --root "$work/sim-root.pem" --collateral "$work/collateral.json" >/dev/null
# The verdict decides: 0 accepted; the terminal report is shown either way.
set +e
$verify evidence --bundle "$work/bundle" --root "$work/sim-root.pem" \
  --collateral "$work/collateral.json" --allow-simulated --no-color --html "$html" >"$work/evidence.txt"
verdict=$?
set -e
# The full report, its long lines (one per check of each image) cut for the terminal.
grep -v '^HTML report' "$work/evidence.txt" | cut -c1-150 | indent
[ "$verdict" -eq 0 ] || { echo "   !! acon-verify evidence exit $verdict"; exit 1; }
[ -s "$html" ] || { echo "   !! no HTML report"; exit 1; }
say "the same report as one self-contained HTML page (kept after the demo): $html"

echo "== 12. The KBS refuses a TD whose runtime log shows an image its policy does not list"
mkdir -p "$work/stranger/etc"
echo stranger >"$work/stranger/etc/name"
img create -o stranger.json --rootfs stranger --entrypoint /bin/true --signal 15 >/dev/null
stranger_id=$(img sign -k stranger.pem -c stranger.der stranger.json | cut -d' ' -f1)
start_acond "$work/td2.json" "$work/acond2"
td2=127.0.0.1:$port
$client -c "$td2" load --repo "$work/.acon" "$reader_id" "$stranger_id" >/dev/null
say "a second TD (acond on $td2) loaded image 1 and an image by another signer:"
say "  $(echo "$stranger_id" | short)"
run_container "$td2" "$reader_id" "$work/acond2"
say "its image-1 container asked for the secret; acon-secret exited $status and printed:"
echo "$console" | fold -w 120 | sed 's/^/     /' 
case $status:$console in 1:*PolicyDeny*) ;; *) echo "   !! the KBS did not refuse"; exit 1 ;; esac
admin audit-export >"$work/audit.jsonl"
say "the KBS's audit log, the resource's releases and refusals (acon-kbs-client audit-export):"
$py - "$work/audit.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["resource"] != "default/demo/password" or r["action"].startswith("admin"):
        continue
    print("     #%d %-7s HTTP %d  images %d, signers %s  %s" % (
        r["seq"], r["outcome"], r["http_status"], len(r["image_ids"]),
        ",".join(s[:8] + "..." for s in r["image_signers"]), r["detail"][:70]))
PY
say "acon-kbs audit verify (the hash chain and signatures of every record):"
$kbs audit verify --config "$work/kbs/config.toml" --key "$work/kbs/keys/audit-signing.pub.pem" | indent
echo "== demo ok"
