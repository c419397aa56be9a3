"""dolibak: backups of a Dolibarr instance (PostgreSQL database + documents directory) to
S3-compatible storage or a local directory, with a tiered 10-year retention and verified
restores.

The work is done by the C++ library libdolibak; this package is a thin layer over it. The
backup job is dolibak.Job (configured with the settings of the config file, see
setting_keys()); its operations return report objects with to_dict(). Errors are
dolibak.Error and its subclasses. The layers below the job are submodules: io, s3, store,
pgdump, tarball, fingerprint, retention.
"""
import sys as _sys

from . import _core
from ._core import (
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
from . import job
from .job import (
    BackupEntry,
    BackupReport,
    CheckItem,
    CheckReport,
    DocsRestoreReport,
    Event,
    HalfReport,
    Job,
    ListReport,
    PacksCollection,
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

__version__: str = _core.__version__

# The extension's submodules are importable as `import dolibak.io` etc.
for _name in ("io", "s3", "store", "pgdump", "tarball", "fingerprint", "retention"):
    _sys.modules[f"{__name__}.{_name}"] = getattr(_core, _name)
    globals()[_name] = getattr(_core, _name)
del _name

__all__ = [
    # the backup job and its reports (listed once, in dolibak.job)
    *job.__all__,
    # errors
    "Error",
    "ConfigError",
    "IoError",
    "ProcessError",
    "FormatError",
    "RemoteError",
    "DatabaseError",
    "VerificationError",
    "Cancelled",
    # the layers below the job
    "io",
    "s3",
    "store",
    "pgdump",
    "tarball",
    "fingerprint",
    "retention",
    "job",
]

# The classes are documented (help(), repr) under the name they are used by: dolibak.Job.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__ == _core.__name__:
        _obj.__module__ = __name__
del _name, _obj

