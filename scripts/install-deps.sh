#!/usr/bin/env bash
# Installs every Debian 12 package acon needs to build, test, fuzz and benchmark.
# Idempotent: when everything is already present it returns without touching apt's network.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates
  clang-14 libclang-rt-14-dev llvm-14 clang-format
  # libraries (later issues extend this list)
  libssl-dev openssl libcbor-dev libtss2-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libsqlite3-dev libpq-dev libbenchmark-dev libgtest-dev libgmock-dev tpm2-tools
  nlohmann-json3-dev rapidjson-dev libcli11-dev libtomlplusplus-dev libcurl4-openssl-dev libarchive-dev
  # the KBS's HTTP server (Boost.Beast/Asio, header-only)
  libboost-dev
  # the KBS server's allocator (tcmalloc_minimal; CMake option ACON_ALLOCATOR)
  libgoogle-perftools-dev
  # a real PostgreSQL server for the KBS's PostgreSQL storage tests (initdb + postgres, run by
  # the tests themselves in a temporary directory; the packaged cluster service is not needed)
  postgresql
  # a software TPM for the vTPM backend tests; busybox-static is the demo image's rootfs
  swtpm swtpm-tools busybox-static
  # Debian's OCI runtime: the peer acon_bench_container starts the same busybox rootfs with
  crun
  # independent implementations used by interop tests
  python3 python3-jwcrypto python3-cbor2 python3-cryptography python3-requests jq
  # an independent HTTP load generator for the KBS benchmark
  wrk
  # a browser: the acon-verify HTML report test renders the page headless
  chromium
  # acond as PID 1 of a real VM (tests/vm, docs/vm.md): the emulator, UEFI firmware that measures
  # the boot into the TPM, the guest's kernel and its modules, cpio for the initramfs
  qemu-system-x86 ovmf linux-image-amd64 cpio
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
