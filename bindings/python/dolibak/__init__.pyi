"""Type stubs of the dolibak package."""
from . import fingerprint as fingerprint
from . import io as io
from . import job as job
from . import pgdump as pgdump
from . import retention as retention
from . import s3 as s3
from . import store as store
from . import tarball as tarball
from .job import BackupEntry as BackupEntry
from .job import BackupReport as BackupReport
from .job import CheckItem as CheckItem
from .job import CheckReport as CheckReport
from .job import DocsRestoreReport as DocsRestoreReport
from .job import Event as Event
from .job import HalfReport as HalfReport
from .job import Job as Job
from .job import ListReport as ListReport
from .job import PacksCollection as PacksCollection
from .job import PruneReport as PruneReport
from .job import RefreshReport as RefreshReport
from .job import RestoreReport as RestoreReport
from .job import RunEntry as RunEntry
from .job import StatusReport as StatusReport
from .job import TableCheck as TableCheck
from .job import VerifiedObject as VerifiedObject
from .job import VerifyReport as VerifyReport
from .job import setting_keys as setting_keys

__version__: str

class Error(Exception):
    """Base of every error dolibak raises."""

class ConfigError(Error):
    """A setting, an argument or a configuration file is wrong."""

class IoError(Error):
    """A file, directory or stream operation failed."""

class ProcessError(Error):
    """A child process (pg_dump, pg_restore, a hook) failed."""

class FormatError(Error):
    """Data is not in the expected format (an archive, a manifest, an answer)."""

class RemoteError(Error):
    """The store (S3, a server) refused or failed a request."""

class DatabaseError(Error):
    """PostgreSQL refused a connection or a query."""

class VerificationError(Error):
    """What was read back does not match what was recorded."""

class Cancelled(Error):
    """The operation was cancelled (Job.cancel(), a signal)."""

__all__ = [
    "Job",
    "Event",
    "BackupReport",
    "HalfReport",
    "PruneReport",
    "PacksCollection",
    "ListReport",
    "BackupEntry",
    "RunEntry",
    "VerifyReport",
    "VerifiedObject",
    "RestoreReport",
    "TableCheck",
    "DocsRestoreReport",
    "StatusReport",
    "CheckReport",
    "CheckItem",
    "RefreshReport",
    "setting_keys",
    "Error",
    "ConfigError",
    "IoError",
    "ProcessError",
    "FormatError",
    "RemoteError",
    "DatabaseError",
    "VerificationError",
    "Cancelled",
    "io",
    "s3",
    "store",
    "pgdump",
    "tarball",
    "fingerprint",
    "retention",
    "job",
]
