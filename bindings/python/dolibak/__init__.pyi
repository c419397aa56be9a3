"""Type stubs of the dolibak package."""
from __future__ import annotations

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

class Error(Exception): ...
class ConfigError(Error): ...
class IoError(Error): ...
class ProcessError(Error): ...
class FormatError(Error): ...
class RemoteError(Error): ...
class DatabaseError(Error): ...
class VerificationError(Error): ...
class Cancelled(Error): ...
