#!/usr/bin/python3
"""End-to-end checks of the acon-verify command line on the real quotes in tests/data/quotes.

Usage: ACON_VERIFY=/path/to/acon-verify ACON_TEST_DATA=/path/to/tests/data python3 acon_verify_cli.py
"""
import json
import os
import subprocess
import tempfile
import unittest

TOOL = os.environ.get("ACON_VERIFY", "acon-verify")
DATA = os.path.join(os.environ.get("ACON_TEST_DATA", "tests/data"), "quotes")
VECTORS = json.load(open(os.path.join(DATA, "vectors.json")))["vectors"]


def data(path):
    return os.path.join(DATA, path)


def vector(vid):
    return next(v for v in VECTORS if v["id"] == vid)


def run(*args):
    return subprocess.run([TOOL, *args], capture_output=True, check=False)


def run_vector(v, *extra):
    return run("quote", "--quote", data(v["quote"]), "--collateral", data(v["collateral"]),
               "--time", str(v["now_unix"]), *extra)


class Verify(unittest.TestCase):
    def test_every_vector_gives_its_qvl_status_and_exit_code(self):
        for v in VECTORS:
            with self.subTest(vector=v["id"]):
                p = run_vector(v, "--json")
                want = v["expected"]
                self.assertEqual(p.returncode, 0 if want["accepted"] else 1, p.stderr.decode())
                out = json.loads(p.stdout)
                label = "%s(%d)" % (out["status"], out["status_code"])
                self.assertEqual(label, want["qvl_status"].split(")")[0] + ")")
                self.assertEqual(out["accepted"], want["accepted"])
                if want["advisory_ids"] is not None:
                    self.assertEqual(out["advisory_ids"], want["advisory_ids"])
                if want["collateral_expired"] is not None:
                    self.assertEqual(out["collateral_expired"], want["collateral_expired"])
                if want["tcb_status"] is not None:
                    self.assertEqual(out["tcb_status"], want["tcb_status"])

    def test_text_output_names_status_and_measurements(self):
        p = run_vector(vector("phala-tdx-v4-uptodate"))
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        lines = dict(l.split(": ", 1) for l in p.stdout.decode().splitlines())
        self.assertTrue(lines["status"].startswith("STATUS_OK(0) SGX_QL_QV_RESULT_OK"))
        self.assertEqual(lines["tcb_status"], "UpToDate")
        self.assertEqual(lines["tcb_date"], "2024-03-13T00:00:00Z")
        self.assertEqual(lines["advisories"], "none")
        quote = open(data("phala-dcap-qvl/tdx_quote"), "rb").read()
        self.assertEqual(lines["mr_td"], quote[48 + 136:48 + 184].hex())
        self.assertEqual(lines["rtmr_2"], quote[48 + 424:48 + 472].hex())
        self.assertEqual(lines["report_data"], quote[568:632].hex())
        self.assertIn("septve_disable=1", lines["td_attributes_decoded"])

    def test_json_carries_trustee_claims(self):
        p = run_vector(vector("phala-tdx-v5-not-supported"), "--json")
        self.assertEqual(p.returncode, 1)
        out = json.loads(p.stdout)
        self.assertEqual(out["claims"]["quote"]["header"]["version"], "0500")
        self.assertIn("tee_tcb_svn2", out["claims"]["quote"]["body"])
        self.assertIn("failure", out)

    def test_hex_and_rfc3339_time_and_sgx(self):
        v = vector("phala-near-tdx-v4-uptodate")
        p = run("quote", "--quote", data(v["quote"]), "--collateral", data(v["collateral"]),
                "--time", v["now_utc"])
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        p = run_vector(vector("phala-sgx-v3"))
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertIn("INTEL-SA-00289 INTEL-SA-00615", p.stdout.decode())

    def test_strict_expiry_fails_expired_collateral(self):
        v = vector("edge-crl-expired")
        self.assertEqual(run_vector(v).returncode, 0)
        p = run_vector(v, "--strict")
        self.assertEqual(p.returncode, 1)
        self.assertIn("STATUS_SGX_CRL_EXPIRED(79)", p.stdout.decode())

    def test_foreign_root_rejects(self):
        p = run_vector(vector("phala-tdx-v4-uptodate"), "--root",
                       data("intel-qvl-sample/trustedRootCaCert.der"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("STATUS_SGX_ROOT_CA_UNTRUSTED", p.stdout.decode())

    def test_bad_input_exits_2(self):
        v = vector("phala-tdx-v4-uptodate")
        with tempfile.NamedTemporaryFile() as f:
            f.write(open(data(v["quote"]), "rb").read()[:200])
            f.flush()
            p = run("quote", "--quote", f.name, "--collateral", data(v["collateral"]))
            self.assertEqual(p.returncode, 2)
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"04000200zz")  # hex-looking but not hex: binary, then too short to parse
            f.flush()
            self.assertEqual(run("quote", "--quote", f.name, "--collateral", data(v["collateral"])).returncode, 2)
        self.assertEqual(run("quote", "--quote", data(v["quote"]), "--collateral", data(v["quote"])).returncode, 2)
        self.assertEqual(run("quote", "--quote", data(v["quote"]), "--collateral", data(v["collateral"]),
                             "--time", "yesterday").returncode, 2)
        self.assertEqual(run("quote", "--quote", "/nonexistent", "--collateral", data(v["collateral"])).returncode, 2)
        self.assertEqual(run("quote").returncode, 2)
        # Intel's sample quote has DER, not PEM, in its type-5 block: QVL finds no certificate
        # in it and rejects the quote (exit 1), and the collateral's chain never stands in.
        p = run("quote", "--quote", data("intel-qvl-sample/quote.dat"), "--collateral",
                data(v["collateral"]), "--time", "1751624191")
        self.assertEqual(p.returncode, 1, p.stderr.decode())
        self.assertIn("STATUS_UNSUPPORTED_CERT_FORMAT", p.stdout.decode())


class FetchFromPcs(unittest.TestCase):
    """--pcs over real HTTP: tests/verifier/dcap/pcs_replay_server.py replays the recorded go-tdx-guest
    PCS responses on loopback; the verdict must equal the one from the same collateral as a bundle."""

    def test_pcs_fetch_then_offline_cache_give_the_bundle_verdict(self):
        v = vector("gotdx-spr-e4-not-supported")
        server_script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "verifier", "dcap",
                                     "pcs_replay_server.py")
        server = subprocess.Popen(["/usr/bin/python3", server_script, data("go-tdx-guest")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            port = int(server.stdout.readline())
            base = f"http://127.0.0.1:{port}"
            with tempfile.TemporaryDirectory() as cache:
                fetched = run("quote", "--quote", data(v["quote"]), "--pcs", base, "--root-crl-url",
                              base + "/IntelSGXRootCA.der", "--cache-dir", cache, "--time", v["now_utc"], "--json")
                server.stdin.close()
                server.wait(timeout=10)
                offline = run("quote", "--quote", data(v["quote"]), "--pcs", base, "--cache-dir", cache,
                              "--offline", "--time", v["now_utc"], "--json")
        finally:
            if server.poll() is None:
                server.kill()
        bundle = run("quote", "--quote", data(v["quote"]), "--collateral", data(v["collateral"]),
                     "--time", v["now_utc"], "--json")
        self.assertEqual(bundle.returncode, 1, bundle.stderr.decode())
        for p in (fetched, offline):
            self.assertEqual(p.returncode, 1, p.stderr.decode())
            self.assertEqual(json.loads(p.stdout), json.loads(bundle.stdout))

    def test_pcs_and_collateral_are_exclusive(self):
        p = run("quote", "--quote", data("go-tdx-guest/tdx_prod_quote_SPR_E4.dat"))
        self.assertEqual(p.returncode, 2)


class CraftedSimQuotes(unittest.TestCase):
    """Issue 17, findings 2, 3 and 6, and the expired-collateral wording: crafted simulator quotes
    (tests/data/quotes/sim-issue17/README.md) give Intel QvE's verdict."""

    def verify(self, name, *extra, time="2025-06-02T00:00:00Z"):
        d = "sim-issue17/"
        return run("quote", "--quote", data(d + name), "--collateral", data(d + "collateral_with_pck_chain.json"),
                   "--root", data(d + "root.pem"), "--time", time, *extra)

    def test_verdicts(self):
        cases = [("base4.bin", 0, "STATUS_OK", "quote"),
                 ("cert5_stray_control_byte.bin", 0, "STATUS_OK", "quote"),
                 ("cert5_nul_after_leaf.bin", 1, "STATUS_UNSUPPORTED_CERT_FORMAT", "quote"),
                 ("cert1_collateral_chain.bin", 1, "STATUS_UNSUPPORTED_QE_CERTIFICATION_DATA_TYPE", "quote")]
        for name, code, status, source in cases:
            with self.subTest(quote=name):
                p = self.verify(name, "--json")
                self.assertEqual(p.returncode, code, p.stderr.decode())
                out = json.loads(p.stdout)
                self.assertEqual(out["status"], status)
                self.assertEqual(out["pck_chain_source"], source)
                if code == 0:
                    self.assertTrue(out["simulated"])
                    self.assertTrue(out["claims"]["simulated"])

    def test_collateral_chain_only_when_allowed_and_then_said(self):
        p = self.verify("cert1_collateral_chain.bin", "--allow-collateral-pck-chain", "--json")
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        out = json.loads(p.stdout)
        self.assertEqual(out["pck_chain_source"], "collateral")
        self.assertTrue(out["simulated"])  # decided from the chain verified, the collateral's
        self.assertTrue(out["claims"]["simulated"])
        p = self.verify("cert1_collateral_chain.bin", "--allow-collateral-pck-chain")
        self.assertIn("simulated: YES", p.stdout.decode())
        self.assertIn("pck_chain: from the collateral", p.stdout.decode())
        # A type-5 quote never falls back, even when allowed.
        self.assertEqual(self.verify("cert5_nul_after_leaf.bin", "--allow-collateral-pck-chain").returncode, 1)

    def test_expired_collateral_is_said_plainly(self):
        p = self.verify("base4.bin", time="2026-06-02T00:00:00Z")
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        line = [l for l in p.stdout.decode().splitlines() if l.startswith("collateral_expired:")][0]
        self.assertIn("rests on expired collateral", line)
        self.assertIn("--strict", line)
        self.assertEqual(self.verify("base4.bin", "--strict", time="2026-06-02T00:00:00Z").returncode, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
