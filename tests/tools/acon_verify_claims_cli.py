#!/usr/bin/python3
"""End-to-end checks of `acon-verify claims` (docs/claims.md).

The quote claims are compared with values this script reads from the quote bytes itself, by the
layout of Intel's TDX DCAP quote format (header 48 bytes; v5: 2-byte body type and 4-byte body
size before the body; TD 1.0 report body 584 bytes, TD 1.5 adds TEE_TCB_SVN2 and MRSERVICETD),
not by acon's parser; the event-log entries and the whole Trustee document are compared with
Trustee's own expected outputs in tests/data.

Usage: ACON_VERIFY=/path/to/acon-verify ACON_TEST_DATA=/path/to/tests/data python3 acon_verify_claims_cli.py
"""
import json
import os
import struct
import subprocess
import tempfile
import unittest

TOOL = os.environ.get("ACON_VERIFY", "acon-verify")
DATA = os.environ.get("ACON_TEST_DATA", "tests/data")
COLLATERAL = os.path.join(DATA, "quotes/phala-dcap-qvl/tdx_quote_collateral.json")
COLLATERAL_TIME = "1751624191"  # vectors.json phala-tdx-v4-uptodate

# (name, offset, size) inside the TD report body.
TD10_FIELDS = [
    ("tcb_svn", 0, 16), ("mr_seam", 16, 48), ("mrsigner_seam", 64, 48),
    ("seam_attributes", 112, 8), ("td_attributes", 120, 8), ("xfam", 128, 8),
    ("mr_td", 136, 48), ("mr_config_id", 184, 48), ("mr_owner", 232, 48),
    ("mr_owner_config", 280, 48), ("rtmr_0", 328, 48), ("rtmr_1", 376, 48),
    ("rtmr_2", 424, 48), ("rtmr_3", 472, 48), ("report_data", 520, 64),
]
TD15_FIELDS = [("tee_tcb_svn2", 584, 16), ("mr_servicetd", 600, 48)]
TD_ATTRIBUTE_BITS = {"debug": 0, "septve_disable": 28, "protection_keys": 30, "key_locker": 31,
                     "perfmon": 63}


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_quote(path):
    with open(path, "rb") as f:
        raw = f.read()
    if all(chr(b) in "0123456789abcdefABCDEFx \n\r\t" for b in raw):
        text = raw.decode().strip()
        raw = bytes.fromhex(text[2:] if text.startswith("0x") else text)
    return raw


def expected_quote_claims(q):
    """Trustee's quote claims (trustee deps/verifier/src/tdx/claims.rs) read from the layout."""
    version = struct.unpack_from("<H", q, 0)[0]
    header = {"version": q[0:2].hex(), "att_key_type": q[2:4].hex(), "tee_type": q[4:8].hex(),
              "reserved": q[8:12].hex(), "vendor_id": q[12:28].hex(), "user_data": q[28:48].hex()}
    quote = {"header": header}
    body_at, fields = 48, list(TD10_FIELDS)
    if version == 5:
        body_type = struct.unpack_from("<H", q, 48)[0]
        quote["type"], quote["size"] = q[48:50].hex(), q[50:54].hex()
        body_at = 54
        if body_type == 3:
            fields += TD15_FIELDS
    body = q[body_at:]
    quote["body"] = {name: body[off:off + size].hex() for name, off, size in fields}
    attributes = struct.unpack_from("<Q", body, 120)[0]
    td_attributes = {name: bool(attributes >> bit & 1) for name, bit in TD_ATTRIBUTE_BITS.items()}
    return quote, td_attributes, body[520:584].hex(), body[184:232].hex()


def run(*args):
    return subprocess.run([TOOL, "claims", *args], capture_output=True, check=False)


def claims_of(quote, *extra):
    p = run("--quote", quote, "--collateral", COLLATERAL, "--time", COLLATERAL_TIME, *extra)
    if p.returncode not in (0, 1):
        raise AssertionError("exit %d: %s" % (p.returncode, p.stderr.decode()))
    return p.returncode, json.loads(p.stdout)


