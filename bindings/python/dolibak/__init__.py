"""dolibak: backups of a Dolibarr instance (PostgreSQL database + documents directory) to
S3-compatible storage or a local directory, with a tiered 10-year retention and verified
restores.

The work is done by the C++ library libdolibak; this package is a thin layer over it.
"""
import sys as _sys

from . import _core
from ._core import (  # noqa: F401  (re-exported)
    Cancelled,
    ConfigError,
    DatabaseError,
    Error,
    FormatError,
    IoError,
    ProcessError,
    RemoteError,
    VerificationError,
)
from .job import (  # noqa: F401  (the backup job, bind_job.cpp)
    BackupEntry,
    BackupReport,
    CheckItem,
    CheckReport,
    DocsRestoreReport,
    Event,
    HalfReport,
    Job,
    ListReport,
    PruneReport,
    RefreshReport,
    RestoreReport,
    RunEntry,
    StatusReport,
    TableCheck,
    VerifiedObject,
    VerifyReport,
    setting_keys,
)
__version__ = _core.__version__

# Make the extension's submodules importable as `import dolibak.io` etc.
for _name in dir(_core):
    _obj = getattr(_core, _name)
    if type(_obj) is type(_core):
        _sys.modules[f"{__name__}.{_name}"] = _obj
        globals()[_name] = _obj
del _name, _obj
