"""`pagbank-pg export-sqlite`: the rollback path. Writes Agno 1.7-format SQLite files (the
tables, columns and encodings Agno and PagBank's session manager write) from what is in
PostgreSQL, imported rows and rows written since alike.

Imported rows go back to the file and table they came from, exactly as they were (plus what
the app changed since); rows written only in PostgreSQL go to `pagbank.db` (team_sessions,
agent_sessions, sessions, pagbank_memories).
"""

import json
import sqlite3
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import psycopg

from .. import mapping
from ..config import DEFAULT_FILE, EXPORT_BATCH, SOURCE_TIMEZONE
from ..errors import ExportError
from ..private import create_private, replace_durably, scratch_folder
from ..query import connect_direct
from ..query.types import TransferQueries, transfer_queries
from .progress import Progress
from .restore import Restored, restore, source_of
from .source import quote

# The DDL Agno 1.7 (SqliteStorage, SqliteMemoryDb) and PagBank's session manager use.
DDL = {
    "agent": """CREATE TABLE "{t}" (
\tsession_id VARCHAR NOT NULL, \n\tuser_id VARCHAR, \n\tmemory JSON, \n\tsession_data JSON, \
\n\textra_data JSON, \n\tcreated_at INTEGER, \n\tupdated_at INTEGER, \n\tagent_id VARCHAR, \
\n\tagent_data JSON, \n\tteam_session_id VARCHAR, \n\tPRIMARY KEY (session_id)\n);
CREATE INDEX "ix_{t}_user_id" ON "{t}" (user_id);
CREATE INDEX "ix_{t}_team_session_id" ON "{t}" (team_session_id);
CREATE INDEX "ix_{t}_agent_id" ON "{t}" (agent_id);""",
    "team": """CREATE TABLE "{t}" (
\tsession_id VARCHAR NOT NULL, \n\tuser_id VARCHAR, \n\tmemory JSON, \n\tsession_data JSON, \
\n\textra_data JSON, \n\tcreated_at INTEGER, \n\tupdated_at INTEGER, \n\tagent_id VARCHAR, \
\n\tagent_data JSON, \n\tteam_session_id VARCHAR, \n\tteam_id VARCHAR, \n\tteam_data JSON, \
\n\tPRIMARY KEY (session_id)\n);
CREATE INDEX "ix_{t}_agent_id" ON "{t}" (agent_id);
CREATE INDEX "ix_{t}_team_session_id" ON "{t}" (team_session_id);
CREATE INDEX "ix_{t}_user_id" ON "{t}" (user_id);
CREATE INDEX "ix_{t}_team_id" ON "{t}" (team_id);""",
    "memory": """CREATE TABLE "{t}" (
\tid VARCHAR NOT NULL, \n\tuser_id VARCHAR, \n\tmemory VARCHAR, \
\n\tcreated_at DATETIME DEFAULT CURRENT_TIMESTAMP, \
\n\tupdated_at DATETIME DEFAULT CURRENT_TIMESTAMP, \n\tPRIMARY KEY (id)\n);
CREATE INDEX "ix_{t}_user_id" ON "{t}" (user_id);""",
    "sessions": """CREATE TABLE "{t}" (session_id TEXT PRIMARY KEY, user_id TEXT NOT NULL,
        team_id TEXT, created_at TEXT NOT NULL, last_activity TEXT NOT NULL, \
interaction_count INTEGER DEFAULT 0,
        session_context TEXT, is_active BOOLEAN DEFAULT 1, metadata TEXT);
CREATE INDEX "idx_{t}_user_id" ON "{t}"(user_id);
CREATE INDEX "idx_{t}_active" ON "{t}"(is_active, last_activity);""",
}
JSON_COLUMNS = {
    "agent": mapping.AGNO_JSON_COLUMNS,
    "team": mapping.AGNO_JSON_COLUMNS,
    "memory": (),
    "sessions": ("session_context", "metadata"),
}


def _exports(queries: TransferQueries) -> dict[str, tuple[Any, Any]]:
    """Per kind: the statement counting its PostgreSQL rows, and the one streaming them
    grouped by source."""
    return {
        "agent": (queries.count_export_agent_sessions, queries.export_agent_sessions),
        "team": (queries.count_export_team_sessions, queries.export_team_sessions),
        "memory": (queries.count_export_user_memories, queries.export_user_memories),
        "sessions": (queries.count_export_user_sessions, queries.export_user_sessions),
    }