class Claims(unittest.TestCase):
    QUOTES = ["quotes/phala-dcap-qvl/tdx_quote", "quotes/phala-dcap-qvl/tdx_quote_outdated",
              "quotes/phala-dcap-qvl/near_quote_hex.txt", "quotes/phala-dcap-qvl/tdx-quote.hex",
              "quotes/phala-dcap-qvl/quote-from-tappd.hex",
              "quotes/go-tdx-guest/tdx_prod_quote_SPR_E4.dat", "quotes/intel-qvl-sample/quote.dat",
              "trustee/tdx_quote_4.dat", "trustee/tdx_quote_5.dat", "trustee/tdx_quote_6.dat"]

    def test_quote_claims_equal_the_layout_for_every_real_quote(self):
        versions = set()
        for name in self.QUOTES:
            with self.subTest(quote=name):
                path = os.path.join(DATA, name)
                q = read_quote(path)
                quote, td_attributes, report_data, init_data = expected_quote_claims(q)
                versions.add((quote["header"]["version"], "tee_tcb_svn2" in quote["body"]))
                _, out = claims_of(path)
                doc = out["claims"]
                self.assertEqual(doc["tdx"]["quote"], quote)
                self.assertEqual(doc["tdx"]["td_attributes"], td_attributes)
                self.assertEqual(doc["report_data"], report_data)
                self.assertEqual(doc["init_data"], init_data)
                self.assertNotIn("report_data", doc["tdx"])
                self.assertIs(doc["acon"]["simulated"], False)
        # v4 TD 1.0 and v5 TD 1.5 are both among them.
        self.assertIn(("0400", False), versions)
        self.assertIn(("0500", True), versions)

    def test_trustee_expected_document_for_its_quote_and_ccel(self):
        rc, out = claims_of(os.path.join(DATA, "trustee/tdx_quote_4.dat"), "--eventlog",
                            os.path.join(DATA, "eventlog/trustee/CCEL_data"))
        self.assertEqual(rc, 1)  # other platform's collateral, and the log is another TD's
        doc = out["claims"]
        verifier_output = dict(doc["tdx"], report_data=doc["report_data"],
                               init_data=doc["init_data"])
        expected = read_json(os.path.join(DATA, "trustee/parse_tdx_claims_expected.json"))
        self.assertEqual(verifier_output, expected)
        checks = {c["name"]: c for c in out["checks"]}
        self.assertEqual(checks["quote.signature"]["outcome"], "fail")
        self.assertIn("FMSPC", checks["quote.signature"]["reason"])
        self.assertEqual(checks["replay.rtmr0"]["outcome"], "fail")
        self.assertEqual(checks["claims.uefi_event_logs"]["outcome"], "pass")

    def test_event_log_entries_equal_trustees_parse_output(self):
        for log in ["CCEL_data", "CCEL_data_ovmf", "CCEL_data_grub", "CCEL_data_grub_gke",
                    "CCEL_data_csv", "CCEL_AAEL_alibabacloud"]:
            with self.subTest(log=log):
                _, out = claims_of(os.path.join(DATA, "quotes/phala-dcap-qvl/tdx_quote"),
                                   "--eventlog", os.path.join(DATA, "eventlog/trustee", log),
                                   "--compact")
                want = read_json(os.path.join(DATA, "eventlog/trustee", log + "_out.json"))
                self.assertEqual(out["claims"]["tdx"]["uefi_event_logs"], want["uefi_event_logs"])

    def test_verified_quote_exits_0_with_trustee_tcb_claims(self):
        p = run("--quote", os.path.join(DATA, "quotes/phala-dcap-qvl/tdx_quote"), "--collateral",
                COLLATERAL, "--time", "2025-07-04T10:16:31Z")
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertTrue(p.stdout.decode().startswith("{\n  \"checks\": ["))  # 2-space indent
        out = json.loads(p.stdout)
        tdx = out["claims"]["tdx"]
        self.assertEqual(tdx["tcb_status"], "UpToDate")
        self.assertEqual(tdx["tcb_date"], "2024-03-13T00:00:00Z")
        self.assertEqual(tdx["collateral_expiration_status"], "0")
        self.assertEqual(tdx["advisory_ids"], [])
        self.assertEqual(tdx["sgx_type"], "Scalable")
        outcomes = {c["name"]: c["outcome"] for c in out["checks"]}
        self.assertEqual(outcomes["quote.signature"], "pass")
        self.assertEqual(outcomes["quote.tcb"], "pass")
        # Nothing else was given, so nothing else is claimed either way.
        self.assertEqual({o for n, o in outcomes.items() if not n.startswith("quote.")},
                         {"skipped"})
        self.assertEqual(set(out["claims"]),
                         {"tdx", "report_data", "init_data", "init_data_claims",
                          "runtime_data_claims", "acon"})

    def test_unusable_input_exits_2(self):
        with tempfile.NamedTemporaryFile() as junk:
            junk.write(b"not an event log at all" * 4)
            junk.flush()
            p = run("--quote", os.path.join(DATA, "quotes/phala-dcap-qvl/tdx_quote"),
                    "--collateral", COLLATERAL, "--time", COLLATERAL_TIME, "--eventlog", junk.name)
            self.assertEqual(p.returncode, 2)
            self.assertIn(junk.name, p.stderr.decode())
        p = run("--quote", os.path.join(DATA, "quotes/phala-dcap-qvl/tdx_quote"))
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
