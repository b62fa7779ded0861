#!/usr/bin/python3
"""acon-kbs-client as a user runs it: every subcommand, its files and its exit codes.

It starts `acon-kbs init` + `acon-kbs --config` (TLS with the CA init writes) and a simulated TD
(`acon-sim`), then drives the KBS only through acon-kbs-client: the admin commands with a key and
with a saved admin token, RCAR with sim evidence and resources by cookie, by Bearer and by a saved
token, and the refusals with the exit code docs/kbs-client.md promises (0 done, 1 refused,
2 unusable input or unreachable KBS). The minted admin token is checked with python3-jwcrypto,
and the audit log the KBS kept is exported by the client and verified by `acon-kbs audit verify`.

Usage: ACON_KBS=acon-kbs ACON_KBS_CLIENT=acon-kbs-client ACON_SIM=acon-sim \
       /usr/bin/python3 acon_kbs_client_cli.py
"""
import base64
import json
import os
import stat
import subprocess
import tempfile
import time
import unittest

from jwcrypto import jwk, jwt

ACON_KBS = os.environ.get("ACON_KBS", "acon-kbs")
CLIENT = os.environ.get("ACON_KBS_CLIENT", "acon-kbs-client")
ACON_SIM = os.environ.get("ACON_SIM", "acon-sim")

