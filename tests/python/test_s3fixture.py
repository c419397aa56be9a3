"""Tests of the S3 test server (tools/testenv/s3fixture.py + moto_launcher.py).

Run with Debian's python: ``/usr/bin/python3 -m pytest tests/python/test_s3fixture.py``.
Requests are signed with botocore's own S3SigV4Auth (the reference signer) on raw
AWSRequests, so exactly the headers we choose are sent: no flexible checksums.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import json
import os
import select
import socket
import subprocess
import sys
import time
import types
import uuid
import xml.etree.ElementTree as ET
from unittest import mock
from urllib.parse import quote

import pytest

botocore = pytest.importorskip("botocore")
import botocore.auth  # noqa: E402
from botocore.auth import S3SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

import s3fixture  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(s3fixture.__file__), "s3fixture.py")

AWKWARD_KEYS = [
    "db/20261123T010000Z.dump",
    "dump-2026-11-23T01:00:00Z.pgdump",
    "paren(1).txt",
    "a+b=c&d.txt",
    "\u00fcmlaut.txt",
    "sp ace.txt",
    "tilde~x",
    "at@star*.txt",
]


# ----------------------------------------------------------------------------------
# A raw, botocore-signed request
# ----------------------------------------------------------------------------------
class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def code(self):
        try:
            return ET.fromstring(self.body).findtext("Code")
        except ET.ParseError:
            return None

    def field(self, name):
        return ET.fromstring(self.body).findtext(name)

    def __repr__(self):
        return f"Resp({self.status}, {self.body[:300]!r})"


def enc(text, safe="/"):
    return quote(text, safe=safe + "~")


class _Signer(S3SigV4Auth):
    """botocore's S3 signer, with the payload hash chosen by the test."""

    forced_payload = None

    def payload(self, request):
        if self.forced_payload is not None:
            return self.forced_payload
        return super().payload(request)


