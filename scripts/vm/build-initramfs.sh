#!/usr/bin/env bash
# An initramfs whose /init is acond (docs/vm.md): acond and the shared libraries it loads (ldd's
# list plus the tpm2-tss TCTI that tctildr dlopens), Debian's overlay and e1000 modules,
# busybox-static, /etc/acond.toml, and nothing else. Built as an ordinary user: a staging tree
# archived with `cpio -o -H newc -R 0:0`, preceded by a small archive holding /dev and
# /dev/console (a device node, which only root could create in the staging tree; the kernel opens
# it for init's stdin, stdout and stderr before /init runs, and reads concatenated newc archives
# as one). Compressed with gzip -1 by default: it boots faster than the uncompressed archive under
# emulation (docs/vm.md, "Sizes and times").
#
# Usage: build-initramfs.sh --acond PATH --out FILE [--kernel-version V] [--kbs-url URL]
#                           [--kbs-ca PEM] [--compress none|gzip|zstd]
# --kbs-ca: the CA certificate(s) acond trusts for an https:// --kbs-url, copied to
# /etc/acon/kbs-ca.pem (kbs.ca_file).
set -euo pipefail
# ldconfig and modinfo live in sbin, which an ordinary user's PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"

acond=""
out=""
kernel_version=""
kbs_url=""
kbs_ca=""
compress=gzip
while [ $# -gt 0 ]; do
  case "$1" in
    --acond) acond=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --kernel-version) kernel_version=$2; shift 2 ;;
    --kbs-url) kbs_url=$2; shift 2 ;;
    --kbs-ca) kbs_ca=$2; shift 2 ;;
    --compress) compress=$2; shift 2 ;;
    *) echo "build-initramfs: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$acond" ] && [ -n "$out" ] || { echo "usage: $0 --acond PATH --out FILE [...]" >&2; exit 2; }
[ -x "$acond" ] || { echo "build-initramfs: $acond is not executable" >&2; exit 2; }
# Written into a TOML string as it is: no quote, backslash or control character.
case "$kbs_url" in
  *[\\\"[:cntrl:]]*) echo "build-initramfs: --kbs-url: quote, backslash or control character" >&2; exit 2 ;;
esac
if [ -n "$kbs_ca" ]; then
  [ -n "$kbs_url" ] || { echo "build-initramfs: --kbs-ca without --kbs-url" >&2; exit 2; }
  [ -f "$kbs_ca" ] || { echo "build-initramfs: --kbs-ca: $kbs_ca is not a file" >&2; exit 2; }
fi
# The guest's kernel is the newest one in /boot (linux-image-amd64), not the host's `uname -r`.
if [ -z "$kernel_version" ]; then
  kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort | tail -n 1)
  [ -n "$kernel" ] || { echo "build-initramfs: no /boot/vmlinuz-* (linux-image-amd64)" >&2; exit 2; }
  kernel_version=${kernel#/boot/vmlinuz-}
fi
modules=/lib/modules/$kernel_version/kernel
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "build-initramfs: $busybox missing (busybox-static)" >&2; exit 2; }

stage=$(mktemp -d /tmp/acon-initramfs-XXXXXX)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,etc,lib/modules,dev,proc,sys,run,tmp,shared}
chmod 1777 "$stage/tmp"
cp "$acond" "$stage/init"
strip --strip-unneeded "$stage/init" 2>/dev/null || true
cp "$busybox" "$stage/bin/busybox"
if [ -n "$kbs_ca" ]; then
  mkdir -p "$stage/etc/acon"
  cp "$kbs_ca" "$stage/etc/acon/kbs-ca.pem"
fi
ln -s busybox "$stage/bin/sh"

# A library at the path ldd resolved it to (the dynamic loader's default directories, so no
# ld.so.cache is needed), following symbolic links to the file itself.
copy_library() {
  local path=$1
  [ -e "$stage$path" ] && return 0
  mkdir -p "$stage$(dirname "$path")"
  cp -L "$path" "$stage$path"
}
libraries_of() {
  ldd "$1" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }'
}
# tctildr dlopens libtss2-tcti-<name>.so.0 for a TCTI string "<name>:..."; acond's is device.
tcti=$(ldconfig -p | awk '/libtss2-tcti-device\.so\.0 .*x86-64/ && !found { print $NF; found = 1 }')
[ -n "$tcti" ] || { echo "build-initramfs: libtss2-tcti-device.so.0 not found (libtss2-dev)" >&2; exit 2; }
for binary in "$acond" "$tcti"; do
  for lib in $(libraries_of "$binary"); do copy_library "$lib"; done
