"""A swtpm (TPM 2.0) for the Python tests, on a free pair of loopback TCP ports: the swtpm TCTI
finds the control port at the server port + 1. It launches swtpm and imports nothing of acon, so
the black-box KBS client can use it too."""
import os
import socket
import subprocess
import time


def free_port_pair():
    """A port P, with P + 1, that nothing held when this looked (nothing holds them after)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free pair of TCP ports")


class Swtpm:
    """swtpm on the TPM state in `state_dir` (swtpm_setup's, or a fresh TPM when it is empty)."""

    def __init__(self, state_dir, attempts=5, start_seconds=10):
        os.makedirs(state_dir, exist_ok=True)
        self.proc = None
        for _ in range(attempts):
            self.port = free_port_pair()
            self.proc = subprocess.Popen(
                ["swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + state_dir,
                 "--server", f"type=tcp,port={self.port},bindaddr=127.0.0.1",
                 "--ctrl", f"type=tcp,port={self.port + 1},bindaddr=127.0.0.1",
                 "--flags", "not-need-init,startup-clear"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self._listening(start_seconds):
                return
            # The pair was taken (say, by another test's outgoing connection) before swtpm bound
            # it, and swtpm exited: another pair.
            self.stop()
        raise RuntimeError("swtpm did not start")

    def _listening(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    @property
    def tcti(self):
        return f"swtpm:host=127.0.0.1,port={self.port}"

    def tools_env(self):
        """The environment for tpm2-tools on this TPM."""
        return dict(os.environ, TPM2TOOLS_TCTI=self.tcti)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
        if self.proc is not None:
            self.proc.wait(timeout=10)
