"""S3: the SigV4 signer (a pure function; S3's rules: the path is signed as sent)."""
from typing import Iterable, Mapping, Optional, Union

_Headers = Union[Mapping[str, str], Iterable[tuple[str, str]], None]

def sign(method: str, url: str, *, region: str, access_key: str, secret_key: str,
         session_token: Optional[str] = None, headers: _Headers = None,
         body: Optional[bytes] = None, payload_sha256: Optional[str] = None,
         amz_date: Optional[str] = None, service: str = "s3",
         content_sha256_header: bool = True) -> dict[str, str]:
    """The headers to add (lower-case): x-amz-date, x-amz-content-sha256,
    [x-amz-security-token,] authorization."""

def presign(method: str, url: str, *, region: str, access_key: str, secret_key: str,
            session_token: Optional[str] = None, expires: int = 3600, headers: _Headers = None,
            payload_sha256: str = "UNSIGNED-PAYLOAD", amz_date: Optional[str] = None,
            service: str = "s3") -> str:
    """A presigned URL valid `expires` seconds."""

def uri_encode(text: str, keep_slash: bool = False) -> str: ...
