#!/usr/bin/python3
"""Every acon command-line tool, on every input it reads whole, given what a new user (or an
attacker) might give it: /dev/zero, /dev/urandom, a directory, an empty file, a missing file, a
truncated real input, and absurd numbers. Each run must end with exit 2 and a message on stderr,
never a signal, an uncaught exception ("terminate called") or a hang.

Usage: ACON_EVENTLOG=... ACON_VERIFY=... ACON_IMAGE=... ACON_SIM=... ACON_JOSE=... ACON_CLIENT=...
       ACON_TPM=... ACON_TEST_DATA=/path/to/tests/data python3 cli_robustness.py
ACON_ROBUSTNESS_SKIP_IMAGE=1 leaves out acon-image (only while it is being changed elsewhere).
"""
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import unittest

TOOLS = {
    "acon-eventlog": os.environ.get("ACON_EVENTLOG", "acon-eventlog"),
    "acon-verify": os.environ.get("ACON_VERIFY", "acon-verify"),
    "acon-image": os.environ.get("ACON_IMAGE", "acon-image"),
    "acon-sim": os.environ.get("ACON_SIM", "acon-sim"),
    "acon-jose": os.environ.get("ACON_JOSE", "acon-jose"),
    "acon-client": os.environ.get("ACON_CLIENT", "acon-client"),
    "acon-tpm": os.environ.get("ACON_TPM", "acon-tpm"),
}
DATA = os.environ.get("ACON_TEST_DATA", "tests/data")
SKIP_IMAGE = os.environ.get("ACON_ROBUSTNESS_SKIP_IMAGE") == "1"
TIMEOUT = 20  # seconds per run
# --max-input for the endless devices, so that each run is quick; above every real input here.
SMALL_LIMIT = "1048576"
DEFAULT_LIMIT = 64 << 20  # tools/tool_util.h kDefaultMaxInputBytes

ABSURD_TIMES = ["99999999999999999999", "9223372036854775807", "-1", "soon", ""]
ABSURD_COUNTS = ["99999999999999999999", "18446744073709551616", "-1", "x", ""]


def data(*parts):
    return os.path.join(DATA, *parts)


