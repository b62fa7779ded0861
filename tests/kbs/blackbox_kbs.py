#!/usr/bin/python3
"""Black-box client of acon-kbs, written from the KBS protocol (CoCo RCAR 0.4.0) only.

It imports nothing of acon: requests speaks HTTP, jwcrypto does the JOSE, hashlib the binding
(tests/tools/swtpm_socket.py only launches swtpm).
It runs acon-kbs (init, then the server) and acon-sim (a simulated TD: quotes over report data
this script computes, and the CCEL), then walks the protocol by hand: /auth, the report-data
binding (SHA-384 of the sorted-key compact JSON of nonce, tee-pubkey and additional-evidence,
zero-padded to 64 bytes), /attest with the quote, the EAR token's signature and claims, resources
set as admin and fetched by cookie and by Bearer, decrypted with EC and RSA TEE keys; and the
refusals, each answered with an ErrorInformation body. KbsBlackBoxTpm does the same for tee "tpm"
with evidence that tpm2-tools makes on a swtpm, in CoCo's TPM attester form.

Usage: ACON_KBS=acon-kbs ACON_SIM=acon-sim /usr/bin/python3 blackbox_kbs.py (swtpm and tpm2-tools
on PATH)
"""
import base64
import hashlib
import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

import requests
from jwcrypto import jwe, jwk, jwt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tools"))
from swtpm_socket import Swtpm  # noqa: E402  (beside the other Python tests)

ACON_KBS = os.environ.get("ACON_KBS", "acon-kbs")
ACON_SIM = os.environ.get("ACON_SIM", "acon-sim")
ERROR_PREFIX = "https://github.com/confidential-containers/kbs/errors/"
KBS_ID = "acon-kbs"  # `acon-kbs init` writes [kbs] id = "acon-kbs": the EAR's iss and aud

