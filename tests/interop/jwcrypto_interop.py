#!/usr/bin/python3
"""JOSE interop between acon-jose and python3-jwcrypto, an independent implementation.

Each JWE algorithm and each JWS algorithm is exercised in both directions: acon produces and
jwcrypto consumes, then jwcrypto produces and acon consumes. Keys are generated on both sides
so that JWK export/import is checked against the other implementation too.

Usage: ACON_JOSE=/path/to/acon-jose /usr/bin/python3 jwcrypto_interop.py
"""
import base64
import json
import os
import subprocess
import tempfile
import unittest

from jwcrypto import jwe, jwk, jws
from jwcrypto.common import json_encode

TOOL = os.environ.get("ACON_JOSE", "acon-jose")

KEY_SPECS = {
    "P-256": {"kty": "EC", "crv": "P-256"},
    "P-384": {"kty": "EC", "crv": "P-384"},
    "P-521": {"kty": "EC", "crv": "P-521"},
    "RSA": {"kty": "RSA", "size": 2048},
    "Ed25519": {"kty": "OKP", "crv": "Ed25519"},
}
ACON_KEYGEN_TYPE = {"P-256": "ec-p256", "P-384": "ec-p384", "P-521": "ec-p521",
                    "RSA": "rsa2048", "Ed25519": "ed25519"}

JWE_CASES = [
    ("ECDH-ES+A256KW", "A256GCM", "P-256"),  # CoCo's default tee key
    ("ECDH-ES+A256KW", "A256GCM", "P-521"),
    ("ECDH-ES+A128KW", "A128GCM", "P-384"),
    ("ECDH-ES+A192KW", "A192GCM", "P-256"),
    ("RSA-OAEP-256", "A256GCM", "RSA"),
    ("RSA1_5", "A256GCM", "RSA"),
]
JWS_CASES = [("ES256", "P-256"), ("ES384", "P-384"), ("ES512", "P-521"),
             ("EdDSA", "Ed25519"), ("RS256", "RSA"), ("PS256", "RSA")]

PLAINTEXT = '{"resource":"key-1","value":"c2VjcmV0IOKCrCDinJM="}'.encode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Workspace(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def write(self, name, data):
        with open(self.path(name), "w" if isinstance(data, str) else "wb") as f:
            f.write(data)
        return self.path(name)

    def acon(self, *args, data=b"", expect=0):
        proc = subprocess.run([TOOL, *args], input=data, capture_output=True, check=False)
        self.assertEqual(proc.returncode, expect,
                         f"acon-jose {' '.join(args)}: rc={proc.returncode} {proc.stderr.decode()}")
        return proc.stdout

    def jwcrypto_key(self, spec):
        key = jwk.JWK.generate(**KEY_SPECS[spec])
        return key, self.write("jwcrypto.jwk", key.export(private_key=True))

    def acon_key(self, spec):
        path = self.path("acon.jwk")
        self.acon("keygen", "--type", ACON_KEYGEN_TYPE[spec], "--out", path)
        with open(path) as f:
            return jwk.JWK(**json.load(f)), path


class JweInterop(Workspace):
    def test_acon_encrypts_jwcrypto_decrypts(self):
        for alg, enc, spec in JWE_CASES:
            with self.subTest(alg=alg, enc=enc, key=spec):
                key, _ = self.jwcrypto_key(spec)
                pub = self.write("pub.jwk", key.export_public())
                for compact in (False, True):
                    out = self.acon("encrypt", "--key", pub, "--alg", alg, "--enc", enc,
                                    *(["--compact"] if compact else []), data=PLAINTEXT)
                    token = jwe.JWE()
                    token.allowed_algs = [alg, enc]
                    token.deserialize(out.decode().strip(), key)
                    self.assertEqual(token.payload, PLAINTEXT)
                # Protected header: compact JSON with sorted keys (trustee kbs/src/jwe/mod.rs).
                flat = json.loads(self.acon("encrypt", "--key", pub, "--alg", alg, "--enc", enc,
                                            data=PLAINTEXT))
                header = b64url_decode(flat["protected"]).decode()
                self.assertEqual(header, json.dumps(json.loads(header), sort_keys=True,
                                                    separators=(",", ":")))
                self.assertEqual(sorted(flat), ["ciphertext", "encrypted_key", "iv",
                                                "protected", "tag"])

    def test_jwcrypto_encrypts_acon_decrypts(self):
        for alg, enc, spec in JWE_CASES:
            with self.subTest(alg=alg, enc=enc, key=spec):
                for make_key in (self.jwcrypto_key, self.acon_key):
                    key, priv_path = make_key(spec)
                    token = jwe.JWE(PLAINTEXT, protected=json_encode({"alg": alg, "enc": enc}))
                    token.allowed_algs = [alg, enc]
                    token.add_recipient(jwk.JWK(**json.loads(key.export_public())))
                    for serialized in (token.serialize(), token.serialize(compact=True)):
                        out = self.acon("decrypt", "--key", priv_path, data=serialized.encode())
                        self.assertEqual(out, PLAINTEXT)

    def test_acon_rejects_tampered_jwcrypto_output(self):
        key, priv_path = self.jwcrypto_key("P-256")
        token = jwe.JWE(PLAINTEXT, protected=json_encode({"alg": "ECDH-ES+A256KW",
                                                          "enc": "A256GCM"}))
        token.add_recipient(key)
        flat = json.loads(token.serialize())
        tag = bytearray(b64url_decode(flat["tag"]))
        tag[0] ^= 1
        flat["tag"] = base64.urlsafe_b64encode(bytes(tag)).decode().rstrip("=")
        self.acon("decrypt", "--key", priv_path, data=json.dumps(flat).encode(), expect=1)


class JwsInterop(Workspace):
    def test_acon_signs_jwcrypto_verifies(self):
        for alg, spec in JWS_CASES:
            with self.subTest(alg=alg):
                key, priv_path = self.acon_key(spec)
                token = self.acon("sign", "--key", priv_path, "--alg", alg,
                                  "--header", '{"typ":"JWT","kid":"k1"}', data=PLAINTEXT)
                parsed = jws.JWS()
                parsed.deserialize(token.decode().strip())
                parsed.verify(jwk.JWK(**json.loads(key.export_public())), alg=alg)
                self.assertEqual(parsed.payload, PLAINTEXT)
                self.assertEqual(parsed.jose_header["kid"], "k1")

    def test_jwcrypto_signs_acon_verifies(self):
        for alg, spec in JWS_CASES:
            with self.subTest(alg=alg):
                key, _ = self.jwcrypto_key(spec)
                pub = self.write("pub.jwk", key.export_public())
                token = jws.JWS(PLAINTEXT)
                token.add_signature(key, None, json_encode({"alg": alg}))
                compact = token.serialize(compact=True)
                out = self.acon("verify", "--key", pub, "--alg", alg, data=compact.encode())
                self.assertEqual(out, PLAINTEXT)
                # One flipped signature bit: acon must reject with exit code 1.
                head, payload, sig = compact.split(".")
                raw = bytearray(b64url_decode(sig))
                raw[len(raw) // 2] ^= 1
                bad = ".".join([head, payload, base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")])
                self.acon("verify", "--key", pub, data=bad.encode(), expect=1)

    def test_thumbprints_agree(self):
        for spec in KEY_SPECS:
            with self.subTest(key=spec):
                key, priv_path = self.jwcrypto_key(spec)
                out = self.acon("thumbprint", "--key", priv_path)
                self.assertEqual(out.decode().strip(), key.thumbprint())


if __name__ == "__main__":
    unittest.main(verbosity=2)
