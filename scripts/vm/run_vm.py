#!/usr/bin/python3
"""acond as PID 1 of a QEMU virtual machine: Debian's kernel, OVMF (UEFI firmware that measures
the boot into the TPM), swtpm as the TPM, and an initramfs from build-initramfs.sh whose /init
is acond (docs/vm.md).

Used by tests/vm/vm_acond_test.py and by hand:
  scripts/vm/run_vm.py --initrd initramfs.img --acond build/guest/acond/acond [--work DIR]
prints the AK, boots, prints the host port that reaches acond's gRPC port, and waits until the VM
powers off (or Ctrl-C, which stops QEMU and swtpm).

Everything lives in one work directory: the TPM state (with an EK certificate from a local CA
made there), the copy of the firmware's variable store, the serial console log and swtpm's log.
"""
import argparse
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
QEMU = "qemu-system-x86_64"
ACOND_PORT = 1025  # aconcli's port, ACON's default acond.tcp_port


def debian_kernel():
    """The newest /boot/vmlinuz-* (Debian's linux-image-amd64), or None. Never `uname -r`: that
    is the host's kernel, not necessarily an installed image."""
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    return kernels[-1] if kernels else None


def missing_prerequisites(kernel=None):
    """Why a VM cannot be booted here (a list of reasons; empty when everything is present)."""
    reasons = []
    for tool in (QEMU, "swtpm", "swtpm_setup", "swtpm_localca"):
        if shutil.which(tool) is None:
            reasons.append(f"{tool} not installed")
    for path in (OVMF_CODE, OVMF_VARS):
        if not os.path.exists(path):
            reasons.append(f"{path} missing (package ovmf)")
    if (kernel or debian_kernel()) is None:
        reasons.append("no /boot/vmlinuz-* (package linux-image-amd64)")
    return reasons


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args, **kwargs):
    p = subprocess.run(list(args), capture_output=True, text=True, check=False, **kwargs)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    return p.stdout


