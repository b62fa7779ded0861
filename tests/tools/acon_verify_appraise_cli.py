#!/usr/bin/python3
"""End-to-end checks of `acon-verify appraise` (docs/appraisal-policy.md): a real TDX quote with
Intel's collateral at its pinned time, as an evidence bundle, under the shipped Trustee-default
policy and under a hardware-only policy; exit codes, explanations, the EAR, and its ES256
signature verified with python3-jwcrypto (an independent JOSE implementation).

Usage: ACON_VERIFY=/path/to/acon-verify ACON_TEST_DATA=/path/to/tests/data python3 acon_verify_appraise_cli.py
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from jwcrypto import jwk, jws

TOOL = os.environ.get("ACON_VERIFY", "acon-verify")
DATA = os.environ.get("ACON_TEST_DATA", "tests/data")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(DATA)))
DEFAULT_POLICY = os.path.join(ROOT, "verifier/appraisal/policies/default_cpu.toml")
QUOTE = os.path.join(DATA, "quotes/phala-dcap-qvl/tdx_quote")
COLLATERAL = os.path.join(DATA, "quotes/phala-dcap-qvl/tdx_quote_collateral.json")
TIME = "1751624191"  # vectors.json phala-tdx-v4-uptodate

HARDWARE_ONLY = """version = 1
id = "hardware-only"
[hardware]
default = 97
[[hardware.tiers]]
value = 2
when = [{ check = "quote.signature" }, { claim = "tdx.tcb_status", one_of = ["UpToDate"] }]
"""


def rvps(payload):
    body = base64.b64encode(json.dumps(payload).encode()).decode()
    return json.dumps({"version": "0.1.0", "type": "sample", "payload": body})


class Appraise(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.bundle = os.path.join(self.dir, "bundle")
        os.mkdir(self.bundle)
        shutil.copy(QUOTE, os.path.join(self.bundle, "quote.bin"))
        shutil.copy(COLLATERAL, os.path.join(self.bundle, "collateral.json"))

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def appraise(self, policy, *extra):
        p = subprocess.run([TOOL, "appraise", "--evidence", self.bundle, "--policy", policy,
                            "--time", TIME, "--compact", *extra], capture_output=True, check=False)
        out = json.loads(p.stdout) if p.returncode != 2 else None
        return p.returncode, out, p.stderr.decode()

    def test_trustee_default_policy_is_a_warning_that_explains_itself(self):
        # What the relying party knows: this TD's MRTD and XFAM, from the quote itself.
        with open(QUOTE, "rb") as f:
            q = f.read()
        body = q[48:]
        refs = self.write("refs.json", rvps({"mr_td": [body[136:184].hex()],
                                             "xfam": [body[128:136].hex()]}))
        rc, out, err = self.appraise(DEFAULT_POLICY, "--reference-values", refs)
        self.assertEqual(rc, 1, err)
        self.assertEqual(out["status"], "warning")
        self.assertIn("hardware=2 (tier 1 (value 2))", "\n".join(out["explanations"]))
        self.assertIn("executables=33 (default)", "\n".join(out["explanations"]))
        cpu0 = out["ear"]["submods"]["cpu0"]
        self.assertEqual(cpu0["ear.status"], "warning")
        self.assertEqual(cpu0["ear.appraisal-policy-id"], "default_cpu")
        self.assertEqual(cpu0["ear.veraison.annotated-evidence"]["tdx"]["tcb_status"], "UpToDate")
        # Without the reference values MRTD is unknown: hardware falls to its default.
        rc, out, _ = self.appraise(DEFAULT_POLICY)
        self.assertEqual(rc, 1)
        self.assertIn("hardware=97 (default)", "\n".join(out["explanations"]))
        self.assertIn("mr_td", "\n".join(out["explanations"]))

    def test_affirming_ear_is_signed_and_jwcrypto_verifies_it(self):
        key = jwk.JWK.generate(kty="EC", crv="P-256")
        pem = self.write("ear.pem", key.export_to_pem(private_key=True, password=None).decode())
        rc, out, err = self.appraise(self.write("hw.toml", HARDWARE_ONLY), "--ear-key", pem,
                                     "--audience", "https://kbs.example")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["status"], "affirming")
        token = jws.JWS()
        token.deserialize(out["ear_jwt"])
        token.verify(key.public())  # raises on a bad signature
        claims = json.loads(token.payload)
        self.assertEqual(claims, out["ear"])
        self.assertEqual(claims["aud"], "https://kbs.example")
        self.assertEqual(claims["iat"], int(TIME))
        self.assertEqual(claims["exp"], int(TIME) + 300)

    def test_tampered_quote_is_contraindicated_and_unusable_inputs_exit_2(self):
        # A quote byte changed: crypto validation failed, whatever the policy says.
        with open(QUOTE, "rb") as f:
            q = bytearray(f.read())
        q[48 + 136] ^= 1
        with open(os.path.join(self.bundle, "quote.bin"), "wb") as f:
            f.write(q)
        rc, out, _ = self.appraise(self.write("hw.toml", HARDWARE_ONLY))
        self.assertEqual(rc, 1)
        self.assertEqual(out["status"], "contraindicated")
        self.assertIn("hardware=99 (hard rule: quote.signature)", "\n".join(out["explanations"]))
        # Unusable inputs: a policy key that does not exist, a file the bundle does not know.
        rc, _, err = self.appraise(self.write("bad.toml", "version = 1\nid = \"x\"\nallow = 1\n"))
        self.assertEqual(rc, 2)
        self.assertIn("bad.toml", err)
        self.write("bundle/quote.bin.orig", "x")
        rc, _, err = self.appraise(self.write("hw.toml", HARDWARE_ONLY))
        self.assertEqual(rc, 2)
        self.assertIn("quote.bin.orig", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