class Robustness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="acon-robustness-")
        cls.dir = os.path.join(cls.tmp, "a-directory")
        os.mkdir(cls.dir)
        cls.empty = os.path.join(cls.tmp, "empty")
        open(cls.empty, "wb").close()
        cls.missing = os.path.join(cls.tmp, "no-such-file")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def truncated(self, path, name, size=None):
        """The first `size` bytes (default: half) of a real input."""
        with open(path, "rb") as f:
            content = f.read()
        out = os.path.join(self.tmp, "truncated-" + name)
        with open(out, "wb") as f:
            f.write(content[: len(content) // 2 if size is None else size])
        return out

    def run_tool(self, tool, args, cwd=None):
        start = time.monotonic()
        try:
            p = subprocess.run([TOOLS[tool], *args], capture_output=True, timeout=TIMEOUT,
                               stdin=subprocess.DEVNULL, cwd=cwd, check=False)
        except subprocess.TimeoutExpired:
            self.fail(f"{tool} {args}: no answer within {TIMEOUT} s")
        return p, time.monotonic() - start

    def expect_exit_2(self, tool, args, names=None, cwd=None):
        """Exit 2 with a message (naming `names`, a file, when given); never a signal."""
        err, elapsed = "", 0.0
        with self.subTest(tool=tool, args=args):
            p, elapsed = self.run_tool(tool, args, cwd)
            err = p.stderr.decode(errors="replace")
            self.assertGreaterEqual(p.returncode, 0, f"{tool} {args}: killed by signal "
                                    f"{-p.returncode}: {err}")
            self.assertEqual(p.returncode, 2, f"{tool} {args}: {err}{p.stdout[:300]!r}")
            self.assertTrue(err.strip(), f"{tool} {args}: exit 2 without a message")
            self.assertNotIn("terminate called", err)
            self.assertNotIn("Aborted", err)
            if names is not None:
                self.assertIn(names, err, f"{tool} {args}: the message does not name the file")
        return err, elapsed

    def file_cases(self, tool, make_args, truncated=None, empty_is_input=True, cwd=None):
        """Runs `make_args(path)` (the arguments with one input at `path`) on each bad input."""
        limit = ["--max-input", SMALL_LIMIT]
        err, _ = self.expect_exit_2(tool, limit + make_args("/dev/zero"), "/dev/zero", cwd)
        self.assertIn(f"larger than {SMALL_LIMIT} bytes", err)
        self.expect_exit_2(tool, limit + make_args("/dev/urandom"), "/dev/urandom", cwd)
        self.expect_exit_2(tool, make_args(self.dir), self.dir, cwd)
        self.expect_exit_2(tool, make_args(self.missing), self.missing, cwd)
        if empty_is_input:
            self.expect_exit_2(tool, make_args(self.empty), self.empty, cwd)
        if truncated is not None:
            self.expect_exit_2(tool, make_args(truncated), truncated, cwd)

    def default_limit_case(self, tool, args, cwd=None):
        """/dev/zero under the default --max-input: refused after 64 MiB, quickly."""
        err, elapsed = self.expect_exit_2(tool, args, "/dev/zero", cwd)
        self.assertIn(f"larger than {DEFAULT_LIMIT} bytes", err)
        self.assertLess(elapsed, 5.0, f"{tool} {args}: {elapsed:.1f} s to refuse /dev/zero")

    def max_input_cases(self, tool, args):
        for value in ["0", "-1", "99999999999999999999", "1TB", ""]:
            self.expect_exit_2(tool, ["--max-input", value, *args])

    # ---- acon-eventlog ----

    def test_acon_eventlog(self):
        tool = "acon-eventlog"
        ccel = data("eventlog", "cc-trusted-api", "ccel_data.bin")
        ima = data("eventlog", "cc-trusted-api", "ima_log.bin")
        aael = data("eventlog", "trustee_aael_legacy", "AAEL_data_1")
        quote = data("eventlog", "cc-trusted-api", "quote.bin")
        bad_ccel = self.truncated(ccel, "ccel", 1000)  # the records end near 16 KiB: cut one
        self.file_cases(tool, lambda f: ["dump", f], bad_ccel)
        self.file_cases(tool, lambda f: ["dump", "--format", "json", f], bad_ccel)
        self.file_cases(tool, lambda f: ["replay", f], bad_ccel)
        self.file_cases(tool, lambda f: ["dump", ccel, "--ima", f], self.truncated(ima, "ima"),
                        empty_is_input=False)  # an empty IMA log is a log of no entries
        self.file_cases(tool, lambda f: ["replay", ccel, "--text-aael", f],
                        self.truncated(aael, "aael"))
        self.file_cases(tool, lambda f: ["replay", ccel, "--quote", f],
                        self.truncated(quote, "quote"))
        self.file_cases(tool, lambda f: ["table", f])
        self.default_limit_case(tool, ["dump", "/dev/zero"])
        self.max_input_cases(tool, ["dump", ccel])
        for value in ABSURD_COUNTS + ["24"]:
            self.expect_exit_2(tool, ["replay", ccel, "--ima", ima, "--ima-index", value])
        for value in ["99999999999=00", "-1=00", "RTMR9=00", "1=zz", "1"]:
            self.expect_exit_2(tool, ["replay", ccel, "--expect", value])
        self.expect_exit_2(tool, ["replay", ccel, "--bank", "sha9999"])

    # ---- acon-client ----

    def test_acon_client(self):
        tool = "acon-client"
        # Nothing listens on port 1: every input below is refused before or at the connection.
        at = ["-c", "127.0.0.1:1", "--deadline", "2"]
        self.file_cases(tool, lambda f: [*at, "exec", "1", "Cmd", "--stdin", f],
                        empty_is_input=False)  # an empty stdin is a valid input
        self.default_limit_case(tool, [*at, "exec", "1", "Cmd", "--stdin", "/dev/zero"])
        self.max_input_cases(tool, [*at, "finalize"])
        for value in ABSURD_COUNTS + ["4294967296"]:
            self.expect_exit_2(tool, [*at, "kill", value, "15"])
            self.expect_exit_2(tool, [*at, "report", "--nonce", value])
        for value in ABSURD_COUNTS + ["0", "86401"]:
            self.expect_exit_2(tool, ["-c", "127.0.0.1:1", "--deadline", value, "finalize"])
        for target in ["", "127.0.0.1", "tcp://", "vsock://1", "vsock://1:99999999999", "ftp://a:1"]:
            self.expect_exit_2(tool, ["-c", target, "finalize"])
        self.expect_exit_2(tool, [*at, "load", "--repo", self.dir, "x"])
        self.expect_exit_2(tool, [*at, "load", "--repo", self.missing, "x"])

    # ---- acon-tpm ----

    def test_acon_tpm(self):
        tool = "acon-tpm"
        root = data("tpm", "ek_root_ca.pem")
        out = os.path.join(self.tmp, "never-written.pem")
        # Nothing listens on port 1: the certificate files are read before the TPM is reached.
        at = ["enroll", "--tcti", "swtpm:host=127.0.0.1,port=1", "--out", out]
        truncated_root = self.truncated(root, "ek_root_ca.pem")
        self.file_cases(tool, lambda f: [*at, "--ek-roots", f], truncated_root)
        self.file_cases(tool, lambda f: [*at, "--ek-roots", root, "--ek-intermediates", f],
                        truncated_root)
        self.default_limit_case(tool, [*at, "--ek-roots", "/dev/zero"])
        self.max_input_cases(tool, [*at, "--ek-roots", root])
        for value in ABSURD_TIMES:
            self.expect_exit_2(tool, [*at, "--ek-roots", root, "--time", value])
        for tcti in ["", "nosuchtcti", "swtpm:host=127.0.0.1,port=99999999"]:
            self.expect_exit_2(tool, ["enroll", "--tcti", tcti, "--ek-roots", root, "--out", out])
        self.assertFalse(os.path.exists(out))

    # ---- acon-verify ----

    def test_acon_verify(self):
        tool = "acon-verify"
        quote = data("quotes", "phala-dcap-qvl", "tdx_quote")
        collateral = data("quotes", "phala-dcap-qvl", "tdx_quote_collateral.json")
        root = data("quotes", "intel-qvl-sample", "trustedRootCaCert.der")
        time_ok = ["--time", "1700000000"]
        self.file_cases(tool, lambda f: ["quote", "--quote", f, "--collateral", collateral, *time_ok],
                        self.truncated(quote, "tdx_quote"))
        self.file_cases(tool, lambda f: ["quote", "--quote", quote, "--collateral", f, *time_ok],
                        self.truncated(collateral, "collateral.json"))
        self.file_cases(tool, lambda f: ["quote", "--quote", quote, "--collateral", collateral,
                                         "--root", f, *time_ok], self.truncated(root, "root.der"))
        self.default_limit_case(tool, ["quote", "--quote", "/dev/zero", "--collateral", collateral])
        self.default_limit_case(tool, ["quote", "--quote", quote, "--collateral", "/dev/zero"])
        self.max_input_cases(tool, ["quote", "--quote", quote, "--collateral", collateral])
        for value in ABSURD_TIMES + ["2024-13-01T00:00:00Z", "10000-01-01T00:00:00Z"]:
            err, _ = self.expect_exit_2(tool, ["quote", "--quote", quote, "--collateral", collateral,
                                               "--time", value])
            self.assertIn("--time", err)
        # evidence: a bundle archive, single files, a KBS request body.
        archive = os.path.join(self.tmp, "bundle.tar.gz")
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(quote, arcname="quote.bin")
            tar.add(collateral, arcname="collateral.json")
        self.file_cases(tool, lambda f: ["evidence", "--bundle", f, *time_ok],
                        self.truncated(archive, "bundle.tar.gz"))
        self.file_cases(tool, lambda f: ["evidence", "--quote", f, "--ccel", quote, *time_ok])
        self.file_cases(tool, lambda f: ["evidence", "--kbs-request", f, *time_ok],
                        self.truncated(archive, "request.json"))
        self.default_limit_case(tool, ["evidence", "--bundle", "/dev/zero"])

    # ---- acon-sim ----

    def test_acon_sim(self):
        tool = "acon-sim"
        work = os.path.join(self.tmp, "sim")
        os.mkdir(work)
        state = os.path.join(work, "state.json")
        p, _ = self.run_tool(tool, ["create", "--state", state, "--seed", "robustness",
                                    "--issue-date", "1700000000"])
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        # The state file is locked through "<state>.lock": the devices are reached by links in a
        # scratch directory, so that no lock file is created beside them in /dev.
        links = os.path.join(work, "links")
        os.mkdir(links)

        def via_link(path):
            if not path.startswith("/dev/"):
                return path
            link = os.path.join(links, os.path.basename(path))
            if not os.path.islink(link):
                os.symlink(path, link)
            return link

        bad_state = self.truncated(state, "state.json")
        for command in (["collateral"], ["root"], ["read"], ["report"], ["quote"], ["ccel"],
                        ["extend", "--rtmr", "1", "--data", "x"], ["set", "--xfam", "3"]):
            with self.subTest(command=command):
                for path in ["/dev/zero", "/dev/urandom", self.dir, self.missing, self.empty,
                             bad_state]:
                    self.expect_exit_2(tool, [*command, "--state", via_link(path)])
        self.expect_exit_2(tool, ["read", "--state", via_link("/dev/zero")], "larger than")
        fresh = os.path.join(work, "fresh.json")
        for option in ("--issue-date", "--next-update", "--root-crl-next-update"):
            for value in ABSURD_TIMES:
                self.expect_exit_2(tool, ["create", "--state", fresh, option, value])
        for option in ("--td-attributes", "--xfam"):
            for value in ABSURD_COUNTS + ["0x", "0x1g", " 1"]:
                self.expect_exit_2(tool, ["set", "--state", state, option, value])
        for value in ABSURD_COUNTS + ["4"]:
            self.expect_exit_2(tool, ["read", "--state", state, "--rtmr", value])
            self.expect_exit_2(tool, ["extend", "--state", state, "--rtmr", value, "--data", "x"])
        for value in ABSURD_COUNTS + ["3", "65536"]:
            self.expect_exit_2(tool, ["set", "--state", state, "--quote-version", value])
        for value in ["00" * 65, "zz"]:
            self.expect_exit_2(tool, ["quote", "--state", state, "--report-data", value])
        self.expect_exit_2(tool, ["set", "--state", state, "--mrtd", "00" * 47])
        self.max_input_cases(tool, ["read", "--state", state])
        self.assertFalse(os.path.exists(fresh))

    # ---- acon-jose ----

    def test_acon_jose(self):
        tool = "acon-jose"
        work = os.path.join(self.tmp, "jose")
        os.mkdir(work)
        key = os.path.join(work, "key.jwk")
        p, _ = self.run_tool(tool, ["keygen", "--type", "ec-p256", "--out", key])
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        payload = os.path.join(work, "payload")
        with open(payload, "wb") as f:
            f.write(b'{"a": 1}')
        jws = os.path.join(work, "token.jws")
        p, _ = self.run_tool(tool, ["sign", "--key", key, "--in", payload])
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        with open(jws, "wb") as f:
            f.write(p.stdout)
        jwe = os.path.join(work, "message.jwe")
        p, _ = self.run_tool(tool, ["encrypt", "--key", key, "--alg", "ECDH-ES+A256KW",
                                    "--in", payload])
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        with open(jwe, "wb") as f:
            f.write(p.stdout)
        bad_key = self.truncated(key, "key.jwk")
        for command in (["pubkey"], ["thumbprint"], ["sign", "--in", payload], ["decrypt", "--in", jwe],
                        ["verify", "--in", jws], ["encrypt", "--alg", "ECDH-ES+A256KW", "--in", payload]):
            self.file_cases(tool, lambda f, c=command: [c[0], "--key", f, *c[1:]], bad_key)
        # Payloads and plaintexts may be empty or any bytes: only the endless and unreadable ones.
        for command in (["sign"], ["encrypt", "--alg", "ECDH-ES+A256KW"]):
            limit = ["--max-input", SMALL_LIMIT]
            for device in ["/dev/zero", "/dev/urandom"]:
                self.expect_exit_2(tool, limit + [command[0], "--key", key, *command[1:],
                                                  "--in", device], device)
            for path in [self.dir, self.missing]:
                self.expect_exit_2(tool, [command[0], "--key", key, *command[1:], "--in", path], path)
        # Cut inside the protected header: a JWS cut inside its signature is a bad signature (1).
        self.file_cases(tool, lambda f: ["verify", "--key", key, "--in", f],
                        self.truncated(jws, "jws", 10))
        self.file_cases(tool, lambda f: ["decrypt", "--key", key, "--in", f], self.truncated(jwe, "jwe"))
        self.file_cases(tool, lambda f: ["jcs", "--in", f], self.truncated(payload, "json"))
        self.default_limit_case(tool, ["jcs", "--in", "/dev/zero"])
        self.max_input_cases(tool, ["jcs", "--in", payload])
        self.expect_exit_2(tool, ["keygen", "--type", "rsa99999999999999999999",
                                  "--out", os.path.join(work, "never")])

    # ---- acon-image ----

    @unittest.skipIf(SKIP_IMAGE, "ACON_ROBUSTNESS_SKIP_IMAGE=1")
    def test_acon_image(self):
        tool = "acon-image"
        work = os.path.join(self.tmp, "image")
        os.mkdir(work)
        p, _ = self.run_tool(tool, ["init", work], cwd=work)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        cert = data("acon", "certs", "p384.cert.der")
        key = data("acon", "certs", "p384.key.pem")
        manifest = data("acon", "canonical", "manifest_unknown.json")
        bad_cert = self.truncated(cert, "cert.der")
        bad_manifest = self.truncated(manifest, "manifest.json")
        repo = ["--repo", work]
        self.file_cases(tool, lambda f: ["hash", f], bad_cert, cwd=work)
        self.file_cases(tool, lambda f: ["hash", cert, f], bad_manifest, cwd=work)
        self.file_cases(tool, lambda f: [*repo, "sign", f, "-k", key, "-c", cert], bad_manifest,
                        cwd=work)
        self.file_cases(tool, lambda f: [*repo, "sign", manifest, "-k", f, "-c", cert],
                        self.truncated(key, "key.pem"), cwd=work)
        self.file_cases(tool, lambda f: [*repo, "sign", manifest, "-k", key, "-c", f], bad_cert,
                        cwd=work)
        self.file_cases(tool, lambda f: [*repo, "alias-substitute", f, "-o",
                                         os.path.join(work, "out.json")], bad_manifest, cwd=work)
        self.default_limit_case(tool, ["hash", "/dev/zero"], cwd=work)
        self.max_input_cases(tool, ["hash", cert])
        for value in ABSURD_COUNTS:
            self.expect_exit_2(tool, ["keygen", "-k", os.path.join(work, "k"), "-c",
                                      os.path.join(work, "c"), "--type", "rsa", "--rsa-bits", value],
                               cwd=work)
            self.expect_exit_2(tool, ["keygen", "-k", os.path.join(work, "k"), "-c",
                                      os.path.join(work, "c"), "--days", value], cwd=work)
            self.expect_exit_2(tool, [*repo, "create", "--rootfs", self.dir, "--max-instances", value,
                                      "-o", os.path.join(work, "m.json")], cwd=work)
        # A tar entry's mtime may lie before 1970 (-1 is 1969-12-31T23:59:59Z), so --mtime takes
        # the other absurd times and two just outside the years 1..9999.
        for value in [t for t in ABSURD_TIMES if t != "-1"] + ["253402300800", "-62135596801"]:
            self.expect_exit_2(tool, [*repo, "create", "--rootfs", self.dir, "--mtime", value,
                                      "-o", os.path.join(work, "m.json")], cwd=work)


if __name__ == "__main__":
    unittest.main()
