#!/usr/bin/python3
"""End-to-end checks of the acon-eventlog command line on the real logs in tests/data/eventlog.

Usage: ACON_EVENTLOG=/path/to/acon-eventlog ACON_TEST_DATA=/path/to/tests/data python3 acon_eventlog_cli.py
"""
import json
import os
import struct
import subprocess
import tempfile
import unittest
import hashlib

TOOL = os.environ.get("ACON_EVENTLOG", "acon-eventlog")
DATA = os.path.join(os.environ.get("ACON_TEST_DATA", "tests/data"), "eventlog")
EXPECTED = json.load(open(os.path.join(DATA, "expected.json")))


def data(path):
    return os.path.join(DATA, path)


def run(*args, stdin=None):
    return subprocess.run([TOOL, *args], input=stdin, capture_output=True, check=False)



def crafted_log(events, banks=("sha256", "sha384")):
    """A TCG2 log: the Spec ID header for `banks`, then (index, type, data, banks_digested)
    records measuring `data` itself (digest = H(data)) in the banks listed."""
    algs = {"sha256": (0x000B, hashlib.sha256), "sha384": (0x000C, hashlib.sha384)}
    spec = b"Spec ID Event03\0" + struct.pack("<IBBBBI", 0, 0, 2, 0, 2, len(banks))
    spec += b"".join(struct.pack("<HH", algs[b][0], algs[b][1]().digest_size) for b in banks) + b"\0"
    out = struct.pack("<II", 0, 3) + bytes(20) + struct.pack("<I", len(spec)) + spec
    for index, etype, data, digested in events:
        out += struct.pack("<III", index, etype, len(digested))
        out += b"".join(struct.pack("<H", algs[b][0]) + algs[b][1](data).digest() for b in digested)
        out += struct.pack("<I", len(data)) + data
    return out


EVIL = b"kernel_cmdline: /vmlinuz console=ttyS0 init=/bin/evil"
BOTH = ("sha256", "sha384")
FIRMWARE = [(1, 0x80000007, b"firmware", BOTH), (2, 0x80000007, b"boot loader", BOTH),
            (3, 0xD, b"kernel_cmdline: /vmlinuz", BOTH)]

