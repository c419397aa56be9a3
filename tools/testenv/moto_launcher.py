#!/usr/bin/env python3
"""Serve moto's S3 on 127.0.0.1 with SigV4 checking on and AWS's missing checks added.

This program runs inside a Python that can ``import moto`` (5.2.x). It is started by
``s3fixture.py`` (stdlib only), which reads the single JSON line this program prints on
stdout. Nothing secret is taken from or put on the command line: the access key is created
here and handed back over the stdout pipe.

What it adds to ``moto_server``:

* signature checking on: an IAM user with an ``s3:*`` policy and an access key are created
  in-process while checking is off, then checking is switched on for every request;
* the canonical request is built from the raw request target (werkzeug's ``RAW_URI``),
  canonicalised the way S3 does it (percent-decode, then AWS-encode every byte outside
  ``A-Z a-z 0-9 - _ . ~``, ``/`` kept in the path; query pairs sorted), instead of moto's
  IRI in which ``%2F %28 %3A ...`` and non-ASCII are already decoded;
* a WSGI filter in front of moto answering AWS's errors for checks moto does not make:
  unsigned or query-signed requests, ``x-amz-content-sha256`` against the body,
  ``Content-MD5``, DeleteObjects without ``Content-MD5``, clock skew beyond 15 minutes,
  UploadPart without ``Content-MD5`` into a bucket with a default Object Lock retention
  (moto checks PutObject itself, not UploadPart), and (by default) any flexible-checksum
  header;
* a ``Date`` header on every response, from the (optionally offset) server clock;
* a JSONL request log: method, raw path, raw query, status, header names (never values);
* STS on the same endpoint, for the credential chain's tests: a role (``role_arn``, with
  ``s3:*`` and ``sts:AssumeRole``) that the user may assume, AssumeRole signed with SigV4
  (checked by moto, the session token of chained credentials included), and
  AssumeRoleWithWebIdentity (unsigned, answered here: the token must be the one in the
  fixture's ``web_identity_token_file``, the role must exist). The temporary credentials
  STS hands out work on S3 only with their session token (moto checks it).

It stops on stdin EOF (unless ``--detached``) or SIGTERM/SIGINT/SIGHUP.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import email.utils
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit
from xml.sax.saxutils import escape

MAX_SKEW_SECONDS = 15 * 60
USER_NAME = "dolibak-test"
ROLE_NAME = "dolibak-test-role"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"

_UNRESERVED = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
)


# --------------------------------------------------------------------------------------
# Canonical URI / query string, as S3 computes them from the request target
# --------------------------------------------------------------------------------------
def _aws_encode(raw: bytes, keep_slash: bool) -> str:
    out = []
    for byte in raw:
        if byte in _UNRESERVED or (keep_slash and byte == 0x2F):
            out.append(chr(byte))
        else:
            out.append("%%%02X" % byte)
    return "".join(out)


def _raw_target_bytes(environ: dict) -> bytes:
    """The request target exactly as the client sent it, as bytes."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw is None:
        # Not werkzeug's server: rebuild from the decoded parts (best effort).
        path = environ.get("PATH_INFO", "").encode("latin-1")
        query = environ.get("QUERY_STRING", "").encode("latin-1")
        return path + (b"?" + query if query else b"")
    # werkzeug hands over str(request line, latin-1).encode("utf-8").decode("latin-1");
    # undo both steps to get the bytes on the wire back.
    try:
        return raw.encode("latin-1").decode("utf-8").encode("latin-1")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return raw.encode("latin-1", "replace")


def split_target(target: bytes) -> tuple[bytes, bytes]:
    if not target.startswith(b"/"):
        # absolute-form target (http://host/path?q)
        parts = urlsplit(target)
        return parts.path or b"/", parts.query
    path, _, query = target.partition(b"?")
    path = path.partition(b"#")[0]
    query = query.partition(b"#")[0]
    return path, query