# The simulated TD's policies (tests/data/kbs): affirming for a genuine simulated quote bound to
# the session (docs/appraisal-policy.md); every resource released to such tokens
# (docs/kbs-policy.md). The shipped defaults release nothing to a simulated TD.
DATA = os.environ.get("ACON_TEST_DATA",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
with open(os.path.join(DATA, "kbs", "sim-attestation.toml"), "rb") as _f:
    ATTESTATION_POLICY = _f.read()
with open(os.path.join(DATA, "kbs", "sim-resource.toml"), "rb") as _f:
    RESOURCE_POLICY = _f.read()


def b64(data):
    return base64.b64encode(data).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact_sorted(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class TeeKey:
    """An ephemeral TEE key pair and its tee-pubkey JWK (kbs-types TeePubKey members only)."""

    def __init__(self, kind):
        if kind == "ec":
            self.key = jwk.JWK.generate(kty="EC", crv="P-256")
            pub = json.loads(self.key.export_public())
            self.pubkey = {"kty": "EC", "crv": "P-256", "alg": "ECDH-ES+A256KW",
                           "x": pub["x"], "y": pub["y"]}
        else:
            self.key = jwk.JWK.generate(kty="RSA", size=2048)
            pub = json.loads(self.key.export_public())
            self.pubkey = {"kty": "RSA", "alg": "RSA-OAEP-256", "n": pub["n"], "e": pub["e"]}


class KbsServer:
    """One acon-kbs process per test class (`acon-kbs init` with `init_args`, then the server) and
    the HTTP, admin, RCAR and JWE helpers every class uses."""

    @classmethod
    def start_kbs(cls, init_args):
        # TLS with the CA `init` writes; port 0 picks a free port.
        cls.dir = os.path.join(cls.tmp.name, "kbs")
        subprocess.run([ACON_KBS, "init", cls.dir, "--listen", "127.0.0.1:0"] + init_args,
                       check=True, stdout=subprocess.DEVNULL)
        cls.ca = os.path.join(cls.dir, "keys", "tls-ca.pem")
        cls.server = subprocess.Popen([ACON_KBS, "--config", os.path.join(cls.dir, "config.toml")],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        # "acon-kbs: listening on https://127.0.0.1:PORT"
        line = cls.server.stdout.readline().decode()
        if "listening on https://" not in line:
            cls.tearDownClass()
            raise RuntimeError("acon-kbs did not start: " + repr(line))
        cls.url = "https://localhost:" + line.strip().rsplit(":", 1)[1]
        with open(os.path.join(cls.dir, "keys", "token-signing.pub.pem"), "rb") as f:
            cls.ear_key = jwk.JWK.from_pem(f.read())
        with open(os.path.join(cls.dir, "keys", "token-signing.pem"), "rb") as f:
            cls.ear_private_key = jwk.JWK.from_pem(f.read())
        with open(os.path.join(cls.dir, "keys", "admin.pem"), "rb") as f:
            cls.admin_key = jwk.JWK.from_pem(f.read())

    @classmethod
    def set_policies(cls, attestation_policy, resource_policy):
        """Policies (acon's TOML), set through the admin API as the protocol envelopes them."""
        for route, body in [("attestation-policy", {"type": "toml", "policy_id": "default",
                                                    "policy": b64url(attestation_policy)}),
                            ("resource-policy", {"policy": b64url(resource_policy)})]:
            r = cls.request("POST", "/kbs/v0/" + route, json=body,
                            headers={"Authorization": "Bearer " + cls.admin_token()})
            assert r.status_code == 200, (route, r.status_code, r.text)
        r = cls.request("GET", "/kbs/v0/resource-policy",
                        headers={"Authorization": "Bearer " + cls.admin_token()})
        assert r.status_code == 200 and "default" in r.json(), r.text

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "server", None) and cls.server.poll() is None:
            cls.server.terminate()
            try:
                cls.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                cls.server.kill()
                cls.server.wait()
        if getattr(cls, "server", None):
            cls.server.stdout.close()
        cls.tmp.cleanup()

    # ---- HTTP helpers ----

    @classmethod
    def request(cls, method, path, **kwargs):
        kwargs.setdefault("timeout", 60)
        return requests.request(method, cls.url + path, verify=cls.ca, **kwargs)

    @classmethod
    def admin_token(cls, role="admin", key=None, lifetime=300):
        now = int(time.time())
        token = jwt.JWT(header={"alg": "EdDSA", "typ": "JWT"},
                        claims={"sub": "blackbox", "role": role, "iat": now, "exp": now + lifetime})
        token.make_signed_token(key or cls.admin_key)
        return token.serialize()

    @classmethod
    def admin_put(cls, path, data):
        r = cls.request("POST", "/kbs/v0/resource/" + path, data=data,
                        headers={"Authorization": "Bearer " + cls.admin_token(),
                                 "Content-Type": "application/octet-stream"})
        assert r.status_code == 200, (r.status_code, r.text)

    def assert_error(self, response, status, variant=None, detail=None):
        self.assertEqual(response.status_code, status, response.text)
        info = response.json()
        self.assertEqual(set(info), {"type", "detail"}, info)
        self.assertTrue(info["type"].startswith(ERROR_PREFIX), info)
        self.assertIsInstance(info["detail"], str)
        if variant:
            self.assertEqual(info["type"], ERROR_PREFIX + variant, info)
        if detail:
            # acon keeps the cause in the detail (Trustee drops it).
            self.assertIn(detail, info["detail"], info)
        return info

    # ---- RCAR by hand ----

    def auth(self, body=None, tee="tdx"):
        body = body if body is not None else {"version": "0.4.0", "tee": tee, "extra-params": {}}
        r = self.request("POST", "/kbs/v0/auth", json=body)
        self.assertEqual(r.status_code, 200, r.text)
        cookie = r.cookies.get("kbs-session-id")
        self.assertTrue(cookie, r.headers)
        challenge = r.json()
        self.assertEqual(len(base64.b64decode(challenge["nonce"], validate=True)), 32)
        return cookie, challenge["nonce"]

    def attest(self, cookie, body):
        return self.request("POST", "/kbs/v0/attest", json=body,
                            headers={"Cookie": "kbs-session-id=" + cookie})

    def decrypt(self, response, key):
        self.assertEqual(response.status_code, 200, response.text)
        body = response.json()
        self.assertTrue({"protected", "encrypted_key", "iv", "ciphertext", "tag"} <= set(body))
        protected = b64url_decode(body["protected"]).decode()
        # guest-components re-serialises the header for the GCM AAD: it must already be
        # compact JSON with sorted keys.
        self.assertEqual(protected, compact_sorted(json.loads(protected)))
        self.assertEqual(json.loads(protected)["alg"], key.pubkey["alg"])
        token = jwe.JWE()
        token.deserialize(json.dumps(body), key=key.key)
        return token.payload


class KbsBlackBox(KbsServer, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        tmp = cls.tmp.name
        cls.state = os.path.join(tmp, "td.json")
        subprocess.run([ACON_SIM, "create", "--state", cls.state], check=True,
                       stdout=subprocess.DEVNULL)
        root = os.path.join(tmp, "sim-root.pem")
        subprocess.run([ACON_SIM, "root", "--state", cls.state, "--out", root], check=True)
        ccel = os.path.join(tmp, "ccel.bin")
        subprocess.run([ACON_SIM, "ccel", "--state", cls.state, "--out", ccel], check=True)
        with open(ccel, "rb") as f:
            cls.ccel = f.read()

        collateral = os.path.join(tmp, "collateral.json")
        subprocess.run([ACON_SIM, "collateral", "--state", cls.state, "--out", collateral],
                       check=True)

        # A KBS that trusts the simulator's root and verifies its quotes against the
        # simulator's collateral.
        cls.start_kbs(["--simulated-root", root, "--collateral", collateral])
        # Affirm a genuine simulated quote bound to the session; release to such tokens.
        cls.set_policies(ATTESTATION_POLICY, RESOURCE_POLICY)
        cls.admin_put("blackbox/secret/one", b"first secret \x00\xff")

    @staticmethod
    def report_data(nonce, pubkey, additional=""):
        text = compact_sorted({"additional-evidence": additional, "nonce": nonce,
                               "tee-pubkey": pubkey})
        return hashlib.sha384(text.encode()).digest() + bytes(16)

    def quote(self, report_data):
        r = subprocess.run([ACON_SIM, "quote", "--state", self.state, "--report-data",
                            report_data.hex()], check=True, capture_output=True, text=True)
        return bytes.fromhex(r.stdout.strip())

    def attestation(self, nonce, pubkey, quote):
        return {"init-data": None,
                "runtime-data": {"nonce": nonce, "tee-pubkey": pubkey},
                "tee-evidence": {"primary_evidence": {"cc_eventlog": b64(self.ccel),
                                                      "quote": b64(quote)},
                                 "additional_evidence": ""}}

    def rcar(self, key):
        cookie, nonce = self.auth()
        quote = self.quote(self.report_data(nonce, key.pubkey))
        r = self.attest(cookie, self.attestation(nonce, key.pubkey, quote))
        self.assertEqual(r.status_code, 200, r.text)
        token = r.json()["token"]
        return cookie, token

    # ---- the accepted flow ----

    def test_rcar_token_and_resources(self):
        for kind in ("ec", "rsa"):
            with self.subTest(kind=kind):
                key = TeeKey(kind)
                cookie, token = self.rcar(key)
                # The EAR: ES256 by the KBS's token key, our iss and aud, not expired.
                verified = jwt.JWT(jwt=token, key=self.ear_key, algs=["ES256"],
                                   check_claims={"iss": KBS_ID, "aud": KBS_ID, "exp": None})
                claims = json.loads(verified.claims)
                self.assertGreater(claims["exp"], time.time())
                self.assertIn("submods", claims)
                # By cookie and by Bearer, the same bytes.
                path = "/kbs/v0/resource/blackbox/secret/one"
                by_cookie = self.request("GET", path,
                                         headers={"Cookie": "kbs-session-id=" + cookie})
                self.assertEqual(self.decrypt(by_cookie, key), b"first secret \x00\xff")
                by_bearer = self.request("GET", path, headers={"Authorization": "Bearer " + token})
                self.assertEqual(self.decrypt(by_bearer, key), b"first secret \x00\xff")
                # A missing resource is 404 once token and policy pass (acon, not Trustee's 401).
                missing = self.request("GET", "/kbs/v0/resource/blackbox/secret/absent",
                                       headers={"Authorization": "Bearer " + token})
                self.assert_error(missing, 404, "ResourceNotFound")

    def test_admin_set_and_delete(self):
        self.admin_put("blackbox/secret/temp", b"temporary")
        key = TeeKey("ec")
        _, token = self.rcar(key)
        path = "/kbs/v0/resource/blackbox/secret/temp"
        got = self.request("GET", path, headers={"Authorization": "Bearer " + token})
        self.assertEqual(self.decrypt(got, key), b"temporary")
        r = self.request("DELETE", path, headers={"Authorization": "Bearer " + self.admin_token()})
        self.assertEqual(r.status_code, 200, r.text)
        gone = self.request("GET", path, headers={"Authorization": "Bearer " + token})
        self.assert_error(gone, 404, "ResourceNotFound")

    # ---- refusals of /attest ----

    def test_wrong_nonce(self):
        key = TeeKey("ec")
        cookie, nonce = self.auth()
        _, other_nonce = self.auth()
        # Evidence consistent with the other nonce, sent on this session.
        quote = self.quote(self.report_data(other_nonce, key.pubkey))
        r = self.attest(cookie, self.attestation(other_nonce, key.pubkey, quote))
        self.assert_error(r, 401, "AttestationError", "nonce mismatch")

    def test_nonce_is_single_use(self):
        key = TeeKey("ec")
        cookie, nonce = self.auth()
        body = self.attestation(nonce, key.pubkey, self.quote(self.report_data(nonce, key.pubkey)))
        self.assertEqual(self.attest(cookie, body).status_code, 200)
        self.assert_error(self.attest(cookie, body), 401, "AttestationError", "single-use")

    def test_failed_attest_consumes_the_nonce(self):
        key = TeeKey("ec")
        cookie, nonce = self.auth()
        good = self.attestation(nonce, key.pubkey,
                                self.quote(self.report_data(nonce, key.pubkey)))
        bad = json.loads(json.dumps(good))
        # Another first character (a fixed "x" would equal a nonce that starts with one).
        bad["runtime-data"]["nonce"] = ("y" if nonce[0] == "x" else "x") + nonce[1:]
        self.assert_error(self.attest(cookie, bad), 401, "AttestationError", "nonce mismatch")
        self.assert_error(self.attest(cookie, good), 401, "AttestationError", "single-use")

    def test_tampered_quote(self):
        key = TeeKey("ec")
        cookie, nonce = self.auth()
        quote = bytearray(self.quote(self.report_data(nonce, key.pubkey)))
        quote[200] ^= 0x01  # inside the signed TD report body
        r = self.attest(cookie, self.attestation(nonce, key.pubkey, bytes(quote)))
        self.assert_error(r, 401, "AttestationError", "quote.signature")

    def test_unbound_tee_pubkey(self):
        bound, sent = TeeKey("ec"), TeeKey("ec")
        cookie, nonce = self.auth()
        quote = self.quote(self.report_data(nonce, bound.pubkey))
        r = self.attest(cookie, self.attestation(nonce, sent.pubkey, quote))
        self.assert_error(r, 401, "AttestationError", "binding.kbs")

    def test_attest_without_cookie(self):
        key = TeeKey("ec")
        _, nonce = self.auth()
        body = self.attestation(nonce, key.pubkey, self.quote(self.report_data(nonce, key.pubkey)))
        r = self.request("POST", "/kbs/v0/attest", json=body)
        self.assert_error(r, 401, "AttestationError", "kbs-session-id")

    # ---- refusals of /auth ----

    def test_bad_auth_requests(self):
        for name, body in [
            ("unknown tee", {"version": "0.4.0", "tee": "no-such-tee", "extra-params": {}}),
            ("old version", {"version": "0.2.0", "tee": "tdx", "extra-params": {}}),
            ("not semver", {"version": "latest", "tee": "tdx", "extra-params": {}}),
        ]:
            with self.subTest(name):
                r = self.request("POST", "/kbs/v0/auth", json=body)
                self.assert_error(r, 401, "AttestationError")
        with self.subTest("malformed JSON"):
            r = self.request("POST", "/kbs/v0/auth", data=b'{"version":"0.4.0",',
                             headers={"Content-Type": "application/json"})
            self.assert_error(r, 401, "AttestationError")

    def test_oversized_body(self):
        # The KBS refuses on the declared length before reading the body, and may close the
        # connection while a client is still sending; so only the head is sent here.
        host, port = self.url.split("://")[1].rsplit(":", 1)
        conn = http.client.HTTPSConnection(
            host, int(port), timeout=60, context=ssl.create_default_context(cafile=self.ca))
        try:
            conn.putrequest("POST", "/kbs/v0/auth")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(3 << 20))
            conn.endheaders()
            r = conn.getresponse()
            body = r.read()
        finally:
            conn.close()
        self.assertEqual(r.status, 413, body[:200])
        info = json.loads(body)
        self.assertEqual(set(info), {"type", "detail"}, info)
        self.assertTrue(info["type"].startswith(ERROR_PREFIX), info)

    # ---- refusals of resource GETs ----

    def test_no_token(self):
        r = self.request("GET", "/kbs/v0/resource/blackbox/secret/one")
        self.assert_error(r, 401, "TokenNotFound")
        # A cookie of a session that never attested is no token either.
        cookie, _ = self.auth()
        r = self.request("GET", "/kbs/v0/resource/blackbox/secret/one",
                         headers={"Cookie": "kbs-session-id=" + cookie})
        self.assert_error(r, 401)

    def test_token_for_another_audience(self):
        key = TeeKey("ec")
        _, token = self.rcar(key)
        claims = json.loads(jwt.JWT(jwt=token, key=self.ear_key).claims)
        header = json.loads(b64url_decode(token.split(".")[0]))
        claims["aud"] = "another-kbs"
        # Signed with the KBS's own key: only the audience is wrong.
        forged = jwt.JWT(header=header, claims=claims)
        forged.make_signed_token(self.ear_private_key)
        r = self.request("GET", "/kbs/v0/resource/blackbox/secret/one",
                         headers={"Authorization": "Bearer " + forged.serialize()})
        self.assert_error(r, 401, "TokenVerifierError", "aud")

    def test_self_signed_token_with_header_jwk(self):
        key = TeeKey("ec")
        _, token = self.rcar(key)
        claims = json.loads(jwt.JWT(jwt=token, key=self.ear_key).claims)
        own = jwk.JWK.generate(kty="EC", crv="P-256")
        public = json.loads(own.export_public())
        public["alg"] = "ES256"
        forged = jwt.JWT(header={"alg": "ES256", "typ": "JWT", "jwk": public}, claims=claims)
        forged.make_signed_token(own)
        r = self.request("GET", "/kbs/v0/resource/blackbox/secret/one",
                         headers={"Authorization": "Bearer " + forged.serialize()})
        self.assert_error(r, 401, "TokenVerifierError")

    # ---- admin ----

    def test_admin_refusals(self):
        path = "/kbs/v0/resource/blackbox/secret/admin"
        r = self.request("POST", path, data=b"x")
        self.assert_error(r, 401)
        stranger = jwk.JWK.generate(kty="OKP", crv="Ed25519")
        r = self.request("POST", path, data=b"x",
                         headers={"Authorization": "Bearer " + self.admin_token(key=stranger)})
        self.assert_error(r, 401)
        # An attestation token is not an admin token.
        _, token = self.rcar(TeeKey("ec"))
        r = self.request("POST", path, data=b"x", headers={"Authorization": "Bearer " + token})
        self.assert_error(r, 401)
        r = self.request("GET", path, headers={"Authorization": "Bearer " + token})
        self.assert_error(r, 404, "ResourceNotFound")


# TPM evidence is affirming when a quote from a pinned AK is bound to the session and the
# init-data is the one in PCR 8; released to affirming tokens (tests/data/kbs).
with open(os.path.join(DATA, "kbs", "tpm-attestation.toml"), "rb") as _f:
    TPM_ATTESTATION_POLICY = _f.read()
with open(os.path.join(DATA, "kbs", "affirming-resource.toml"), "rb") as _f:
    TPM_RESOURCE_POLICY = _f.read()
INIT_DATA = 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n'
ALL_PCRS = "sha256:" + ",".join(str(i) for i in range(24))


class KbsBlackBoxTpm(KbsServer, unittest.TestCase):
    """tee "tpm" with evidence made by tpm2-tools on a swtpm, in CoCo's TPM attester form
    (guest-components attestation-agent/attester/src/tpm): {"ak_public": base64 DER
    SubjectPublicKeyInfo, "tpm_quote": {"signature": base64 TPMT_SIGNATURE, "message": base64
    TPMS_ATTEST, "pcrs": 24 hex SHA-256 values}}, quoted over the first 32 bytes of the binding."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.swtpm = Swtpm(cls.path("tpm"))
        try:
            cls.tpm2("tpm2_createek", "-c", cls.path("ek.ctx"), "-G", "rsa", "-u",
                     cls.path("ek.pub"))
            cls.ak, cls.ak_pem = cls.create_ak("ak")
            # The guest's boot: the init-data digest extended into SHA-256 PCR 8.
            cls.tpm2("tpm2_pcrextend",
                     "8:sha256=" + hashlib.sha256(INIT_DATA.encode()).hexdigest())
            cls.start_kbs(["--ak", cls.ak_pem])
            cls.set_policies(TPM_ATTESTATION_POLICY, TPM_RESOURCE_POLICY)
            cls.admin_put("blackbox/secret/tpm", b"tpm secret")
        except BaseException:
            cls.tearDownClass()  # unittest skips it when setUpClass fails: no stray swtpm
            raise

    @classmethod
    def tearDownClass(cls):
        cls.swtpm.stop()
        super().tearDownClass()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp.name, name)

    @classmethod
    def tpm2(cls, *command):
        env = cls.swtpm.tools_env()
        subprocess.run(list(command), check=True, env=env, stdout=subprocess.DEVNULL)
        # swtpm has no resource manager: free the transient objects and sessions each tool left.
        for flag in ("-t", "-s", "-l"):
            subprocess.run(["tpm2_flushcontext", flag], check=True, env=env)

    @classmethod
    def create_ak(cls, name):
        """An RSA RSASSA-SHA256 AK under the EK (a fresh key each call); its context and PEM."""
        ctx, pem = cls.path(name + ".ctx"), cls.path(name + ".pem")
        cls.tpm2("tpm2_createak", "-C", cls.path("ek.ctx"), "-c", ctx, "-G", "rsa", "-g", "sha256",
                 "-s", "rsassa", "-u", pem, "-f", "pem", "-n", cls.path(name + ".name"))
        return ctx, pem

    def evidence(self, extra_data, ak=None, ak_pem=None):
        self.tpm2("tpm2_quote", "-c", ak or self.ak, "-l", ALL_PCRS, "-q", extra_data.hex(),
                  "-m", self.path("msg.bin"), "-s", self.path("sig.bin"), "-g", "sha256")
        self.tpm2("tpm2_pcrread", ALL_PCRS, "-o", self.path("pcrs.bin"))
        with open(self.path("msg.bin"), "rb") as f:
            message = f.read()
        with open(self.path("sig.bin"), "rb") as f:
            signature = f.read()
        with open(self.path("pcrs.bin"), "rb") as f:
            pcrs = f.read()
        with open(ak_pem or self.ak_pem) as f:
            der = base64.b64decode("".join(l for l in f.read().splitlines() if "-----" not in l))
        return {"ak_public": b64(der),
                "tpm_quote": {"signature": b64(signature), "message": b64(message),
                              "pcrs": [pcrs[i:i + 32].hex() for i in range(0, len(pcrs), 32)]}}

    def attestation(self, nonce, pubkey, primary):
        return {"init-data": {"format": "toml", "body": INIT_DATA},
                "runtime-data": {"nonce": nonce, "tee-pubkey": pubkey},
                "tee-evidence": {"primary_evidence": primary, "additional_evidence": ""}}

    @staticmethod
    def extra_data(nonce, pubkey):
        # The KBS binding, SHA-384 of the canonical runtime data, cut to 32 bytes as the attester
        # resizes it.
        text = compact_sorted({"additional-evidence": "", "nonce": nonce, "tee-pubkey": pubkey})
        return hashlib.sha384(text.encode()).digest()[:32]

    def test_rcar_and_resource(self):
        key = TeeKey("ec")
        cookie, nonce = self.auth(tee="tpm")
        primary = self.evidence(self.extra_data(nonce, key.pubkey))
        r = self.attest(cookie, self.attestation(nonce, key.pubkey, primary))
        self.assertEqual(r.status_code, 200, r.text)
        token = jwt.JWT(jwt=r.json()["token"], key=self.ear_key, algs=["ES256"],
                        check_claims={"iss": KBS_ID, "aud": KBS_ID, "exp": None})
        claims = json.loads(token.claims)
        self.assertEqual(claims["submods"]["cpu0"]["ear.status"], "affirming", claims)
        r = self.request("GET", "/kbs/v0/resource/blackbox/secret/tpm",
                         headers={"Cookie": "kbs-session-id=" + cookie})
        self.assertEqual(self.decrypt(r, key), b"tpm secret")

    def test_unpinned_ak(self):
        other, other_pem = self.create_ak("other_ak")
        key = TeeKey("ec")
        cookie, nonce = self.auth(tee="tpm")
        primary = self.evidence(self.extra_data(nonce, key.pubkey), other, other_pem)
        r = self.attest(cookie, self.attestation(nonce, key.pubkey, primary))
        self.assert_error(r, 401, "AttestationError", "not the pinned AK")

    def test_tampered_quote(self):
        key = TeeKey("ec")
        cookie, nonce = self.auth(tee="tpm")
        primary = self.evidence(self.extra_data(nonce, key.pubkey))
        message = bytearray(base64.b64decode(primary["tpm_quote"]["message"]))
        message[-1] ^= 1
        primary["tpm_quote"]["message"] = b64(bytes(message))
        r = self.attest(cookie, self.attestation(nonce, key.pubkey, primary))
        self.assert_error(r, 401, "AttestationError", "quote.signature")

    def test_wrong_nonce(self):
        key = TeeKey("ec")
        cookie, nonce = self.auth(tee="tpm")
        primary = self.evidence(self.extra_data("another nonce", key.pubkey))
        r = self.attest(cookie, self.attestation(nonce, key.pubkey, primary))
        self.assert_error(r, 401, "AttestationError", "extra_data")


if __name__ == "__main__":
    unittest.main(verbosity=2)
