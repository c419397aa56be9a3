"""pytest plugin: a moto S3 server with SigV4 checking on (see tools/testenv/s3fixture.py).

Fixtures:
  s3_server  (session)   the server's info dict: endpoint, host, port, region, bucket,
                         access_key, secret_key, dir, request_log, pid
  s3_bucket  (function)  name of a fresh, empty bucket on that server

Also usable from tests: ``s3_signed_request(info, method, path, ...)`` (a small SigV4
signer from the standard library, independent of botocore and of dolibak's own signer).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import http.client
import uuid
from urllib.parse import quote

import pytest

from s3fixture import S3Server


def _aws_quote(text: str, safe: str = "") -> str:
    return quote(text, safe=safe + "~")


def s3_signed_request(
    info: dict,
    method: str,
    path: str,
    query: dict | None = None,
    body: bytes = b"",
    headers: dict | None = None,
    *,
    access_key: str | None = None,
    secret_key: str | None = None,
    timeout: float = 30.0,
):
    """Send a SigV4-signed request; ``path`` is unencoded (``/bucket/key``).

    Returns (status, headers dict with lower-case names, body bytes).
    """
    access_key = access_key or info["access_key"]
    secret_key = secret_key or info["secret_key"]
    region = info["region"]
    now = _dt.datetime.now(_dt.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]

    enc_path = _aws_quote(path, safe="/")
    pairs = sorted((_aws_quote(k), _aws_quote(v)) for k, v in (query or {}).items())
    enc_query = "&".join(f"{k}={v}" for k, v in pairs)

    hdrs = {k.lower(): str(v).strip() for k, v in (headers or {}).items()}
    hdrs["host"] = f"{info['host']}:{info['port']}"
    hdrs["x-amz-date"] = amz_date
    hdrs.setdefault("x-amz-content-sha256", hashlib.sha256(body).hexdigest())
    signed = sorted(hdrs)
    canonical = "\n".join([
        method, enc_path, enc_query,
        "".join(f"{h}:{hdrs[h]}\n" for h in signed),
        ";".join(signed),
        hdrs["x-amz-content-sha256"],
    ])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join([
        "AWS4-HMAC-SHA256", amz_date, scope,
        hashlib.sha256(canonical.encode()).hexdigest(),
    ])
    key = ("AWS4" + secret_key).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    hdrs["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    conn = http.client.HTTPConnection(info["host"], info["port"], timeout=timeout)
    try:
        target = enc_path + ("?" + enc_query if enc_query else "")
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in hdrs.items():
            conn.putheader(name, value)
        if body or method in ("PUT", "POST"):
            conn.putheader("content-length", str(len(body)))
        conn.endheaders(body if body else None)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


@pytest.fixture(scope="session")
def s3_server():
    """A moto S3 server for the whole session; yields its info dict."""
    with S3Server() as server:
        yield server.info


@pytest.fixture
def s3_bucket(s3_server):
    """A fresh bucket (created with a signed CreateBucket) on the session server."""
    name = "dolibak-t-" + uuid.uuid4().hex[:16]
    status, _, body = s3_signed_request(s3_server, "PUT", f"/{name}")
    if status != 200:
        raise RuntimeError(f"CreateBucket {name} -> {status}: {body[:500]!r}")
    yield name
