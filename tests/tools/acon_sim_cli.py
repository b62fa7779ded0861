#!/usr/bin/python3
"""End-to-end checks of the acon-sim command line, verified by acon-verify.

Usage: ACON_SIM=/path/to/acon-sim ACON_VERIFY=/path/to/acon-verify python3 acon_sim_cli.py
"""
import hashlib
import json
import os
import subprocess
import tempfile
import unittest

SIM = os.environ.get("ACON_SIM", "acon-sim")
VERIFY = os.environ.get("ACON_VERIFY", "acon-verify")


def run(tool, *args):
    return subprocess.run([tool, *args], capture_output=True, check=False)


def ok(tool, *args):
    p = run(tool, *args)
    if p.returncode != 0:
        raise AssertionError("%s %s: rc %d: %s" % (tool, " ".join(args), p.returncode,
                                                  p.stderr.decode()))
    return p.stdout.decode()


def extend(register, digest):
    return hashlib.sha384(register + digest).digest()


class Sim(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def create(self, name="state.json", *extra):
        state = self.path(name)
        ok(SIM, "create", "--state", state, "--seed", "cli test", *extra)
        ok(SIM, "root", "--state", state, "--out", self.path(name + ".root.pem"))
        ok(SIM, "collateral", "--state", state, "--out", self.path(name + ".collateral.json"))
        return state

    def quote(self, state, report_data="00"):
        out = self.path("quote.bin")
        ok(SIM, "quote", "--state", state, "--report-data", report_data, "--out", out)
        return out

    def verify(self, state, quote, *extra, root=True):
        args = ["quote", "--quote", quote, "--collateral", state + ".collateral.json"]
        if root:
            args += ["--root", state + ".root.pem"]
        return run(VERIFY, *args, *extra)

    def test_quote_verifies_against_the_sim_root_and_is_labelled(self):
        state = self.create()
        quote = self.quote(state, "c0ffee")
        p = self.verify(state, quote)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        lines = dict(l.split(": ", 1) for l in p.stdout.decode().splitlines())
        self.assertTrue(lines["status"].startswith("STATUS_OK(0)"))
        self.assertTrue(lines["simulated"].startswith("YES"))
        self.assertEqual(lines["fmspc"], "ac0e51000000")
        self.assertTrue(lines["report_data"].startswith("c0ffee00"))

        p = self.verify(state, quote, "--json")
        self.assertEqual(p.returncode, 0)
        out = json.loads(p.stdout)
        self.assertIs(out["simulated"], True)
        self.assertIs(out["claims"]["simulated"], True)
        self.assertEqual(out["tcb_status"], "UpToDate")

    def test_without_the_sim_root_it_is_rejected(self):
        state = self.create()
        p = self.verify(state, self.quote(state), root=False)
        self.assertEqual(p.returncode, 1)
        out = p.stdout.decode()
        self.assertIn("STATUS_SGX_ROOT_CA_UNTRUSTED", out)
        self.assertIn("REJECTED", out)
        self.assertIn("simulated: YES", out)

    def test_extend_read_and_quote_agree(self):
        state = self.create()
        before = dict(l.split(": ") for l in ok(SIM, "read", "--state", state).splitlines())
        self.assertEqual(sorted(before), ["rtmr0", "rtmr1", "rtmr2", "rtmr3"])
        self.assertEqual(before["rtmr3"], "00" * 48)
        ok(SIM, "extend", "--state", state, "--rtmr", "3", "--data", "hello")
        digest = hashlib.sha384(b"acon").digest()
        ok(SIM, "extend", "--state", state, "--rtmr", "3", "--digest", digest.hex())
        want = extend(extend(bytes(48), hashlib.sha384(b"hello").digest()), digest)
        self.assertEqual(ok(SIM, "read", "--state", state, "--rtmr", "3").strip(),
                         "rtmr3: " + want.hex())
        p = self.verify(state, self.quote(state), "--json")
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        body = json.loads(p.stdout)["claims"]["quote"]["body"]
        self.assertEqual(body["rtmr_3"], want.hex())
        self.assertEqual(body["rtmr_0"], before["rtmr0"])
        # Bad input: usage errors exit 2.
        self.assertEqual(run(SIM, "extend", "--state", state, "--rtmr", "3", "--digest",
                             "abcd").returncode, 2)
        self.assertEqual(run(SIM, "extend", "--state", state, "--rtmr", "4", "--data",
                             "x").returncode, 2)
        self.assertEqual(run(SIM, "read", "--state", self.path("missing")).returncode, 2)
        self.assertEqual(run(SIM, "create", "--state", state).returncode, 2)  # exists
        ok(SIM, "create", "--state", state, "--force")

    def test_concurrent_extends_from_two_processes_all_land(self):
        state = self.create()
        count = 6
        script = "for i in $(seq %d); do \"$0\" extend --state \"$1\" --rtmr \"$2\" --data x" \
                 " || exit 1; done" % count
        procs = [subprocess.Popen(["/bin/sh", "-c", script, SIM, state, str(r)])
                 for r in (2, 3)]
        self.assertEqual([p.wait() for p in procs], [0, 0])
        regs = dict(l.split(": ") for l in ok(SIM, "read", "--state", state).splitlines())
        want = bytes(48)
        for _ in range(count):
            want = extend(want, hashlib.sha384(b"x").digest())
        self.assertEqual(regs["rtmr3"], want.hex())
        self.assertNotEqual(regs["rtmr2"], want.hex())  # RTMR2 started from the CCEL value

    def test_tcb_status_and_advisories(self):
        state = self.create("s.json", "--tcb-status", "OutOfDate", "--advisory-id",
                            "ACON-SIM-SA-01234")
        p = self.verify(state, self.quote(state), "--json")
        self.assertEqual(p.returncode, 0)  # OutOfDate is a non-terminal status
        out = json.loads(p.stdout)
        self.assertEqual(out["status"], "STATUS_TCB_OUT_OF_DATE")
        self.assertEqual(out["advisory_ids"], ["ACON-SIM-SA-01234"])

        state = self.create("r.json", "--tcb-status", "Revoked")
        p = self.verify(state, self.quote(state), "--json")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(json.loads(p.stdout)["status"], "STATUS_TCB_REVOKED")
        self.assertEqual(run(SIM, "create", "--state", self.path("x.json"), "--tcb-status",
                             "Fine").returncode, 2)

    def test_v5_relaunch_advice(self):
        state = self.create("v5.json", "--quote-version", "5", "--td-relaunch")
        quote = self.quote(state)
        with open(quote, "rb") as f:
            self.assertEqual(f.read(2), b"\x05\x00")
        p = self.verify(state, quote, "--json")
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        out = json.loads(p.stdout)
        self.assertEqual(out["status"], "STATUS_TCB_TD_RELAUNCH_ADVISED")
        self.assertEqual(out["tcb_status_current"], "UpToDate")

    def test_expired_collateral_flag_and_strict(self):
        state = self.create("old.json", "--issue-date", "2024-01-01T00:00:00Z")
        quote = self.quote(state)
        p = self.verify(state, quote, "--json", "--time", "2024-01-02T00:00:00Z")
        self.assertEqual(p.returncode, 0)
        self.assertIs(json.loads(p.stdout)["collateral_expired"], False)
        p = self.verify(state, quote, "--json", "--time", "2024-03-01T00:00:00Z")
        self.assertEqual(p.returncode, 0)
        self.assertIs(json.loads(p.stdout)["collateral_expired"], True)
        p = self.verify(state, quote, "--json", "--time", "2024-03-01T00:00:00Z", "--strict")
        self.assertEqual(p.returncode, 1)
        self.assertIn("EXPIRED", json.loads(p.stdout)["status"])
        # Reissued collateral is current again.
        ok(SIM, "collateral", "--state", state, "--reissue", "--issue-date", "2024-02-25T00:00:00Z",
           "--out", state + ".collateral.json")
        p = self.verify(state, quote, "--json", "--time", "2024-03-01T00:00:00Z", "--strict")
        self.assertEqual(p.returncode, 0, p.stdout.decode())

    def test_report_ccel_and_root(self):
        state = self.create()
        report = bytes.fromhex(ok(SIM, "report", "--state", state, "--report-data", "ab").strip())
        self.assertEqual(len(report), 1024)
        self.assertEqual(report[0], 0x81)
        self.assertEqual(report[128:130], b"\xab\x00")
        ok(SIM, "ccel", "--state", state, "--out", self.path("ccel.bin"))
        with open(self.path("ccel.bin"), "rb") as f:
            ccel = f.read()
        self.assertEqual(ccel[4:8], b"\x03\x00\x00\x00")  # EV_NO_ACTION header record
        self.assertIn(b"Spec ID Event03", ccel)
        with open(state + ".root.pem") as f:
            self.assertIn("BEGIN CERTIFICATE", f.read())
        bundle = json.loads(ok(SIM, "collateral", "--state", state))
        self.assertEqual(json.loads(bundle["qe_identity"])["id"], "TD_QE")
        self.assertEqual(json.loads(bundle["tcb_info"])["fmspc"], "AC0E51000000")
        self.assertEqual(run(SIM, "quote", "--state", state, "--report-data", "00" * 65).returncode, 2)


if __name__ == "__main__":
    unittest.main()
