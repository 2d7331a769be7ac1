"""Files and folders that hold customer data (reject files, exports, scratch folders): created
private (0600 files, 0700 folders), never through a link planted at their path, written
atomically where a half-written file could be mistaken for a whole one."""

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import PrivateFileError

_WRITE = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


def _refused(path: Path, error: OSError) -> PrivateFileError:
    if error.errno == errno.ELOOP:
        return PrivateFileError(
            f"{path} is a symbolic link; customer data is never written through one: "
            "remove it or choose another path"
        )
    return PrivateFileError(f"cannot write {path}: {error.strerror}")


def _open(path: Path, flags: int) -> int:
    try:
        fd = os.open(path, _WRITE | flags, 0o600)
    except OSError as error:
        raise _refused(path, error) from None
    os.fchmod(fd, 0o600)  # an existing file keeps no wider permissions
    return fd


def private_file(path: Path) -> IO[bytes]:
    """`path` opened for writing from its start: created 0600, or an existing file truncated
    and made 0600; a symbolic link at the path is refused."""
    return os.fdopen(_open(path, os.O_TRUNC), "wb")


def create_private(path: Path) -> None:
    """Create `path` as a new, empty 0600 file (for a program that then opens it itself)."""
    os.close(_open(path, os.O_EXCL))


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(source: Path, target: Path) -> None:
    """Move `source` over `target` (a link at `target` is replaced, not followed) and make the
    move survive a crash."""
    os.replace(source, target)
    _sync_folder(target.parent)


@contextlib.contextmanager
def atomic_private_file(path: Path) -> Iterator[IO[bytes]]:
    """Write `path` whole or not at all: into a new 0600 `<name>.partial` beside it (a stale
    one removed first), flushed to disk, then moved over `path`; removed on any failure."""
    partial = path.with_name(path.name + ".partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()  # removes a link itself, never what it points to
    file = os.fdopen(_open(partial, os.O_EXCL), "wb")
    try:
        with file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        replace_durably(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def private_folder(path: Path) -> Path:
    """A 0700 folder at `path`: made, or an existing real folder tightened to 0700; a link at
    the path is refused. Its parents are left as they are."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise PrivateFileError(
                f"{path} is not a folder of ours (a link or a file); remove it and run again"
            ) from None
        raise _refused(path, error) from None
    try:
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    return path
