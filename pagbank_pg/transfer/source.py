"""PagBank's SQLite files: which tables they hold (recognised by their columns), read without
blocking the live app (`values` decodes them). No PostgreSQL here.

What a read sees: a table is read in rowid order, a batch at a time, each batch in its own
short read transaction (the app's writers wait at most for one batch's read, milliseconds,
not for the whole import). Every row that existed when the read started is read, in a version
at least as new as that; a row written while the read runs may or may not be, and the next
run (the cutover's catch-up) takes it. A WITHOUT ROWID table is read in one transaction.
"""

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ..config import BATCH_BYTES, MAX_VALUE_BYTES, SQLITE_BUSY_SECONDS
from ..errors import SourceError
from .kinds import KINDS, KindName, kind_of
from .values import Oversized


@dataclass(frozen=True)
class SourceTable:
    """One table of one SQLite file, and what kind of data it holds."""

    path: Path
    table: str
    kind: KindName
    columns: tuple[str, ...]
    rowid: bool = True  # False: a WITHOUT ROWID table, read in one transaction

    @property
    def name(self) -> str:
        """`file:table`, fit for a terminal (see `printable`)."""
        return printable(f"{self.path.name}:{self.table}")


def printable(text: object) -> str:
    """`text` (a name or value from a file) with every character a terminal would act on
    (control, format, line separator: an escape sequence) escaped as Python writes it."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in str(text))


def connect(path: Path) -> sqlite3.Connection:
    """A read-only connection; text comes back as bytes, decoded (and checked) by us."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,  # autocommit: each statement is its own read transaction
            timeout=SQLITE_BUSY_SECONDS,
        )
        conn.text_factory = bytes
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        raise SourceError(f"{path}: not a readable SQLite database ({error})") from None
    return conn


def quote(name: str) -> str:
    """An SQLite identifier, quoted (a `"` inside doubled): the source's and the export's."""
    return '"' + name.replace('"', '""') + '"'


def _columns(conn: sqlite3.Connection, table: str) -> tuple[str, ...] | None:
    """The columns a row of `table` holds, generated ones included; None when a name is not
    UTF-8."""
    try:
        return tuple(
            row[1].decode()
            for row in conn.execute(f"PRAGMA table_xinfo({quote(table)})")
            if row[6] != 1  # hidden columns of a virtual table hold no data of the row
        )
    except UnicodeDecodeError:
        return None


def _has_rowid(conn: sqlite3.Connection, table: str) -> bool:
    try:
        conn.execute(f"SELECT rowid FROM {quote(table)} LIMIT 0")
    except sqlite3.OperationalError:
        return False
    return True


SQLITE_NAMES = (".db", ".sqlite", ".sqlite3", ".db3")  # what a folder's SQLite files are named
SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


def _sqlite_files(folder: Path, notes: list[str]) -> list[Path]:
    """The files under `folder` named as SQLite files are (SQLITE_NAMES; one that is not
    SQLite stops the run when it is opened). A file of another name that holds SQLite's
    header is passed over with a note: a stale copy (`pagbank.db.bak`) is never read unasked.
    Raises SourceError when the folder holds no SQLite file: a mistyped path never passes."""
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix.lower() in SQLITE_NAMES:
            files.append(path)
        elif _has_header(path):
            notes.append(
                f"{path}: a SQLite file by its content, passed over: its name does not end in "
                f"{', '.join(SQLITE_NAMES[:-1])} or {SQLITE_NAMES[-1]} (name the file itself "
                "to read it)"
            )
    if not files:
        raise SourceError(
            f"{folder}: no SQLite file in this folder (files named "
            f"{', '.join('*' + n for n in SQLITE_NAMES[:-1])} or *{SQLITE_NAMES[-1]}, holding "
            "SQLite's header); check the path"
        )
    return files


