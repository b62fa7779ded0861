#!/usr/bin/python3
"""End-to-end checks of the acon-image command line: a busybox-static rootfs turned into a signed
ACON image, tampering, export/import, docker-save and OCI inputs, and the vendor-layer flow.

Usage: ACON_IMAGE=/path/to/acon-image python3 acon_image_cli.py
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import unittest

TOOL = os.environ.get("ACON_IMAGE", "acon-image")
BUSYBOX = "/bin/busybox"  # Debian's busybox-static


def run(*args, cwd=None, stdin=None):
    return subprocess.run([TOOL, *args], cwd=cwd, input=stdin, capture_output=True, check=False)


def out(p):
    return p.stdout.decode() + p.stderr.decode()


def sha384_file(path):
    h = hashlib.sha384()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_busybox_rootfs(root):
    os.makedirs(os.path.join(root, "bin"))
    os.makedirs(os.path.join(root, "etc"))
    shutil.copy(BUSYBOX, os.path.join(root, "bin", "busybox"))
    for applet in ("sh", "ls", "echo", "cat"):
        os.symlink("busybox", os.path.join(root, "bin", applet))
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/:/bin/sh\n")


def tar_of_dir(root):
    """Uncompressed tar bytes of a directory, as `docker save` layers are."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name in sorted(os.listdir(root)):
            t.add(os.path.join(root, name), arcname=name)
    return buf.getvalue()


def add_member(t, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))


class ImageTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="acon-image-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.rootfs = os.path.join(self.tmp, "rootfs")
        make_busybox_rootfs(self.rootfs)
        self.ok("init", self.tmp)
        self.repo = os.path.join(self.tmp, ".acon")

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def tool(self, *args, stdin=None):
        return run("--repo", self.repo, *args, cwd=self.tmp, stdin=stdin)

    def ok(self, *args, stdin=None):
        p = run(*args, cwd=self.tmp, stdin=stdin) if args[0] == "init" else self.tool(*args, stdin=stdin)
        self.assertEqual(p.returncode, 0, f"{args}: {out(p)}")
        return p.stdout.decode()

    def keygen(self, name, *extra):
        key, cert = self.path(name + ".pem"), self.path(name + ".der")
        line = self.ok("keygen", "-k", key, "-c", cert, *extra)
        return key, cert, line.split()[0]

    def create(self, output, *args):
        self.ok("create", "-o", self.path(output), *args)
        with open(self.path(output)) as f:
            return json.load(f)

    def sign(self, manifest, key, cert, *extra):
        return self.ok("sign", "-k", key, "-c", cert, self.path(manifest), *extra).split()[0]

    def bundle_dir(self, image_id):
        alg, _, digest = image_id.split("/")
        return os.path.join(self.repo, "manifests", alg, digest)

    def blob(self, ref):
        alg, digest = ref.split("/")
        return os.path.join(self.repo, "blobs", alg, digest + ".tar")

    def busybox_image(self, *extra):
        key, cert, signer = self.keygen("signer")
        m = self.create("acon.json", "--rootfs", self.rootfs, "--entrypoint", "/bin/sh",
                        "--entrypoint", "-c", "--entrypoint", "echo hello", "--signal", "15", *extra)
        image_id = self.sign("acon.json", key, cert)
        return m, image_id, signer


