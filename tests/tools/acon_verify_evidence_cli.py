#!/usr/bin/python3
"""End-to-end checks of `acon-verify evidence` (docs/acon-verify.md), the auditor's report.

Evidence: a real TDX quote with Intel's collateral at its pinned time; the cc-trusted-api quote
with its CCEL and IMA log; and a simulated TD taken from a real acond (on acon-sim) that loaded two
signed images whose launch policies name each other, written as a bundle by
`acon-client report --bundle`. Checked: the same JSON from a directory, a tar, a tar.gz and the
files one by one; exit codes and the check that decided for tampered logs, manifests and quotes;
archives with "..", symbolic links, devices and oversized entries refused as unusable (exit 2);
the HTML page parses, loads nothing from anywhere and escapes hostile evidence strings; no ANSI
escapes unless standard output is a terminal; headless Chromium renders the page when installed.

Usage: ACON_VERIFY=... ACON_CLIENT=... ACOND=... ACON_IMAGE=... ACON_SIM=...
       ACON_TEST_DATA=.../tests/data python3 acon_verify_evidence_cli.py
"""
import base64
import hashlib
import html.parser
import io
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import tarfile
import tempfile
import unittest

import acond_test_util

VERIFY = os.environ.get("ACON_VERIFY", "acon-verify")
CLIENT = os.environ.get("ACON_CLIENT", "acon-client")
ACOND = os.environ.get("ACOND", "acond")
IMAGE = os.environ.get("ACON_IMAGE", "acon-image")
SIM = os.environ.get("ACON_SIM", "acon-sim")
DATA = os.environ.get("ACON_TEST_DATA", "tests/data")
PHALA_QUOTE = os.path.join(DATA, "quotes/phala-dcap-qvl/tdx_quote")
PHALA_COLLATERAL = os.path.join(DATA, "quotes/phala-dcap-qvl/tdx_quote_collateral.json")
PHALA_TIME = "1751624191"  # vectors.json phala-tdx-v4-uptodate
CC_TRUSTED = os.path.join(DATA, "eventlog/cc-trusted-api")

HARDWARE_ONLY = """version = 1
id = "hardware-only"
[hardware]
default = 97
[[hardware.tiers]]
value = 2
when = [{ check = "quote.signature" }, { check = "quote.tcb" }]
"""

HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>',
           "' onmouseover='alert(1)", '<a href="https://evil.example/">x</a>',
           '</code></td></tr></table><iframe src="//evil.example">', '\x1b[31mred\x1b[0m']


def run(tool, *args, cwd=None):
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, check=False)


def must(tool, *args, cwd=None):
    p = run(tool, *args, cwd=cwd)
    if p.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(args)}: exit {p.returncode}\n"
                             f"{p.stdout.decode()}{p.stderr.decode()}")
    return p.stdout.decode()


class Page(html.parser.HTMLParser):
    """Collects the tags, the attributes that could load something, and the text."""

    def __init__(self):
        super().__init__()
        self.tags, self.loading, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "srcset", "background", "poster",
                        "data") or (name.startswith("on")):
                self.loading.append((tag, name, value))
            if name == "style" and "url(" in (value or ""):
                self.loading.append((tag, name, value))

    def handle_data(self, data):
        self.text.append(data)


def parse_page(path):
    with open(path, encoding="utf-8") as f:
        page = f.read()
    parser = Page()
    parser.feed(page)
    parser.close()
    return page, parser


def make_tar(path, members, gzip=False):
    """members: (name, bytes | None for a directory | ("symlink", target) | ("chr",))."""
    with tarfile.open(path, "w:gz" if gzip else "w") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(content, tuple) and content[0] == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, content[1]
                tar.addfile(info)
            elif isinstance(content, tuple) and content[0] == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))


def bundle_members(bundle, prefix=""):
    out = []
    for root, dirs, files in os.walk(bundle):
        dirs.sort()
        rel = os.path.relpath(root, bundle)
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as f:
                out.append((prefix + os.path.normpath(os.path.join(rel, name)), f.read()))
    return out