def _groups(kind: str, rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Rows of one source row together (sessions: by source and session id)."""
    if kind not in ("agent", "team"):
        for row in rows:
            yield [row]
        return
    for _, group in groupby(rows, key=lambda r: (source_of(r, kind), r["session_id"])):
        yield list(group)


def _encode(value: Any, sql_null: bool, is_json: bool) -> Any:
    """A value as Agno stores it: JSON columns as json.dumps text (None as `null`)."""
    if sql_null:
        return None
    return json.dumps(value) if is_json else value


def _file_name(file: str) -> str:
    """The bare file name an exported row goes to: never a folder, never outside OUTDIR."""
    name = Path(file).name
    return name if name not in ("", ".", "..") else DEFAULT_FILE


class _Writer:
    """SQLite files being written in a private scratch folder, one table at a time."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.files: dict[str, sqlite3.Connection] = {}
        self.files_written: list[str] = []
        self.tables: dict[tuple[str, str], list[str]] = {}
        self.counts: dict[str, int] = {}

    def write(self, kind: str, restored: Restored) -> None:
        file, table, values, nulls = restored
        name = _file_name(file)
        conn = self.files.get(name)
        if conn is None:
            create_private(self.scratch / name)  # 0600 before SQLite opens it
            conn = self.files[name] = sqlite3.connect(self.scratch / name)
            self.files_written.append(name)
        columns = self.tables.get((name, table))
        if columns is None:
            # every {t} of the DDL stands inside double quotes: doubling a quote escapes it
            conn.executescript(DDL[kind].replace("{t}", table.replace('"', '""')))
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({quote(table)})")]
            self.tables[(name, table)] = columns
        for extra in [c for c in values if c not in columns]:  # columns of a newer schema
            conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(extra)}")
            columns.append(extra)
        encoded = [_encode(values.get(c), c in nulls, c in JSON_COLUMNS[kind]) for c in columns]
        marks = ", ".join("?" for _ in columns)
        conn.execute(f"INSERT INTO {quote(table)} VALUES ({marks})", encoded)
        where = f"{name}:{table}"
        self.counts[where] = self.counts.get(where, 0) + 1

    def close(self) -> None:
        for conn in self.files.values():
            conn.commit()
            conn.close()
        self.files.clear()


class Export(NamedTuple):
    """What an export wrote (rows per file:table), and the rows it could not restore."""

    counts: dict[str, int]
    rejected: list[str]


def export_sqlite(
    conninfo: str,
    outdir: Path,
    *,
    source_timezone: str = SOURCE_TIMEZONE,
    overwrite: bool = False,
    progress: Progress = lambda name, done, total: None,
) -> Export:
    """Write the export into `outdir`: every table read in one snapshot, the files written in
    a new private scratch folder (0700, files 0600), then moved in; nothing is left behind on
    a failure (a SIGKILL leaves the scratch folder, ours and private: remove it). A row that
    cannot be restored is left out and named in `Export.rejected`."""
    zone = ZoneInfo(source_timezone)
    outdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = scratch_folder(outdir, ".pagbank-pg-export.")  # new, ours, 0700
    writer = _Writer(scratch)
    rejected: list[str] = []
    try:
        with connect_direct(conninfo) as pg:
            pg.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot
            pg.read_only = True
            queries = transfer_queries(pg)
            with pg.transaction():
                for kind, (count, export) in _exports(queries).items():
                    total = int(count()["n"])
                    done = 0
                    for group in _groups(kind, export.stream()):
                        try:
                            restored = list(restore(kind, group, zone))
                        except Exception as error:  # one bad row, not the whole export
                            rejected.append(_rejected(kind, group, error))
                            restored = []
                        for row in restored:
                            writer.write(kind, row)
                        done += len(group)
                        if done % EXPORT_BATCH < len(group):
                            progress(kind, done, total)
                    progress(kind, done, done)
        writer.close()
        written = sorted(writer.files_written)
        clashes = [f for f in written if (outdir / f).exists() or (outdir / f).is_symlink()]
        if clashes and not overwrite:
            raise ExportError(
                f"{outdir} already holds {', '.join(clashes)}; pass --overwrite to replace"
            )
        for file in written:
            for stale in ("-wal", "-shm", "-journal"):  # of a replaced file: not ours to keep
                (outdir / (file + stale)).unlink(missing_ok=True)
            replace_durably(scratch / file, outdir / file)
    finally:
        writer.close()
        for leftover in scratch.iterdir():
            leftover.unlink()
        scratch.rmdir()
    return Export(writer.counts, rejected)


def _rejected(kind: str, group: list[dict[str, Any]], error: Exception) -> str:
    first = group[0]
    key = first.get("session_id") if kind != "memory" else first.get("id")
    return f"{kind} {key}: cannot be restored ({type(error).__name__}: {error})"
