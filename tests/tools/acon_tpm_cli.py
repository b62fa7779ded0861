#!/usr/bin/python3
"""acon-tpm enroll as an operator runs it, against swtpm TPMs that swtpm_setup manufactured with
EK certificates from swtpm's local CA (kept in a temporary directory): the AK PEM it writes is
the key tpm2-tools derives from acond's AK template in the same TPM; refusals exit 1 with a
reason (another CA, a time before the certificate, another TPM's certificate in NV), unusable
input exits 2.

Usage: ACON_TPM=acon-tpm /usr/bin/python3 acon_tpm_cli.py
"""
import os
import subprocess
import tempfile
import time
import unittest

import swtpm_socket

ACON_TPM = os.environ.get("ACON_TPM", "acon-tpm")
EK_CERT_NV_INDEX = "0x01c00002"
# acond's AK (guest/backend/vtpm/vtpm.cc ak_template with the default ecdsa_p256_sha256), in
# tpm2-tools' words.
AK_ALG = "ecc256:ecdsa-sha256:null"
AK_ATTRIBUTES = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign|noda"


def run(*args, env=None):
    return subprocess.run(list(args), capture_output=True, timeout=120, env=env, check=False)


class Swtpm(swtpm_socket.Swtpm):
    """A swtpm manufactured by swtpm_setup with an EK certificate issued by the CA in ca_dir."""

    def __init__(self, workdir, name, ca_dir):
        self.state = os.path.join(workdir, name)
        os.makedirs(self.state)
        os.makedirs(ca_dir, exist_ok=True)
        localca = os.path.join(self.state, "swtpm-localca.conf")
        options = os.path.join(self.state, "swtpm-localca.options")
        setup = os.path.join(self.state, "swtpm_setup.conf")
        with open(localca, "w") as f:
            f.write(f"statedir = {ca_dir}\nsigningkey = {ca_dir}/signkey.pem\n"
                    f"issuercert = {ca_dir}/issuercert.pem\ncertserial = {ca_dir}/certserial\n")
        with open(options, "w") as f:
            f.write("--platform-manufacturer acon\n--platform-version 2.1\n--platform-model test\n")
        with open(setup, "w") as f:
            f.write(f"create_certs_tool = swtpm_localca\ncreate_certs_tool_config = {localca}\n"
                    f"create_certs_tool_options = {options}\nactive_pcr_banks = sha256,sha384\n")
        p = run("swtpm_setup", "--tpm2", "--tpmstate", self.state, "--create-ek-cert",
                "--config", setup, "--overwrite")
        if p.returncode != 0:
            raise RuntimeError("swtpm_setup: " + p.stdout.decode() + p.stderr.decode())
        super().__init__(self.state)


