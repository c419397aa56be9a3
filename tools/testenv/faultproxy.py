#!/usr/bin/env python3
"""A loopback HTTP proxy that injects faults in front of an S3 test server.

Standard library only. It listens on 127.0.0.1 and relays each request to the upstream
(``--upstream 127.0.0.1:PORT``), one request per connection (``Connection: close``), unless a
rule says otherwise. Rules live in a JSON file (``rules.json`` in ``--dir``) re-read for every
request, so a test rewrites it between steps. A rule::

    {"method": "PUT", "path_contains": "big.dump", "query_contains": "partNumber=2",
     "action": "503", "times": 2, "delay": 0.0}

``times``: how many matching requests get the fault (-1: all). Rules are tried in order; the
first one that matches and has times left applies. Actions:

* ``503`` / ``500`` / ``429``: answer that status with an S3 XML error (SlowDown,
  InternalError, SlowDown) without forwarding (the request body is read first).
* ``412``: answer 412 PreconditionFailed without forwarding, as S3 answers the retry of a
  conditional write (If-None-Match / If-Match) whose first attempt was applied (moto treats
  a repeated CompleteMultipartUpload as idempotent instead).
* ``lose_response``: forward, then close the connection without sending a byte of the
  answer: the request was applied, its answer lost.
* ``cut_request``: read half of the request body, then close the connection.
* ``cut_response``: forward, then send the response head and half of its body (half of the
  head when the body is empty), then close.
* ``stall_response``: like cut_response, but wait ``delay`` seconds before closing.
* ``delay``: wait ``delay`` seconds, then forward normally.
* ``range_as_200``: forward, then turn a 206 answer into 200 (as a server that ignores
  Range would answer; the Range header itself is signed, so it cannot be removed).
* ``error_200``: answer ``200 OK`` with an S3 ``<Error>`` body (``code``, default
  InternalError) without forwarding, as S3 may answer CompleteMultipartUpload when the
  error came after its headers. Not forwarded: the upload stays open upstream, as it does
  on S3 (forwarding would complete it, and the retry would meet NoSuchUpload).
* ``complete_no_etag``: answer ``200 OK`` with a CompleteMultipartUploadResult that has no
  ETag, without forwarding (the upload stays open upstream).
* ``echo_error``: answer ``403`` SignatureDoesNotMatch without forwarding, with the
  request's head (header values included) in the Message, as AWS quotes the canonical
  request it computed (x-amz-security-token included) in its SignatureDoesNotMatch.
* ``delete_errors``: forward a DeleteObjects, then answer an ``<Error>`` (``code``, default
  AccessDenied; ``message``) for each key of the request that contains ``error_keys``, in
  place of its ``<Deleted>`` entry if any. Upstream deleted those keys all the same (the
  request is signed: it cannot be changed); only the answer says otherwise.
* ``pass``: forward (to let some requests through before a later rule).

Every request is logged to ``faults.jsonl`` (method, path, query, action taken; for a
forwarded request also the upstream's ``status`` and ``request_id``, from
``x-amz-request-id``, ``x-amzn-requestid`` or an ``<Error>`` body's RequestId).

``faultproxy.py serve --upstream HOST:PORT [--dir DIR] [--tls]`` prints one JSON line
(endpoint, port, rules_file, fault_log, dir; with --tls also ca_file, the PEM of a
self-signed certificate for 127.0.0.1 made with the openssl CLI) and runs until stdin
reaches EOF or SIGTERM. With --tls the proxy speaks HTTPS to its clients.
Bounded: it only ever talks to the loopback upstream it was given.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from xml.etree import ElementTree
from xml.sax.saxutils import escape

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"

ERRORS = {
    "503": (503, "Service Unavailable", "SlowDown", "Please reduce your request rate."),
    "500": (500, "Internal Server Error", "InternalError",
            "We encountered an internal error. Please try again."),
    "429": (429, "Too Many Requests", "SlowDown", "Please reduce your request rate."),
    "412": (412, "Precondition Failed", "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold"),
}


def error_xml(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message><RequestId>faultproxy</RequestId>"
            "</Error>").encode()


def split_response(response: bytes) -> tuple[bytes, list[bytes], bytes]:
    """(status line, header lines, body) of a whole HTTP/1.1 response; a chunked body is
    decoded."""
    rhead, _, rbody = response.partition(b"\r\n\r\n")
    status, *headers = rhead.split(b"\r\n")
    chunked = any(h.lower().startswith(b"transfer-encoding:") and b"chunked" in h.lower()
                  for h in headers)
    if chunked:
        body, rest = b"", rbody
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            body, rest = body + rest[:size], rest[size + 2:]
        rbody = body
    return status, headers, rbody


def with_body(status: bytes, headers: list[bytes], body: bytes) -> bytes:
    """A response with a new body: Content-Length set, no Transfer-Encoding."""
    kept = [h for h in headers if not h.lower().startswith((b"content-length:",
                                                             b"transfer-encoding:"))]
    kept.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join([status] + kept) + b"\r\n\r\n" + body


def request_id_of(headers: list[bytes], body: bytes) -> str:
    for h in headers:
        name, _, value = h.partition(b":")
        if name.strip().lower() in (b"x-amz-request-id", b"x-amzn-requestid"):
            return value.strip().decode("latin-1")
    m = re.search(rb"<Error>.*?<RequestId>([^<]*)</RequestId>", body, re.S)
    return m.group(1).decode("utf-8", "replace") if m else ""


def delete_keys(request_body: bytes) -> list[str]:
    """The keys of a DeleteObjects request body."""
    root = ElementTree.fromstring(request_body)
    return [k.text or "" for k in root.iter() if k.tag in ("Key", f"{{{S3_NS}}}Key")]


def add_delete_errors(answer: bytes, keys: list[str], code: str, message: str) -> bytes:
    """A DeleteResult answer with <Error> entries for `keys` (their <Deleted> taken out)."""
    failed = set(keys)
    deleted = re.compile(rb"<Deleted>\s*<Key>([^<]*)</Key>.*?</Deleted>", re.S)

    def drop(m: re.Match) -> bytes:
        key = ElementTree.fromstring(b"<K>" + m.group(1) + b"</K>").text or ""
        return b"" if key in failed else m.group(0)

    answer = deleted.sub(drop, answer)
    errors = "".join(f"<Error><Key>{escape(k)}</Key><Code>{escape(code)}</Code>"
                     f"<Message>{escape(message)}</Message></Error>" for k in keys).encode()
    if b"</DeleteResult>" not in answer:
        raise ValueError("delete_errors: not a DeleteResult answer")
    return answer.replace(b"</DeleteResult>", errors + b"</DeleteResult>", 1)


class Proxy:
    def __init__(self, upstream: tuple[str, int], directory: str, tls=None):
        self.tls = tls
        if upstream[0] not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("faultproxy: the upstream must be on loopback")
        self.upstream = upstream
        self.dir = directory
        self.rules_file = os.path.join(directory, "rules.json")
        self.fault_log = os.path.join(directory, "faults.jsonl")
        self.lock = threading.Lock()
        self.used: dict[int, int] = {}
        self.rules_mtime = None
        self.rules: list[dict] = []
        if not os.path.exists(self.rules_file):
            with open(self.rules_file, "w") as fh:
                fh.write("[]")
        open(self.fault_log, "a").close()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = False

    # -- rules ---------------------------------------------------------------------
    def _load_rules(self) -> None:
        try:
            st = os.stat(self.rules_file)
            key = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            return
        if key != self.rules_mtime:
            with open(self.rules_file) as fh:
                text = fh.read()
            try:
                self.rules = json.loads(text or "[]")
            except ValueError:
                return  # half-written: keep the old rules
            self.rules_mtime = key
            self.used = {}

    def choose(self, method: str, path: str, query: str) -> dict:
        with self.lock:
            self._load_rules()
            for i, r in enumerate(self.rules):
                if r.get("method") and r["method"] != method:
                    continue
                if r.get("path_contains") and r["path_contains"] not in path:
                    continue
                if r.get("query_contains") is not None and r["query_contains"] not in query:
                    continue
                if r.get("query_empty") and query:
                    continue
                times = r.get("times", -1)
                used = self.used.get(i, 0)
                if times >= 0 and used >= times:
                    continue
                self.used[i] = used + 1
                return r
        return {"action": "pass"}

    def log(self, entry: dict) -> None:
        with self.lock:
            with open(self.fault_log, "a") as fh:
                fh.write(json.dumps(entry) + "\n")

    # -- serving ---------------------------------------------------------------------
    def serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(60)
        try:
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (OSError, ValueError):
                    conn.close()  # e.g. the client refused our certificate
                    return
            self._handle(conn)
        except (OSError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    @staticmethod
    def _read_head(conn: socket.socket) -> tuple[bytes, bytes]:
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                raise ValueError("closed before the request head")
            buf += chunk
            if len(buf) > 1 << 20:
                raise ValueError("request head too large")
        head, _, rest = buf.partition(b"\r\n\r\n")
        return head + b"\r\n\r\n", rest

    @staticmethod
    def _content_length(head: bytes) -> int:
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                return int(value.strip())
        return 0

    @staticmethod
    def _answer(conn: socket.socket, method: str, status: str, xml: bytes) -> None:
        conn.sendall(
            f"HTTP/1.1 {status}\r\nContent-Type: application/xml\r\n"
            f"Content-Length: {len(xml)}\r\nConnection: close\r\n\r\n".encode()
            + (b"" if method == "HEAD" else xml))

    def _handle(self, conn: socket.socket) -> None:
        head, body = self._read_head(conn)
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, target, _ = request_line.split(" ", 2)
        path, _, query = target.partition("?")
        length = self._content_length(head)
        rule = self.choose(method, path, query)
        action = rule.get("action", "pass")
        entry = {"method": method, "path": path, "query": query, "action": action,
                 "time": time.time()}
        forwarded = action not in ERRORS and action not in (
            "cut_request", "error_200", "complete_no_etag", "echo_error")
        if not forwarded:
            self.log(entry)

        if action == "cut_request":
            want = length // 2
            while len(body) < want:
                chunk = conn.recv(min(65536, want - len(body)))
                if not chunk:
                    break
                body += chunk
            conn.shutdown(socket.SHUT_RDWR)
            return

        while len(body) < length:
            chunk = conn.recv(min(1 << 20, length - len(body)))
            if not chunk:
                raise ValueError("client closed mid-body")
            body += chunk

        if action in ERRORS:
            status, reason, code, message = ERRORS[action]
            self._answer(conn, method, f"{status} {reason}", error_xml(code, message))
            return
        if action == "error_200":
            code = rule.get("code", "InternalError")
            self._answer(conn, method, "200 OK",
                         error_xml(code, rule.get("message", "We encountered an internal "
                                                  "error. Please try again.")))
            return
        if action == "echo_error":
            self._answer(conn, method, "403 Forbidden", error_xml(
                "SignatureDoesNotMatch", "The request signature we calculated does not match "
                "the signature you provided. The request was: " + head.decode("latin-1")))
            return
        if action == "complete_no_etag":
            bucket, _, key = path.lstrip("/").partition("/")
            xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult '
                   f'xmlns="{S3_NS}"><Location>http://127.0.0.1{escape(path)}</Location>'
                   f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key>"
                   "</CompleteMultipartUploadResult>").encode()
            self._answer(conn, method, "200 OK", xml)
            return

        if action == "delay":
            time.sleep(float(rule.get("delay", 1.0)))

        # Forward, forcing one request per connection.
        lines = head.rstrip(b"\r\n").split(b"\r\n")
        lines = [l for l in lines if not l.lower().startswith(b"connection:")]
        lines.append(b"Connection: close")
        response = b""
        try:
            with socket.create_connection(self.upstream, timeout=120) as up:
                up.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
                while True:
                    chunk = up.recv(1 << 20)
                    if not chunk:
                        break
                    response += chunk
        except OSError:
            entry["status"] = 0
            self.log(entry)
            raise

        status_line, rheaders, rbody = split_response(response)
        try:
            entry["status"] = int(status_line.split(b" ")[1])
        except (IndexError, ValueError):
            entry["status"] = 0
        entry["request_id"] = request_id_of(rheaders, rbody)
        self.log(entry)

        if action == "delete_errors" and entry["status"] == 200:
            failed = [k for k in delete_keys(body) if rule.get("error_keys", "") in k]
            response = with_body(status_line, rheaders, add_delete_errors(
                rbody, failed, rule.get("code", "AccessDenied"),
                rule.get("message", "Access Denied")))
        if action == "range_as_200" and response.startswith(b"HTTP/1.1 206"):
            rhead, _, rbody = response.partition(b"\r\n\r\n")
            rlines = [l for l in rhead.split(b"\r\n")[1:]
                      if not l.lower().startswith(b"content-range:")]
            response = b"\r\n".join([b"HTTP/1.1 200 OK"] + rlines) + b"\r\n\r\n" + rbody
        if action == "lose_response":
            conn.shutdown(socket.SHUT_RDWR)
            return
        if action in ("cut_response", "stall_response"):
            rhead, _, rbody = response.partition(b"\r\n\r\n")
            if rbody:
                conn.sendall(rhead + b"\r\n\r\n" + rbody[: len(rbody) // 2])
            else:  # nothing to cut in the body: cut the head
                conn.sendall(rhead[: len(rhead) // 2])
            if action == "stall_response":
                time.sleep(float(rule.get("delay", 5.0)))
            conn.shutdown(socket.SHUT_RDWR)
            return
        conn.sendall(response)


def cmd_serve(args) -> int:
    host, _, port = args.upstream.rpartition(":")
    own_dir = args.dir is None
    directory = args.dir or tempfile.mkdtemp(prefix="dolibak-faults-")
    os.makedirs(directory, exist_ok=True)
    tls = None
    extra = {}
    if args.tls:
        import ssl
        import subprocess
        cert = os.path.join(directory, "cert.pem")
        key = os.path.join(directory, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        extra["ca_file"] = cert
    proxy = Proxy((host or "127.0.0.1", int(port)), directory, tls)

    def stop(*_):
        proxy.stopping = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    thread = threading.Thread(target=proxy.serve, daemon=True)
    thread.start()
    scheme = "https" if args.tls else "http"
    info = {"endpoint": f"{scheme}://127.0.0.1:{proxy.port}", "host": "127.0.0.1",
            "port": proxy.port, "rules_file": proxy.rules_file,
            "fault_log": proxy.fault_log, "dir": directory, "pid": os.getpid(), **extra}
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()

    def watch_stdin():
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        proxy.stopping = True

    threading.Thread(target=watch_stdin, daemon=True).start()
    while not proxy.stopping:
        time.sleep(0.2)
    proxy.sock.close()
    if own_dir:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--upstream", required=True, help="HOST:PORT of the S3 server (loopback)")
    s.add_argument("--dir", default=None)
    s.add_argument("--tls", action="store_true", help="serve HTTPS with a self-signed cert")
    args = ap.parse_args(argv)
    return cmd_serve(args)


if __name__ == "__main__":
    sys.exit(main())
