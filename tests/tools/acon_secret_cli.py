#!/usr/bin/env python3
"""acon-secret as a user runs it: usage and unusable input are exit 2 with a message; against a
real acond (simulated TD, its IPC socket), a caller that is not one of acond's containers gets
acond's error reply printed and exit 1, and a stopped acond is exit 2. That a container obtains
its secret with it, through a real acond and acon-kbs, is README command 1 (ctest e2e.demo)."""
import os
import re
import subprocess
import tempfile
import time
import unittest

ACON_SECRET = os.environ.get("ACON_SECRET", "acon-secret")
ACOND = os.environ.get("ACOND", "acond")
ACON_SIM = os.environ.get("ACON_SIM", "acon-sim")


def slurp(path):
    with open(path) as f:
        return f.read()


def run(*args):
    return subprocess.run([ACON_SECRET, *args], capture_output=True, text=True, timeout=120)


class Usage(unittest.TestCase):
    def test_help_is_exit_0(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("acon-secret get REPO/TYPE/TAG", r.stdout)

    def test_unusable_arguments_are_exit_2(self):
        for args in ([], ["put", "a/b/c"], ["get"], ["get", "a/b/c", "d/e/f"], ["get", "a/b/c", "-o"],
                     ["get", "a/b/c", "--bogus"], ["get", "a/b/c", "--timeout", "0"],
                     ["get", "a/b/c", "--timeout", "12x"], ["get", "a/b/c", "--timeout", "601"]):
            with self.subTest(args=args):
                r = run(*args)
                self.assertEqual(r.returncode, 2, r)
                self.assertTrue(r.stderr.strip(), r)
                self.assertEqual(r.stdout, "")

    def test_path_beyond_the_ipc_bound_is_refused_before_connecting(self):
        r = run("get", "a" * 400, "--socket", "/nonexistent/acon.sock")
        self.assertEqual(r.returncode, 2)
        self.assertIn("resource path: longer than 386 bytes", r.stderr)

    def test_unreachable_socket_is_exit_2_naming_it(self):
        r = run("get", "default/db/password", "--socket", "/nonexistent/acon.sock")
        self.assertEqual(r.returncode, 2)
        self.assertIn("connect /nonexistent/acon.sock", r.stderr)


class AgainstAcond(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.TemporaryDirectory()
        work = self.work.name
        subprocess.run([ACON_SIM, "create", "--state", os.path.join(work, "td.json")], check=True,
                       capture_output=True)
        self.socket = os.path.join(work, "acon.sock")
        self.log_path = os.path.join(work, "acond.log")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [ACOND, "--backend", "sim", "--sim-state", os.path.join(work, "td.json"),
                 "--state-dir", os.path.join(work, "acond"), "--tcp-port", "0", "--tcp-address",
                 "127.0.0.1", "--ipc-socket", self.socket], stderr=log)
        deadline = time.time() + 20
        while time.time() < deadline and not re.search(r"tcp_port=\d+", slurp(self.log_path)):
            self.assertIsNone(self.proc.poll(), slurp(self.log_path))
            time.sleep(0.05)
        self.assertTrue(os.path.exists(self.socket), slurp(self.log_path))

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.work.cleanup()

    def test_error_reply_is_printed_and_exit_1(self):
        out = os.path.join(self.work.name, "secret.out")
        r = run("get", "default/db/password", "--socket", self.socket, "-o", out)
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(r.stderr.strip(),
                         "acon-secret: acond refused default/db/password: Invalid Container ID")
        self.assertFalse(os.path.exists(out))

    def test_malformed_path_is_acond_s_refusal(self):
        r = run("get", "default/../password", "--socket", self.socket)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("Invalid structure format", r.stderr)

    def test_stopped_acond_is_exit_2(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)
        r = run("get", "default/db/password", "--socket", self.socket)
        self.assertEqual(r.returncode, 2, r)


if __name__ == "__main__":
    unittest.main()