class AconTpmEnroll(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="acon-tpm-cli-")
        cls.ca = cls.path("ca")
        cls.tpm_a = Swtpm(cls.tmp.name, "tpm-a", cls.ca)
        cls.tpm_b = Swtpm(cls.tmp.name, "tpm-b", cls.ca)
        cls.other_ca = cls.path("other-ca")
        cls.stranger = Swtpm(cls.tmp.name, "tpm-other-ca", cls.other_ca)
        cls.roots = os.path.join(cls.ca, "swtpm-localca-rootca-cert.pem")
        cls.issuer = os.path.join(cls.ca, "issuercert.pem")

    @classmethod
    def tearDownClass(cls):
        for tpm in (cls.tpm_a, cls.tpm_b, cls.stranger):
            tpm.stop()
        cls.tmp.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp.name, name)

    def enroll(self, tpm, *extra, roots=None, intermediates=True, out=None):
        out = out or self.path("ak-" + str(time.monotonic_ns()) + ".pem")
        args = [ACON_TPM, "enroll", "--tcti", tpm.tcti, "--ek-roots", roots or self.roots,
                "--out", out, *extra]
        if intermediates:
            args += ["--ek-intermediates", self.issuer]
        return run(*args), out

    def expect_refused(self, p, reason):
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 1, err)
        self.assertIn(reason, err)

    def test_enrolled_key_is_acond_ak(self):
        p, out = self.enroll(self.tpm_a)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        with open(out) as f:
            pem = f.read()
        self.assertTrue(pem.startswith("-----BEGIN PUBLIC KEY-----"), pem)
        # tpm2-tools, from acond's template in the same TPM, derives the same key.
        env = self.tpm_a.tools_env()
        ctx = self.path("ak.ctx")
        c = run("tpm2_createprimary", "-C", "e", "-g", "sha256", "-G", AK_ALG, "-a",
                AK_ATTRIBUTES, "-c", ctx, env=env)
        self.assertEqual(c.returncode, 0, c.stderr.decode())
        tools_pem = self.path("ak-tpm2-tools.pem")
        r = run("tpm2_readpublic", "-c", ctx, "-f", "pem", "-o", tools_pem, env=env)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        run("tpm2_flushcontext", "-t", env=env)
        with open(tools_pem) as f:
            self.assertEqual(pem, f.read())
        # Each TPM has its own AK; enrolling again gives the same key.
        p2, out2 = self.enroll(self.tpm_a)
        self.assertEqual(p2.returncode, 0, p2.stderr.decode())
        with open(out2) as f:
            self.assertEqual(pem, f.read())
        p3, out3 = self.enroll(self.tpm_b)
        self.assertEqual(p3.returncode, 0, p3.stderr.decode())
        with open(out3) as f:
            self.assertNotEqual(pem, f.read())

    def test_refused_with_another_ca(self):
        p, out = self.enroll(self.stranger)
        self.expect_refused(p, "ek certificate")
        self.assertFalse(os.path.exists(out))
        # Without the issuing CA the chain does not reach the root either.
        p, _ = self.enroll(self.tpm_a, intermediates=False)
        self.expect_refused(p, "ek certificate")

    def test_refused_before_the_certificate_is_valid(self):
        p, _ = self.enroll(self.tpm_a, "--time", "2000-01-01T00:00:00Z")
        self.expect_refused(p, "ek certificate")

    def test_refused_with_another_tpms_certificate(self):
        # A fresh TPM C whose EK certificate NV index is overwritten with TPM A's: the chain still
        # verifies, but C's EK is not the certified key.
        tpm_c = Swtpm(self.tmp.name, "tpm-c", self.ca)
        try:
            a_cert = self.path("a-ek.der")
            r = run("tpm2_nvread", "-o", a_cert, EK_CERT_NV_INDEX, env=self.tpm_a.tools_env())
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            env = tpm_c.tools_env()
            for args in (["tpm2_nvundefine", "-C", "p", EK_CERT_NV_INDEX],
                         ["tpm2_nvdefine", "-C", "p", "-s", str(os.path.getsize(a_cert)), "-a",
                          "ppwrite|ppread|ownerread|authread|no_da|platformcreate",
                          EK_CERT_NV_INDEX],
                         ["tpm2_nvwrite", "-C", "p", "-i", a_cert, EK_CERT_NV_INDEX]):
                r = run(*args, env=env)
                self.assertEqual(r.returncode, 0, " ".join(args) + ": " + r.stderr.decode())
            p, out = self.enroll(tpm_c)
            self.expect_refused(p, "not the key its EK certificate certifies")
            self.assertFalse(os.path.exists(out))
        finally:
            tpm_c.stop()

    def test_unusable_input_exits_2(self):
        p, _ = self.enroll(self.tpm_a, roots=self.path("no-such-roots.pem"))
        self.assertEqual(p.returncode, 2, p.stderr.decode())
        self.assertIn("no-such-roots.pem", p.stderr.decode())
        not_pem = self.path("not-pem.pem")
        with open(not_pem, "w") as f:
            f.write("not a certificate\n")
        p, _ = self.enroll(self.tpm_a, roots=not_pem)
        self.assertEqual(p.returncode, 2, p.stderr.decode())
        port = swtpm_socket.free_port_pair()
        p = run(ACON_TPM, "enroll", "--tcti", f"swtpm:host=127.0.0.1,port={port}", "--ek-roots",
                self.roots, "--out", self.path("unreachable.pem"))
        self.assertEqual(p.returncode, 2, p.stderr.decode())
        p, _ = self.enroll(self.tpm_a, "--time", "soon")
        self.assertEqual(p.returncode, 2, p.stderr.decode())
        p = run(ACON_TPM, "enroll", "--tcti", self.tpm_a.tcti)
        self.assertEqual(p.returncode, 2, p.stderr.decode())
        p, _ = self.enroll(self.tpm_a, "--ek-type", "dsa")
        self.assertEqual(p.returncode, 2, p.stderr.decode())
        self.assertIn("--ek-type", p.stderr.decode())
        # swtpm 0.7.1 certifies no P-256 EK (tests/guest/vtpm covers an ECC enrolment).
        p, _ = self.enroll(self.tpm_a, "--ek-type", "ecc")
        self.assertEqual(p.returncode, 2, p.stderr.decode())
        self.assertIn("0x01c0000a", p.stderr.decode())


if __name__ == "__main__":
    unittest.main()
