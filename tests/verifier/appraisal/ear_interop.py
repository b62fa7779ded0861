#!/usr/bin/python3
"""EAR tokens between acon and independent implementations.

acon issues an EAR as a JWT and as a CWT; python3-jwcrypto verifies the JWT, python3-cbor2 and
python3-cryptography decode the CWT and verify its COSE_Sign1 signature over the Sig_structure.
Tokens made by jwcrypto / cbor2 are then handed to acon's verify API: the genuine ones are
accepted, and a tampered claim, a wrong key, alg "none", another alg and an expired exp are
refused.

Usage: EAR_TOOL=/path/to/ear_interop_tool /usr/bin/python3 ear_interop.py
"""
import base64
import json
import os
import subprocess
import tempfile
import unittest

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from jwcrypto import jwk, jws, jwt

TOOL = os.environ.get("EAR_TOOL", "ear_interop_tool")
IAT = 1767225600  # 2026-01-01T00:00:00Z, the iat the tool issues with
NOW = str(IAT + 10)

# draft-ietf-rats-ear / RFC 8392 / RFC 9711 integer keys
KEYS = {"iss": 1, "aud": 3, "exp": 4, "nbf": 5, "iat": 6, "eat_profile": 265, "submods": 266,
        "ear.verifier-id": 1004}
SUBMOD_KEYS = {"ear.status": 1000, "ear.trustworthiness-vector": 1001,
               "ear.appraisal-policy-id": 1003, "ear.veraison.annotated-evidence": -70000}
TIERS = {"none": 0, "affirming": 2, "warning": 32, "contraindicated": 96}
VECTOR = ["instance-identity", "configuration", "executables", "file-system", "hardware",
          "runtime-opaque", "storage-opaque", "sourced-data"]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_to_der(raw):
    return utils.encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                      int.from_bytes(raw[32:], "big"))


