#!/usr/bin/env python3
"""Replays real, recorded Intel PCS v4 responses over HTTP on 127.0.0.1, for fetch_test.cc.

This is a replay of real data, not a model of PCS: the bodies and issuer-chain header values are
the recorded go-tdx-guest PCS responses in tests/data/quotes/go-tdx-guest/ (sample_tcbInfo_response,
sample_qeIdentity_response, pckcrl, rootcrl.der, *IssuerChain.urlenc), served on the PCS paths
with the header names PCS uses (docs/dcap-verification.md §3). The PCCS root CA CRL path
serves the same DER as hex, as PCCS does.

Fault injection for error-path tests: a path prefix /fault/<kind>/ turns any request into
  404, 500        that HTTP status with a short body
  big             a 200 response with a 5 MiB body
  slow            a 200 response after a 5 s delay
  redirect        a 302 to file:///etc/passwd
  nochain         the recorded body without its issuer-chain header
  sgxheader       the TCB info issuer chain under the SGX endpoint's name SGX-TCB-Info-Issuer-Chain

Usage: pcs_replay_server.py <data dir>. Prints the port on the first line of stdout, serves
until stdin reaches end of file (the test closes it), then exits. Every request is logged to
stderr.
"""

import http.server
import os
import sys
import threading
import time
import urllib.parse

DATA = sys.argv[1]


def read(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


FMSPC = "50806F000000"  # the fmspc of sample_tcbInfo_response


def route(path, query):
    """(body, headers) for a recorded PCS path, or None."""
    if path == "/tdx/certification/v4/tcb":
        if [v.upper() for v in query.get("fmspc", [])] != [FMSPC]:
            return None
        return read("sample_tcbInfo_response"), {
            "TCB-Info-Issuer-Chain": read("tcbInfoIssuerChain.urlenc").decode().strip(),
            "Content-Type": "application/json"}
    if path == "/tdx/certification/v4/qe/identity":
        return read("sample_qeIdentity_response"), {
            "SGX-Enclave-Identity-Issuer-Chain": read("qeIdentityIssuerChain.urlenc").decode().strip(),
            "Content-Type": "application/json"}
    if path == "/sgx/certification/v4/pckcrl":
        if query.get("ca") != ["platform"] or query.get("encoding") != ["der"]:
            return None  # the recorded CRL is the Platform CA's, in DER
        return read("pckcrl"), {
            "SGX-PCK-CRL-Issuer-Chain": read("pckCrlIssuerChain.urlenc").decode().strip(),
            "Content-Type": "application/pkix-crl"}
    if path == "/IntelSGXRootCA.der":
        return read("rootcrl.der"), {"Content-Type": "application/pkix-crl"}
    if path == "/sgx/certification/v4/rootcacrl":
        return read("rootcrl.der").hex().encode(), {"Content-Type": "text/plain"}
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send(self, status, body, headers):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (size limit and timeout tests)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path, fault = url.path, None
        if path.startswith("/fault/"):
            _, _, fault, path = path.split("/", 3)
            path = "/" + path
        if fault in ("404", "500"):
            return self.send(int(fault), b"fault\n", {})
        if fault == "big":
            return self.send(200, b"0" * (5 << 20), {})
        if fault == "redirect":
            return self.send(302, b"", {"Location": "file:///etc/passwd"})
        if fault == "slow":
            time.sleep(5)
        answer = route(path, urllib.parse.parse_qs(url.query))
        if answer is None:
            return self.send(404, b"not recorded\n", {})
        body, headers = answer
        if fault == "nochain":
            headers = {k: v for k, v in headers.items() if not k.endswith("Issuer-Chain")}
        if fault == "sgxheader" and "TCB-Info-Issuer-Chain" in headers:
            headers["SGX-TCB-Info-Issuer-Chain"] = headers.pop("TCB-Info-Issuer-Chain")
        try:
            self.send(200, body, headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up before the headers went out

    def log_message(self, fmt, *args):
        sys.stderr.write("pcs_replay_server: " + (fmt % args) + "\n")


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sys.stdin.read()  # until the test closes our stdin (or exits)
    server.shutdown()


if __name__ == "__main__":
    main()
