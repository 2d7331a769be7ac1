"""Files and folders that hold customer data (reject files, exports, scratch folders): always
new ones of this process's user, made under a name no one else chose (O_EXCL: mkstemp,
mkdtemp), private (0600 files, 0700 folders), and moved over their final path once written.
Whatever stood at that path (a file another user planted and keeps open, say) is replaced,
never written into, and a link there is refused, never followed."""

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import PrivateFileError


def _refused(path: Path, error: OSError) -> PrivateFileError:
    return PrivateFileError(f"cannot write {path}: {error.strerror}")


def _no_link(path: Path) -> None:
    if path.is_symlink():
        raise PrivateFileError(
            f"{path} is a symbolic link; customer data is never written through one: "
            "remove it or choose another path"
        )


class _NewFile(io.FileIO):
    """A new 0600 file of ours beside `path`, moved over `path` when closed."""

    def __init__(self, path: Path) -> None:
        _no_link(path)
        try:
            fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        except OSError as error:
            raise _refused(path, error) from None
        super().__init__(fd, "wb")
        self.path, self.temporary = path, Path(name)

    def close(self) -> None:
        """Flush to disk and move over `path` (once)."""
        if self.closed:
            return
        os.fsync(self.fileno())
        super().close()
        replace_durably(self.temporary, self.path)

    def discard(self) -> None:
        """Close and remove, leaving `path` as it was."""
        super().close()
        self.temporary.unlink(missing_ok=True)


def private_file(path: Path) -> IO[bytes]:
    """A new file of ours (0600) for `path`, moved over `path` when closed; a symbolic link at
    the path is refused."""
    return _NewFile(path)


def create_private(path: Path) -> None:
    """Create `path` as a new, empty 0600 file (for a program that then opens it itself)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        raise _refused(path, error) from None
    os.close(fd)


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
    """Write `path` whole or not at all: a new file of ours, flushed to disk, then moved over
    `path`; removed on any failure."""
    file = _NewFile(path)
    try:
        yield file
    except BaseException:
        file.discard()
        raise
    file.close()


def scratch_folder(parent: Path, prefix: str) -> Path:
    """A new 0700 folder of ours in `parent`, named `prefix` and random letters."""
    try:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    except OSError as error:
        raise _refused(parent / prefix, error) from None
