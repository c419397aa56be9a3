#!/usr/bin/env python3
"""Signs a table of S3 requests with botocore's S3SigV4Auth (the reference signer).

Run as a program by any Python that has botocore: reads a JSON list of cases on stdin,
writes a JSON list of {"authorization", "headers"} on stdout. A case has: method, url,
headers (dict), body (latin-1 text), region, access_key, secret_key, session_token,
amz_date ("YYYYMMDDTHHMMSSZ"). Used by test_s3_signer.py with Debian's botocore and the
pyenv one, so both generations of botocore check dolibak's signer.
"""
import datetime
import hashlib
import json
import sys
import types
from unittest import mock


def sign_all(cases):
    import botocore
    import botocore.auth
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    class Signer(S3SigV4Auth):
        def payload(self, request):
            # What dolibak always sends: the body's real SHA-256 (botocore would send
            # UNSIGNED-PAYLOAD over https unless told otherwise).
            body = request.body or b""
            if isinstance(body, str):
                body = body.encode("latin-1")
            return hashlib.sha256(body).hexdigest()

    out = []
    real = datetime.datetime
    for case in cases:
        fixed = real.strptime(case["amz_date"], "%Y%m%dT%H%M%SZ")

        class Fixed(real):
            @classmethod
            def utcnow(cls):
                return fixed

            @classmethod
            def now(cls, tz=None):
                return fixed.replace(tzinfo=tz) if tz else fixed

        shim = types.SimpleNamespace(datetime=Fixed, timezone=datetime.timezone,
                                     timedelta=datetime.timedelta)
        patches = [mock.patch.object(botocore.auth, "datetime", shim)]
        if hasattr(botocore.auth, "get_current_datetime"):
            patches.append(mock.patch.object(botocore.auth, "get_current_datetime",
                                             lambda *a, **k: fixed))
        for p in patches:
            p.start()
        try:
            req = AWSRequest(method=case["method"], url=case["url"],
                             data=case.get("body", "").encode("latin-1"),
                             headers=dict(case.get("headers") or {}))
            creds = Credentials(case["access_key"], case["secret_key"],
                                case.get("session_token"))
            Signer(creds, "s3", case["region"]).add_auth(req)
        finally:
            for p in reversed(patches):
                p.stop()
        out.append({
            "authorization": req.headers["Authorization"],
            "headers": {k.lower(): v for k, v in req.headers.items()},
            "botocore": botocore.__version__,
        })
    return out


if __name__ == "__main__":
    json.dump(sign_all(json.load(sys.stdin)), sys.stdout)