def canonical_path_and_query(target: bytes) -> str:
    """``/canonical/path?canonical=query`` for the request target ``target``."""
    path, query = split_target(target)
    canon_path = _aws_encode(unquote_to_bytes(path), keep_slash=True) or "/"
    pairs = []
    if query:
        for item in query.split(b"&"):
            if not item:
                continue
            name, _, value = item.partition(b"=")
            pairs.append(
                (
                    _aws_encode(unquote_to_bytes(name), keep_slash=False),
                    _aws_encode(unquote_to_bytes(value), keep_slash=False),
                )
            )
    pairs.sort()
    if not pairs:
        return canon_path
    return canon_path + "?" + "&".join(f"{n}={v}" for n, v in pairs)


_CURRENT = threading.local()


def _install_canonicalisation_fix() -> None:
    """Make moto's signature check use the raw request target (see module doc).

    moto's ``IAMRequestBase._create_aws_request`` builds a botocore ``AWSRequest`` from
    ``urlparse(werkzeug_request.url)``. We let it build that request and then replace its
    URL by the canonical form of the target the client really sent. botocore's
    ``S3SigV4Auth`` uses the path as given and the query verbatim (split on ``&``, sorted),
    so both are handed over already canonical. Only what the checker sees changes: moto's
    routing keeps its own view of the URL, and the comparison itself is untouched.
    """
    from moto.iam import access_control

    original = access_control.IAMRequestBase._create_aws_request
    if getattr(original, "_dolibak_patched", False):
        return

    def _create_aws_request(self):  # type: ignore[no-untyped-def]
        request = original(self)
        canonical = getattr(_CURRENT, "canonical", None)
        if canonical is not None:
            # A dummy origin keeps urlsplit from reading a leading "//" as a netloc.
            request.url = "http://canonical.invalid" + canonical
        return request

    _create_aws_request._dolibak_patched = True  # type: ignore[attr-defined]
    access_control.IAMRequestBase._create_aws_request = _create_aws_request


# --------------------------------------------------------------------------------------
# moto setup
# --------------------------------------------------------------------------------------
def setup_moto(bucket: str, region: str, lock_days: int = 0) -> tuple[str, str, str]:
    """Create user + policy + key + bucket with checking off; then switch checking on.

    ``lock_days`` > 0: the bucket has Object Lock on, versioning on and a default retention
    (GOVERNANCE) of that many days, as AWS sets it up; uploads then need Content-MD5.
    """
    from moto import settings
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends
    from moto.s3.models import s3_backends

    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
    iam = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    iam.create_user(region_name=region, user_name=USER_NAME)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sts:AssumeRole"],
                       "Resource": "*"}],
    }
    iam.put_user_policy(USER_NAME, "s3-all", json.dumps(policy))
    key = iam.create_access_key(USER_NAME)
    # The role of the STS tests: credentials assumed from it may use S3 (and assume it again,
    # for chained profiles).
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                       "Action": ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"]}],
    }
    role = iam.create_role(ROLE_NAME, json.dumps(trust), "/", None, "dolibak tests", [], None)
    iam.put_role_policy(ROLE_NAME, "s3-all", json.dumps(policy))
    s3 = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    s3.create_bucket(bucket, region)
    if lock_days > 0:
        s3.put_bucket_versioning(bucket, "Enabled")
        s3.get_bucket(bucket).object_lock_enabled = True
        # years=0, not None: moto adds years * 365 days to each retention date.
        s3.put_object_lock_configuration(bucket, True, mode="GOVERNANCE", days=lock_days,
                                         years=0)
    # From now on every request is authenticated (what /moto-api/reset-auth with "0" does).
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    return key.access_key_id, key.secret_access_key, role.arn


