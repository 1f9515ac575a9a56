"""The extraction's own error: its destination failed."""

from __future__ import annotations

import errno

from airflow_provider_bc.client.errors import BusinessCentralError

#: object storage failures a retry cannot cure: access refused, a missing bucket, a file where a folder goes
PERMANENT_OS_ERRORS = (PermissionError, FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError)
#: the same told by errno alone: a read-only file system, a name too long
PERMANENT_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENAMETOOLONG})


class BusinessCentralDestinationError(BusinessCentralError):
    """An extraction could not write or read its destination (object storage): ``transient`` unless
    access was refused, the place does not exist or is not a folder, or what is stored is unreadable."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def destination_failure(where: object, error: OSError) -> BusinessCentralDestinationError:
    """``error`` of object storage (fsspec, s3fs, pyarrow) at ``where``, transient unless a retry cannot cure it."""
    permanent = isinstance(error, PERMANENT_OS_ERRORS) or error.errno in PERMANENT_ERRNOS
    return BusinessCentralDestinationError(f"{where}: {type(error).__name__}: {error}", transient=not permanent)
