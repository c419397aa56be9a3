"""Type stubs of dolibak.tarball (documents archives)."""
import os
from typing import Any, Dict, List, Literal, Optional, Union

_StrPath = Union[str, os.PathLike[str]]
_Compression = Literal["gzip", "gz", "zstd", "zst", "none"]

def default_excludes() -> List[str]: ...
def write(
    root: _StrPath,
    output: _StrPath,
    compression: _Compression = "gzip",
    level: int = -1,
    threads: int = 0,
    excludes: Optional[List[str]] = None,
    reproducible: bool = False,
    skip_unreadable: bool = False,
    prefix: str = "",
) -> Dict[str, Any]: ...
def list(archive: _StrPath) -> List[Dict[str, Any]]: ...
def verify(archive: _StrPath) -> Dict[str, Any]: ...
def extract(
    archive: _StrPath,
    target: _StrPath,
    in_place: bool = False,
    subtree: str = "",
    strip_components: int = 0,
) -> Dict[str, Any]: ...
