#!/usr/bin/python3
"""End-to-end checks of acon-client against a real acond process on the simulated TDX platform:
images signed with acon-image are loaded from the repository with their layers (several images,
one Finalize), acond's refusals reach the caller with ACON's code and message (exit 1), and a
report becomes an evidence bundle that verifies on the spot and again with acon-verify. On the vTPM
backend (a real swtpm, skipped when swtpm is not installed) the bundle carries the AK and the quoted
PCRs and verifies under an AK the user pins, and under no other.

Usage: ACON_CLIENT=... ACOND=... ACON_IMAGE=... ACON_SIM=... ACON_VERIFY=... python3 acon_client_cli.py
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import acond_test_util
from swtpm_socket import Swtpm

CLIENT = os.environ.get("ACON_CLIENT", "acon-client")
ACOND = os.environ.get("ACOND", "acond")
IMAGE = os.environ.get("ACON_IMAGE", "acon-image")
SIM = os.environ.get("ACON_SIM", "acon-sim")
VERIFY = os.environ.get("ACON_VERIFY", "acon-verify")
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


def run(tool, *args, cwd=None):
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, check=False)


def must(tool, *args, cwd=None):
    p = run(tool, *args, cwd=cwd)
    if p.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(args)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    return p.stdout


class Acond(acond_test_util.Acond):
    def __init__(self, work, name, *extra, backend=None):
        super().__init__(ACOND, work, name, *extra, backend=backend)


class AconClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="acon-client-")
        w = cls.work
        image = acond_test_util.busybox_repository(IMAGE, w)

        cls.app = image("app", "--env", "MODE=a")
        cls.sidecar = image("sidecar", "--env", "MODE=b")
        # Rejects every image it does not accept, so it cannot join a TD that runs anything.
        cls.loner = image("loner", "--env", "MODE=c", "--reject-unaccepted")
        must(SIM, "create", "--state", os.path.join(w, "td.json"))
        must(SIM, "collateral", "--state", os.path.join(w, "td.json"), "--out",
             os.path.join(w, "collateral.json"))
        must(SIM, "root", "--state", os.path.join(w, "td.json"), "--out",
             os.path.join(w, "root.pem"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def client(self, acond, *args):
        return run(CLIENT, "-c", acond.target, *args, cwd=self.work)

    def test_load_refusals_and_a_verified_report(self):
        acond = Acond(self.work, "td1")
        try:
            # Nothing loaded yet: ACON's Report refusal, exit 1.
            p = self.client(acond, "report", "--nonce", "1")
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn('Unknown "No images in current TD"', p.stderr)

            p = self.client(acond, "load", "--no-finalize", self.app)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.split()[0], self.app)
            self.assertRegex(p.stdout, r"\+sha384/[0-9a-f]{96}")  # the layer was sent
            self.assertNotIn("finalized", p.stdout)

            p = self.client(acond, "load", "--no-finalize", self.loner)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn('PermissionDenied "Incompatible polices"', p.stderr)

            # A new image lists all its layers as missing (ACON computes missing_layers before
            # the image's directory exists), so the shared layer is sent again; then Finalize.
            p = self.client(acond, "load", self.sidecar)
            self.assertEqual(p.returncode, 0, p.stderr)
            lines = p.stdout.splitlines()
            self.assertEqual(lines[0].split()[0], self.sidecar)
            self.assertEqual(lines[1:], ["finalized"])

            p = self.client(acond, "load", self.app)
            self.assertEqual(p.returncode, 1)
            self.assertIn('AddManifest: PermissionDenied "Manifests finalized"', p.stderr)
            p = self.client(acond, "finalize")
            self.assertEqual(p.returncode, 1)

            # aconcli's report: the RTMR3 entries, attestation_data, the quote written out.
            quote = os.path.join(self.work, "quote.bin")
            p = self.client(acond, "report", "--nonce", "0x1122334455667788",
                            "0x99aabbccddeeff00", "-o", quote)
            self.assertEqual(p.returncode, 0, p.stderr)
            lines = p.stdout.splitlines()
            self.assertEqual(lines[0], "github.com/intel/ACON AddManifest " + self.app)
            self.assertEqual(lines[1], "github.com/intel/ACON AddManifest " + self.sidecar)
            self.assertTrue(lines[2].startswith("github.com/intel/ACON Finalize"))
            data = json.loads(lines[3])
            self.assertEqual(data["requestor_nonce"],
                             [136, 119, 102, 85, 68, 51, 34, 17, 0, 255, 238, 221, 204, 187, 170, 153])
            self.assertEqual(sorted(data["attestation_data"]), sorted([self.app, self.sidecar]))
            self.assertGreater(os.path.getsize(quote), 1000)

            # The evidence bundle, verified on the spot against the simulator's root ...
            bundle = os.path.join(self.work, "bundle")
            p = self.client(acond, "report", "--nonce", "7", "8", "--bundle", bundle, "--verify",
                            "--root", "root.pem", "--collateral", "collateral.json")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("2 image(s)", p.stdout)
            for check in ("quote.signature", "binding.acon", "replay.rtmr3",
                          "launch_policy.acond", "image." + self.sidecar + ".signature"):
                self.assertRegex(p.stdout, r"(?m)^ok +" + re.escape(check) + ":", check)
            self.assertNotIn("FAIL", p.stdout)
            # ... and its quote again by an auditor with acon-verify, from the file alone.
            p = run(VERIFY, "quote", "--quote", os.path.join(bundle, "quote.bin"), "--root",
                    os.path.join(self.work, "root.pem"), "--collateral",
                    os.path.join(self.work, "collateral.json"))
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

            # Without the simulator's root configured, the same evidence is rejected.
            p = self.client(acond, "report", "--bundle", os.path.join(self.work, "b2"),
                            "--verify", "--collateral", "collateral.json")
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertRegex(p.stdout, r"(?m)^FAIL +quote.signature:")

            # An existing bundle directory is never overwritten.
            p = self.client(acond, "report", "--bundle", bundle)
            self.assertEqual(p.returncode, 2)
            self.assertIn("exists", p.stderr)
        finally:
            acond.stop()

    def test_alias_layer_resolved_by_a_loaded_vendor_image(self):
        # A vendor image aliases its layer; an app image names that layer by the alias
        # (acon-image alias-substitute). acond's reply to the app's first AddManifest lists the
        # alias verbatim; acon-client asks again and sends only what is really missing: nothing.
        w = self.work
        must(IMAGE, "keygen", "-k", "vendor.pem", "-c", "vendor.der", cwd=w)
        must(IMAGE, "create", "-o", "vendor.json", "--rootfs", "rootfs", "--alias",
             "@0=AliasBase:1", cwd=w)
        vendor = must(IMAGE, "sign", "-k", "vendor.pem", "-c", "vendor.der", "vendor.json",
                      cwd=w).split()[0]
        with open(os.path.join(w, "vendor.json")) as f:
            layer = json.load(f)["layers"][0]
        must(IMAGE, "create", "-o", "aliased.json", "--layer", layer, "--entrypoint", "/bin/sh",
             "--signal", "15", "--env", "MODE=aliased", cwd=w)
        must(IMAGE, "alias-substitute", "aliased.json", cwd=w)
        with open(os.path.join(w, "aliased.json")) as f:
            self.assertTrue(json.load(f)["layers"][0].startswith("signer/"))
        aliased = must(IMAGE, "sign", "-k", "signer.pem", "-c", "signer.der", "aliased.json",
                       cwd=w).split()[0]
        # A TD of its own: the other tests replay the shared simulated TD's RTMR3.
        td = os.path.join(w, "td-alias.json")
        must(SIM, "create", "--state", td)
        sim = ["--backend", "sim", "--sim-state", td]
        acond = Acond(self.work, "td-alias", backend=sim)
        try:
            p = self.client(acond, "load", "--no-finalize", vendor)
            self.assertEqual(p.returncode, 0, p.stderr)
            p = self.client(acond, "load", "--no-finalize", aliased)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.split(), [aliased])  # no layer sent: the alias resolved
            p = self.client(acond, "start", aliased)
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            acond.stop()

        # Without the vendor image, the alias stays missing: refused with the reason.
        must(SIM, "create", "--state", td, "--force")
        acond = Acond(self.work, "td-alias-2", backend=sim)
        try:
            p = self.client(acond, "load", "--no-finalize", aliased)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            self.assertIn("not a SHA-384 content digest", p.stderr)
        finally:
            acond.stop()

    @unittest.skipIf(shutil.which("swtpm") is None, "swtpm is not installed: no vTPM to test")
    def test_vtpm_bundle_verifies_under_the_pinned_ak_only(self):
        w = self.work
        tpm = Swtpm(os.path.join(w, "swtpm"))
        acond = Acond(w, "vtpm", "--log-mode", "coco",
                      backend=["--backend", "vtpm", "--tcti", tpm.tcti, "--tpm-event-log",
                               os.path.join(DATA, "tpm", "spec_id_only.bin")])
        try:
            p = self.client(acond, "load", self.app)
            self.assertEqual(p.returncode, 0, p.stderr)
            # Enrolment: where the machine is trusted, record its AK.
            p = self.client(acond, "report", "--bundle", "vtpm-enrol", "--ak-out", "ak.pem")
            self.assertEqual(p.returncode, 0, p.stderr)
            for name in ("tpm_quote.bin", "ak.tpm2b_public", "pcrs.json", "tpm_eventlog.bin",
                         "runtime_aael.bin", "attestation_data.json"):
                self.assertTrue(os.path.exists(os.path.join(w, "vtpm-enrol", name)), name)
            with open(os.path.join(w, "vtpm-enrol", "pcrs.json")) as f:
                self.assertEqual(sorted(json.load(f)), ["sha256", "sha384"])
            with open(os.path.join(w, "ak.pem")) as f:
                self.assertIn("BEGIN PUBLIC KEY", f.read())

            # Later: a report verified under the pinned AK.
            p = self.client(acond, "report", "--nonce", "5", "6", "--bundle", "vtpm-1",
                            "--verify", "--ak-pin", "ak.pem")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            for check in ("quote.signature", "binding.acon", "replay.pcr15.sha384",
                          "runtime_log.unexplained", "runtime_log.acon_finalized",
                          "launch_policy.acond", "image." + self.app + ".signature"):
                self.assertRegex(p.stdout, r"(?m)^ok +" + re.escape(check) + ":", check)
            self.assertNotIn("FAIL", p.stdout)
            subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-out", "other.key"], cwd=w, check=True,
                           capture_output=True)
            subprocess.run(["openssl", "pkey", "-in", "other.key", "-pubout", "-out", "other.pem"],
                           cwd=w, check=True, capture_output=True)
            # The auditor's tool reaches the same verdict from the same bundle and pinned AK, and
            # without the AK it refuses the quote.
            p = subprocess.run([VERIFY, "evidence", "--bundle", "vtpm-1", "--ak-pin", "ak.pem",
                                "--json"], cwd=w, capture_output=True, text=True, check=False)
            model = json.loads(p.stdout)
            self.assertEqual((p.returncode, model["platform"], model["verdict"]),
                             (0, "vtpm", "accepted"), p.stdout + p.stderr)
            p = subprocess.run([VERIFY, "evidence", "--bundle", "vtpm-1", "--ak-pin", "other.pem",
                                "--json"], cwd=w, capture_output=True, text=True, check=False)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertEqual(json.loads(p.stdout)["decided_by"]["check"], "quote.signature")

            # No AK named: none is trusted (exit 1). Another key pinned: the quote fails.
            p = self.client(acond, "report", "--bundle", "vtpm-2", "--verify")
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertRegex(p.stdout, r"(?m)^ +quote.signature: no AK trust")
            p = self.client(acond, "report", "--bundle", "vtpm-3", "--verify", "--ak-pin",
                            "other.pem")
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertRegex(p.stdout, r"(?m)^FAIL +quote.signature:")
            # A file that is no public key is unusable input.
            p = self.client(acond, "report", "--bundle", "vtpm-4", "--verify", "--ak-pin",
                            "vtpm-enrol/pcrs.json")
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        finally:
            acond.stop()
            tpm.stop()

    def test_tls(self):
        w = self.work

        def openssl(*args):
            subprocess.run(["openssl", *args], cwd=w, check=True, capture_output=True)

        for name in ("ca", "other-ca"):
            openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-subj",
                    "/CN=" + name, "-days", "2")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=acond")
        with open(os.path.join(w, "san.ext"), "w") as f:
            f.write("subjectAltName=DNS:acond,IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "tls.pem", "-days", "2", "-extfile", "san.ext")
        acond = Acond(w, "td-tls", "--tls-cert", os.path.join(w, "tls.pem"), "--tls-key",
                      os.path.join(w, "tls.key"))
        try:
            self.assertIn("tls=on", open(acond.log_path).read())
            p = self.client(acond, "--tls-ca", "ca.pem", "load", self.app)
            self.assertEqual(p.returncode, 0, p.stderr)
            p = self.client(acond, "--tls-ca", "ca.pem", "--tls-name", "acond", "report",
                            "--nonce", "1")
            self.assertEqual(p.returncode, 0, p.stderr)
            # Plaintext, another CA, or another name: no connection (exit 2), nothing changed.
            for extra in ([], ["--tls-ca", "other-ca.pem"], ["--tls-ca", "ca.pem", "--tls-name",
                                                              "somebody-else"]):
                p = run(CLIENT, "-c", acond.target, "--deadline", "3", *extra, "load",
                        "--no-finalize", self.sidecar, cwd=w)
                self.assertEqual(p.returncode, 2, (extra, p.stdout, p.stderr))
            p = self.client(acond, "--tls-ca", "ca.pem", "report", "--nonce", "2")
            self.assertNotIn(self.sidecar, p.stdout)
        finally:
            acond.stop()

    def test_unusable_input_is_exit_2(self):
        p = run(CLIENT, "-c", "ftp://x:1", "finalize")
        self.assertEqual(p.returncode, 2)
        self.assertIn("expected tcp://HOST:PORT", p.stderr)
        p = run(CLIENT, "-c", "vsock://x:1", "finalize")
        self.assertEqual(p.returncode, 2)
        self.assertIn("expected vsock://CID:PORT", p.stderr)
        # Nothing listens on port 1 of the loopback.
        p = run(CLIENT, "-c", "127.0.0.1:1", "--deadline", "2", "finalize")
        self.assertEqual(p.returncode, 2, p.stderr)
        p = run(CLIENT, "load", "--repo", os.path.join(self.work, "absent"), "x")
        self.assertEqual(p.returncode, 2)
        p = run(CLIENT, "report", "--verify")
        self.assertEqual(p.returncode, 2)  # --verify needs --bundle


if __name__ == "__main__":
    unittest.main(verbosity=2)
