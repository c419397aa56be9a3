"""Type stubs of dolibak.fingerprint."""
import os
from typing import Any, Dict, List, Optional, Union

def docs(
    root: Union[str, os.PathLike], content: bool = False, excludes: Optional[List[str]] = None
) -> Dict[str, Any]: ...