class CreateSignVerify(ImageTestCase):
    def test_busybox_image_is_created_signed_and_verified(self):
        m, image_id, signer = self.busybox_image()
        self.assertEqual(m["aconSpecVersion"], [1, 0])
        self.assertEqual(m["aliases"], {})
        self.assertEqual(m["signals"], [15])
        self.assertEqual(m["policy"], {"rejectUnaccepted": False})
        self.assertEqual(m["workingDir"], "/")
        self.assertEqual(m["maxInstances"], 1)
        self.assertEqual(m["entrypoint"], ["/bin/sh", "-c", "echo hello"])
        self.assertTrue(image_id.startswith(signer + "/"))

        # The layer is the busybox tree, named by the SHA-384 of its bytes, linked by SHA-256.
        (layer,) = m["layers"]
        blob = self.blob(layer)
        self.assertEqual(sha384_file(blob), layer.split("/")[1])
        with tarfile.open(blob) as t:
            names = t.getnames()
            self.assertEqual(names, ["bin", "bin/busybox", "bin/cat", "bin/echo", "bin/ls", "bin/sh",
                                     "etc", "etc/passwd"])
            self.assertEqual(t.getmember("bin/sh").linkname, "busybox")
            self.assertEqual(t.getmember("bin/busybox").mode & 0o777, 0o755)
        sha256_links = os.listdir(os.path.join(self.repo, "blobs", "sha256"))
        self.assertEqual(len(sha256_links), 1)
        self.assertEqual(os.readlink(os.path.join(self.repo, "blobs", "sha256", sha256_links[0])),
                         "../sha384/" + os.path.basename(blob))

        # The repository keeps the canonical bytes, signature and certificate, never a key.
        d = self.bundle_dir(image_id)
        self.assertEqual(sorted(os.listdir(d)), ["acon.json", "signature", "signer.cer"])
        with open(os.path.join(d, "acon.json"), "rb") as f:
            stored = f.read()
        self.assertEqual(hashlib.sha384(stored).hexdigest(), image_id.split("/")[2])
        self.assertEqual(stored, json.dumps(json.loads(stored), sort_keys=True, separators=(",", ":")).encode())
        for root, _, files in os.walk(self.repo):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    self.assertNotIn(b"PRIVATE KEY", fh.read())

        p = self.tool("verify", image_id)
        self.assertEqual(p.returncode, 0, out(p))
        self.assertIn("verdict: accepted", out(p))
        self.assertIn(image_id, out(p))

        # The same tree gives the same layer.
        again = self.create("again.json", "--rootfs", self.rootfs, "--entrypoint", "/bin/sh")
        self.assertEqual(again["layers"], m["layers"])

    def test_hash_and_ls(self):
        m, image_id, signer = self.busybox_image()
        lines = self.ok("hash", self.path("signer.der"), self.path("acon.json")).splitlines()
        self.assertEqual(lines[0].split("\t"), [signer, self.path("signer.der")])
        self.assertEqual(lines[1].split("\t"), [image_id, self.path("acon.json")])
        listing = self.ok("ls")
        self.assertIn(image_id.split("/")[2][:12], listing)
        self.assertIn(" ok ", listing)
        self.assertIn("/bin/sh -c echo hello", listing)
        (entry,) = json.loads(self.ok("ls", "--json"))
        self.assertEqual(entry["image_id"], image_id)
        self.assertEqual(entry["signer_id"], signer)
        self.assertEqual(entry["layers"], m["layers"])
        self.assertEqual(entry["status"], "ok")

    def test_tampering_is_rejected_with_exit_1(self):
        m, image_id, _ = self.busybox_image()
        d = self.bundle_dir(image_id)
        blob = self.blob(m["layers"][0])

        def tamper(path, change):
            with open(path, "rb") as f:
                original = f.read()
            os.chmod(path, 0o644)
            with open(path, "wb") as f:
                f.write(change(original))
            p = self.tool("verify", image_id)
            with open(path, "wb") as f:
                f.write(original)
            return p

        p = tamper(os.path.join(d, "acon.json"), lambda b: b.replace(b'"workingDir":"/"', b'"workingDir":"/tmp"'))
        self.assertEqual(p.returncode, 1, out(p))
        self.assertIn("REJECTED", out(p))
        p = tamper(os.path.join(d, "signature"), lambda b: b[:-1] + bytes([b[-1] ^ 1]))
        self.assertEqual(p.returncode, 1, out(p))
        p = tamper(blob, lambda b: b[:600] + bytes([b[600] ^ 0xFF]) + b[601:])
        self.assertEqual(p.returncode, 1, out(p))
        self.assertIn("stored blob has digest", out(p))
        # Untouched again: accepted.
        self.assertEqual(self.tool("verify", image_id).returncode, 0)
        os.rename(blob, blob + ".away")
        p = self.tool("verify", image_id)
        self.assertEqual(p.returncode, 1, out(p))
        self.assertIn("not in", out(p))
        self.assertEqual(self.tool("verify", "--no-layers", image_id).returncode, 0)

    def test_unusable_input_is_exit_2(self):
        self.busybox_image()
        self.assertEqual(self.tool("verify", "sha384/" + "ab" * 48).returncode, 2)
        with open(self.path("broken.json"), "w") as f:
            f.write("{not json")
        self.assertEqual(self.tool("sign", "-k", self.path("signer.pem"), "-c", self.path("signer.der"),
                                   self.path("broken.json")).returncode, 2)
        self.assertEqual(self.tool("sign", "-k", self.path("missing.pem"), "-c", self.path("signer.der"),
                                   self.path("acon.json")).returncode, 2)
        self.assertEqual(self.tool("create", "--rootfs", self.path("nonexistent"), "-o",
                                   self.path("x.json")).returncode, 2)
        self.assertEqual(self.tool("frobnicate").returncode, 2)
        # A manifest with problems is not signed unless forced.
        with open(self.path("bad.json"), "w") as f:
            json.dump({"aliases": {}, "workingDir": "relative", "signals": [], "policy": {},
                       "entrypoint": ["/bin/sh"]}, f)
        p = self.tool("sign", "-k", self.path("signer.pem"), "-c", self.path("signer.der"), self.path("bad.json"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("workingDir", out(p))

    def test_hostile_inputs_are_exit_2_with_a_message(self):
        m, image_id, _ = self.busybox_image()
        self.ok("export", image_id, "-o", self.path("bundle.tar"))
        with open(self.path("bundle.tar"), "rb") as f:
            bundle = f.read()
        for name, data in (("empty", b""), ("truncated.tar", bundle[:3000]),
                           ("truncated.json", open(self.path("acon.json"), "rb").read()[:100]),
                           ("truncated.der", open(self.path("signer.der"), "rb").read()[:100])):
            with open(self.path(name), "wb") as f:
                f.write(data)
        key, cert, manifest = self.path("signer.pem"), self.path("signer.der"), self.path("acon.json")
        bad_inputs = ["/dev/zero", "/dev/urandom", self.tmp, self.path("empty")]
        cases = []
        for bad in bad_inputs + [self.path("truncated.der")]:
            cases += [("hash", bad), ("hash", cert, bad), ("sign", "-k", key, "-c", bad, manifest),
                      ("sign", "-k", bad, "-c", cert, manifest)]
        for bad in bad_inputs + [self.path("truncated.json")]:
            cases += [("sign", "-k", key, "-c", cert, bad), ("alias-substitute", bad, "-o", self.path("o.json"))]
        for bad in bad_inputs + [self.path("truncated.tar")]:
            cases += [("import", bad), ("create", "--force", "-o", self.path("o.json"), "--tarball", bad),
                      ("create", "--force", "-o", self.path("o.json"), "--docker-save", bad)]
        cases += [("create", "--force", "-o", self.path("o.json"), "--oci", bad) for bad in bad_inputs]
        cases += [("create", "--force", "-o", self.path("o.json"), "--rootfs", bad) for bad in bad_inputs[:2]]
        cases += [("verify", bad) for bad in bad_inputs]
        # Absurd numbers.
        cases += [("--max-input", "-1", "hash", cert), ("--max-input", "99999999999999999999999", "hash", cert),
                  ("--max-input", "10", "hash", cert),
                  ("keygen", "-k", self.path("x.pem"), "-c", self.path("x.der"), "--type", "rsa",
                   "--rsa-bits", "99999999999"),
                  ("keygen", "-k", self.path("x.pem"), "-c", self.path("x.der"), "--days", "-1"),
                  ("keygen", "-k", self.path("x.pem"), "-c", self.path("x.der"), "--days", "4294967296")]
        for option, value in (("--max-instances", "-1"), ("--max-instances", "18446744073709551616"),
                              ("--uid", "-5"), ("--signal", "99999999999"), ("--log-fd", "2147483648"),
                              ("--mtime", "99999999999999999999"), ("--owner", "1:4294967296"),
                              ("--alias", "@99999999999999999999=x")):
            cases.append(("create", "--force", "-o", self.path("o.json"), "--rootfs", self.rootfs, option, value))
        # Output paths that are not files are never replaced.
        cases += [("export", image_id, "-o", "/dev/null"), ("create", "--force", "-o", self.tmp, "--rootfs", self.rootfs)]
        for args in cases:
            p = subprocess.run([TOOL, "--repo", self.repo, *args], cwd=self.tmp, capture_output=True,
                               stdin=subprocess.DEVNULL, timeout=60, check=False)
            self.assertEqual(p.returncode, 2, f"{args}: {out(p)}")
            self.assertTrue(p.stderr.strip(), args)
        self.assertEqual(os.path.exists("/dev/null") and stat.S_ISCHR(os.stat("/dev/null").st_mode), True)
        # The repository is unchanged: still the one image, and it verifies.
        self.assertEqual(len(os.listdir(os.path.join(self.repo, "manifests", "sha384"))), 1)
        self.assertEqual(self.tool("verify", image_id).returncode, 0)

    def test_keygen_types_and_key_safety(self):
        _, _, _ = self.keygen("p384")
        self.assertEqual(stat.S_IMODE(os.stat(self.path("p384.pem")).st_mode), 0o600)
        self.create("acon.json", "--rootfs", self.rootfs, "--entrypoint", "/bin/sh")
        key, cert, _ = self.keygen("rsa", "--type", "rsa", "--rsa-bits", "2048", "--hash", "sha256")
        rsa_id = self.sign("acon.json", key, cert)
        self.assertTrue(rsa_id.startswith("sha256/"))
        self.assertEqual(self.tool("verify", rsa_id).returncode, 0)
        key, cert, _ = self.keygen("ed", "--type", "ed25519")
        ed_id = self.sign("acon.json", key, cert)
        self.assertTrue(ed_id.startswith("sha512/"))
        p = self.tool("verify", ed_id)
        self.assertEqual(p.returncode, 1, out(p))  # acond refuses Ed25519 certificates
        self.assertEqual(self.tool("verify", "--profile", "aconcli", ed_id).returncode, 0)
        # Keys are never written into the repository.
        p = self.tool("keygen", "-k", os.path.join(self.repo, "k.pem"), "-c", self.path("c.der"))
        self.assertEqual(p.returncode, 2)
        self.assertFalse(os.path.exists(os.path.join(self.repo, "k.pem")))

    def test_help_documents_every_option(self):
        for cmd in ("", "init", "create", "keygen", "sign", "hash", "alias-substitute", "ls", "verify",
                    "export", "import"):
            p = run(*([cmd] if cmd else []), "--help")
            self.assertEqual(p.returncode, 0, cmd)
            lines = p.stdout.decode().splitlines()
            options = [i for i, l in enumerate(lines) if l.startswith("  -")]
            self.assertTrue(options, cmd)
            for i in options:
                # CLI11 starts descriptions at column 30, on the next line after a long option.
                line = lines[i]
                below = lines[i + 1] if i + 1 < len(lines) else ""
                described = (len(line) > 30 and line[29] == " " and line[30:].strip()) or \
                    (below.startswith(" " * 30) and below.strip())
                self.assertTrue(described, f"{cmd}: {line}")


class ExportImport(ImageTestCase):
    def test_round_trip_into_a_fresh_repository(self):
        m, image_id, _ = self.busybox_image()
        bundle = self.path("bundle.tar")
        self.ok("export", image_id, "-o", bundle)
        with tarfile.open(bundle) as t:
            names = sorted(t.getnames())
        digest = image_id.split("/")[2]
        layer_hex = m["layers"][0].split("/")[1]
        self.assertEqual(names, [".acon/blobs/sha384/" + layer_hex + ".tar",
                                 ".acon/manifests/sha384/" + digest + "/acon.json",
                                 ".acon/manifests/sha384/" + digest + "/signature",
                                 ".acon/manifests/sha384/" + digest + "/signer.cer"])

        other = os.path.join(self.tmp, "other")
        os.makedirs(other)
        self.assertEqual(run("init", other).returncode, 0)
        other_repo = os.path.join(other, ".acon")
        p = run("--repo", other_repo, "import", bundle)
        self.assertEqual(p.returncode, 0, out(p))
        self.assertIn(image_id, out(p))
        p = run("--repo", other_repo, "verify", image_id)
        self.assertEqual(p.returncode, 0, out(p))
        self.assertTrue(os.path.islink(os.path.join(other_repo, "blobs", "sha256",
                                                    os.listdir(os.path.join(other_repo, "blobs", "sha256"))[0])))

    def test_tampered_bundle_is_refused_whole(self):
        m, image_id, _ = self.busybox_image()
        bundle = self.path("bundle.tar")
        self.ok("export", image_id, "-o", bundle)
        # Rewrite the bundle with one byte of the layer changed.
        bad = self.path("bad.tar")
        with tarfile.open(bundle) as src, tarfile.open(bad, "w") as dst:
            for member in src.getmembers():
                data = src.extractfile(member).read()
                if member.name.startswith(".acon/blobs/"):
                    data = data[:700] + bytes([data[700] ^ 1]) + data[701:]
                dst.addfile(member, io.BytesIO(data))
        other = os.path.join(self.tmp, "other")
        os.makedirs(other)
        run("init", other)
        p = run("--repo", os.path.join(other, ".acon"), "import", bad)
        self.assertEqual(p.returncode, 1, out(p))
        self.assertEqual(os.listdir(os.path.join(other, ".acon", "manifests")), [])
        self.assertEqual(os.listdir(os.path.join(other, ".acon", "blobs", "sha384")), [])
        # A bundle trying to escape its staging directory is refused too.
        evil = self.path("evil.tar")
        with tarfile.open(evil, "w") as t:
            add_member(t, "../../escaped", b"x")
        p = run("--repo", os.path.join(other, ".acon"), "import", evil)
        self.assertEqual(p.returncode, 1, out(p))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "escaped")))
        # So is one whose manifest files are symlinks to files of the importing host.
        linked = self.path("linked.tar")
        with tarfile.open(linked, "w") as t:
            for f in ("acon.json", "signer.cer", "signature"):
                info = tarfile.TarInfo(".acon/manifests/sha384/" + "ab" * 48 + "/" + f)
                info.type = tarfile.SYMTYPE
                info.linkname = os.path.join(self.bundle_dir(image_id), f)
                t.addfile(info)
        p = run("--repo", os.path.join(other, ".acon"), "import", linked)
        self.assertEqual(p.returncode, 1, out(p))
        self.assertIn("symlink", out(p))
        self.assertEqual(os.listdir(os.path.join(other, ".acon", "manifests")), [])