class EvidenceReport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="acon-verify-evidence-")
        cls.acond = None
        try:
            cls.make_fixtures()
        except BaseException:  # unittest runs no tearDownClass after a failed setUpClass
            cls.tearDownClass()
            raise

    @classmethod
    def make_fixtures(cls):
        w = cls.work
        image = acond_test_util.busybox_repository(IMAGE, w)

        # The sidecar accepts anything from the signer; the app accepts only Side:1 and refuses
        # everything else (rejectUnaccepted); a third image, never loaded, is refused by the app.
        with open(os.path.join(w, "signer.der"), "rb") as f:
            signer = hashlib.sha384(f.read()).hexdigest()  # the Signer ID's digest
        cls.sidecar_accept = f"sha384/{signer}/*"
        cls.sidecar = image("sidecar", "--env", "MODE=b", "--self-alias", "Side:1", "--accept",
                            cls.sidecar_accept)
        assert cls.sidecar.split("/")[1] == signer, cls.sidecar
        cls.app = image("app", "--env", "MODE=a", "--self-alias", "App:1", "--accept",
                        f"sha384/{signer}/Side:1", "--reject-unaccepted")
        cls.other = image("other", "--env", "MODE=c", "--self-alias", "Other:1")
        td = os.path.join(w, "td.json")
        must(SIM, "create", "--state", td)
        must(SIM, "collateral", "--state", td, "--out", os.path.join(w, "collateral.json"))
        must(SIM, "root", "--state", td, "--out", os.path.join(w, "root.pem"))
        cls.acond = acond_test_util.Acond(ACOND, w, "acond")
        cls.target = cls.acond.target
        must(CLIENT, "-c", cls.target, "load", cls.app, cls.sidecar, cwd=w)
        cls.sim = os.path.join(w, "sim")
        must(CLIENT, "-c", cls.target, "report", "--nonce", "7", "8", "--bundle", cls.sim,
             cwd=w)

    @classmethod
    def stop_acond(cls):
        if cls.acond is not None:
            cls.acond.stop()
            cls.acond = None

    @classmethod
    def tearDownClass(cls):
        cls.stop_acond()
        shutil.rmtree(cls.work, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.work, name)

    def copy_sim(self, name):
        target = self.path(name)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(self.sim, target)
        return target

    def verify(self, *args, sim=True):
        extra = ["--root", self.path("root.pem"), "--collateral", self.path("collateral.json"),
                 "--allow-simulated"] if sim else []
        return run(VERIFY, "evidence", *args, *extra)

    def model(self, *args, sim=True):
        p = self.verify(*args, "--json", "--time", "2026-06-01T00:00:00Z", sim=sim)
        self.assertIn(p.returncode, (0, 1), p.stderr.decode())
        return p.returncode, json.loads(p.stdout)

    # ---- the simulated TD ------------------------------------------------------------------

    def test_simulated_bundle_is_accepted_only_when_allowed(self):
        rc, model = self.model("--bundle", self.sim)
        self.assertEqual(rc, 0, json.dumps(model["decided_by"]))
        self.assertEqual(model["version"], 1)
        self.assertEqual(model["verdict"], "accepted")
        self.assertTrue(model["simulated"])
        self.assertEqual(model["policy"]["id"], "acon-verify-strict")
        self.assertEqual([i["image_id"] for i in model["claims"]["acon"]["images"]],
                         [self.app, self.sidecar])
        # Without --allow-simulated the built-in policy refuses it, and says why.
        p = run(VERIFY, "evidence", "--bundle", self.sim, "--root", self.path("root.pem"),
                "--collateral", self.path("collateral.json"), "--no-color")
        self.assertEqual(p.returncode, 1)
        out = p.stdout.decode()
        self.assertIn("REJECTED", out)
        self.assertIn("hard rule: allow_simulated", out)
        self.assertIn("SIMULATED", out)
        # Without the simulator's root, its quote is not genuine.
        p = run(VERIFY, "evidence", "--bundle", self.sim, "--collateral",
                self.path("collateral.json"), "--json")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(json.loads(p.stdout)["decided_by"]["check"], "quote.signature")

    def test_launch_policy_graph(self):
        bundle = self.copy_sim("with-other")
        other_dir = os.path.join(bundle, "images", "002")
        os.makedirs(other_dir)
        stored = os.path.join(self.work, ".acon", "manifests", "sha384",
                              self.other.split("/")[2])
        for src, dst in (("acon.json", "manifest.json"), ("signature", "signature"),
                         ("signer.cer", "certificate.der")):
            shutil.copy(os.path.join(stored, src), os.path.join(other_dir, dst))
        _, model = self.model("--bundle", bundle)
        graph = model["launch_policy_graph"]
        names = {n["id"]: n["name"] for n in graph["nodes"]}
        self.assertEqual([n["name"] for n in graph["nodes"]], ["App:1", "Side:1", "Other:1"])
        self.assertEqual([n["logged"] for n in graph["nodes"]], [True, True, False])
        edges = {(names[e["from"]], names[e["to"]]): e for e in graph["edges"]}
        self.assertEqual(edges[("App:1", "Side:1")]["kind"], "accepts")
        self.assertEqual(edges[("App:1", "Other:1")]["kind"], "refuses")
        self.assertEqual(edges[("Side:1", "App:1")]["kind"], "accepts")
        self.assertEqual(edges[("Side:1", "App:1")]["rule"], self.sidecar_accept)
        # Layers follow "accepts" edges: App first (nothing accepts it first in node order).
        self.assertEqual(edges[("Side:1", "Other:1")]["kind"], "accepts")
        # Layers follow "accepts" edges breadth-first; everything is accepted by something, so
        # the walk starts at the first node: App, then Side, then Other (accepted by Side).
        self.assertEqual([n["layer"] for n in graph["nodes"]], [0, 1, 2])
        # The page draws it: one <g class="node"> per image, one edge group per edge.
        html_path = self.path("graph.html")
        p = self.verify("--bundle", bundle, "--html", html_path)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        page, _ = parse_page(html_path)
        svg = page[page.index("<svg"):page.index("</svg>")]
        self.assertEqual(svg.count('<g class="node">'), 3)
        self.assertEqual(svg.count('<g class="edge accepts">'), 3)
        self.assertEqual(svg.count('<g class="edge refuses">'), 1)
        # Deterministic: the same evidence, the same page.
        p = self.verify("--bundle", bundle, "--html", self.path("graph2.html"), "--time",
                        model["verification_time"])
        p1 = self.verify("--bundle", bundle, "--html", html_path, "--time",
                         model["verification_time"])
        self.assertEqual(p.returncode, p1.returncode)
        with open(html_path, "rb") as a, open(self.path("graph2.html"), "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_directory_archive_and_files_give_the_same_json(self):
        _, from_dir = self.model("--bundle", self.sim)
        tar_path, tgz_path = self.path("sim.tar"), self.path("sim.tar.gz")
        make_tar(tar_path, bundle_members(self.sim))
        make_tar(tgz_path, [("sim/", None)] + bundle_members(self.sim, "sim/"), gzip=True)
        files = []
        for option, name in (("--quote", "quote.bin"), ("--ccel", "ccel.bin"),
                             ("--runtime-aael", "runtime_aael.bin"),
                             ("--attestation-data", "attestation_data.json")):
            files += [option, os.path.join(self.sim, name)]
        for image in sorted(os.listdir(os.path.join(self.sim, "images"))):
            files += ["--image", os.path.join(self.sim, "images", image)]
        self.assertEqual(from_dir.pop("source"), self.sim)
        for args in (["--bundle", tar_path], ["--bundle", tgz_path], files):
            _, model = self.model(*args)
            model.pop("source")
            self.assertEqual(model, from_dir, args[:2])

    def test_tampering_is_detected_and_named(self):
        def flip(path, at):
            with open(path, "r+b") as f:
                data = bytearray(f.read())
                data[at(data)] ^= 1
                f.seek(0)
                f.write(data)

        cases = [
            # A byte of the runtime log: the digest of its last record (the Finalize event).
            ("runtime_aael.bin", lambda d: len(d) - 60, "replay.rtmr3"),
            # A byte of the firmware log's first crypto-agile record's digest (after the Spec ID
            # event: 32-byte header and its data; then MR index, type, count, algorithm). The
            # simulator's first record is on MR index 1, RTMR0.
            ("ccel.bin", lambda d: 32 + struct.unpack_from("<I", d, 28)[0] + 14, "replay.rtmr0"),
            # A byte of an image manifest: its ID no longer matches the logged one.
            # (Its signature over the changed bytes fails too and ranks higher: 99 over 96.)
            ("images/001/manifest.json", lambda d: d.index(b"MODE=") + 5,
             "image." + self.sidecar + ".signature"),
            # A byte of the quote's signed body (MRTD).
            ("quote.bin", lambda d: 48 + 136, "quote.signature"),
        ]
        for name, at, check in cases:
            bundle = self.copy_sim("tampered")
            flip(os.path.join(bundle, name), at)
            p = self.verify("--bundle", bundle, "--json")
            self.assertEqual(p.returncode, 1, (name, p.stderr.decode()))
            model = json.loads(p.stdout)
            self.assertEqual(model["verdict"], "rejected", name)
            self.assertEqual(model["decided_by"]["check"], check, name)
            failed = [c["name"] for c in model["result"]["checks"] if c["outcome"] == "fail"]
            self.assertIn(check, failed, name)
            if name.startswith("images/"):
                self.assertIn("image." + self.sidecar + ".id", failed)
            text = self.verify("--bundle", bundle, "--no-color").stdout.decode()
            self.assertIn("decided by: check " + check, text)
            # The check lines show an Image ID shortened: sha384/<12 hex>…/<12 hex>….
            shown = re.sub(r"/([0-9a-f]{12})[0-9a-f]+", r"/\1…", check)
            self.assertRegex(text, r"✗ " + re.escape(shown) + r" \[fail\]")

    def test_reordered_missing_and_swapped_inputs(self):
        # Two AddManifest records of RTMR3 swapped: the order is measured, replay fails.
        bundle = self.copy_sim("reordered")
        path = os.path.join(bundle, "runtime_aael.bin")
        with open(path, "rb") as f:
            data = f.read()
        records, at = [], 0
        while at < len(data):  # MR index, type, digest count, (algorithm, SHA-384)*, size, data
            count = struct.unpack_from("<I", data, at + 8)[0]
            end = at + 12 + count * 50
            end += 4 + struct.unpack_from("<I", data, end)[0]
            records.append(data[at:end])
            at = end
        self.assertEqual(len(records), 3)
        with open(path, "wb") as f:
            f.write(records[1] + records[0] + records[2])
        p = self.verify("--bundle", bundle, "--json")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(json.loads(p.stdout)["decided_by"]["check"], "replay.rtmr3")

        # An image the log names is missing from the bundle: the policy's default decides, and
        # the failed check is listed.
        bundle = self.copy_sim("missing")
        shutil.rmtree(os.path.join(bundle, "images", "001"))
        p = self.verify("--bundle", bundle, "--json")
        self.assertEqual(p.returncode, 1)
        decided = json.loads(p.stdout)["decided_by"]
        self.assertEqual(decided["claim"], "executables")
        self.assertIn("image." + self.sidecar + ".manifest", decided["failed_checks"])
        text = self.verify("--bundle", bundle, "--no-color").stdout.decode()
        self.assertIn("failed checks: image." + self.sidecar + ".manifest", text)

        # The sidecar's certificate swapped for another signer's: its logged Image ID is no
        # longer recomputed from anything provided.
        bundle = self.copy_sim("swapped")
        must(IMAGE, "keygen", "-k", self.path("other.pem"), "-c", self.path("other.der"))
        shutil.copy(self.path("other.der"), os.path.join(bundle, "images", "001",
                                                         "certificate.der"))
        p = self.verify("--bundle", bundle, "--json")
        self.assertEqual(p.returncode, 1)
        model = json.loads(p.stdout)
        failed = model["decided_by"]["failed_checks"]
        self.assertTrue(any(name.startswith("image." + self.sidecar) for name in failed), failed)

    def test_replay_divergence_in_the_timeline(self):
        bundle = self.copy_sim("diverged")
        with open(os.path.join(bundle, "runtime_aael.bin"), "r+b") as f:
            data = bytearray(f.read())
            data[len(data) - 60] ^= 1
            f.seek(0)
            f.write(data)
        html_path = self.path("diverged.html")
        p = self.verify("--bundle", bundle, "--html", html_path, "--no-color")
        self.assertEqual(p.returncode, 1)
        self.assertIn("✗ replay.rtmr3", p.stdout.decode())
        page, parser = parse_page(html_path)
        self.assertIn('<tr class="diverged">', page)
        self.assertIn("replay diverges here", page)
        # No prefix of RTMR3's records reproduces the quote; the flipped digest no longer matches
        # the Finalize record's data, so that row is the divergent one.
        _, model = self.model("--bundle", bundle)
        rtmr3 = model["timeline"]["registers"][3]
        self.assertEqual(rtmr3["outcome"], "fail")
        self.assertEqual(rtmr3["divergent"]["number"], rtmr3["events"])
        self.assertIn("Finalize", rtmr3["divergent"]["meaning"])
        self.assertEqual(rtmr3["divergent"]["digest_check"], "mismatch")

        # A record the quote never saw, appended: the records before it stay covered.
        bundle = self.copy_sim("appended")
        path = os.path.join(bundle, "runtime_aael.bin")
        with open(path, "rb") as f:
            data = f.read()
        count = struct.unpack_from("<I", data, 8)[0]  # the first record: an AddManifest
        first = 12 + count * 50
        first += 4 + struct.unpack_from("<I", data, first)[0]
        with open(path, "wb") as f:
            f.write(data + data[:first])
        rc, model = self.model("--bundle", bundle)
        self.assertEqual(rc, 1)
        rtmr3 = model["timeline"]["registers"][3]
        rows = rtmr3["rows"]
        self.assertEqual(rows[-1]["status"], "diverges")
        self.assertTrue(all(row["status"] == "proven" for row in rows[:-1]), rows)
        self.assertEqual(rtmr3["proven"], len(rows) - 1)
        self.assertIn("AddManifest", rows[-1]["meaning"])
        text = self.verify("--bundle", bundle, "--no-color").stdout.decode()
        self.assertIn("replay diverges at event %d (aael runtime record" % len(rows), text)

    # ---- archives that are not bundles -----------------------------------------------------

    def test_hostile_archives_are_unusable_input(self):
        with open(os.path.join(self.sim, "quote.bin"), "rb") as f:
            quote = f.read()
        cases = {
            "dotdot": [("quote.bin", quote), ("../escape", b"x")],
            "nested-dotdot": [("quote.bin", quote), ("images/../../escape", b"x")],
            "absolute": [("quote.bin", quote), ("/etc/passwd", b"x")],
            "symlink": [("quote.bin", ("symlink", "/etc/passwd"))],
            "device": [("quote.bin", quote), ("ccel.bin", ("chr",))],
            "oversized": [("quote.bin", quote), ("ccel.bin", bytes(17 << 20))],
            "unknown-file": [("quote.bin", quote), ("notes.txt", b"x")],
            "duplicate": [("quote.bin", quote), ("./quote.bin", quote)],
        }
        for name, members in cases.items():
            path = self.path(name + ".tar.gz")
            make_tar(path, members, gzip=True)
            p = self.verify("--bundle", path)
            self.assertEqual(p.returncode, 2, (name, p.stdout.decode(), p.stderr.decode()))
            self.assertNotIn("acon-evidence-", p.stderr.decode(), name)  # no staging path
        p = self.verify("--bundle", self.path("dotdot.tar.gz"))
        self.assertIn("path leaves the bundle", p.stderr.decode())
        p = self.verify("--bundle", self.path("symlink.tar.gz"))
        self.assertIn("symbolic link", p.stderr.decode())
        p = self.verify("--bundle", self.path("oversized.tar.gz"))
        self.assertIn("larger than", p.stderr.decode())
        self.assertFalse(os.path.exists(os.path.join(os.path.dirname(self.work), "escape")))
        # Not an archive at all.
        garbage = self.path("garbage.bin")
        with open(garbage, "wb") as f:
            f.write(os.urandom(4096))
        self.assertEqual(self.verify("--bundle", garbage).returncode, 2)

    # ---- the outputs -----------------------------------------------------------------------

    def test_html_is_self_contained_and_escapes_evidence(self):
        # Hostile text in the runtime text log: the log is shown (it does not replay), escaped.
        bundle = self.copy_sim("hostile")
        lines = ["INIT sha384/" + "00" * 48] + [
            "github.com/intel/ACON AddManifest " + h.replace("\n", " ") for h in HOSTILE]
        with open(os.path.join(bundle, "runtime_aael.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        html_path = self.path("hostile.html")
        p = self.verify("--bundle", bundle, "--html", html_path)
        self.assertIn(p.returncode, (0, 1), p.stderr.decode())
        page, parser = parse_page(html_path)
        self.assertEqual(parser.loading, [])
        self.assertNotIn("script", parser.tags)
        self.assertNotIn("iframe", parser.tags)
        self.assertNotIn("img", parser.tags)
        self.assertNotIn("link", parser.tags)
        self.assertNotRegex(page, r"(?i)<script|<iframe|<img|<link|<object|<embed|@import|url\(")
        for tag in re.findall(r"<[^>]*>", page):  # evidence text may say "https://", tags never
            self.assertNotRegex(tag, r"(?i)https?:|//|src=|href=", tag)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", page)
        self.assertNotIn("\x1b", page)
        text = "".join(parser.text)
        self.assertIn("<script>alert(1)</script>", text)  # the auditor still reads what was sent
        # The terminal report does not pass the escape sequence on either.
        p = self.verify("--bundle", bundle)
        self.assertNotIn(b"\x1b", p.stdout)

    def test_html_sections(self):
        html_path = self.path("report.html")
        p = self.verify("--bundle", self.sim, "--html", html_path)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertIn("HTML report: " + html_path, p.stdout.decode())
        page, parser = parse_page(html_path)
        for anchor in ("verdict", "simulated", "quote", "bindings", "timeline", "images",
                       "launch-policy", "ear", "checks"):
            self.assertIn(f'id="{anchor}"', page)
        self.assertIn("ACCEPTED", page)
        self.assertIn("What a simulated platform proves", page)
        self.assertIn("AddManifest " + self.app, page)
        self.assertEqual(parser.loading, [])

    @unittest.skipIf(shutil.which("chromium") is None,
                     "chromium is not installed: the page is not rendered (html.parser only)")
    def test_chromium_renders_the_page(self):
        html_path = self.path("render.html")
        self.verify("--bundle", self.sim, "--html", html_path)
        png = self.path("render.png")
        p = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                            "--screenshot=" + png, "--window-size=1400,5600",
                            "file://" + html_path], capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertGreater(os.path.getsize(png), 10000)
        p = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                            "--dump-dom", "file://" + html_path], capture_output=True, timeout=120)
        self.assertIn(b"ACCEPTED", p.stdout)
        self.assertIn(b"<svg", p.stdout)
        # Kept for people to look at: .ci/run prints where (ACON_ARTIFACT_DIR, set by CTest).
        artifacts = os.environ.get("ACON_ARTIFACT_DIR")
        if artifacts:
            os.makedirs(artifacts, exist_ok=True)
            shutil.copyfile(png, os.path.join(artifacts, "acon-verify-report.png"))
            shutil.copyfile(html_path, os.path.join(artifacts, "acon-verify-report.html"))

    def test_colours_only_on_a_terminal(self):
        args = [VERIFY, "evidence", "--bundle", self.sim, "--root", self.path("root.pem"),
                "--collateral", self.path("collateral.json"), "--allow-simulated"]
        piped = subprocess.run(args, capture_output=True, check=False)
        self.assertEqual(piped.returncode, 0)
        self.assertNotIn(b"\x1b[", piped.stdout)
        self.assertIn("✓ replay.rtmr3".encode(), piped.stdout)

        def on_pty(extra, env=None):
            leader, follower = pty.openpty()
            proc = subprocess.Popen(args + extra, stdout=follower, stderr=subprocess.DEVNULL,
                                    env=env)
            os.close(follower)
            out = b""
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            os.close(leader)
            self.assertEqual(proc.wait(timeout=60), 0)
            return out

        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        self.assertIn(b"\x1b[32m", on_pty([], env))
        self.assertNotIn(b"\x1b[", on_pty(["--no-color"], env))
        self.assertNotIn(b"\x1b[", on_pty([], dict(env, NO_COLOR="1")))

    # ---- real evidence ---------------------------------------------------------------------

    def test_real_quote_under_the_builtin_and_a_given_policy(self):
        bundle = self.path("phala")
        os.makedirs(bundle, exist_ok=True)
        shutil.copy(PHALA_QUOTE, os.path.join(bundle, "quote.bin"))
        shutil.copy(PHALA_COLLATERAL, os.path.join(bundle, "collateral.json"))
        # The built-in policy wants a bound report and replayed logs: this quote alone is not
        # enough; the policy decides (no check failed).
        p = run(VERIFY, "evidence", "--bundle", bundle, "--time", PHALA_TIME, "--json")
        self.assertEqual(p.returncode, 1, p.stderr.decode())
        model = json.loads(p.stdout)
        self.assertFalse(model["simulated"])
        self.assertEqual(model["claims"]["tdx"]["tcb_status"], "UpToDate")
        self.assertEqual(model["decided_by"]["claim"], "instance-identity")
        self.assertIsNone(model["decided_by"]["check"])
        policy = self.path("hardware-only.toml")
        with open(policy, "w") as f:
            f.write(HARDWARE_ONLY)
        p = run(VERIFY, "evidence", "--bundle", bundle, "--time", PHALA_TIME, "--policy", policy,
                "--no-color")
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        out = p.stdout.decode()
        self.assertIn("ACCEPTED", out)
        self.assertIn("✓ quote.signature", out)
        self.assertNotIn("SIMULATED", out)
        # A quote byte changed: the signature check decides.
        with open(os.path.join(bundle, "quote.bin"), "r+b") as f:
            f.seek(48 + 136)
            b = f.read(1)
            f.seek(48 + 136)
            f.write(bytes([b[0] ^ 1]))
        p = run(VERIFY, "evidence", "--bundle", bundle, "--time", PHALA_TIME, "--policy", policy,
                "--json")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(json.loads(p.stdout)["decided_by"]["check"], "quote.signature")

    def test_real_ccel_and_ima_replay_from_files(self):
        p = run(VERIFY, "evidence", "--quote", os.path.join(CC_TRUSTED, "quote.bin"),
                "--cc-eventlog", os.path.join(CC_TRUSTED, "ccel_data.bin"), "--ima-log",
                os.path.join(CC_TRUSTED, "ima_log.bin"), "--json")
        self.assertIn(p.returncode, (0, 1), p.stderr.decode())
        model = json.loads(p.stdout)
        checks = {c["name"]: c["outcome"] for c in model["result"]["checks"]}
        for reg in ("rtmr0", "rtmr1", "rtmr2"):
            self.assertEqual(checks["replay." + reg], "pass", reg)
        self.assertEqual(checks["runtime_log.unexplained"], "pass")
        # No collateral for this quote in tests/data: its signature check cannot run, and decides.
        self.assertEqual(checks["quote.signature"], "error")
        self.assertEqual(model["decided_by"]["check"], "quote.signature")
        # The timeline lists every event all the same, decoded, from the logs themselves.
        registers = model["timeline"]["registers"]
        self.assertEqual([r["events"] for r in registers], [17, 8, 74, 0])
        self.assertTrue(all(row["status"] == "proven" for r in registers for row in r["rows"]))
        secure_boot = registers[0]["rows"][2]
        self.assertEqual(secure_boot["type"], "EV_EFI_VARIABLE_DRIVER_CONFIG")
        self.assertTrue(secure_boot["meaning"].startswith("SecureBoot = disabled"))
        ima = registers[2]["rows"][-1]
        self.assertEqual((ima["source"], ima["type"]), ("ima", "IMA ima-ng"))
        self.assertTrue(ima["meaning"].startswith("boot_aggregate "))
        html_path = self.path("cc-trusted-api.html")
        p = run(VERIFY, "evidence", "--quote", os.path.join(CC_TRUSTED, "quote.bin"),
                "--cc-eventlog", os.path.join(CC_TRUSTED, "ccel_data.bin"), "--ima-log",
                os.path.join(CC_TRUSTED, "ima_log.bin"), "--html", html_path)
        page, _ = parse_page(html_path)
        self.assertEqual(page.count("covered by the quoted value</td>"), 17 + 8 + 74)
        self.assertIn('<td class="long">SecureBoot = disabled '
                      "{8be4df61-93ca-11d2-aa0d-00e098032b8c}</td>", page)
        self.assertIn("<td>IMA ima-ng</td>", page)
        self.assertIn("signature did not verify", page)
        self.assertIn("74 events (73 firmware, 1 ima), 74 covered by the quoted value",
                      p.stdout.decode())

    def test_live_from_acond(self):
        rc, model = self.model("--acond", self.target, "--nonce", "42", "--acon-client", CLIENT)
        self.assertEqual(rc, 0, json.dumps(model["decided_by"]))
        self.assertEqual(model["source"], "acond " + self.target)
        checks = {c["name"]: c["outcome"] for c in model["result"]["checks"]}
        self.assertEqual(checks["binding.acon"], "pass")
        self.assertEqual(len(model["claims"]["acon"]["images"]), 2)
        # acond unreachable: no evidence, unusable input.
        p = self.verify("--acond", "127.0.0.1:1", "--acon-client", CLIENT)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--acond 127.0.0.1:1", p.stderr.decode())

    def test_kbs_request_from_the_wire(self):
        def b64(name):
            with open(os.path.join(self.sim, name), "rb") as f:
                return base64.b64encode(f.read()).decode()

        with open(os.path.join(self.sim, "ccel.bin"), "rb") as f:
            ccel = f.read()
        with open(os.path.join(self.sim, "runtime_aael.bin"), "rb") as f:
            aael = f.read()
        body = {"init-data": None,
                "runtime-data": {"nonce": "bm9uY2U=",
                                 "tee-pubkey": {"kty": "EC", "crv": "P-256", "alg": "ES256",
                                                "x": "AA", "y": "AA"}},
                "tee-evidence": {"primary_evidence": {
                    "cc_eventlog": base64.b64encode(ccel.rstrip(b"\xff") + aael).decode(),
                    "quote": b64("quote.bin")}, "additional_evidence": ""}}
        path = self.path("request.json")
        with open(path, "w") as f:
            json.dump(body, f)
        images = []
        for image in sorted(os.listdir(os.path.join(self.sim, "images"))):
            images += ["--image", os.path.join(self.sim, "images", image)]
        rc, model = self.model("--kbs-request", path, "--tee", "tdx", *images)
        # acond bound its report to attestation_data, not to this KBS session: refused, and the
        # binding check says so; the images and the log still check out.
        self.assertEqual(rc, 1)
        checks = {c["name"]: c["outcome"] for c in model["result"]["checks"]}
        self.assertEqual(checks["binding.kbs"], "fail")
        self.assertEqual(checks["launch_policy.acond"], "pass")
        self.assertEqual(model["decided_by"]["check"], "binding.kbs")
        p = self.verify("--kbs-request", path, "--tee", "nope")
        self.assertEqual(p.returncode, 2)

    def test_usage_errors(self):
        self.assertEqual(run(VERIFY, "evidence").returncode, 2)
        self.assertEqual(run(VERIFY, "evidence", "--bundle", self.sim, "--quote",
                             os.path.join(self.sim, "quote.bin")).returncode, 2)
        p = run(VERIFY, "evidence", "--show-default-policy")
        self.assertEqual(p.returncode, 0)
        self.assertIn('id = "acon-verify-strict"', p.stdout.decode())


if __name__ == "__main__":
    unittest.main()
