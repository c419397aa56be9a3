"""Type stubs of dolibak.io (digests, age encryption)."""
import os
from typing import Literal, Optional, Sequence, Tuple, Union

from dolibak import FormatError

class AgeError(FormatError):
    """An age file that cannot be decrypted; `kind` is 'header', 'no_match', 'hmac' or
    'payload'."""

    kind: Literal["header", "no_match", "hmac", "payload"]

def sha256(data: bytes) -> str: ...
def sha256_file(path: Union[str, os.PathLike[str]]) -> str: ...
def age_generate_key() -> Tuple[str, str]: ...
def age_recipient(identity: str) -> str: ...
def age_encrypt(
    data: bytes,
    recipients: Sequence[str] = ...,
    passphrase: Optional[str] = ...,
    work_factor: int = ...,
) -> bytes: ...
def age_decrypt(
    data: bytes,
    identities: Sequence[str] = ...,
    identity_file: Optional[Union[str, os.PathLike[str]]] = ...,
    passphrase: Optional[str] = ...,
    max_work_factor: int = ...,
) -> bytes: ...
def age_encrypt_file(
    src: Union[str, os.PathLike[str]],
    dst: Union[str, os.PathLike[str]],
    recipients: Sequence[str] = ...,
    passphrase: Optional[str] = ...,
    work_factor: int = ...,
) -> None: ...
def age_decrypt_file(
    src: Union[str, os.PathLike[str]],
    dst: Union[str, os.PathLike[str]],
    identities: Sequence[str] = ...,
    identity_file: Optional[Union[str, os.PathLike[str]]] = ...,
    passphrase: Optional[str] = ...,
    max_work_factor: int = ...,
) -> None: ...
