"""Type stubs of dolibak.s3 (the SigV4 signer)."""
from typing import Dict, Mapping, Optional

def uri_encode(text: str, keep_slash: bool = False) -> str: ...
def sign(
    method: str,
    url: str,
    *,
    region: str,
    access_key: str,
    secret_key: str,
    session_token: Optional[str] = None,
    headers: Optional[Mapping[str, str]] = None,
    body: Optional[bytes] = None,
    payload_sha256: Optional[str] = None,
    amz_date: Optional[str] = None,
    service: str = "s3",
    content_sha256_header: bool = True,
) -> Dict[str, str]: ...
def presign(
    method: str,
    url: str,
    *,
    region: str,
    access_key: str,
    secret_key: str,
    session_token: Optional[str] = None,
    expires: int = 3600,
    headers: Optional[Mapping[str, str]] = None,
    payload_sha256: str = "UNSIGNED-PAYLOAD",
    amz_date: Optional[str] = None,
    service: str = "s3",
) -> str: ...