def der_to_raw(der):
    r, s = utils.decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class EarInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        subprocess.run([TOOL, "issue", cls.dir], check=True)
        with open(cls.path("ear.json")) as f:
            cls.claims = json.load(f)
        with open(cls.path("leaf.pem"), "rb") as f:
            cls.leaf = x509.load_pem_x509_certificate(f.read())
        with open(cls.path("root.pem"), "rb") as f:
            cls.root = x509.load_pem_x509_certificate(f.read())
        with open(cls.path("leaf_key.pem"), "rb") as f:
            cls.leaf_key = serialization.load_pem_private_key(f.read(), None)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.dir, name)

    def write(self, name, data):
        with open(self.path(name), "w" if isinstance(data, str) else "wb") as f:
            f.write(data)
        return self.path(name)

    def acon_verify(self, kind, token, *trust, now=NOW, expect=0):
        path = self.write("token", token)
        proc = subprocess.run([TOOL, "verify-" + kind, path, "--now", now, *trust],
                              capture_output=True, check=False)
        self.assertEqual(proc.returncode, expect,
                         f"verify-{kind}: rc={proc.returncode} {proc.stderr.decode()}")
        return json.loads(proc.stdout) if expect == 0 else proc.stderr.decode()

    # ---- acon issues, independent implementations verify ----

    def test_jwt_verified_by_jwcrypto(self):
        with open(self.path("ear.jwt")) as f:
            token = f.read()
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        self.assertEqual(set(header), {"typ", "alg", "jwk"})
        self.assertEqual((header["typ"], header["alg"]), ("JWT", "ES256"))
        self.assertEqual(set(header["jwk"]), {"kty", "crv", "alg", "x", "y", "x5c"})
        self.assertEqual((header["jwk"]["kty"], header["jwk"]["crv"], header["jwk"]["alg"]),
                         ("EC", "P-256", "ES256"))
        # The x5c leaf is the certificate issued under the root, and certifies the header key.
        leaf_der = base64.b64decode(header["jwk"]["x5c"][0])
        self.assertEqual(leaf_der, self.leaf.public_bytes(serialization.Encoding.DER))
        self.root.public_key().verify(self.leaf.signature, self.leaf.tbs_certificate_bytes,
                                      ec.ECDSA(hashes.SHA256()))
        leaf_jwk = jwk.JWK.from_pyca(self.leaf.public_key())
        self.assertEqual((leaf_jwk["x"], leaf_jwk["y"]), (header["jwk"]["x"], header["jwk"]["y"]))
        verifier = jws.JWS()
        verifier.deserialize(token, leaf_jwk)
        claims = json.loads(verifier.payload)
        self.assertEqual(claims, self.claims)
        self.assertEqual(claims["eat_profile"], "tag:github.com,2024:confidential-containers/Trustee")
        self.assertEqual(claims["submods"]["cpu0"]["ear.status"], "affirming")
        # Any other key fails in jwcrypto too.
        with self.assertRaises(jws.InvalidJWSSignature):
            jws.JWS().deserialize(token, jwk.JWK.generate(kty="EC", crv="P-256"))

    def test_cwt_decoded_and_verified_by_cbor2_and_cryptography(self):
        with open(self.path("ear.cwt"), "rb") as f:
            data = f.read()
        self.assertEqual(data[0], 0xD2)
        message = cbor2.loads(data)
        self.assertIsInstance(message, cbor2.CBORTag)
        self.assertEqual(message.tag, 18)
        protected, unprotected, payload, signature = message.value
        header = cbor2.loads(protected)
        self.assertEqual(header[1], -7)
        self.assertEqual(header[33], self.leaf.public_bytes(serialization.Encoding.DER))
        self.assertEqual(unprotected, {})
        self.assertEqual(len(signature), 64)
        sig_structure = cbor2.dumps(["Signature1", protected, b"", payload])
        self.leaf.public_key().verify(raw_to_der(signature), sig_structure,
                                      ec.ECDSA(hashes.SHA256()))
        claims = cbor2.loads(payload)
        self.assertTrue(all(isinstance(k, int) for k in claims))
        expected = self.claims
        for name, key in KEYS.items():
            if name in ("ear.verifier-id", "submods", "nbf"):
                continue
            self.assertEqual(claims[key], expected[name], name)
        self.assertEqual(claims[1004], {0: expected["ear.verifier-id"]["developer"],
                                        1: expected["ear.verifier-id"]["build"]})
        cpu0, want = claims[266]["cpu0"], expected["submods"]["cpu0"]
        self.assertEqual(cpu0[1000], TIERS[want["ear.status"]])
        self.assertEqual(cpu0[1001], {VECTOR.index(k): v
                                      for k, v in want["ear.trustworthiness-vector"].items()})
        self.assertEqual(cpu0[1003], want["ear.appraisal-policy-id"])
        self.assertEqual(cpu0[-70000], want["ear.veraison.annotated-evidence"])
        # One flipped payload byte breaks the signature for cryptography as well.
        with self.assertRaises(Exception):
            bad = bytearray(payload)
            bad[10] ^= 1
            self.leaf.public_key().verify(
                raw_to_der(signature), cbor2.dumps(["Signature1", protected, b"", bytes(bad)]),
                ec.ECDSA(hashes.SHA256()))

    # ---- independent implementations issue, acon verifies ----

    def jwcrypto_token(self, key, claims=None, header=None):
        token = jwt.JWT(header=header or {"alg": "ES256", "typ": "JWT"},
                        claims=json.dumps(claims or self.claims))
        token.make_signed_token(key)
        return token.serialize()

    def pinned(self, key):
        pem = key.export_to_pem(private_key=False, password=None)
        return ["--key", self.write("pinned.pem", pem)]

    def test_jwcrypto_token_accepted_then_each_fault_refused(self):
        key = jwk.JWK.generate(kty="EC", crv="P-256")
        token = self.jwcrypto_token(key)
        self.assertEqual(self.acon_verify("jwt", token, *self.pinned(key)), self.claims)

        # Tampered claim: the payload is re-encoded with another status, signature kept.
        head, _, sig = token.split(".")
        tampered = json.loads(json.dumps(self.claims))
        tampered["submods"]["cpu0"]["ear.status"] = "warning"
        forged = ".".join([head, b64url(json.dumps(tampered).encode()), sig])
        err = self.acon_verify("jwt", forged, *self.pinned(key), expect=1)
        self.assertIn("signature", err)

        # Wrong key.
        other = jwk.JWK.generate(kty="EC", crv="P-256")
        self.acon_verify("jwt", self.jwcrypto_token(other), *self.pinned(key), expect=1)

        # alg "none": unsigned.
        unsigned = ".".join([b64url(b'{"alg":"none","typ":"JWT"}'),
                             b64url(json.dumps(self.claims).encode()), ""])
        self.acon_verify("jwt", unsigned, *self.pinned(key), expect=1)

        # HS256 with the public key's PEM as the secret (the classic confusion) and ES384.
        secret = jwk.JWK(kty="oct", k=b64url(key.export_to_pem(private_key=False,
                                                                 password=None)))
        hs = self.jwcrypto_token(secret, header={"alg": "HS256", "typ": "JWT"})
        err = self.acon_verify("jwt", hs, *self.pinned(key), expect=1)
        self.assertIn("alg", err)
        p384 = jwk.JWK.generate(kty="EC", crv="P-384")
        es384 = self.jwcrypto_token(p384, header={"alg": "ES384", "typ": "JWT"})
        self.acon_verify("jwt", es384, *self.pinned(key), expect=1)

        # Expired: exp = iat + 300; accepted within the 60 s leeway, refused after it.
        self.acon_verify("jwt", token, *self.pinned(key), now=str(IAT + 360))
        err = self.acon_verify("jwt", token, *self.pinned(key), now=str(IAT + 361), expect=1)
        self.assertIn("exp", err)

        # Audience: checked only when asked for.
        self.acon_verify("jwt", token, *self.pinned(key), "--aud", "kbs.example")
        self.acon_verify("jwt", token, *self.pinned(key), "--aud", "other", expect=1)

    def test_jwcrypto_token_with_x5c_header_chains_to_root(self):
        key = jwk.JWK.from_pyca(self.leaf_key)
        public = json.loads(key.export_public())
        leaf_b64 = base64.b64encode(self.leaf.public_bytes(serialization.Encoding.DER)).decode()
        header = {"alg": "ES256", "typ": "JWT",
                  "jwk": {**public, "alg": "ES256", "x5c": [leaf_b64]}}
        root = ["--root", self.path("root.pem")]
        self.acon_verify("jwt", self.jwcrypto_token(key, header=header), *root)
        # Without x5c the header key cannot be tied to the root.
        bare = {"alg": "ES256", "typ": "JWT", "jwk": {**public, "alg": "ES256"}}
        self.acon_verify("jwt", self.jwcrypto_token(key, header=bare), *root, expect=1)
        # A header key that the x5c leaf does not certify.
        other = jwk.JWK.generate(kty="EC", crv="P-256")
        swapped = {"alg": "ES256", "typ": "JWT",
                   "jwk": {**json.loads(other.export_public()), "alg": "ES256",
                           "x5c": [leaf_b64]}}
        self.acon_verify("jwt", self.jwcrypto_token(other, header=swapped), *root, expect=1)

    def cose_token(self, claims, alg=-7, key=None, hash_alg=hashes.SHA256()):
        key = key or self.leaf_key
        protected = cbor2.dumps({1: alg, 33: self.leaf.public_bytes(serialization.Encoding.DER)})
        payload = cbor2.dumps(claims)
        to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
        signature = der_to_raw(key.sign(to_sign, ec.ECDSA(hash_alg)))
        return cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature]))

    def cbor_claims(self):
        c = self.claims
        cpu0 = c["submods"]["cpu0"]
        return {265: c["eat_profile"], 6: c["iat"], 4: c["exp"], 1: c["iss"], 3: c["aud"],
                1004: {0: c["ear.verifier-id"]["developer"], 1: c["ear.verifier-id"]["build"]},
                266: {"cpu0": {1000: TIERS[cpu0["ear.status"]],
                               1001: {VECTOR.index(k): v
                                      for k, v in cpu0["ear.trustworthiness-vector"].items()},
                               1003: cpu0["ear.appraisal-policy-id"],
                               -70000: cpu0["ear.veraison.annotated-evidence"]}}}

    def test_cbor2_cwt_accepted_then_faults_refused(self):
        root = ["--root", self.path("root.pem")]
        claims = self.cbor_claims()
        self.assertEqual(self.acon_verify("cwt", self.cose_token(claims), *root), self.claims)
        # Tampered claim after signing: swap the payload, keep the signature.
        good = cbor2.loads(self.cose_token(claims))
        claims_bad = dict(claims)
        claims_bad[4] = claims[4] + 3600
        good.value[2] = cbor2.dumps(claims_bad)
        err = self.acon_verify("cwt", cbor2.dumps(good), *root, expect=1)
        self.assertIn("signature", err)
        # Signed by a key the x5chain leaf does not certify.
        stranger = ec.generate_private_key(ec.SECP256R1())
        self.acon_verify("cwt", self.cose_token(claims, key=stranger), *root, expect=1)
        # ES384 (-35) is refused.
        self.acon_verify("cwt", self.cose_token(claims, alg=-35), *root, expect=1)
        # Expired.
        self.acon_verify("cwt", self.cose_token(claims), *root, now=str(IAT + 361), expect=1)
        # Untagged COSE_Sign1.
        untagged = cbor2.dumps(cbor2.loads(self.cose_token(claims)).value)
        self.acon_verify("cwt", untagged, *root, expect=1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