def send(info, method, bucket, key="", *, query=(), body=b"", headers=None,
         secret=None, access_key=None, sha256=None, sign=True, signed_path=None,
         skew=None, chunked=False):
    """Sign (botocore S3SigV4Auth) and send one request.

    ``query``: (name, value) pairs, AWS-encoded here; botocore signs the query verbatim.
    ``signed_path``: sign this path instead of the one sent (to make a wrong signature).
    ``skew``: a timedelta added to the signing clock.
    """
    path = "/" + bucket + ("/" + enc(key) if key else "")
    qs = "&".join(f"{enc(k, '')}={enc(v, '')}" for k, v in query)
    target = path + ("?" + qs if qs else "")
    hostport = f"{info['host']}:{info['port']}"
    hdrs = dict(headers or {})
    if sign:
        sign_target = (signed_path or path) + ("?" + qs if qs else "")
        req = AWSRequest(method=method, url=f"http://{hostport}{sign_target}", data=body,
                         headers=hdrs)
        creds = Credentials(access_key or info["access_key"], secret or info["secret_key"])
        auth = _Signer(creds, "s3", info["region"])
        # S3SigV4Auth sets X-Amz-Content-SHA256 from payload(): choose what it says.
        auth.forced_payload = sha256 or hashlib.sha256(body).hexdigest()
        if skew is None:
            auth.add_auth(req)
        else:
            with _skewed_clock(skew):
                auth.add_auth(req)
        hdrs = dict(req.headers.items())
    conn = http.client.HTTPConnection(info["host"], info["port"], timeout=30)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", hostport)
        for name, value in hdrs.items():
            conn.putheader(name, value)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for i in range(0, len(body), 1000):
                piece = body[i:i + 1000]
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        else:
            if body or method in ("PUT", "POST"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
        r = conn.getresponse()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


class _skewed_clock:
    """Shift the clock botocore's signer reads (it has used several spellings)."""

    def __init__(self, delta):
        self.delta = delta
        self.patches = []

    def __enter__(self):
        delta = self.delta
        real = datetime.datetime

        class Shifted(real):
            @classmethod
            def utcnow(cls):
                return real.utcnow() + delta

            @classmethod
            def now(cls, tz=None):
                return real.now(tz) + delta

        shim = types.SimpleNamespace(datetime=Shifted, timezone=datetime.timezone,
                                     timedelta=datetime.timedelta)
        self.patches.append(mock.patch.object(botocore.auth, "datetime", shim))
        if hasattr(botocore.auth, "get_current_datetime"):
            self.patches.append(mock.patch.object(
                botocore.auth, "get_current_datetime",
                lambda *a, **k: real.now(datetime.timezone.utc).replace(tzinfo=None) + delta))
        for p in self.patches:
            p.start()
        return self

    def __exit__(self, *exc):
        for p in reversed(self.patches):
            p.stop()


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def delete_xml(keys):
    objs = "".join(f"<Object><Key>{k}</Key></Object>" for k in keys)
    return f'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{objs}</Delete>'.encode()


def list_keys(resp):
    ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
    root = ET.fromstring(resp.body)
    keys = [e.text for e in root.findall("s3:Contents/s3:Key", ns)]
    prefixes = [e.text for e in root.findall("s3:CommonPrefixes/s3:Prefix", ns)]
    return keys, prefixes


# ----------------------------------------------------------------------------------
# Authentication
# ----------------------------------------------------------------------------------
def test_info_shape(s3_server):
    for field in ("endpoint", "host", "port", "region", "bucket", "access_key",
                  "secret_key", "dir", "request_log", "pid"):
        assert field in s3_server
    assert s3_server["host"] == "127.0.0.1"
    assert s3_server["endpoint"] == f"http://127.0.0.1:{s3_server['port']}"
    assert s3_server["bucket"] == "dolibak-test"
    assert s3_server["region"] == "us-east-1"
    assert os.path.isdir(s3_server["dir"])
    # No secret on any command line.
    with open(f"/proc/{s3_server['pid']}/cmdline", "rb") as fh:
        assert s3_server["secret_key"].encode() not in fh.read()


def test_correct_signature_passes(s3_server):
    r = send(s3_server, "GET", s3_server["bucket"], query=[("list-type", "2")])
    assert r.status == 200, r


def test_wrong_secret_is_refused(s3_server):
    r = send(s3_server, "GET", s3_server["bucket"], query=[("list-type", "2")],
             secret="x" * 40)
    assert (r.status, r.code) == (403, "SignatureDoesNotMatch"), r


def test_unknown_access_key_is_refused(s3_server):
    r = send(s3_server, "GET", s3_server["bucket"], query=[("list-type", "2")],
             access_key="AKIAUNKNOWNUNKNOWN00")
    assert (r.status, r.code) == (403, "InvalidAccessKeyId"), r


def test_unsigned_request_is_refused(s3_server):
    r = send(s3_server, "GET", s3_server["bucket"], query=[("list-type", "2")], sign=False)
    assert r.status == 403, r
    r = send(s3_server, "PUT", s3_server["bucket"], "unsigned.txt", body=b"x", sign=False)
    assert r.status == 403, r
    assert send(s3_server, "HEAD", s3_server["bucket"], "unsigned.txt").status == 404


def test_every_response_has_a_date_header(s3_server):
    ok = send(s3_server, "GET", s3_server["bucket"], query=[("list-type", "2")])
    bad = send(s3_server, "GET", s3_server["bucket"], sign=False)
    for r in (ok, bad):
        when = datetime.datetime.strptime(
            r.headers["date"], "%a, %d %b %Y %H:%M:%S GMT"
        ).replace(tzinfo=datetime.timezone.utc)
        assert abs(when.timestamp() - time.time()) < 120
        assert len([h for h in r.headers if h == "date"]) == 1


# ----------------------------------------------------------------------------------
# Payload integrity
# ----------------------------------------------------------------------------------
def test_wrong_content_sha256_is_refused_and_nothing_stored(s3_server, s3_bucket):
    key = "db/20261123T010000Z.dump"
    data = b"PGDMP" + os.urandom(2000)
    r = send(s3_server, "PUT", s3_bucket, key, body=data,
             sha256=hashlib.sha256(b"something else").hexdigest())
    assert (r.status, r.code) == (400, "XAmzContentSHA256Mismatch"), r
    assert r.field("S3ComputedContentSHA256") == hashlib.sha256(data).hexdigest()
    assert send(s3_server, "HEAD", s3_bucket, key).status == 404
    assert send(s3_server, "GET", s3_bucket, key).code == "NoSuchKey"

    r = send(s3_server, "PUT", s3_bucket, key, body=data)
    assert r.status == 200, r
    g = send(s3_server, "GET", s3_bucket, key)
    assert g.status == 200 and g.body == data


def test_malformed_content_sha256_is_refused(s3_server, s3_bucket):
    r = send(s3_server, "PUT", s3_bucket, "k", body=b"abc", sha256="not-a-hash")
    assert r.status == 400 and r.code == "InvalidArgument", r


def test_unsigned_payload_is_accepted(s3_server, s3_bucket):
    r = send(s3_server, "PUT", s3_bucket, "u.txt", body=b"hello", sha256="UNSIGNED-PAYLOAD")
    assert r.status == 200, r
    assert send(s3_server, "GET", s3_bucket, "u.txt").body == b"hello"


def test_content_md5(s3_server, s3_bucket):
    data = b"some bytes"
    r = send(s3_server, "PUT", s3_bucket, "m.txt", body=data,
             headers={"Content-MD5": md5_b64(b"other bytes")})
    assert (r.status, r.code) == (400, "BadDigest"), r
    assert send(s3_server, "HEAD", s3_bucket, "m.txt").status == 404
    r = send(s3_server, "PUT", s3_bucket, "m.txt", body=data,
             headers={"Content-MD5": "not base64 md5"})
    assert (r.status, r.code) == (400, "InvalidDigest"), r
    r = send(s3_server, "PUT", s3_bucket, "m.txt", body=data,
             headers={"Content-MD5": md5_b64(data)})
    assert r.status == 200, r


def test_delete_objects_needs_content_md5(s3_server, s3_bucket):
    keys = ["d/one", "d/two(2)"]
    for k in keys:
        assert send(s3_server, "PUT", s3_bucket, k, body=b"x").status == 200
    body = delete_xml(keys)
    r = send(s3_server, "POST", s3_bucket, query=[("delete", "")], body=body,
             headers={"Content-Type": "application/xml"})
    assert (r.status, r.code) == (400, "InvalidRequest"), r
    assert "Content-MD5" in r.field("Message")
    assert send(s3_server, "HEAD", s3_bucket, "d/one").status == 200
    r = send(s3_server, "POST", s3_bucket, query=[("delete", "")], body=body,
             headers={"Content-Type": "application/xml", "Content-MD5": md5_b64(body)})
    assert r.status == 200, r
    for k in keys:
        assert send(s3_server, "HEAD", s3_bucket, k).status == 404


def test_form_content_type_body_is_refused_loudly(s3_server, s3_bucket):
    """moto would silently store an empty object: the fixture answers 501 instead."""
    r = send(s3_server, "PUT", s3_bucket, "form.bin", body=b"a=b",
             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (r.status, r.code) == (501, "NotImplemented"), r
    assert send(s3_server, "HEAD", s3_bucket, "form.bin").status == 404


def test_chunked_request_body(s3_server, s3_bucket):
    data = os.urandom(5000)
    r = send(s3_server, "PUT", s3_bucket, "chunked.bin", body=data, chunked=True)
    assert r.status == 200, r
    assert send(s3_server, "GET", s3_bucket, "chunked.bin").body == data
    r = send(s3_server, "PUT", s3_bucket, "chunked2.bin", body=data, chunked=True,
             sha256=hashlib.sha256(b"").hexdigest())
    assert r.code == "XAmzContentSHA256Mismatch", r


# ----------------------------------------------------------------------------------
# Clock
# ----------------------------------------------------------------------------------
def test_request_time_too_skewed(s3_server):
    r = send(s3_server, "GET", s3_server["bucket"], query=[("list-type", "2")],
             skew=datetime.timedelta(minutes=-20))
    assert (r.status, r.code) == (403, "RequestTimeTooSkewed"), r
    assert r.field("ServerTime") and r.field("RequestTime")
    # 10 minutes is within AWS's 15.
    r = send(s3_server, "GET", s3_server["bucket"], query=[("list-type", "2")],
             skew=datetime.timedelta(minutes=10))
    assert r.status == 200, r


# ----------------------------------------------------------------------------------
# Canonicalisation (moto's IRI bug, fixed)
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_awkward_keys_round_trip(s3_server, key):
    bucket = s3_server["bucket"]
    data = ("content of " + key).encode()
    r = send(s3_server, "PUT", bucket, key, body=data)
    assert r.status == 200, r
    g = send(s3_server, "GET", bucket, key)
    assert (g.status, g.body) == (200, data), g
    assert send(s3_server, "HEAD", bucket, key).status == 200
    # Still checked: a wrong secret fails for the same key.
    r = send(s3_server, "GET", bucket, key, secret="y" * 40)
    assert (r.status, r.code) == (403, "SignatureDoesNotMatch"), r


@pytest.mark.parametrize("key", ["dump-2026-11-23T01:00:00Z.pgdump", "paren(1).txt",
                                 "\u00fcmlaut.txt", "a+b=c&d.txt"])
def test_signing_the_decoded_path_fails(s3_server, key):
    """What moto used to accept (the IRI form) is a wrong signature, as on AWS."""
    bucket = s3_server["bucket"]
    assert send(s3_server, "PUT", bucket, key, body=b"z").status == 200
    iri = "/" + bucket + "/" + quote(key, safe="/~:@+*()=&")  # IRI-style: not escaped
    iri = iri.replace("%C3%BC", "\u00fc")
    r = send(s3_server, "GET", bucket, key, signed_path=iri)
    assert (r.status, r.code) == (403, "SignatureDoesNotMatch"), r


def test_list_objects_v2_with_slash_prefix_and_delimiter(s3_server, s3_bucket):
    for k in ["db/20261123T010000Z.dump", "db/20261124T010000Z.dump",
              "docs/20261123T010000Z.tar.gz", "db/sub/x", "top.txt"]:
        assert send(s3_server, "PUT", s3_bucket, k, body=b"1").status == 200
    r = send(s3_server, "GET", s3_bucket,
             query=[("list-type", "2"), ("prefix", "db/"), ("delimiter", "/")])
    assert r.status == 200, r
    keys, prefixes = list_keys(r)
    assert keys == ["db/20261123T010000Z.dump", "db/20261124T010000Z.dump"]
    assert prefixes == ["db/sub/"]
    r = send(s3_server, "GET", s3_bucket,
             query=[("list-type", "2"), ("prefix", "db/"), ("max-keys", "1")])
    assert r.status == 200 and len(list_keys(r)[0]) == 1, r
    # A wrongly signed listing still fails.
    r = send(s3_server, "GET", s3_bucket,
             query=[("list-type", "2"), ("prefix", "db/")], secret="z" * 40)
    assert r.code == "SignatureDoesNotMatch", r


# ----------------------------------------------------------------------------------
# Checksum headers and the request log
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("header,value", [
    ("x-amz-checksum-crc32", "AAAAAA=="),
    ("x-amz-sdk-checksum-algorithm", "CRC32"),
    ("x-amz-trailer", "x-amz-checksum-crc32"),
    ("Content-Encoding", "aws-chunked"),
])
def test_checksum_headers_refused_by_default(s3_server, s3_bucket, header, value):
    r = send(s3_server, "PUT", s3_bucket, "ck.txt", body=b"data", headers={header: value})
    assert (r.status, r.code) == (400, "InvalidArgument"), r
    assert header.lower() in r.field("Message")
    assert send(s3_server, "HEAD", s3_bucket, "ck.txt").status == 404


def test_request_log_has_header_names_only(s3_server, s3_bucket):
    marker = "logged-" + uuid.uuid4().hex
    send(s3_server, "PUT", s3_bucket, marker, body=b"v",
         headers={"x-amz-checksum-sha256": "secret-looking-value"})
    send(s3_server, "PUT", s3_bucket, marker, body=b"v")
    entries = [e for e in s3fixture.read_request_log(s3_server["request_log"])
               if e["path"].endswith(marker)]
    assert [(e["method"], e["status"]) for e in entries] == [("PUT", 400), ("PUT", 200)]
    assert "x-amz-checksum-sha256" in entries[0]["headers"]
    assert not any(h.startswith("x-amz-checksum") for h in entries[1]["headers"])
    assert {"authorization", "x-amz-date", "x-amz-content-sha256"} <= set(entries[1]["headers"])
    with open(s3_server["request_log"]) as fh:
        text = fh.read()
    assert "secret-looking-value" not in text
    assert "Signature=" not in text and s3_server["secret_key"] not in text


# ----------------------------------------------------------------------------------
# Process lifecycle: serve (stdin EOF), clock offset, start/stop
# ----------------------------------------------------------------------------------
def _port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not s3fixture._alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_serve_mode_tears_down_on_stdin_eof():
    proc = subprocess.Popen(
        [sys.executable, FIXTURE, "serve", "--clock-offset", "3600",
         "--allow-checksum-headers", "--bucket", "other-bucket"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "no info line"
        info = json.loads(proc.stdout.readline())
        assert info["bucket"] == "other-bucket"
        assert os.path.isdir(info["dir"]) and _port_open(info["port"])

        # The server's clock is an hour ahead: its Date says so, our time is too skewed.
        r = send(info, "GET", "other-bucket", query=[("list-type", "2")])
        assert r.code == "RequestTimeTooSkewed", r
        server_date = datetime.datetime.strptime(
            r.headers["date"], "%a, %d %b %Y %H:%M:%S GMT"
        ).replace(tzinfo=datetime.timezone.utc)
        assert abs(server_date.timestamp() - time.time() - 3600) < 60
        r = send(info, "GET", "other-bucket", query=[("list-type", "2")],
                 skew=datetime.timedelta(hours=1))
        assert r.status == 200, r
        # Checksum headers allowed with --allow-checksum-headers.
        r = send(info, "PUT", "other-bucket", "c", body=b"x",
                 headers={"x-amz-sdk-checksum-algorithm": "CRC32"},
                 skew=datetime.timedelta(hours=1))
        assert r.status == 200, r

        proc.stdin.close()
        assert proc.wait(timeout=20) == 0
        assert _wait_gone(info["pid"])
        assert not os.path.exists(info["dir"])
        assert not _port_open(info["port"])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()


def test_serve_mode_tears_down_on_sigterm():
    proc = subprocess.Popen([sys.executable, FIXTURE, "serve"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, start_new_session=True)
    try:
        info = json.loads(proc.stdout.readline())
        proc.terminate()
        assert proc.wait(timeout=20) == 0
        assert _wait_gone(info["pid"])
        assert not os.path.exists(info["dir"])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()


def test_server_dies_when_serve_is_killed():
    proc = subprocess.Popen([sys.executable, FIXTURE, "serve"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, start_new_session=True)
    try:
        info = json.loads(proc.stdout.readline())
        proc.kill()  # no cleanup of its own: the server sees EOF on its stdin
        proc.wait()
        assert _wait_gone(info["pid"])
        deadline = time.monotonic() + 10
        while os.path.exists(info["dir"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(info["dir"])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_start_and_stop(tmp_path):
    fdir = str(tmp_path / "fx")
    out = subprocess.run([sys.executable, FIXTURE, "start", "--dir", fdir],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    env = {}
    for line in out.stdout.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            env[name] = value.strip("'")
    assert set(env) >= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL",
                        "AWS_REGION", "S3_BUCKET"}
    with open(os.path.join(fdir, "info.json")) as fh:
        info = json.load(fh)
    try:
        assert info["secret_key"] == env["AWS_SECRET_ACCESS_KEY"]
        assert send(info, "GET", env["S3_BUCKET"], query=[("list-type", "2")]).status == 200
    finally:
        stop = subprocess.run([sys.executable, FIXTURE, "stop", fdir], timeout=30)
    assert stop.returncode == 0
    assert _wait_gone(info["pid"])
    assert not os.path.exists(fdir)


# ----------------------------------------------------------------------------------
# Multipart through the filter (signed by the plugin's own small signer)
# ----------------------------------------------------------------------------------
def test_multipart_complete_and_abort_are_visible(s3_server, s3_bucket):
    from fixtures_s3 import s3_signed_request as req

    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    key = "db/20261123T010000Z.dump"
    status, _, body = req(s3_server, "POST", f"/{s3_bucket}/{key}", {"uploads": ""})
    assert status == 200, body
    upload_id = ET.fromstring(body).findtext(f"{ns}UploadId")
    part = os.urandom(3000)
    status, hdrs, body = req(s3_server, "PUT", f"/{s3_bucket}/{key}",
                             {"partNumber": "1", "uploadId": upload_id}, part)
    assert status == 200, body
    done = ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
            f"<ETag>{hdrs['etag']}</ETag></Part></CompleteMultipartUpload>").encode()
    status, _, body = req(s3_server, "POST", f"/{s3_bucket}/{key}",
                          {"uploadId": upload_id}, done)
    assert status == 200, body
    status, _, body = req(s3_server, "GET", f"/{s3_bucket}/{key}")
    assert (status, body) == (200, part)

    other = "docs/20261123T010000Z.tar.gz"
    status, _, body = req(s3_server, "POST", f"/{s3_bucket}/{other}", {"uploads": ""})
    upload_id = ET.fromstring(body).findtext(f"{ns}UploadId")
    status, _, _ = req(s3_server, "DELETE", f"/{s3_bucket}/{other}", {"uploadId": upload_id})
    assert status == 204
    aborted = [e for e in s3fixture.read_request_log(s3_server["request_log"])
               if e["method"] == "DELETE" and e["path"] == f"/{s3_bucket}/{other}"
               and "uploadId=" in e["query"]]
    assert [e["status"] for e in aborted] == [204]
    status, _, _ = req(s3_server, "HEAD", f"/{s3_bucket}/{other}")
    assert status == 404


def test_moto_api_cannot_switch_checking_off(s3_server):
    r = send(s3_server, "POST", "moto-api", "reset-auth", body=b"inf", sign=False,
             headers={"Content-Type": "text/plain"})
    assert r.status == 403, r
    r = send(s3_server, "GET", s3_server["bucket"], query=[("list-type", "2")],
             secret="w" * 40)
    assert r.code == "SignatureDoesNotMatch", r