# The simulated TD's policies (tests/data/kbs): affirming for a genuine simulated quote bound to
# the session (docs/appraisal-policy.md); every resource released to such tokens
# (docs/kbs-policy.md). The shipped defaults release nothing to a simulated TD.
DATA = os.environ.get("ACON_TEST_DATA",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
with open(os.path.join(DATA, "kbs", "sim-attestation.toml"), "r") as _f:
    ATTESTATION_POLICY = _f.read()
with open(os.path.join(DATA, "kbs", "sim-resource.toml"), "r") as _f:
    RESOURCE_POLICY = _f.read()


def run(*args, stdin=None, env=None):
    return subprocess.run(list(args), input=stdin, capture_output=True, timeout=120, env=env)


class KbsClientCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.state = cls.path("td.json")
        for args in (["create", "--state", cls.state],
                     ["root", "--state", cls.state, "--out", cls.path("sim-root.pem")],
                     ["collateral", "--state", cls.state, "--out", cls.path("collateral.json")]):
            subprocess.run([ACON_SIM] + args, check=True, stdout=subprocess.DEVNULL)
        cls.dir = cls.path("kbs")
        subprocess.run([ACON_KBS, "init", cls.dir, "--listen", "127.0.0.1:0",
                        "--simulated-root", cls.path("sim-root.pem"),
                        "--collateral", cls.path("collateral.json")],
                       check=True, stdout=subprocess.DEVNULL)
        cls.config = os.path.join(cls.dir, "config.toml")
        cls.admin_key = os.path.join(cls.dir, "keys", "admin.pem")
        cls.server = subprocess.Popen([ACON_KBS, "--config", cls.config],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = cls.server.stdout.readline().decode()  # "acon-kbs: listening on https://H:PORT"
        if "listening on https://" not in line:
            cls.tearDownClass()
            raise RuntimeError("acon-kbs did not start: " + repr(line))
        cls.port = line.strip().rsplit(":", 1)[1]
        cls.base = ["--url", "https://localhost:" + cls.port,
                    "--ca", os.path.join(cls.dir, "keys", "tls-ca.pem")]
        for name, text in (("attestation.toml", ATTESTATION_POLICY),
                           ("resource.toml", RESOURCE_POLICY)):
            with open(cls.path(name), "w") as f:
                f.write(text)
        cls.client_ok("set-policy", "--attestation", cls.path("attestation.toml"),
                      "--admin-key", cls.admin_key)
        cls.client_ok("set-policy", "--resource", cls.path("resource.toml"),
                      "--admin-key", cls.admin_key)
        cls.secret = b"cli secret \x00\x01\xfe\xff"
        with open(cls.path("secret.bin"), "wb") as f:
            f.write(cls.secret)
        cls.client_ok("set-resource", "cli/key/one", "--file", cls.path("secret.bin"),
                      "--admin-key", cls.admin_key)

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp.name, name)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "server", None):
            if cls.server.poll() is None:
                cls.server.terminate()
                try:
                    cls.server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    cls.server.kill()
                    cls.server.wait()
            cls.server.stdout.close()
        cls.tmp.cleanup()

    @classmethod
    def client(cls, *args, stdin=None, base=None):
        return run(CLIENT, *(cls.base if base is None else base), *args, stdin=stdin)

    @classmethod
    def client_ok(cls, *args, stdin=None):
        r = cls.client(*args, stdin=stdin)
        assert r.returncode == 0, (args, r.returncode, r.stderr.decode())
        return r

    def assert_exit(self, result, code, *phrases):
        err = result.stderr.decode()
        self.assertEqual(result.returncode, code, err)
        for phrase in phrases:
            self.assertIn(phrase, err)
        # A refusal says why on one line and prints nothing on stdout.
        self.assertEqual(result.stdout, b"")

    def assert_private_file(self, name):
        self.assertEqual(stat.S_IMODE(os.stat(name).st_mode), 0o600, name)

    # ---- resources through RCAR ----

    def test_get_resource_by_cookie_to_a_private_file(self):
        out = self.path("cookie.out")
        self.client_ok("get-resource", "cli/key/one", "--evidence", "sim:" + self.state,
                       "-o", out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.secret)
        self.assert_private_file(out)

    def test_get_resource_by_bearer_to_stdout(self):
        r = self.client_ok("get-resource", "cli/key/one", "--evidence", "sim:" + self.state,
                           "--bearer")
        self.assertEqual(r.stdout, self.secret)

    def test_every_tee_key_type_opens_its_resource(self):
        for key_type in ("ec-p256", "ec-p521", "rsa-oaep-256", "rsa1_5"):
            with self.subTest(key_type=key_type):
                r = self.client_ok("get-resource", "cli/key/one", "--evidence",
                                   "sim:" + self.state, "--key-type", key_type)
                self.assertEqual(r.stdout, self.secret)

    def test_saved_token_and_tee_key_fetch_without_rcar(self):
        token, key = self.path("token.jwt"), self.path("tee.pem")
        r = self.client_ok("attest", "--evidence", "sim:" + self.state, "--token-out", token,
                           "--tee-key-out", key)
        self.assertIn("attested", r.stdout.decode() + r.stderr.decode())
        self.assert_private_file(token)
        self.assert_private_file(key)
        # The token is the KBS's EAR: ES256, affirming, for this KBS's audience.
        with open(token) as f:
            text = f.read().strip()
        with open(os.path.join(self.dir, "keys", "token-signing.pub.pem"), "rb") as f:
            ear_key = jwk.JWK.from_pem(f.read())
        claims = json.loads(jwt.JWT(jwt=text, key=ear_key, algs=["ES256"]).claims)
        self.assertEqual(claims["submods"]["cpu0"]["ear.status"], "affirming")
        self.assertEqual(claims["aud"], claims["iss"])
        r = self.client_ok("get-resource", "cli/key/one", "--token", token, "--tee-key", key)
        self.assertEqual(r.stdout, self.secret)

    def test_a_token_with_another_tee_key_is_useless(self):
        token, key = self.path("token2.jwt"), self.path("tee2.pem")
        self.client_ok("attest", "--evidence", "sim:" + self.state, "--token-out", token,
                       "--tee-key-out", key)
        other = self.path("other-tee.pem")
        self.client_ok("attest", "--evidence", "sim:" + self.state, "--token-out",
                       self.path("token3.jwt"), "--tee-key-out", other)
        # The KBS seals to the token's key; the other key cannot open it.
        r = self.client("get-resource", "cli/key/one", "--token", token, "--tee-key", other)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, b"")

    def test_missing_resource_is_refused_with_404(self):
        r = self.client("get-resource", "cli/key/absent", "--evidence", "sim:" + self.state)
        self.assert_exit(r, 1, "HTTP 404", "ResourceNotFound")

    def test_policy_deny_is_refused_and_audited(self):
        deny = self.path("deny.toml")
        with open(deny, "w") as f:
            # Rules are tried in order: the deny goes before the catch-all allow.
            f.write(RESOURCE_POLICY.replace(
                "[[rules]]", '[[rules]]\nresources = "cli/denied/*"\neffect = "deny"\n\n[[rules]]', 1))
        self.client_ok("set-policy", "--resource", deny, "--admin-key", self.admin_key)
        try:
            self.client_ok("set-resource", "cli/denied/x", "--file", "-", "--admin-key",
                           self.admin_key, stdin=b"never")
            r = self.client("get-resource", "cli/denied/x", "--evidence", "sim:" + self.state)
            self.assert_exit(r, 1, "HTTP 401")
        finally:
            self.client_ok("set-policy", "--resource", self.path("resource.toml"),
                           "--admin-key", self.admin_key)
        lines = self.client_ok("audit-export", "--admin-key", self.admin_key).stdout.decode()
        refusals = [json.loads(line) for line in lines.splitlines()
                    if "cli/denied/x" in line and '"release"' in line]
        self.assertTrue(refusals, lines[-2000:])

    # ---- admin ----

    def test_set_from_stdin_then_delete(self):
        self.client_ok("set-resource", "cli/key/stdin", "--file", "-", "--admin-key",
                       self.admin_key, stdin=b"from stdin")
        r = self.client_ok("get-resource", "cli/key/stdin", "--evidence", "sim:" + self.state)
        self.assertEqual(r.stdout, b"from stdin")
        self.client_ok("delete-resource", "cli/key/stdin", "--admin-key", self.admin_key)
        r = self.client("get-resource", "cli/key/stdin", "--evidence", "sim:" + self.state)
        self.assert_exit(r, 1, "HTTP 404")
        r = self.client("delete-resource", "cli/key/stdin", "--admin-key", self.admin_key)
        self.assert_exit(r, 1, "HTTP 404")

    def test_admin_token_is_an_eddsa_jwt_with_the_claims_asked_for(self):
        r = self.client_ok("admin-token", "--key", self.admin_key, "--role", "auditor",
                           "--subject", "alice", "--validity", "60", "--audience", "acon-kbs")
        text = r.stdout.decode().strip()
        with open(self.admin_key, "rb") as f:
            key = jwk.JWK.from_pem(f.read())
        token = jwt.JWT(jwt=text, key=key, algs=["EdDSA"])
        claims = json.loads(token.claims)
        self.assertEqual((claims["role"], claims["sub"], claims["aud"]),
                         ("auditor", "alice", "acon-kbs"))
        self.assertLessEqual(abs(claims["exp"] - claims["iat"] - 60), 1)
        self.assertLessEqual(abs(claims["iat"] - time.time()), 120)
        header = json.loads(base64.urlsafe_b64decode(text.split(".")[0] + "=="))
        self.assertEqual(header["alg"], "EdDSA")

    def test_saved_admin_token_works_and_expires(self):
        saved = self.path("admin.jwt")
        with open(saved, "wb") as f:
            f.write(self.client_ok("admin-token", "--key", self.admin_key).stdout)
        r = self.client_ok("list-resource-policies", "--admin-token", saved)
        self.assertIn("default", json.loads(r.stdout))
        # Minted independently (jwcrypto) with the right key, but expired ten minutes ago.
        with open(self.admin_key, "rb") as f:
            key = jwk.JWK.from_pem(f.read())
        now = int(time.time())
        expired = jwt.JWT(header={"alg": "EdDSA", "typ": "JWT"},
                          claims={"sub": "cli", "role": "admin", "iat": now - 900,
                                  "exp": now - 600})
        expired.make_signed_token(key)
        with open(saved, "w") as f:
            f.write(expired.serialize())
        self.assert_exit(self.client("list-resource-policies", "--admin-token", saved), 1,
                         "HTTP 401")

    def test_reference_values_round_trip(self):
        message = {"version": "0.1.0", "type": "sample",
                   "payload": base64.b64encode(json.dumps({"cli_mr": ["ab", "cd"]}).encode())
                   .decode()}
        with open(self.path("rv.json"), "w") as f:
            json.dump(message, f)
        self.client_ok("set-reference-values", self.path("rv.json"), "--admin-key",
                       self.admin_key)
        r = self.client_ok("get-reference-value", "cli_mr", "--admin-key", self.admin_key)
        self.assertEqual(json.loads(r.stdout), ["ab", "cd"])

    def test_a_key_the_kbs_does_not_know_is_refused(self):
        stranger = self.path("stranger.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", stranger],
                       check=True, capture_output=True)
        r = self.client("set-resource", "cli/key/one", "--file", "-", "--admin-key", stranger,
                        stdin=b"overwritten?")
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        out = self.client_ok("get-resource", "cli/key/one", "--evidence", "sim:" + self.state)
        self.assertEqual(out.stdout, self.secret)  # the refused request changed nothing

    def test_audit_export_verifies_with_acon_kbs(self):
        self.client_ok("get-resource", "cli/key/one", "--evidence", "sim:" + self.state)
        r = self.client_ok("audit-export", "--from", "1", "--limit", "100000", "--admin-key",
                           self.admin_key)
        export = self.path("audit.jsonl")
        with open(export, "wb") as f:
            f.write(r.stdout)
        records = [json.loads(line) for line in r.stdout.decode().splitlines()]
        self.assertTrue(any('"release"' in json.dumps(rec) for rec in records))
        audit_pub = os.path.join(self.dir, "keys", "audit-signing.pub.pem")
        v = run(ACON_KBS, "audit", "verify", "--file", export, "--key", audit_pub)
        self.assertEqual(v.returncode, 0, v.stderr.decode() + v.stdout.decode())
        v = run(ACON_KBS, "audit", "verify", "--config", self.config, "--key", audit_pub)
        self.assertEqual(v.returncode, 0, v.stderr.decode() + v.stdout.decode())
        # One record changed: the exported chain no longer verifies.
        lines = r.stdout.decode().splitlines()
        changed = lines[0].replace('"action":"', '"action":"x', 1)
        self.assertNotEqual(changed, lines[0])
        with open(export, "w") as f:
            f.write("\n".join([changed] + lines[1:]) + "\n")
        v = run(ACON_KBS, "audit", "verify", "--file", export, "--key", audit_pub)
        self.assertNotEqual(v.returncode, 0)

    # ---- unusable input ----

    def test_usage_and_transport_errors_exit_2(self):
        cases = [
            (["get-resource", "cli/key/one", "--evidence", "sim:" + self.path("nope.json")], None),
            (["get-resource", "not-a-path", "--evidence", "sim:" + self.state], None),
            (["get-resource", "cli/key/one", "--evidence", "quantum"], None),
            (["set-resource", "cli/key/one", "--file", self.path("absent.bin"),
              "--admin-key", self.admin_key], None),
            (["set-resource", "cli/key/one", "--file", "-"], None),  # no admin credential
            (["get-resource", "cli/key/one", "--evidence", "sim:" + self.state],
             ["--url", "http://localhost:" + self.port]),  # http without --insecure-http
            (["get-resource", "cli/key/one", "--evidence", "sim:" + self.state],
             ["--url", "https://localhost:" + self.port]),  # CA not given: untrusted certificate
            (["get-resource", "cli/key/one", "--evidence", "sim:" + self.state],
             ["--url", "https://localhost:1", "--ca", self.base[3]]),  # nothing listens
        ]
        for args, base in cases:
            with self.subTest(args=args, base=base):
                r = self.client(*args, stdin=b"", base=base)
                self.assertEqual(r.returncode, 2, (r.stderr.decode(), r.stdout))
                self.assertTrue(r.stderr.decode().strip())
                self.assertEqual(r.stdout, b"")


if __name__ == "__main__":
    unittest.main(verbosity=2)
