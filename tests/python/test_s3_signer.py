"""dolibak.s3.sign against botocore's S3SigV4Auth (Debian's botocore 1.29 and, when present,
the pyenv one, 1.4x): the Authorization header must be identical for a table of S3 requests
of the kinds dolibak sends, with awkward keys, queries, session tokens and both addressing
styles. (AWS's published vectors are checked by tests/cpp/s3/test_s3_signer.cpp.)"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

dolibak = pytest.importorskip("dolibak")
import dolibak.s3  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SIGNER = os.path.join(HERE, "botocore_sign.py")

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLE//////////wEaDH+token/with+slashes=="
EMPTY = hashlib.sha256(b"").hexdigest()


def enc(text, safe="/"):
    return dolibak.s3.uri_encode(text, keep_slash=(safe == "/"))


def md5_b64(data: bytes) -> str:
    import base64
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _cases():
    ep = "http://127.0.0.1:9000"
    vh = "https://my-bucket.s3.eu-west-3.amazonaws.com"
    keys = [
        "db/20261123T010000Z.dump",
        "dump-2026-11-23T01:00:00Z.pgdump",
        "paren(1).txt",
        "a+b=c&d.txt",
        "\u00fcmlaut.txt",
        "sp ace.txt",
        "tilde~x",
        "at@star*.txt",
        "dir//double/./dot/../x",
        "%41literal-percent",
    ]
    cases = []
    for k in keys:
        cases.append(dict(method="GET", url=f"{ep}/bucket/{enc(k)}", region="us-east-1"))
        cases.append(dict(method="PUT", url=f"{vh}/{enc(k)}", region="eu-west-3",
                          headers={"Content-Type": "application/octet-stream"},
                          body="PGDMP\x01\x0e\x00 binary\xff"))
    delete_body = ('<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object>'
                   '<Object><Key>b&amp;c</Key></Object></Delete>')
    cases += [
        dict(method="GET", url=f"{ep}/bucket/k", region="us-east-1",
             headers={"Range": "bytes=100-", "If-Match": '"0123abcd"'}),
        dict(method="HEAD", url=f"{ep}/bucket/db/x.dump", region="auto"),
        dict(method="GET", url=f"{ep}/bucket?" + "&".join([
            "continuation-token=" + enc("1/abc+def==", safe=""), "delimiter=%2F",
            "list-type=2", "max-keys=1000", "prefix=" + enc("db/2026 11", safe="")]),
             region="us-east-1"),
        dict(method="GET", url=f"{vh}/?list-type=2&prefix=", region="eu-west-3"),
        dict(method="POST", url=f"{ep}/bucket/big.dump?uploads=", region="us-east-1",
             headers={"Content-Type": "application/octet-stream"}),
        dict(method="PUT", url=f"{ep}/bucket/big.dump?partNumber=7&uploadId="
             + enc("2~xyz/AbC+==", safe=""), region="us-east-1", body="p" * 1000),
        dict(method="POST", url=f"{ep}/bucket/big.dump?uploadId=abc", region="us-east-1",
             headers={"Content-Type": "application/xml"},
             body="<CompleteMultipartUpload></CompleteMultipartUpload>"),
        dict(method="DELETE", url=f"{ep}/bucket/big.dump?uploadId=abc", region="us-east-1"),
        dict(method="POST", url=f"{ep}/bucket?delete=", region="us-east-1",
             headers={"Content-Type": "application/xml",
                      "Content-MD5": md5_b64(delete_body.encode())},
             body=delete_body),
        dict(method="GET", url=f"{ep}/bucket?uploads=&prefix=db%2F", region="us-east-1"),
        dict(method="PUT", url=f"{vh}/k", region="eu-west-3", session_token=TOKEN, body="x",
             headers={"If-None-Match": "*", "x-amz-meta-Sha256": "  a   b  "}),
        dict(method="GET", url="https://acc.r2.cloudflarestorage.com/b/k", region="auto",
             session_token=TOKEN),
        dict(method="GET", url="http://localhost/b/k", region="us-east-1"),
    ]
    for i, c in enumerate(cases):
        c.setdefault("headers", {})
        c.setdefault("body", "")
        c.setdefault("session_token", None)
        c.update(access_key=AK, secret_key=SK, amz_date=f"2026112{i % 10}T0{i % 10}1500Z")
    return cases


CASES = _cases()


def _ours(case):
    return dolibak.s3.sign(
        case["method"], case["url"], region=case["region"], access_key=case["access_key"],
        secret_key=case["secret_key"], session_token=case["session_token"],
        headers=case["headers"], body=case["body"].encode("latin-1"),
        amz_date=case["amz_date"])


def _pythons():
    """Interpreters with botocore: Debian's and the pyenv ones."""
    found = []
    cands = ["/usr/bin/python3", sys.executable, shutil.which("python3") or "",
             os.path.expanduser("~/.pyenv/shims/python3")]
    cands += sorted(glob.glob("/root/.pyenv/versions/*/bin/python3"))
    seen = set()
    for py in cands:
        if not py or not os.access(py, os.X_OK):
            continue
        try:
            out = subprocess.run([py, "-c", "import botocore, sys; "
                                  "print(botocore.__version__, sys.executable)"],
                                 capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode != 0:
            continue
        version, exe = out.stdout.split()
        if version not in seen:
            seen.add(version)
            found.append((version, exe))
    return found


PYTHONS = _pythons()


@pytest.mark.skipif(not PYTHONS, reason="no Python with botocore")
@pytest.mark.parametrize("version,python", PYTHONS, ids=[v for v, _ in PYTHONS])
def test_authorization_matches_botocore(version, python):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([python, SIGNER], input=json.dumps(CASES), capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    theirs = json.loads(proc.stdout)
    assert len(theirs) == len(CASES)
    for case, ref in zip(CASES, theirs):
        assert ref["botocore"] == version
        ours = _ours(case)
        assert ours["authorization"] == ref["authorization"], case
        assert ours["x-amz-date"] == ref["headers"]["x-amz-date"]
        assert ours["x-amz-content-sha256"] == ref["headers"]["x-amz-content-sha256"]
        if case["session_token"]:
            assert ours["x-amz-security-token"] == case["session_token"]
            assert ref["headers"]["x-amz-security-token"] == case["session_token"]


def test_sign_returns_only_headers_to_add():
    h = dolibak.s3.sign("GET", "https://examplebucket.s3.amazonaws.com/test.txt",
                        region="us-east-1", access_key=AK, secret_key=SK,
                        headers={"Range": "bytes=0-9"}, amz_date="20130524T000000Z")
    assert set(h) == {"x-amz-date", "x-amz-content-sha256", "authorization"}
    assert h["x-amz-content-sha256"] == EMPTY
    assert h["authorization"].endswith(
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    assert SK not in repr(h)


def test_presign_matches_the_s3_documentation_example():
    # S3 API reference, "Authenticating Requests: Using Query Parameters".
    url = dolibak.s3.presign("GET", "https://examplebucket.s3.amazonaws.com/test.txt",
                             region="us-east-1", access_key=AK, secret_key=SK,
                             amz_date="20130524T000000Z", expires=86400)
    assert url.endswith(
        "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    assert url.startswith("https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=")


@pytest.mark.skipif(not PYTHONS, reason="no Python with botocore")
def test_presign_matches_botocore():
    import botocore  # noqa: F401  (Debian's, in this interpreter)
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from unittest import mock
    import datetime
    import botocore.auth

    fixed = datetime.datetime(2026, 11, 23, 1, 2, 3)
    for url, token in [("https://b.s3.amazonaws.com/db/x%20y.dump", None),
                       ("http://127.0.0.1:9000/b/k?versionId=3", TOKEN)]:
        req = AWSRequest(method="GET", url=url)
        with mock.patch.object(botocore.auth.datetime, "datetime",
                               type("F", (datetime.datetime,), {
                                   "utcnow": classmethod(lambda cls: fixed),
                                   "now": classmethod(lambda cls, tz=None: fixed)})):
            S3SigV4QueryAuth(Credentials(AK, SK, token), "s3", "us-east-1",
                             expires=600).add_auth(req)
        ref_sig = req.url.rsplit("X-Amz-Signature=", 1)[1].split("&")[0]
        ours = dolibak.s3.presign("GET", url, region="us-east-1", access_key=AK,
                                  secret_key=SK, session_token=token, expires=600,
                                  amz_date="20261123T010203Z")
        assert ours.rsplit("X-Amz-Signature=", 1)[1].split("&")[0] == ref_sig, (url, req.url)