# --------------------------------------------------------------------------------------
# The WSGI filter
# --------------------------------------------------------------------------------------
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _has_default_lock(target: bytes) -> bool:
    """Whether the (path-style) bucket of a request has a default Object Lock retention."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    path, _ = split_target(target)
    name = unquote_to_bytes(path.lstrip(b"/").split(b"/", 1)[0]).decode("utf-8", "replace")
    try:
        return bool(s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_bucket(name).has_default_lock)
    except Exception:  # no such bucket: moto answers that itself
        return False
_FORBIDDEN_EXACT = ("x-amz-sdk-checksum-algorithm", "x-amz-trailer")


class _Reject(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: str):
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
    501: "Not Implemented",
}


def _request_headers(environ: dict) -> dict[str, str]:
    """Lower-case header name -> value, from a WSGI environ."""
    out = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            out[key[5:].replace("_", "-").lower()] = value
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value != "":
            out[key.replace("_", "-").lower()] = value
    return out


def _header_names(environ: dict) -> list[str]:
    return sorted(_request_headers(environ))


def _parse_amz_date(value: str) -> datetime | None:
    try:
        return datetime.strptime(value.strip(), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _parse_http_date(value: str) -> datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


class S3Filter:
    def __init__(
        self,
        app,
        *,
        clock_offset: float = 0.0,
        forbid_checksum_headers: bool = True,
        allow_moto_api: bool = False,
        request_log: str | None = None,
        web_identity_token: str | None = None,
        region: str = "us-east-1",
    ):
        self.app = app
        self.web_identity_token = web_identity_token
        self.region = region
        self.clock_offset = clock_offset
        self.forbid_checksum_headers = forbid_checksum_headers
        self.allow_moto_api = allow_moto_api
        self.request_log = request_log
        self._log_lock = threading.Lock()

    # -- helpers ---------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.clock_offset

    def _log(self, environ: dict, target: bytes, status: int, body_len: int) -> None:
        if not self.request_log:
            return
        path, query = split_target(target)
        entry = {
            "time": datetime.fromtimestamp(time.time(), timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            ),
            "method": environ.get("REQUEST_METHOD", ""),
            "path": path.decode("latin-1"),
            "query": query.decode("latin-1"),
            "status": status,
            "headers": _header_names(environ),
            "body_bytes": body_len,
        }
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._log_lock:
            with open(self.request_log, "a", encoding="utf-8") as fh:
                fh.write(line)

    def _error(self, environ, start_response, err: _Reject):
        request_id = uuid.uuid4().hex[:16].upper()
        parts = [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>",
            f"<Code>{escape(err.code)}</Code>",
            f"<Message>{escape(err.message)}</Message>",
        ]
        for name, value in err.extra.items():
            parts.append(f"<{name}>{escape(str(value))}</{name}>")
        parts.append(f"<RequestId>{request_id}</RequestId>")
        parts.append(f"<HostId>{request_id}</HostId></Error>")
        body = "".join(parts).encode("utf-8")
        if environ.get("REQUEST_METHOD") == "HEAD":
            body = b""
        headers = [
            ("Content-Type", "application/xml"),
            ("Content-Length", str(len(body))),
            ("x-amz-request-id", request_id),
        ]
        start_response(f"{err.status} {_REASONS.get(err.status, 'Error')}", headers)
        return [body]

    def _read_body(self, environ: dict) -> bytes:
        stream = environ.get("wsgi.input")
        length = environ.get("CONTENT_LENGTH", "")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if stream is None:
            return b""
        if length and not chunked:
            try:
                n = int(length)
            except ValueError:
                raise _Reject(400, "InvalidArgument", "Invalid Content-Length")
            chunks = []
            remaining = n
            while remaining > 0:
                chunk = stream.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            body = b"".join(chunks)
            if len(body) != n:
                raise _Reject(
                    400, "IncompleteBody",
                    "You did not provide the number of bytes specified by the "
                    "Content-Length HTTP header",
                )
            return body
        if chunked or environ.get("wsgi.input_terminated"):
            chunks = []
            while True:
                chunk = stream.read(1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
        return b""

    # -- STS ---------------------------------------------------------------------------
    @staticmethod
    def _is_signed_sts(headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        return auth.startswith("AWS4-HMAC-SHA256 ") and "/sts/aws4_request" in auth

    @staticmethod
    def _unsigned_sts_action(environ: dict, target: bytes, body: bytes) -> str | None:
        """The Action of an unsigned STS form POST to /, else None."""
        headers = _request_headers(environ)
        path, query = split_target(target)
        if ("authorization" in headers or environ.get("REQUEST_METHOD") != "POST"
                or path != b"/" or query):
            return None
        if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return None
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return fields.get("Action", [None])[0]

    def _sts_error(self, start_response, status: int, code: str, message: str):
        request_id = str(uuid.uuid4())
        body = (f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>Sender</Type>'
                f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>").encode("utf-8")
        start_response(f"{status} {_REASONS.get(status, 'Error')}",
                       [("Content-Type", "text/xml"), ("Content-Length", str(len(body))),
                        ("x-amzn-RequestId", request_id)])
        return [body]

    def _web_identity(self, start_response, body: bytes):
        """AssumeRoleWithWebIdentity: the token must be the fixture's, the role must exist."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        fields = {k: v[0] for k, v in
                  parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        token = fields.get("WebIdentityToken", "")
        if (not self.web_identity_token or not token
                or not hmac.compare_digest(token.encode(), self.web_identity_token.encode())):
            return self._sts_error(start_response, 400, "InvalidIdentityToken",
                                   "The web identity token is not valid")
        role_arn = fields.get("RoleArn", "")
        session = fields.get("RoleSessionName", "")
        if not session:
            return self._sts_error(start_response, 400, "ValidationError",
                                   "RoleSessionName is required")
        try:
            iam_backends[DEFAULT_ACCOUNT_ID]["aws"].get_role_by_arn(role_arn)
        except Exception:
            return self._sts_error(start_response, 403, "AccessDenied",
                                   "Not authorized to perform sts:AssumeRoleWithWebIdentity")
        try:
            duration = int(fields.get("DurationSeconds", "3600"))
        except ValueError:
            duration = 0
        if not 900 <= duration <= 43200:
            return self._sts_error(start_response, 400, "ValidationError",
                                   "DurationSeconds must be 900 to 43200")
        role = sts_backends[DEFAULT_ACCOUNT_ID]["aws"].assume_role_with_web_identity(
            region_name=self.region, role_session_name=session, role_arn=role_arn,
            policy=None, duration=duration, external_id=None)
        expiration = role.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
        request_id = str(uuid.uuid4())
        xml = (f'<AssumeRoleWithWebIdentityResponse xmlns="{STS_NS}">'
               "<AssumeRoleWithWebIdentityResult>"
               f"<SubjectFromWebIdentityToken>dolibak-test</SubjectFromWebIdentityToken>"
               f"<AssumedRoleUser><Arn>{escape(role.arn)}</Arn>"
               f"<AssumedRoleId>{escape(role.user_id)}</AssumedRoleId></AssumedRoleUser>"
               f"<Credentials><SessionToken>{escape(role.session_token)}</SessionToken>"
               f"<SecretAccessKey>{escape(role.secret_access_key)}</SecretAccessKey>"
               f"<Expiration>{expiration}</Expiration>"
               f"<AccessKeyId>{escape(role.access_key_id)}</AccessKeyId></Credentials>"
               "<Provider>dolibak-test</Provider>"
               "</AssumeRoleWithWebIdentityResult>"
               f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
               "</AssumeRoleWithWebIdentityResponse>").encode("utf-8")
        start_response("200 OK", [("Content-Type", "text/xml"),
                                  ("Content-Length", str(len(xml))),
                                  ("x-amzn-RequestId", request_id)])
        return [xml]

    def _check_sts(self, environ: dict, body: bytes) -> None:
        """A signed STS request: the clock, and x-amz-content-sha256 when sent (moto signs
        with the header's value: a wrong one must not pass). moto checks the signature."""
        headers = _request_headers(environ)
        when = _parse_amz_date(headers.get("x-amz-date", ""))
        if when is None:
            raise _Reject(403, "AccessDenied", "STS: no valid x-amz-date")
        if abs(when.timestamp() - self.now()) > MAX_SKEW_SECONDS:
            raise _Reject(403, "RequestTimeTooSkewed", "STS: the request time is too skewed")
        declared = headers.get("x-amz-content-sha256")
        if declared is not None and declared != hashlib.sha256(body).hexdigest():
            raise _Reject(400, "XAmzContentSHA256Mismatch",
                          "The provided 'x-amz-content-sha256' header does not match the body")

    # -- the checks ------------------------------------------------------------------
    def _check(self, environ: dict, target: bytes, body: bytes) -> None:
        headers = _request_headers(environ)
        method = environ.get("REQUEST_METHOD", "")
        _, query = split_target(target)
        query_names = {
            unquote_to_bytes(item.partition(b"=")[0]).decode("utf-8", "replace")
            for item in query.split(b"&") if item
        }

        # Authentication mechanism.
        auth = headers.get("authorization", "")
        if not auth:
            if "X-Amz-Signature" in query_names or "X-Amz-Credential" in query_names:
                raise _Reject(
                    501, "NotImplemented",
                    "Query-string (presigned) authentication is not supported by this "
                    "test server",
                )
            raise _Reject(403, "AccessDenied", "Access Denied")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            raise _Reject(
                400, "InvalidRequest",
                "The authorization mechanism you have provided is not supported. "
                "Please use AWS4-HMAC-SHA256.",
            )

        # Clock skew.
        amz_date = headers.get("x-amz-date")
        if amz_date is not None:
            when = _parse_amz_date(amz_date)
        elif "date" in headers:
            when = _parse_http_date(headers["date"])
        else:
            raise _Reject(
                403, "AccessDenied",
                "AWS authentication requires a valid Date or x-amz-date header",
            )
        if when is None:
            raise _Reject(
                403, "AccessDenied",
                "AWS authentication requires a valid Date or x-amz-date header",
            )
        now = self.now()
        if abs(when.timestamp() - now) > MAX_SKEW_SECONDS:
            raise _Reject(
                403, "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too "
                "large.",
                RequestTime=amz_date if amz_date is not None else headers["date"],
                ServerTime=datetime.fromtimestamp(now, timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                MaxAllowedSkewMilliseconds=str(MAX_SKEW_SECONDS * 1000),
            )

        # Flexible checksums (GCS-like strictness; our client must never send them).
        if self.forbid_checksum_headers:
            for name in sorted(headers):
                if name.startswith("x-amz-checksum-") or name in _FORBIDDEN_EXACT:
                    raise _Reject(
                        400, "InvalidArgument",
                        f"Header {name} is not supported by this server "
                        "(checksum headers are refused)",
                        ArgumentName=name,
                        ArgumentValue=headers[name],
                    )
            encodings = [e.strip().lower() for e in headers.get("content-encoding", "").split(",")]
            if "aws-chunked" in encodings:
                raise _Reject(
                    400, "InvalidArgument",
                    "Header content-encoding: aws-chunked is not supported by this server",
                    ArgumentName="content-encoding",
                    ArgumentValue=headers["content-encoding"],
                )

        # x-amz-content-sha256.
        declared = headers.get("x-amz-content-sha256")
        if declared is None:
            raise _Reject(
                400, "InvalidRequest",
                "Missing required header for this request: x-amz-content-sha256",
            )
        if declared != "UNSIGNED-PAYLOAD" and not declared.startswith("STREAMING-"):
            if not _HEX64.match(declared):
                raise _Reject(
                    400, "InvalidArgument",
                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-..., or a "
                    "valid sha256 value.",
                    ArgumentName="x-amz-content-sha256",
                    ArgumentValue=declared,
                )
            actual = hashlib.sha256(body).hexdigest()
            if actual != declared:
                raise _Reject(
                    400, "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was "
                    "computed.",
                    ClientComputedContentSHA256=declared,
                    S3ComputedContentSHA256=actual,
                )

        # Content-MD5.
        md5_header = headers.get("content-md5")
        if md5_header is not None:
            try:
                expected = base64.b64decode(md5_header.strip(), validate=True)
            except (binascii.Error, ValueError):
                expected = b""
            if len(expected) != 16:
                raise _Reject(
                    400, "InvalidDigest", "The Content-MD5 you specified was not valid.",
                    **{"Content-MD5": md5_header},
                )
            actual_md5 = hashlib.md5(body).digest()
            if actual_md5 != expected:
                raise _Reject(
                    400, "BadDigest",
                    "The Content-MD5 you specified did not match what we received.",
                    ExpectedDigest=md5_header,
                    CalculatedDigest=base64.b64encode(actual_md5).decode("ascii"),
                )

        # moto (not S3) parses such bodies as HTML forms: a PUT stores an empty object, a
        # DeleteObjects answers 500. S3 keeps bodies opaque; say so loudly instead of
        # storing the wrong bytes.
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if body and ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            raise _Reject(
                501, "NotImplemented",
                f"This test server (moto) cannot take a body sent as Content-Type {ctype}; "
                "S3 would store it as is. Send another Content-Type "
                "(e.g. application/octet-stream).",
            )

        # UploadPart into a bucket with a default retention needs an integrity header, as
        # PutObject does (AWS: "Content-MD5 OR x-amz-checksum- HTTP header is required").
        if (method == "PUT" and {"partNumber", "uploadId"} <= query_names
                and _has_default_lock(target)):
            has_checksum = any(n.startswith("x-amz-checksum-") for n in headers)
            if md5_header is None and not has_checksum:
                raise _Reject(
                    400, "InvalidRequest",
                    "Content-MD5 OR x-amz-checksum- HTTP header is required for Upload Part "
                    "requests with Object Lock parameters",
                )

        # DeleteObjects needs an integrity header.
        if method == "POST" and "delete" in query_names:
            has_checksum = any(n.startswith("x-amz-checksum-") for n in headers)
            if md5_header is None and not has_checksum:
                raise _Reject(
                    400, "InvalidRequest",
                    "Missing required header for this request: Content-MD5",
                )

    # -- WSGI ------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        target = _raw_target_bytes(environ)
        path, _ = split_target(target)
        body_len = 0
        logged = []

        def logging_start_response(status, headers, exc_info=None):
            code = int(status.split(" ", 1)[0])
            if not logged:
                logged.append(code)
                self._log(environ, target, code, body_len)
            # The server's Date (from the offset clock) is the only one sent.
            headers = [(k, v) for k, v in headers if k.lower() != "date"]
            return start_response(status, headers, exc_info)

        if path.startswith(b"/moto-api") and not self.allow_moto_api:
            err = _Reject(403, "AccessDenied", "moto-api is disabled on this test server")
            return self._error(environ, logging_start_response, err)

        try:
            body = self._read_body(environ)
            body_len = len(body)
            action = self._unsigned_sts_action(environ, target, body)
            if action == "AssumeRoleWithWebIdentity":
                return self._web_identity(logging_start_response, body)
            if action is not None:
                return self._sts_error(logging_start_response, 403, "MissingAuthenticationToken",
                                       f"{action} must be signed")
            if self._is_signed_sts(_request_headers(environ)):
                self._check_sts(environ, body)
            elif not path.startswith(b"/moto-api"):
                self._check(environ, target, body)
        except _Reject as err:
            return self._error(environ, logging_start_response, err)

        environ["wsgi.input"] = io.BytesIO(body)
        if body or environ.get("CONTENT_LENGTH") or "HTTP_TRANSFER_ENCODING" in environ:
            environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ.pop("wsgi.input_terminated", None)

        _CURRENT.canonical = canonical_path_and_query(target)
        try:
            result = self.app(environ, logging_start_response)
            # Materialise now so the thread-local is still set while moto works lazily.
            chunks = list(result)
            if hasattr(result, "close"):
                result.close()
            return chunks
        except Exception:
            if not logged:
                self._log(environ, target, 500, body_len)
            raise
        finally:
            _CURRENT.canonical = None


# --------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------
def _make_handler(clock_offset: float, verbose: bool):
    from werkzeug.serving import WSGIRequestHandler

    class Handler(WSGIRequestHandler):
        def date_time_string(self, timestamp=None):  # noqa: D401
            if timestamp is None:
                timestamp = time.time() + clock_offset
            return email.utils.formatdate(timestamp, usegmt=True)

        def log(self, type, message, *args):  # noqa: A002
            if verbose:
                super().log(type, message, *args)

    return Handler


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True, help="fixture directory (request log, etc.)")
    ap.add_argument("--bucket", default="dolibak-test")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--port", type=int, default=0, help="0: any free port")
    ap.add_argument("--clock-offset", type=float, default=0.0)
    ap.add_argument("--object-lock-days", type=int, default=0,
                    help="> 0: the bucket has Object Lock with this default retention")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--forbid-checksum-headers", dest="forbid", action="store_true",
                       default=True)
    group.add_argument("--allow-checksum-headers", dest="forbid", action="store_false")
    ap.add_argument("--moto-api", action="store_true",
                    help="let requests reach /moto-api/ (off: anyone could disable auth)")
    ap.add_argument("--detached", action="store_true",
                    help="do not watch stdin; run until SIGTERM/SIGINT/SIGHUP")
    ap.add_argument("--remove-dir", action="store_true",
                    help="remove --dir on exit (it is a temporary dir of ours)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    # Keep moto from talking to the network or looking for real credentials.
    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "false")
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(var, None)

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    _install_canonicalisation_fix()
    access_key, secret_key, role_arn = setup_moto(args.bucket, args.region,
                                                  args.object_lock_days)
    # The web identity token AssumeRoleWithWebIdentity accepts, in a private file (as a
    # Kubernetes service account token is).
    web_identity_token = secrets.token_urlsafe(32)
    token_file = os.path.join(os.path.abspath(args.dir), "web-identity-token")
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(web_identity_token + "\n")

    moto_app = DomainDispatcherApplication(create_backend_app)
    request_log = os.path.join(args.dir, "requests.jsonl")
    open(request_log, "a").close()
    app = S3Filter(
        moto_app,
        clock_offset=args.clock_offset,
        forbid_checksum_headers=args.forbid,
        allow_moto_api=args.moto_api,
        request_log=request_log,
        web_identity_token=web_identity_token,
        region=args.region,
    )
    server = make_server(
        "127.0.0.1", args.port, app, threaded=True,
        request_handler=_make_handler(args.clock_offset, args.verbose),
    )
    port = server.server_address[1]
    os.environ["MOTO_PORT"] = str(port)

    stop = threading.Event()

    def _on_signal(signum, frame):  # noqa: ARG001
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="s3-serve", daemon=True)
    thread.start()

    info = {
        "endpoint": f"http://127.0.0.1:{port}",
        "host": "127.0.0.1",
        "port": port,
        "region": args.region,
        "bucket": args.bucket,
        "access_key": access_key,
        "secret_key": secret_key,
        "role_arn": role_arn,
        "web_identity_token_file": token_file,
        "dir": os.path.abspath(args.dir),
        "request_log": os.path.abspath(request_log),
        "pid": os.getpid(),
        "clock_offset": args.clock_offset,
        "forbid_checksum_headers": args.forbid,
    }
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    if args.detached:
        # Nobody reads our stdout any more: don't die of a late write.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    else:
        def _watch_stdin():
            try:
                while os.read(0, 65536):
                    pass
            except OSError:
                pass
            stop.set()

        threading.Thread(target=_watch_stdin, name="stdin-watch", daemon=True).start()

    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    if args.remove_dir:
        import shutil
        shutil.rmtree(args.dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
