#!/usr/bin/python3
"""acond as PID 1 of a real QEMU VM (docs/vm.md): OVMF measures the boot into swtpm, Debian's
kernel starts acond from an initramfs built by scripts/vm/build-initramfs.sh, and the host drives
it through QEMU's user-network port forward. The AK is enrolled before boot from the TPM's EK
certificate (acon-tpm enroll, on the same TPM state) and pinned; the evidence taken from the VM must verify on the host with the real OVMF event log
replayed into PCRs 0-7 and acond's runtime events into PCR 15, and fail when tampered with. A
container in the VM obtains a secret from a real acon-kbs on the host (SQLite and TLS in the work
directory, the enrolled AK pinned, reached as 10.0.2.2) through acond's GetSecret: released for
the resource whose policy names the image's signer, PolicyDeny for one that requires another
signer, both in the KBS's audit log. Then the VM powers itself off through acond's idle rule, and
QEMU must exit by itself.

Skipped (exit 77, with the reason printed) only when QEMU, OVMF, swtpm or a kernel image are
absent, or QEMU cannot start at all.

Usage: ACOND=... ACON_CLIENT=... ACON_IMAGE=... ACON_VERIFY=... ACON_TPM=... ACON_KBS=...
       ACON_KBS_CLIENT=... ACON_SECRET=... [ACON_ACONCLI=...]
       [ACON_VM_KEEP=1]
       python3 vm_acond_test.py
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "scripts", "vm"))
sys.path.insert(0, os.path.join(SOURCE, "tests", "tools"))
import acond_test_util  # noqa: E402
import run_vm  # noqa: E402

ACOND = os.environ.get("ACOND", "acond")
CLIENT = os.environ.get("ACON_CLIENT", "acon-client")
IMAGE = os.environ.get("ACON_IMAGE", "acon-image")
VERIFY = os.environ.get("ACON_VERIFY", "acon-verify")
TPM = os.environ.get("ACON_TPM", "acon-tpm")
KBS = os.environ.get("ACON_KBS", "acon-kbs")
KBS_CLIENT = os.environ.get("ACON_KBS_CLIENT", "acon-kbs-client")
SECRET = os.environ.get("ACON_SECRET", "acon-secret")
ACONCLI = os.environ.get("ACON_ACONCLI")
SKIP = 77  # ctest's SKIP_RETURN_CODE for this test
# Seconds of idleness after which acond powers the VM off (acond.timeout). The first RPC must
# succeed within it after acond starts (under emulation, on a loaded machine: seconds); the
# shutdown at the end waits for it once.
IDLE_TIMEOUT = 30

timings = {}

# acond's `tpm` evidence is affirming when the quote verifies under a pinned AK and is bound to
# the KBS session; the resource policy then decides on the images the replayed runtime log shows.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "kbs",
                       "tpm-acond-attestation.toml"), encoding="utf-8") as _policy:
    TPM_ATTESTATION_POLICY = _policy.read()

# The guest reaches the host's loopback as 10.0.2.2 through QEMU's user networking.
HOST_FROM_GUEST = "10.0.2.2"


def timed(name, function, *args):
    start = time.time()
    result = function(*args)
    timings[name] = time.time() - start
    return result


def run(tool, *args, cwd=None):
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, check=False)


class Kbs:
    """acon-kbs on 127.0.0.1 with its SQLite storage in `work`/kbs, the AK `ak` pinned, and a TLS
    certificate from a CA made here for 127.0.0.1 and 10.0.2.2 (acon-kbs init's own certificate
    names localhost and 127.0.0.1 only, and the guest sees the host as 10.0.2.2)."""

    def __init__(self, work, ak):
        self.dir = os.path.join(work, "kbs")
        self.config = os.path.join(self.dir, "config.toml")
        acond_test_util.must_run(KBS, "init", self.dir, "--listen", "127.0.0.1:0", "--ak", ak)
        keys = os.path.join(self.dir, "keys")
        self.ca = os.path.join(keys, "tls-ca.pem")
        ca_key = os.path.join(work, "kbs-tls-ca.key")
        csr = os.path.join(work, "kbs-tls.csr")
        extensions = os.path.join(work, "kbs-tls.ext")
        with open(extensions, "w") as f:
            f.write(f"subjectAltName = IP:127.0.0.1, IP:{HOST_FROM_GUEST}\n"
                    "extendedKeyUsage = serverAuth\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        acond_test_util.must_run("openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out",
                                 self.ca, "-days", "2", "-subj", "/CN=acon vm test KBS CA",
                                 "-addext", "basicConstraints=critical,CA:TRUE",
                                 "-addext", "keyUsage=critical,keyCertSign")
        acond_test_util.must_run("openssl", "req", "-new", *ec, "-keyout",
                                 os.path.join(keys, "tls.key"), "-out", csr,
                                 "-subj", "/CN=" + HOST_FROM_GUEST)
        os.chmod(os.path.join(keys, "tls.key"), 0o600)
        acond_test_util.must_run("openssl", "x509", "-req", "-in", csr, "-CA", self.ca,
                                 "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
                                 "-extfile", extensions, "-out", os.path.join(keys, "tls.pem"))
        self.out_path = os.path.join(work, "kbs.out")
        self.log_path = os.path.join(work, "kbs.log")
        with open(self.out_path, "w") as out, open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([KBS, "--config", self.config], stdout=out, stderr=log)
        deadline = time.time() + 20
        while time.time() < deadline:
            with open(self.out_path) as f:
                m = re.search(r"listening on https://[^:]+:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        with open(self.log_path) as f:
            raise AssertionError("acon-kbs did not start:\n" + f.read())

    def stop(self):
        run_vm.stop_process(self.proc)

    def admin(self, *args, stdin=None):
        p = subprocess.run([KBS_CLIENT, "--url", f"https://127.0.0.1:{self.port}", "--ca",
                            self.ca, *args, "--admin-key",
                            os.path.join(self.dir, "keys", "admin.pem")],
                           capture_output=True, text=True, input=stdin, check=False)
        if p.returncode != 0:
            raise AssertionError(f"acon-kbs-client {' '.join(args)}:\n{p.stdout}{p.stderr}")
        return p.stdout


def qemu_cannot_start():
    """Why QEMU cannot run a machine here at all, or None."""
    # Paused (-S) with the monitor on stdin: "quit" ends it once the machine exists.
    p = subprocess.run([run_vm.QEMU, "-machine", "q35", "-accel", "tcg", "-display", "none",
                        "-nodefaults", "-S", "-monitor", "stdio"],
                       capture_output=True, text=True, timeout=60, check=False, input="quit\n")
    return None if p.returncode == 0 else p.stderr.strip()


class AcondInAVm(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="acon-vm-test-")
        self.vm = None
        self.kbs = None

    def tearDown(self):
        # Failures carry the console's tail in their messages; the VM is stopped either way.
        if self.vm is not None:
            self.vm.stop()
        if self.kbs is not None:
            self.kbs.stop()
        if os.environ.get("ACON_VM_KEEP"):
            print(f"work directory kept: {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    def client(self, *args):
        return run(CLIENT, "-c", self.vm.target(), "--deadline", "120", *args, cwd=self.work)

    def must_client(self, *args):
        p = self.client(*args)
        self.assertEqual(p.returncode, 0, f"acon-client {' '.join(args)}:\n{p.stdout}{p.stderr}"
                         f"\n--- console:\n{self.vm.tail(30)}")
        return p.stdout

    def verify(self, bundle):
        return run(VERIFY, "evidence", "--bundle", bundle, "--ak-pin", self.ak, cwd=self.work)

    def test_boot_session_verified_evidence_tampering_and_power_off(self):
        w = self.work
        initrd = os.path.join(w, "initramfs.img")

        # Two images on one busybox layer (with the static acon-secret) and entrypoint.d commands
        # for Exec: "app" a shell that exits on SIGTERM (the container started), "sidecar" loaded
        # beside it. Secret asks acond for a resource and prints its SHA-256, or acon-secret's
        # refusal; the secret itself only ever lands in the container's /run.
        image = acond_test_util.busybox_repository(IMAGE, w)
        shutil.copy(SECRET, os.path.join(w, "rootfs", "bin", "acon-secret"))
        commands = os.path.join(w, "rootfs", "lib", "acon", "entrypoint.d")
        os.makedirs(commands)
        scripts = {
            "Hello": 'echo "hello $*"',
            "Secret": 'if /bin/acon-secret get "$1" -o /run/secret 2>&1; then\n'
                      '  /bin/busybox sha256sum /run/secret | /bin/busybox cut -c1-64\n'
                      'else echo "refused"; fi',
        }
        for name, body in scripts.items():
            with open(os.path.join(commands, name), "w") as f:
                f.write("#!/bin/sh\n" + body + "\n")
            os.chmod(os.path.join(commands, name), 0o755)
        loop = "trap 'exit 0' TERM; while :; do sleep 1; done"
        app = image("app", "--entrypoint=-c", "--entrypoint=" + loop, "--self-alias", "App:1")
        sidecar = image("sidecar", "--entrypoint=-c", "--entrypoint=sleep 1000")

        self.vm = run_vm.Vm(w, initrd, idle_timeout=IDLE_TIMEOUT)
        timed("tpm", self.vm.create_tpm)
        # swtpm_setup's EK certificates chain to the local CA made in the work directory.
        ek_certs = sorted(os.listdir(self.vm.ek_cert_dir))
        self.assertEqual(ek_certs, ["ek-rsa2048.crt", "ek-secp384r1.crt"])
        for name in ek_certs:
            pem = os.path.join(w, name + ".pem")
            subprocess.run(["openssl", "x509", "-inform", "DER", "-in",
                            os.path.join(self.vm.ek_cert_dir, name), "-out", pem], check=True)
            p = run("openssl", "verify", "-CAfile", self.vm.ek_ca, "-untrusted",
                    self.vm.ek_intermediate, pem)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # The AK pinned before boot, from the same TPM state: enrolled from the EK certificate
        # (credential activation), and the same key acond itself reports for its backend.
        self.ak = os.path.join(w, "ak.pem")
        report = timed("ak enrolment", self.vm.enrol_ak, TPM, self.ak)
        self.assertIn("CN=swtpm-localca", report)
        with open(self.ak) as f:
            self.assertEqual(f.read(), self.vm.ak_pem(ACOND))

        # The KBS on the host, before the initramfs that names it: the AK pinned, a resource
        # policy that releases default/vm/* only to a TPM whose runtime log shows images by the
        # app's signer, and other/vm/* only for another signer's (a key that signs nothing here).
        self.kbs = timed("kbs start", Kbs, w, self.ak)
        signer = app.split("/")[1]
        acond_test_util.must_run(IMAGE, "keygen", "-k", "other.pem", "-c", "other.der", cwd=w)
        other_signer = acond_test_util.must_run(IMAGE, "hash", "other.der", cwd=w).split()[0]
        other_signer = other_signer.split("/")[1]
        self.assertNotEqual(signer, other_signer)
        rules = "".join(f'[[rules]]\nresources = "{resources}"\neffect = "allow"\n'
                        f'status = "affirming"\nimage_signers = ["{who}"]\n'
                        for resources, who in (("default/vm/*", signer),
                                               ("other/vm/*", other_signer)))
        policies = {"attestation": TPM_ATTESTATION_POLICY,
                    "resource": 'version = 1\nid = "default"\n' + rules}
        for kind, text in policies.items():
            path = os.path.join(w, kind + "-policy.toml")
            with open(path, "w") as f:
                f.write(text)
            self.kbs.admin("set-policy", "--" + kind, path)
        # A test string, never a real secret: only its SHA-256 is printed or compared.
        secret = "vm test secret " + os.urandom(8).hex()
        for resource in ("default/vm/password", "other/vm/password"):
            self.kbs.admin("set-resource", resource, "--file", "-", stdin=secret)

        p = timed("initramfs", subprocess.run,
                  ["bash", os.path.join(SOURCE, "scripts", "vm", "build-initramfs.sh"),
                   "--acond", ACOND, "--out", initrd,
                   "--kbs-url", f"https://{HOST_FROM_GUEST}:{self.kbs.port}",
                   "--kbs-ca", self.kbs.ca])
        self.assertEqual(p.returncode, 0)

        self.vm.boot()
        timings["boot (until acond listens)"] = self.vm.wait_for_acond(timeout=150)
        console = self.vm.console_text()
        for line in ("acond event=module-loaded path=/lib/modules/overlay.ko",
                     "acond event=module-loaded path=/lib/modules/e1000.ko",
                     "acond event=network-configured interface=eth0 address=10.0.2.15/24",
                     "backend=vtpm runtime_pcr=15"):
            self.assertIn(line, console)

        # The project's client: two images, a container, Exec, a report bundle with a nonce.
        out = timed("load 2 images", self.must_client, "load", app, sidecar)
        self.assertIn("finalized", out)
        cid = timed("start", self.must_client, "start", app).split()[0]
        out = timed("exec", self.must_client, "exec", cid, "Hello", "from", "the", "host")
        self.assertIn("hello from the host", out)

        # The container obtains the secret: acond attests with the vTPM evidence (the quote under
        # the enrolled AK, the OVMF and runtime logs) to the KBS at 10.0.2.2, which replays the
        # logs, sees the app's signer and releases the resource to acond for this container.
        out = timed("secret (attest + release)", self.must_client, "exec", "-t", "90", cid,
                    "Secret", "default/vm/password")
        self.assertEqual(out.strip().splitlines()[-1],
                         hashlib.sha256(secret.encode()).hexdigest(), out)
        print(f"secret: the container printed SHA-256 {out.strip()[:16]}... (the stored one's) "
              f"after {timings['secret (attest + release)']:.2f} s")
        # The same evidence does not show other/vm/*'s signer: PolicyDeny, nothing released.
        out = timed("secret refused", self.must_client, "exec", "-t", "90", cid, "Secret",
                    "other/vm/password")
        self.assertIn("PolicyDeny", out)
        self.assertEqual(out.strip().splitlines()[-1], "refused", out)
        self.assertNotIn(secret, out)
        print("other/vm/password: " + out.strip().splitlines()[0])
        records = [json.loads(line) for line in self.kbs.admin("audit-export").splitlines()]
        outcomes = {(r["resource"], r["outcome"], r["tee"]): r for r in records
                    if r["action"] == "release"}
        released = outcomes.get(("default/vm/password", "release", "tpm"))
        self.assertIsNotNone(released, records)
        self.assertIn(app, released["image_ids"])
        self.assertEqual(released["ear_status"], "affirming")
        denied = outcomes.get(("other/vm/password", "deny", "tpm"))
        self.assertIsNotNone(denied, records)
        self.assertIn("Access denied by policy", denied["detail"])
        self.assertEqual(denied["http_status"], 401)
        p = run(KBS, "audit", "verify", "--config", self.kbs.config, "--key",
                os.path.join(self.kbs.dir, "keys", "audit-signing.pub.pem"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(self.kbs.log_path) as f:
            self.assertNotIn(secret, f.read())
        bundle = os.path.join(w, "bundle")
        out = timed("report --bundle", self.must_client, "report", "--nonce", "7", "8",
                    "--bundle", bundle, "--verify", "--ak-pin", self.ak)
        self.assertNotIn("FAIL", out)
        for check in ("quote.signature", "replay.pcr15.sha384", "launch_policy.acond",
                      "image." + app + ".signature"):
            self.assertRegex(out, r"(?m)^ok +" + re.escape(check) + ":", check)
        with open(os.path.join(bundle, "attestation_data.json")) as f:
            self.assertEqual(json.load(f)["requestor_nonce"][:9], [7, 0, 0, 0, 0, 0, 0, 0, 8])

        # Intel's aconcli against the same acond in the VM.
        if ACONCLI:
            cli = run(ACONCLI, "invoke", "-c", self.vm.target(), "-e", cid, "Hello", "aconcli")
            self.assertEqual(cli.returncode, 0, cli.stdout + cli.stderr)
            self.assertIn("hello aconcli", cli.stdout + cli.stderr)
            # aconcli prints the runtime log and attestation_data, then refuses the report: it
            # knows only a TDREPORT's length, and a vTPM answers with a TPM quote.
            cli = run(ACONCLI, "report", "-c", self.vm.target(), "-f",
                      os.path.join(w, "aconcli-report.bin"), "1", "2")
            self.assertIn("AddManifest " + app, cli.stdout)
            self.assertIn('"requestor_nonce":[1,0,0,0,0,0,0,0,2,', cli.stdout)
            self.assertIn("report data length error", cli.stdout + cli.stderr)
        else:
            print("aconcli part skipped: ACON_ACONCLI is unset")

        # The host's verdict on the bundle: the real OVMF log replayed into PCRs 0-7, the runtime
        # events into PCR 15, the quote under the pinned AK, the images and launch policy.
        p = timed("acon-verify evidence", self.verify, bundle)
        print(p.stdout)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

        # Tampering: one byte of the runtime log; an image taken out of the bundle.
        tampered = os.path.join(w, "tampered-log")
        shutil.copytree(bundle, tampered)
        path = os.path.join(tampered, "runtime_aael.bin")
        with open(path, "r+b") as f:
            data = bytearray(f.read())
            data[len(data) // 2] ^= 0x01
            f.seek(0)
            f.write(data)
        p = self.verify(tampered)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"✗ replay\.pcr15\.sha384 \[fail\]")
        missing = os.path.join(w, "missing-image")
        shutil.copytree(bundle, missing)
        images = os.path.join(missing, "images")
        removed = sorted(os.listdir(images))[0]
        shutil.rmtree(os.path.join(images, removed))
        p = self.verify(missing)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"✗ image\.sha384/\S+\.manifest \[fail\]: no provided manifest")

        # Power-off through acond: with the last container gone (its signal 15 is allowed) the
        # idle timer is armed; after acond.timeout acond stops and powers the VM off.
        self.must_client("kill", cid, "15")
        start = time.time()
        status = self.vm.wait_for_power_off(timeout=IDLE_TIMEOUT + 60)
        timings["power-off (after the last container exited)"] = time.time() - start
        self.assertEqual(status, 0, "QEMU did not exit by itself:\n" + self.vm.tail())
        self.assertIn("acond event=stopped action=power-off", self.vm.console_text())

        print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


def main():
    reasons = run_vm.missing_prerequisites()
    if not reasons:
        why = qemu_cannot_start()
        if why:
            reasons.append("QEMU cannot start: " + why)
    if reasons:
        print("SKIP: " + "; ".join(reasons))
        sys.exit(SKIP)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