class ImageInputs(ImageTestCase):
    def image_config(self, layers):
        return {"architecture": "amd64", "os": "linux",
                "config": {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo from-config"],
                           "Env": ["PATH=/bin", "GREETING=hi"], "WorkingDir": "/etc"},
                "rootfs": {"type": "layers",
                           "diff_ids": ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]}}

    def check_imported(self, m, layers):
        self.assertEqual(m["layers"], ["sha384/" + hashlib.sha384(l).hexdigest() for l in layers])
        self.assertEqual(m["entrypoint"], ["/bin/sh", "-c", "echo from-config"])
        self.assertEqual(m["env"], ["PATH=/bin", "GREETING=hi"])
        self.assertEqual(m["workingDir"], "/etc")
        for ref, data in zip(m["layers"], layers):
            with open(self.blob(ref), "rb") as f:
                self.assertEqual(f.read(), data)

    def app_layer(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            add_member(t, "app/hello.txt", b"hello\n")
        return buf.getvalue()

    def test_legacy_docker_save(self):
        layers = [tar_of_dir(self.rootfs), self.app_layer()]
        config = json.dumps(self.image_config(layers)).encode()
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        save = self.path("save.tar")
        with tarfile.open(save, "w") as t:
            add_member(t, "aaaa/layer.tar", layers[0])
            add_member(t, "aaaa/VERSION", b"1.0")
            add_member(t, "bbbb/layer.tar", layers[1])
            add_member(t, config_name, config)
            add_member(t, "manifest.json", json.dumps(
                [{"Config": config_name, "RepoTags": ["busybox:acon"],
                  "Layers": ["aaaa/layer.tar", "bbbb/layer.tar"]}]).encode())
            add_member(t, "repositories", b'{"busybox":{"acon":"bbbb"}}')
        m = self.create("acon.json", "--docker-save", save, "--ref", "busybox:acon")
        self.check_imported(m, layers)
        key, cert, _ = self.keygen("signer")
        image_id = self.sign("acon.json", key, cert)
        self.assertEqual(self.tool("verify", image_id).returncode, 0)

    def test_docker_25_save_with_oci_layout_and_gzip_layer(self):
        layers = [tar_of_dir(self.rootfs), self.app_layer()]
        gz = gzip.compress(layers[0], mtime=0)
        config = json.dumps(self.image_config(layers)).encode()
        blobs = {hashlib.sha256(b).hexdigest(): b for b in (gz, layers[1], config)}
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + hashlib.sha256(config).hexdigest(), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": "sha256:" + hashlib.sha256(gz).hexdigest(), "size": len(gz)},
                       {"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": "sha256:" + hashlib.sha256(layers[1]).hexdigest(), "size": len(layers[1])}]}).encode()
        blobs[hashlib.sha256(manifest).hexdigest()] = manifest
        save = self.path("save.tar")
        with tarfile.open(save, "w") as t:
            for h, b in blobs.items():
                add_member(t, "blobs/sha256/" + h, b)
            add_member(t, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            add_member(t, "index.json", json.dumps({"schemaVersion": 2, "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                 "digest": "sha256:" + hashlib.sha256(manifest).hexdigest(), "size": len(manifest)}]}).encode())
            add_member(t, "manifest.json", json.dumps([{
                "Config": "blobs/sha256/" + hashlib.sha256(config).hexdigest(), "RepoTags": ["app:1"],
                "Layers": ["blobs/sha256/" + hashlib.sha256(gz).hexdigest(),
                           "blobs/sha256/" + hashlib.sha256(layers[1]).hexdigest()]}]).encode())
        m = self.create("acon.json", "--docker-save", save)
        self.check_imported(m, layers)

    def test_oci_layout_directory_with_gzip_and_zstd_layers(self):
        layers = [tar_of_dir(self.rootfs), self.app_layer()]
        compressed = [gzip.compress(layers[0], mtime=0)]
        media = ["application/vnd.oci.image.layer.v1.tar+gzip"]
        zstd = shutil.which("zstd")
        if zstd:
            compressed.append(subprocess.run([zstd, "-q", "-c"], input=layers[1], capture_output=True,
                                             check=True).stdout)
            media.append("application/vnd.oci.image.layer.v1.tar+zstd")
        else:
            compressed.append(layers[1])
            media.append("application/vnd.oci.image.layer.v1.tar")
        oci = self.path("oci")
        os.makedirs(os.path.join(oci, "blobs", "sha256"))

        def put(data):
            h = hashlib.sha256(data).hexdigest()
            with open(os.path.join(oci, "blobs", "sha256", h), "wb") as f:
                f.write(data)
            return {"digest": "sha256:" + h, "size": len(data)}

        config = put(json.dumps(self.image_config(layers)).encode())
        manifest = json.dumps({"schemaVersion": 2, "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"),
                               "layers": [dict(put(c), mediaType=mt) for c, mt in zip(compressed, media)]}).encode()
        desc = dict(put(manifest), mediaType="application/vnd.oci.image.manifest.v1+json",
                    annotations={"org.opencontainers.image.ref.name": "v1"})
        with open(os.path.join(oci, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": [desc]}, f)
        with open(os.path.join(oci, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
        m = self.create("acon.json", "--oci", oci, "--ref", "v1")
        self.check_imported(m, layers)
        # Entrypoint and env given on the command line replace the config's.
        m2 = self.create("acon2.json", "--oci", oci, "--entrypoint", "/bin/echo", "--env", "X=1")
        self.assertEqual(m2["entrypoint"], ["/bin/echo"])
        self.assertEqual(m2["env"], ["X=1"])
        # A corrupted blob is refused.
        with open(os.path.join(oci, "blobs", "sha256", config["digest"][7:]), "ab") as f:
            f.write(b" ")
        p = self.tool("create", "-o", self.path("acon3.json"), "--oci", oci)
        self.assertEqual(p.returncode, 1, out(p))

    def test_rootfs_tarball_gzip_and_stdin(self):
        raw = tar_of_dir(self.rootfs)
        with open(self.path("rootfs.tar.gz"), "wb") as f:
            f.write(gzip.compress(raw))
        m = self.create("acon.json", "--tarball", self.path("rootfs.tar.gz"), "--entrypoint", "/bin/sh")
        self.assertEqual(m["layers"], ["sha384/" + hashlib.sha384(raw).hexdigest()])
        p = self.tool("create", "-o", self.path("stdin.json"), "--tarball", "-", "--entrypoint", "/bin/sh",
                      stdin=raw)
        self.assertEqual(p.returncode, 0, out(p))
        with open(self.path("stdin.json")) as f:
            self.assertEqual(json.load(f)["layers"], m["layers"])


class VendorLayers(ImageTestCase):
    def test_vendor_layer_alias_substitute_and_launch_policy(self):
        # The vendor publishes a shared layer under an alias name, in a layer-only manifest.
        vkey, vcert, vsigner = self.keygen("vendor")
        vendor = self.create("vendor.json", "--rootfs", self.rootfs, "--alias", "@0=SharedLayerA:1",
                             "--self-alias", "VendorBase:1")
        vendor_layer = vendor["layers"][0]
        vendor_id = self.sign("vendor.json", vkey, vcert)

        # The application uses that layer plus its own, then swaps the digest for the alias.
        app_root = self.path("approot")
        os.makedirs(os.path.join(app_root, "app"))
        with open(os.path.join(app_root, "app", "run.sh"), "w") as f:
            f.write("#!/bin/sh\necho app\n")
        akey, acert, _ = self.keygen("app")
        app = self.create("app.json", "--layer", vendor_layer, "--rootfs", app_root,
                          "--entrypoint", "/bin/sh", "--entrypoint", "/app/run.sh", "--reject-unaccepted")
        self.assertEqual(app["layers"][0], vendor_layer)
        p = self.tool("alias-substitute", self.path("app.json"))
        self.assertEqual(p.returncode, 0, out(p))
        with open(self.path("app.json")) as f:
            app = json.load(f)
        alias_ref = f"signer/{vsigner}/SharedLayerA:1"
        self.assertEqual(app["layers"][0], alias_ref)
        self.assertIn(f"{vsigner}/VendorBase:1", app["policy"]["accepts"])
        app_id = self.sign("app.json", akey, acert)

        # Vendor then app: the alias resolves to the vendor's layer; policies agree in both modes.
        p = self.tool("verify", vendor_id, app_id)
        self.assertEqual(p.returncode, 0, out(p))
        self.assertIn("policy[acond]", out(p))
        self.assertIn("policy[spec]", out(p))
        report = json.loads(self.tool("verify", "--json", vendor_id, app_id).stdout)
        self.assertEqual(report["verdict"], "accepted")
        self.assertEqual([v["verdict"] for v in report["policy"]["acond"]], ["accepted", "accepted"])
        self.assertEqual(report["images"][1]["layers_ok"], 2)

        # The app alone: its vendor layer does not resolve.
        p = self.tool("verify", app_id)
        self.assertEqual(p.returncode, 1, out(p))
        self.assertIn("SharedLayerA:1", out(p))

        # A third image from an unrelated signer is refused after the rejectUnaccepted app.
        okey, ocert, _ = self.keygen("other")
        self.create("other.json", "--rootfs", self.rootfs, "--entrypoint", "/bin/sh")
        other_id = self.sign("other.json", okey, ocert)
        for mode in ("acond", "spec"):
            p = self.tool("verify", "--mode", mode, vendor_id, app_id, other_id)
            self.assertEqual(p.returncode, 1, mode + ": " + out(p))
            self.assertIn("rejected", out(p))

        # Export of the app carries the vendor manifest it needs.
        self.ok("export", app_id, "-o", self.path("app-bundle.tar"))
        with tarfile.open(self.path("app-bundle.tar")) as t:
            names = t.getnames()
        self.assertIn(".acon/manifests/sha384/" + vendor_id.split("/")[2] + "/acon.json", names)
        self.assertIn(".acon/blobs/sha384/" + vendor_layer.split("/")[1] + ".tar", names)


DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


class AcondDifferences(ImageTestCase):
    """Verdicts where acon is stricter than acond say so (docs/acon-manifest.md 1.2 and 3)."""

    def bundle(self, name, manifest, signature, cert):
        d = self.path(name)
        os.makedirs(d)
        for file, data in (("acon.json", manifest), ("signature", signature), ("signer.cer", cert)):
            with open(os.path.join(d, file), "wb") as f:
                f.write(data)
        return d

    def openssl_sign(self, key, data):
        p = subprocess.run(["openssl", "dgst", "-sha384", "-sign", key], input=data,
                           capture_output=True, check=True)
        return p.stdout

    def test_hardening_key_is_acon_refusal_not_acond_decision(self):
        with open(os.path.join(DATA, "acon", "doc-example", "manifest.canonical.json"), "rb") as f:
            manifest = f.read()
        with open(os.path.join(DATA, "acon", "hardening", "secp256k1.cert.der"), "rb") as f:
            cert = f.read()
        with open(os.path.join(DATA, "acon", "hardening", "secp256k1.manifest.sig"), "rb") as f:
            sig = f.read()
        d = self.bundle("k1", manifest, sig, cert)
        p = self.tool("verify", "--mode", "acond", "--no-layers", d)
        self.assertEqual(p.returncode, 1, out(p))
        self.assertIn("REJECTED: ", out(p))
        self.assertIn("acond would accept this signature; acon refuses it because its acond "
                      "profile is stricter than acond about signer keys (EC secp256k1 with sha256",
                      out(p))
        d = self.bundle("k1bad", manifest + b" ", sig, cert)
        p = self.tool("verify", "--mode", "acond", "--no-layers", d)
        self.assertEqual(p.returncode, 1, out(p))
        self.assertIn("so acond refuses it too", out(p))
        self.assertNotIn("acond would accept", out(p))

    def test_array_form_manifest_is_acon_refusal(self):
        key, cert, _ = self.keygen("signer")
        with open(cert, "rb") as f:
            cert_der = f.read()
        manifest = (b'{"aliases":{},"entrypoint":["/bin/sh"],"policy":[["sha384/*/abc"],true],'
                    b'"signals":[],"workingDir":"/"}')
        d = self.bundle("arr", manifest, self.openssl_sign(key, manifest), cert_der)
        p = self.tool("verify", "--mode", "acond", "--no-layers", d)
        self.assertEqual(p.returncode, 1, out(p))
        self.assertIn("manifest.policy: acond would load this; acon refuses it because it is a JSON "
                      "array", out(p))

    def test_ber_certificate_is_refused_not_hashed(self):
        _, cert, _ = self.keygen("signer")
        with open(cert, "rb") as f:
            der = f.read()
        self.assertEqual(der[0:2], b"\x30\x82")
        ber = self.path("ber.der")
        with open(ber, "wb") as f:
            f.write(b"\x30\x80" + der[4:] + b"\x00\x00")
        p = self.tool("hash", ber)
        self.assertEqual(p.returncode, 2, out(p))
        self.assertIn("certificate is not DER (indefinite length (BER) at offset 0)", out(p))


if __name__ == "__main__":
    unittest.main(verbosity=2)
