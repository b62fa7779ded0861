"""What the Python end-to-end tests of acond's tools share: a real acond process on the
simulated TDX platform, and an acon-image repository of busybox-static images signed by one key.
Imported by the test scripts beside it (their own directory is on sys.path)."""
import os
import re
import shutil
import subprocess
import time

BUSYBOX = "/bin/busybox"


def must_run(tool, *args, cwd=None):
    """The tool's standard output (text); AssertionError with its output when it exits non-zero."""
    p = subprocess.run([tool, *args], cwd=cwd, capture_output=True, check=False)
    if p.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(args)}: exit {p.returncode}\n"
                             f"{p.stdout.decode()}{p.stderr.decode()}")
    return p.stdout.decode()


class Acond:
    """acond (the binary `acond`) on the backend `backend` names (default: the simulated TD in
    `work`/td.json), listening on a free loopback port; its log in `work`/`name`.log."""

    def __init__(self, acond, work, name, *extra, backend=None):
        self.state = os.path.join(work, name)
        self.log_path = os.path.join(work, name + ".log")
        self.log = open(self.log_path, "w")
        backend = backend or ["--backend", "sim", "--sim-state", os.path.join(work, "td.json")]
        self.proc = subprocess.Popen(
            [acond, *backend, "--state-dir", self.state, "--tcp-port", "0", "--tcp-address",
             "127.0.0.1", *extra], stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            with open(self.log_path, encoding="utf-8") as f:
                m = re.search(r"tcp_port=(\d+)", f.read())
            if m:
                self.target = "tcp://127.0.0.1:" + m.group(1)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        with open(self.log_path, encoding="utf-8") as f:
            raise AssertionError("acond did not start:\n" + f.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=20)
        self.log.close()


def busybox_repository(image_tool, work):
    """An acon-image repository in `work` with a busybox-static rootfs (`work`/rootfs) and a
    signer (signer.pem, signer.der). Returns image(name, *create_options) -> Image ID, which
    creates and signs an image of that rootfs with /bin/sh as its entry point."""
    rootfs = os.path.join(work, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"))
    shutil.copy(BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
    os.symlink("busybox", os.path.join(rootfs, "bin", "sh"))
    must_run(image_tool, "init", ".", cwd=work)
    must_run(image_tool, "keygen", "-k", "signer.pem", "-c", "signer.der", cwd=work)

    def image(name, *options):
        must_run(image_tool, "create", "-o", name + ".json", "--rootfs", "rootfs", "--entrypoint",
                 "/bin/sh", "--signal", "15", *options, cwd=work)
        return must_run(image_tool, "sign", "-k", "signer.pem", "-c", "signer.der",
                        name + ".json", cwd=work).split()[0]

    return image