def stop_process(proc, grace=10):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Vm:
    """One VM in `work`. create_tpm() and ak_pem() before boot(); stop() always."""

    def __init__(self, work, initrd, kernel=None, acond_port=ACOND_PORT, idle_timeout=15,
                 memory_mb=1024):
        self.work = work
        self.initrd = initrd
        self.kernel = kernel or debian_kernel()
        self.acond_port = acond_port
        self.idle_timeout = idle_timeout
        self.memory_mb = memory_mb
        self.tpm_state = os.path.join(work, "tpm")
        self.console = os.path.join(work, "console.log")
        self.host_port = None
        self.swtpm = None
        self.qemu = None
        self.qemu_log = None
        self.boot_started = None

    # ---- the TPM ----

    def create_tpm(self):
        """A fresh TPM state with an EK and its certificate (swtpm_setup --create-ek-cert), signed
        by a local CA created in the work directory, and the sha256 and sha384 banks allocated
        (acond measures into sha384; OVMF extends every allocated bank)."""
        ca = os.path.join(self.work, "localca")
        os.makedirs(ca, exist_ok=True)
        os.makedirs(self.tpm_state, exist_ok=True)
        localca_conf = os.path.join(self.work, "swtpm-localca.conf")
        with open(localca_conf, "w") as f:
            f.write(f"statedir = {ca}\nsigningkey = {ca}/signkey.pem\n"
                    f"issuercert = {ca}/issuercert.pem\ncertserial = {ca}/certserial\n")
        localca_options = os.path.join(self.work, "swtpm-localca.options")
        with open(localca_options, "w") as f:
            f.write("--platform-manufacturer acon\n--platform-version 2.1\n"
                    "--platform-model QEMU\n")
        setup_conf = os.path.join(self.work, "swtpm_setup.conf")
        with open(setup_conf, "w") as f:
            f.write(f"create_certs_tool = {shutil.which('swtpm_localca')}\n"
                    f"create_certs_tool_config = {localca_conf}\n"
                    f"create_certs_tool_options = {localca_options}\n")
        self.ek_cert_dir = os.path.join(self.work, "ek")
        os.makedirs(self.ek_cert_dir, exist_ok=True)
        run("swtpm_setup", "--tpm2", "--tpmstate", self.tpm_state, "--config", setup_conf,
            "--create-ek-cert", "--pcr-banks", "sha256,sha384", "--overwrite",
            "--write-ek-cert-files", self.ek_cert_dir,
            "--logfile", os.path.join(self.work, "swtpm_setup.log"))
        # The EK certificates (ek-rsa2048.crt, ek-secp384r1.crt, DER) chain to the local root
        # through the intermediate that signed them.
        self.ek_ca = os.path.join(ca, "swtpm-localca-rootca-cert.pem")
        self.ek_intermediate = os.path.join(ca, "issuercert.pem")

    def with_tpm_over_tcp(self, action):
        """action(tcti) with swtpm serving this TPM state over TCP, before boot; its result.
        The AK is a primary key derived from the endorsement seed, so what is learnt about it
        here holds for the acond that boots on the same state."""
        # tpm2-tss's swtpm TCTI finds the control channel on the next port. A pair found free
        # can be taken before swtpm binds it (other tests run swtpm too): swtpm then exits at
        # once, and another pair is tried.
        log = os.path.join(self.work, "swtpm-tcp.log")
        for _ in range(5):
            port = free_port()
            proc = subprocess.Popen(
                ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={self.tpm_state}",
                 "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
                 "--ctrl", f"type=tcp,port={port + 1},bindaddr=127.0.0.1",
                 "--flags", "not-need-init,startup-clear", "--log", f"file={log}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.time() + 10
                while proc.poll() is None and time.time() < deadline:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        socket.create_connection(("127.0.0.1", port + 1), timeout=1).close()
                    except OSError:
                        time.sleep(0.05)
                        continue
                    return action(f"swtpm:host=127.0.0.1,port={port}")
            finally:
                stop_process(proc)
        with open(log, encoding="utf-8", errors="replace") as f:
            raise RuntimeError("swtpm over TCP did not start:\n" + f.read())

    def ak_pem(self, acond):
        """The public key of acond's AK on this TPM as `acond --print-ak` reads it."""
        return self.with_tpm_over_tcp(
            lambda tcti: run(acond, "--backend", "vtpm", "--tcti", tcti, "--print-ak"))

    def enrol_ak(self, acon_tpm, out):
        """`acon-tpm enroll`: the AK trusted because the TPM proved, by credential activation,
        that it sits beside the EK that the local CA certified (docs/vtpm.md, section 4). Writes
        the AK's public key (PEM) to `out`; returns acon-tpm's report (stderr)."""
        def enrol(tcti):
            p = subprocess.run([acon_tpm, "enroll", "--tcti", tcti, "--ek-roots", self.ek_ca,
                                "--ek-intermediates", self.ek_intermediate, "--out", out],
                               capture_output=True, text=True, check=False)
            if p.returncode != 0:
                raise RuntimeError(f"acon-tpm enroll: exit {p.returncode}\n{p.stdout}{p.stderr}")
            return p.stderr
        return self.with_tpm_over_tcp(enrol)

    # ---- the VM ----

    def qemu_command(self):
        vars_copy = os.path.join(self.work, "OVMF_VARS_4M.fd")
        if not os.path.exists(vars_copy):
            shutil.copy(OVMF_VARS, vars_copy)
        # initcall_blacklist=init_ima: IMA would extend its boot_aggregate into PCR 10, and its
        # measurement list is not part of acond's evidence, so a verifier (rightly) finds PCR 10
        # unexplained. panic=-1 with -no-reboot: a failing init ends QEMU instead of hanging.
        append = (f"console=ttyS0 quiet panic=-1 initcall_blacklist=init_ima "
                  f"acond.tcp_port={self.acond_port} "
                  f"acond.timeout={self.idle_timeout}")
        return [
            # TCG by default: a /dev/kvm that opens can still fail at the first instruction
            # (nested virtualisation without the CPU features), so KVM is asked for only by
            # ACON_VM_ACCEL=kvm.
            QEMU, "-machine", "q35", "-accel", os.environ.get("ACON_VM_ACCEL", "tcg"),
            "-m", str(self.memory_mb), "-smp", "1",
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}",
            "-chardev", f"socket,id=chrtpm,path={os.path.join(self.work, 'swtpm.sock')}",
            "-tpmdev", "emulator,id=tpm0,chardev=chrtpm", "-device", "tpm-tis,tpmdev=tpm0",
            "-kernel", self.kernel, "-initrd", self.initrd, "-append", append,
            "-nic", f"user,model=e1000,hostfwd=tcp:127.0.0.1:{self.host_port}-:{self.acond_port}",
            "-display", "none", "-monitor", "none", "-serial", f"file:{self.console}",
            "-no-reboot",
        ]

    def boot(self):
        """Starts swtpm (it ends itself when QEMU disconnects) and QEMU; returns once QEMU is
        past setting up its port forward. The host port is chosen free, but another process can
        bind it before QEMU does; QEMU then exits at once, and the boot is tried on another."""
        for _ in range(3):
            self._start_swtpm()
            self.host_port = free_port()
            self.boot_started = time.time()
            log_path = os.path.join(self.work, "qemu.log")
            self.qemu_log = open(log_path, "w")
            self.qemu = subprocess.Popen(self.qemu_command(), stdin=subprocess.DEVNULL,
                                         stdout=self.qemu_log, stderr=subprocess.STDOUT)
            # QEMU sets up user networking before the machine runs: an early exit that names
            # the forward is the port taken; anything else is for wait_for_acond() to report.
            deadline = time.time() + 5
            while self.qemu.poll() is None and time.time() < deadline:
                time.sleep(0.1)
            if self.qemu.poll() is None:
                return
            with open(log_path, encoding="utf-8", errors="replace") as f:
                if "forward" not in f.read():
                    return
            self.stop()
        raise RuntimeError("QEMU could not set up its port forward three times:\n" + self.tail())

    def _start_swtpm(self):
        sock = os.path.join(self.work, "swtpm.sock")
        if os.path.exists(sock):
            os.unlink(sock)  # left by an earlier boot: it must not pass for this swtpm's
        self.swtpm = subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={self.tpm_state}",
             "--ctrl", f"type=unixio,path={sock}", "--terminate",
             "--log", f"file={os.path.join(self.work, 'swtpm.log')}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not os.path.exists(sock):
            if self.swtpm.poll() is not None or time.time() > deadline:
                raise RuntimeError("swtpm did not start: see swtpm.log")
            time.sleep(0.02)

    def console_text(self):
        try:
            with open(self.console, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_for_acond(self, timeout=120):
        """Seconds from boot() until acond logged `event=listening` on the serial console."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.console_text()
            if re.search(r"acond event=listening", text):
                return time.time() - self.boot_started
            if self.qemu.poll() is not None:
                raise RuntimeError(f"QEMU exited ({self.qemu.returncode}) before acond "
                                   f"listened:\n{self.tail()}")
            time.sleep(0.1)
        raise RuntimeError(f"acond did not listen within {timeout} s:\n{self.tail()}")

    def target(self):
        return f"tcp://127.0.0.1:{self.host_port}"

    def wait_for_power_off(self, timeout):
        """QEMU's exit status once the guest powered itself off; None if it is still running."""
        try:
            return self.qemu.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def tail(self, lines=40):
        with open(os.path.join(self.work, "qemu.log"), encoding="utf-8", errors="replace") as f:
            qemu = f.read()
        return ("\n".join(self.console_text().splitlines()[-lines:]) +
                (f"\n--- qemu:\n{qemu}" if qemu else ""))

    def stop(self):
        stop_process(self.qemu)
        stop_process(self.swtpm)
        if self.qemu_log is not None:
            self.qemu_log.close()
            self.qemu_log = None


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--initrd", required=True, help="from scripts/vm/build-initramfs.sh")
    parser.add_argument("--acond", required=True, help="acond on the host (for --print-ak)")
    parser.add_argument("--acon-tpm", default=None,
                        help="acon-tpm on the host: enrol the AK from the EK certificate")
    parser.add_argument("--kernel", default=None, help="default: the newest /boot/vmlinuz-*")
    parser.add_argument("--work", default=None, help="default: a new directory under /tmp")
    parser.add_argument("--idle-timeout", type=int, default=180, help="acond.timeout (s)")
    args = parser.parse_args()
    reasons = missing_prerequisites(args.kernel)
    if reasons:
        sys.exit("cannot boot: " + "; ".join(reasons))
    import tempfile
    work = args.work or tempfile.mkdtemp(prefix="acon-vm-")
    os.makedirs(work, exist_ok=True)
    vm = Vm(work, os.path.abspath(args.initrd), kernel=args.kernel,
            idle_timeout=args.idle_timeout)
    try:
        if not os.path.isdir(vm.tpm_state):
            vm.create_tpm()
        ak = os.path.join(work, "ak.pem")
        if args.acon_tpm:
            print(vm.enrol_ak(args.acon_tpm, ak).strip(), flush=True)
        else:
            with open(ak, "w") as f:
                f.write(vm.ak_pem(args.acond))
        print(f"work directory: {work}\nAK (pin it): {ak}\nEK certificates: {vm.ek_cert_dir}, "
              f"root CA {vm.ek_ca}, intermediate {vm.ek_intermediate}", flush=True)
        vm.boot()
        print(f"console: {vm.console}", flush=True)
        print(f"acond listening after {vm.wait_for_acond():.1f} s: {vm.target()}", flush=True)
        status = vm.wait_for_power_off(timeout=None)
        print(f"the VM powered off (QEMU exit {status})")
    except KeyboardInterrupt:
        pass
    finally:
        vm.stop()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