def _has_header(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


class Discovered(NamedTuple):
    """The tables found, a note per thing passed over, and why each table that SQLite could
    not read (by `SourceTable.name`) could not."""

    tables: list[SourceTable]
    notes: list[str]
    unreadable: dict[str, str]


def discover(
    paths: list[Path], explicit: dict[tuple[str, str], KindName] | None = None
) -> Discovered:
    """The tables of `paths` (files, or folders searched by `_sqlite_files`). `explicit` maps
    (file name, table) to a kind, overriding recognition."""
    explicit = explicit or {}
    files: list[Path] = []
    notes: list[str] = []
    for path in paths:
        files += _sqlite_files(path, notes) if path.is_dir() else [path]
    found = []
    unreadable: dict[str, str] = {}
    for file in files:
        conn = connect(file)
        try:
            raw_names = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            if not raw_names:
                notes.append(f"{file}: no tables (an empty database)")
            for raw in raw_names:
                try:
                    table = raw.decode()
                except UnicodeDecodeError:
                    notes.append(f"{file.name}: a table named {raw!r} (not UTF-8), skipped")
                    continue
                try:
                    columns = _columns(conn, table)
                except sqlite3.DatabaseError as error:  # a virtual table of a missing module
                    unreadable[printable(f"{file.name}:{table}")] = str(error)
                    continue
                if columns is None:
                    notes.append(f"{file.name}:{table}: a column name is not UTF-8, skipped")
                    continue
                kind = explicit.get((file.name, table)) or kind_of(columns)
                if kind is None:
                    notes.append(f"{file.name}:{table}: not recognised by its columns, skipped")
                    continue
                missing = KINDS[kind].required - set(columns)
                if missing:
                    raise SourceError(
                        f"{file.name}:{table} is not a {kind} table: it lacks the columns "
                        f"{', '.join(sorted(missing))}"
                    )
                rowid = _has_rowid(conn, table)
                if not rowid:
                    notes.append(
                        f"{file.name}:{table}: a WITHOUT ROWID table, read in one transaction "
                        "(the app's writes to the file wait for it)"
                    )
                found.append(SourceTable(file, table, kind, columns, rowid))
        finally:
            conn.close()
    for (file_name, table), kind in explicit.items():
        if not any(t.path.name == file_name and t.table == table for t in found):
            raise SourceError(f"{file_name}:{table} (named with --table) was not found")
        if kind not in KINDS:
            raise SourceError(
                f"{file_name}:{table}: unknown kind {kind!r}; use one of {tuple(KINDS)}"
            )
    return Discovered(found, notes, unreadable)


def count_rows(conn: sqlite3.Connection, table: SourceTable) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {quote(table.table)}").fetchone()[0])


class Since(NamedTuple):
    """Only the rows written since a watermark: past `max_rowid` (new rows, and rows
    replaced with INSERT OR REPLACE), or last written at `time` or later."""

    max_rowid: int
    time: Any


class Batch(NamedTuple):
    """Rows read in one short read transaction, with what a watermark needs of them."""

    rows: list[tuple[Any, ...]]
    last_rowid: int | None  # the highest rowid of the batch
    last_key: Any  # the key of the row at last_rowid
    latest: Any  # the latest time a row of the batch was written (None: none said)


def _select(table: SourceTable) -> str:
    """The rowid, the row's time, each column (NULL when over the cap), and the sizes of
    those over it."""
    values, oversized = [], []
    for column in table.columns:
        size = f"length(CAST({quote(column)} AS BLOB))"
        values.append(f"iif({size} > {MAX_VALUE_BYTES}, NULL, {quote(column)})")
        oversized.append(f"coalesce(iif({size} > {MAX_VALUE_BYTES}, {size}, NULL), 0)")
    rowid = "rowid" if table.rowid else "NULL"
    return (
        f"SELECT {rowid}, {KINDS[table.kind].time}, {', '.join(values)}, {', '.join(oversized)} "
        f"FROM {quote(table.table)}"
    )


def key_at(conn: sqlite3.Connection, table: SourceTable, rowid: int) -> Any:
    """The key of the row at `rowid`, or None when there is none."""
    found = conn.execute(
        f"SELECT {quote(KINDS[table.kind].key)} FROM {quote(table.table)} WHERE rowid = ?", (rowid,)
    ).fetchone()
    return _plain(found[0]) if found else None


def _plain(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def rowid_span(conn: sqlite3.Connection, table: SourceTable) -> tuple[int, int] | None:
    """The lowest and highest rowid of a rowid table (None: it is empty)."""
    low, high = conn.execute(f"SELECT min(rowid), max(rowid) FROM {quote(table.table)}").fetchone()
    return None if low is None else (int(low), int(high))


def read_rows(
    conn: sqlite3.Connection,
    table: SourceTable,
    batch_size: int,
    since: Since | None = None,
    after: int | None = None,
    upto: int | None = None,
) -> Iterator[Batch]:
    """The table's rows (`since`: only those written since a watermark; `after`, `upto`: only
    those of rowids in that range), at most `batch_size` rows or about BATCH_BYTES at a time,
    each batch read in its own short read transaction (see the module's doc); a value over the
    cap comes as `Oversized`."""
    kind = KINDS[table.kind]
    width, later = len(table.columns), kind.clock.later
    key = table.columns.index(kind.key)
    wanted = ""
    if since is not None:
        wanted = " AND (rowid > ?" + (f" OR {kind.time} >= ?)" if since.time else ")")
    if upto is not None:
        wanted += " AND rowid <= ?"
    last: int | None = after
    last_key: Any = None
    while True:
        if table.rowid:
            params: list[Any] = [last if last is not None else -(2**63)]
            if since is not None:
                params += [since.max_rowid] + ([since.time] if since.time else [])
            if upto is not None:
                params.append(upto)
            statement = f"{_select(table)} WHERE rowid > ?{wanted} ORDER BY rowid"
            cursor = conn.execute(statement, params)
        else:
            cursor = conn.execute(_select(table))
        batch: list[tuple[Any, ...]] = []
        size, latest = 0, None
        try:
            for row in cursor:
                last, written = row[0], _plain(row[1])
                values, sizes = row[2 : 2 + width], row[2 + width :]
                if any(sizes):
                    pairs = zip(values, sizes, strict=True)
                    values = tuple(Oversized(n) if n else v for v, n in pairs)
                batch.append(values)
                latest = later(latest, written)
                last_key = _plain(values[key])
                size += sum(len(v) for v in values if isinstance(v, bytes))
                if table.rowid and (len(batch) >= batch_size or size >= BATCH_BYTES):
                    break
                if not table.rowid and len(batch) >= batch_size:
                    yield Batch(batch, None, None, latest)
                    batch, size, latest = [], 0, None
        finally:
            cursor.close()  # ends the batch's read transaction
        if batch:
            yield Batch(batch, last, last_key, latest)
        if not table.rowid or (len(batch) < batch_size and size < BATCH_BYTES):
            return