done
copy_library "$tcti"
# Same name the loader asks for, wherever ldconfig found it.
for lib in "$stage"/lib/x86_64-linux-gnu/* "$stage"/usr/lib/x86_64-linux-gnu/*; do
  [ -f "$lib" ] && strip --strip-unneeded "$lib" 2>/dev/null || true
done

# Modules in dependency order (neither has dependencies in Debian 12's 6.1 kernel; modinfo
# says so, checked here so that a newer kernel with some fails loudly instead of at boot).
module_list=()
for module in fs/overlayfs/overlay.ko drivers/net/ethernet/intel/e1000/e1000.ko; do
  src=$modules/$module
  [ -f "$src" ] || { echo "build-initramfs: $src missing" >&2; exit 2; }
  depends=$(modinfo -F depends "$src" 2>/dev/null || true)
  [ -z "$depends" ] || { echo "build-initramfs: $module depends on $depends" >&2; exit 2; }
  cp "$src" "$stage/lib/modules/"
  module_list+=("\"/lib/modules/$(basename "$module")\"")
done

{
  echo "# acond as /init of a QEMU VM with swtpm (scripts/vm/build-initramfs.sh, docs/vm.md)."
  echo 'backend = "vtpm"'
  echo 'tcti = "device:/dev/tpmrm0"'
  echo 'runtime_pcr = 15'
  echo 'state_dir = "/run/acond"'
  echo 'tcp_address = "0.0.0.0"'
  echo '# tcp_port: acond.tcp_port on the kernel command line'
  echo 'log_mode = "coco"'
  echo 'policy_mode = "acond"'
  echo "modules = [$(IFS=,; echo "${module_list[*]}")]"
  echo
  echo '# QEMU user networking: the guest is 10.0.2.15, the host 10.0.2.2.'
  echo '[network]'
  echo 'interface = "eth0"'
  echo 'address = "10.0.2.15/24"'
  echo 'gateway = "10.0.2.2"'
  if [ -n "$kbs_url" ]; then
    echo
    echo '[kbs]'
    echo "url = \"$kbs_url\""
    case "$kbs_url" in http://*) echo 'insecure_http = true' ;; esac
    [ -z "$kbs_ca" ] || echo 'ca_file = "/etc/acon/kbs-ca.pem"'
  fi
} > "$stage/etc/acond.toml"

# /dev/console (character 5:1), written as newc by hand: one entry and the trailer.
console_archive() {
  python3 - <<'PY'
import sys
def entry(name, mode, rdev_major=0, rdev_minor=0, ino=1):
    name_bytes = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 1, 0, 0, 0, 0, rdev_major, rdev_minor, len(name_bytes), 0]
    header = b"070701" + b"".join(b"%08X" % f for f in fields)
    data = header + name_bytes
    return data + b"\0" * (-len(data) % 4)
out = entry("dev", 0o040755, ino=1) + entry("dev/console", 0o020600, 5, 1, ino=2)
out += entry("TRAILER!!!", 0, ino=0)
sys.stdout.buffer.write(out + b"\0" * (-len(out) % 512))
PY
}

tmp_out=$(mktemp "$out.XXXXXX")
{
  console_archive
  (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet)
} > "$tmp_out.cpio"
case "$compress" in
  none) mv "$tmp_out.cpio" "$tmp_out" ;;
  gzip) gzip -1 -c "$tmp_out.cpio" > "$tmp_out"; rm "$tmp_out.cpio" ;;
  zstd) zstd -q -3 -c "$tmp_out.cpio" > "$tmp_out"; rm "$tmp_out.cpio" ;;
  *) echo "build-initramfs: --compress none, gzip or zstd" >&2; rm -f "$tmp_out" "$tmp_out.cpio"; exit 2 ;;
esac
mv "$tmp_out" "$out"
echo "build-initramfs: $out ($(du -k "$out" | cut -f1) KiB, kernel $kernel_version, $compress)"
