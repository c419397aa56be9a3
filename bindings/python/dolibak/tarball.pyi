"""Type stubs of dolibak.tarball (documents archives)."""
import os
from typing import Any, Dict, List, Optional, Union

PathLike = Union[str, os.PathLike]

def default_excludes() -> List[str]: ...
def write(
    root: PathLike,
    output: PathLike,
    compression: str = "gzip",
    level: int = -1,
    threads: int = 0,
    excludes: Optional[List[str]] = None,
    reproducible: bool = False,
    skip_unreadable: bool = False,
    prefix: str = "",
) -> Dict[str, Any]: ...
def list(archive: PathLike) -> List[Dict[str, Any]]: ...
def verify(archive: PathLike) -> Dict[str, Any]: ...
def extract(
    archive: PathLike,
    target: PathLike,
    in_place: bool = False,
    subtree: str = "",
    strip_components: int = 0,
) -> Dict[str, Any]: ...