class Replay(unittest.TestCase):
    def test_ccel_plus_ima_matches_the_paired_quote(self):
        p = run("replay", data("cc-trusted-api/ccel_data.bin"), "--ima", data("cc-trusted-api/ima_log.bin"),
                "--quote", data("cc-trusted-api/quote.bin"))
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        lines = p.stdout.decode().splitlines()
        self.assertEqual([l.split()[:2] for l in lines],
                         [["RTMR0", "match"], ["RTMR1", "match"], ["RTMR2", "match"], ["RTMR3", "match"]])

    def test_without_the_ima_log_rtmr2_mismatches_with_exit_1(self):
        p = run("replay", data("cc-trusted-api/ccel_data.bin"), "--quote", data("cc-trusted-api/quote.bin"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("RTMR2 MISMATCH", p.stdout.decode())

    def test_text_aael_replays_into_rtmr3(self):
        want = EXPECTED["legacy_text_aael"]["trustee_aael_legacy/AAEL_data_1"]["expected_rtmr3"]
        # The firmware log's own registers (RTMR0, RTMR1) must be compared too: a replay that
        # leaves registers holding events unchecked proves nothing about those events.
        p = run("replay", data("trustee/CCEL_data_ovmf"))
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        firmware = ["--expect=%s=%s" % tuple(l.split()) for l in p.stdout.decode().splitlines()
                    if not l.startswith("RTMR3 ")]
        self.assertTrue(firmware)
        p = run("replay", data("trustee/CCEL_data_ovmf"), "--text-aael", data("trustee_aael_legacy/AAEL_data_1"),
                "--expect", "RTMR3=" + want, *firmware)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        p = run("replay", data("trustee/CCEL_data_ovmf"), "--text-aael", data("trustee_aael_legacy/AAEL_data_2"),
                "--expect", "RTMR3=" + want, *firmware)
        self.assertEqual(p.returncode, 1)
        # RTMR3 alone: the CCEL events in RTMR0/RTMR1 are not covered, exit 1 naming them.
        p = run("replay", data("trustee/CCEL_data_ovmf"), "--text-aael", data("trustee_aael_legacy/AAEL_data_1"),
                "--expect", "RTMR3=" + want)
        self.assertEqual(p.returncode, 1)
        self.assertIn("UNCOVERED", p.stdout.decode())
        self.assertIn("event #1 (EV_EFI_HANDOFF_TABLES2)", p.stdout.decode())

    def test_every_log_replays_to_expected_values(self):
        for name, log in EXPECTED["logs"].items():
            for bank, regs in log["expected_replay"].items():
                with self.subTest(log=name, bank=bank):
                    expects = [f"--expect={i}={v}" for i, v in regs.items()]
                    p = run("replay", data(name), "--bank", bank, *expects)
                    self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
                    p = run("replay", data(name), "--bank", bank)
                    printed = dict(l.split() for l in p.stdout.decode().splitlines())
                    for i, v in regs.items():
                        self.assertEqual(printed[["MRTD", "RTMR0", "RTMR1", "RTMR2", "RTMR3"][int(i)]], v)


class CraftedEvents(unittest.TestCase):
    """Issue 17, finding 7: no event that no compared register proves may pass a replay."""

    def replay(self, log, *args):
        with tempfile.NamedTemporaryFile(suffix=".bin") as f:
            f.write(log)
            f.flush()
            registers = run("replay", f.name)
            expect = ["--expect=%s=%s" % tuple(l.split()) for l in registers.stdout.decode().splitlines()]
            return registers, run("replay", f.name, *expect, *args), run("dump", f.name)

    def test_event_outside_rtmr0_to_3_is_refused(self):
        for index in (0, 7):
            with self.subTest(index=index):
                _, p, dump = self.replay(crafted_log(FIRMWARE + [(index, 0xD, EVIL, BOTH)]))
                self.assertEqual(p.returncode, 2, p.stdout.decode())
                self.assertIn("event #4 (EV_IPL)", p.stderr.decode())
                self.assertEqual(dump.returncode, 2)

    def test_event_missing_a_bank_is_refused(self):
        _, p, dump = self.replay(crafted_log(FIRMWARE + [(3, 0xD, EVIL, ("sha256",))]))
        self.assertEqual(p.returncode, 2, p.stdout.decode())
        self.assertIn("digests.count", p.stderr.decode())
        self.assertEqual(dump.returncode, 2)

    def test_event_in_an_uncompared_register_fails_the_replay(self):
        log = crafted_log(FIRMWARE + [(3, 0xD, EVIL, BOTH)])
        registers, p, _ = self.replay(log)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        rtmr0 = [l for l in registers.stdout.decode().splitlines() if l.startswith("RTMR0 ")][0]
        with tempfile.NamedTemporaryFile(suffix=".bin") as f:
            f.write(log)
            f.flush()
            p = run("replay", f.name, "--expect", "%s=%s" % tuple(rtmr0.split()))
        self.assertEqual(p.returncode, 1)
        out = p.stdout.decode()
        self.assertIn("RTMR0 match", out)
        self.assertIn("UNCOVERED", out)
        self.assertIn("event #4 (EV_IPL)", out)
        self.assertIn("event #2 (EV_EFI_ACTION)", out)


class Dump(unittest.TestCase):
    def test_json_document_for_every_log(self):
        for name, log in EXPECTED["logs"].items():
            with self.subTest(log=name):
                p = run("dump", data(name), "--format", "json")
                self.assertEqual(p.returncode, 0, p.stderr.decode())
                doc = json.loads(p.stdout)
                self.assertEqual(doc["version"], 1)
                self.assertEqual(len(doc["events"]), log["events_after_header"] + 1)
                self.assertEqual(doc["log_end_offset"], log["log_end_offset"])
                for bank, regs in log["expected_replay"].items():
                    bank_name = "sm3" if bank == "sm3_256" else bank
                    for i, v in regs.items():
                        self.assertEqual(doc["replay"][bank_name][i], v)
                for event in doc["events"]:
                    self.assertIn(event["digest_check"], ("match", "mismatch", "not_applicable"))
                    self.assertEqual(event["extended"], event["type_name"] != "EV_NO_ACTION")

    def test_text_and_yaml_formats(self):
        p = run("dump", data("trustee/CCEL_data_grub"), "--format", "text")
        self.assertEqual(p.returncode, 0)
        self.assertIn("EV_EFI_BOOT_SERVICES_APPLICATION", p.stdout.decode())
        self.assertIn("RTMR2", p.stdout.decode())
        p = run("dump", data("trustee/CCEL_data_grub"), "--format", "yaml")
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.decode().startswith("---\nversion: 1\nevents:\n"))

    def test_stdin(self):
        with open(data("trustee/CCEL_data_ovmf"), "rb") as f:
            p = run("dump", "-", "--format", "json", stdin=f.read())
        self.assertEqual(p.returncode, 0)


class BadInput(unittest.TestCase):
    def test_malformed_inputs_exit_2_with_a_message(self):
        with open(data("trustee/CCEL_data_ovmf"), "rb") as f:
            log = f.read()[:2120]
        with tempfile.TemporaryDirectory() as tmp:
            cut = os.path.join(tmp, "cut")
            with open(cut, "wb") as f:
                f.write(log[:1000])
            for args in (["dump", cut], ["replay", cut], ["dump", os.path.join(tmp, "missing")],
                         ["replay", data("trustee/CCEL_data_ovmf"), "--expect", "RTMR9=00"],
                         ["replay", data("trustee/CCEL_data_ovmf"), "--expect", "1=xyz"],
                         ["replay", data("trustee/CCEL_data_ovmf"), "--quote", cut],
                         ["replay", data("trustee/CCEL_data_ovmf"), "--bank", "md5"],
                         ["dump", data("trustee/CCEL_data_ovmf"), "--format", "xml"],
                         ["table", cut], ["frobnicate"]):
                with self.subTest(args=args):
                    p = run(*args)
                    self.assertEqual(p.returncode, 2, p.stdout.decode() + p.stderr.decode())
                    self.assertTrue(p.stderr.strip(), "no message on stderr")
            p = run("dump", cut)
            self.assertIn("offset", p.stderr.decode())

    def test_help_documents_every_subcommand(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0)
        for word in ("dump", "replay", "table"):
            self.assertIn(word, p.stdout.decode())
        p = run("replay", "--help")
        for word in ("--quote", "--expect", "--text-aael", "--ima", "--bank"):
            self.assertIn(word, p.stdout.decode())


class Table(unittest.TestCase):
    def test_ccel_table(self):
        body = (b"CCEL" + struct.pack("<I", 56) + bytes([1, 0]) + b"INTEL " + b"EDK2    " + struct.pack("<I", 2) +
                b"    " + struct.pack("<I", 0x01000013) + bytes([2, 0, 0, 0]) + struct.pack("<QQ", 0x10000, 0x7f000000))
        table = bytearray(body)
        table[9] = (-sum(table)) & 0xff
        with tempfile.NamedTemporaryFile() as f:
            f.write(bytes(table))
            f.flush()
            p = run("table", f.name)
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            out = p.stdout.decode()
            self.assertIn("cc_type          2 (TDX)", out)
            self.assertIn("laml             65536 (0x10000)", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
