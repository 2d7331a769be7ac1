"""`pagbank-pg export-sqlite`: the rollback path. Writes Agno 1.7-format SQLite files (the
tables, columns and encodings Agno and PagBank's session manager write) from what is in
PostgreSQL, imported rows and rows written since alike.

Imported rows go back to the file and table they came from, exactly as they were (plus what
the app changed since); rows written only in PostgreSQL go to `pagbank.db` (team_sessions,
agent_sessions, sessions, pagbank_memories).
"""

import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from itertools import groupby
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from . import mapping
from .db import direct_connection
from .errors import PagbankPgError
from .importer import DEFAULT_TIMEZONE
from .queries import load_queries

DEFAULT_FILE = "pagbank.db"
DEFAULT_TABLES = {
    "agent": "agent_sessions",
    "team": "team_sessions",
    "memory": "pagbank_memories",
    "sessions": "sessions",
}
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
EXPORTS = {  # kind: the named query streaming its PostgreSQL rows, grouped by source
    "agent": "export_agent_sessions",
    "team": "export_team_sessions",
    "memory": "export_user_memories",
    "sessions": "export_user_sessions",
}


class ExportError(PagbankPgError):
    """The export could not be written; nothing was left in the output folder."""


Restored = tuple[str, str, dict[str, Any], set[str]]  # file, table, values, SQL-NULL columns


def _source(row: Mapping[str, Any], kind: str) -> tuple[str, str]:
    agno = (row["metadata"] or {}).get("agno") if kind != "sessions" else None
    marker = (row["metadata"] or {}).get(mapping.IMPORT_KEY) if kind == "sessions" else None
    found = (agno or {}).get("source") or marker
    if found:
        return str(found["file"]), str(found["table"])
    return DEFAULT_FILE, DEFAULT_TABLES[kind]


def restore(kind: str, rows: list[dict[str, Any]], zone: tzinfo) -> Iterator[Restored]:
    """The source rows of PostgreSQL rows (of one source row, for sessions), for export."""
    file, table = _source(rows[0], kind)
    if kind in ("agent", "team"):
        values, nulls = mapping.session_from_rows(rows, kind)
        yield file, table, values, nulls
        return
    for row in rows:
        if kind == "memory":
            if (row["metadata"] or {}).get("agno"):
                yield file, table, mapping.agno_memory(row), set()
            else:
                yield file, table, _synthesized_memory(row), set()
        else:
            values, nulls = mapping.pagbank_session(row, zone)
            yield file, table, values, nulls


def _synthesized_memory(row: Mapping[str, Any]) -> dict[str, Any]:
    updated = row["updated_at"] or row["created_at"] or datetime.now(UTC)
    literal = {
        "memory_id": str(row["id"]),
        "memory": row["memory"],
        "topics": row["memory_tags"] or [],
        "last_updated": updated.astimezone(UTC).replace(tzinfo=None).isoformat(),
    }

    return {
        "id": str(row["id"]),
        "user_id": row["user_id"],
        "memory": str(literal),
        "created_at": mapping.render_db_time(row["created_at"]),
        "updated_at": mapping.render_db_time(row["updated_at"]),
    }


def _groups(kind: str, rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Rows of one source row together (sessions: by source and session id)."""
    if kind not in ("agent", "team"):
        for row in rows:
            yield [row]
        return
    for _, group in groupby(rows, key=lambda r: (_source(r, kind), r["session_id"])):
        yield list(group)


def _encode(value: Any, sql_null: bool, is_json: bool) -> Any:
    """A value as Agno stores it: JSON columns as json.dumps text (None as `null`)."""
    if sql_null:
        return None
    return json.dumps(value) if is_json else value


class _Writer:
    """SQLite files being written in a scratch folder, one table at a time."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.files: dict[str, sqlite3.Connection] = {}
        self.written: list[str] = []
        self.tables: dict[tuple[str, str], list[str]] = {}
        self.counts: dict[str, int] = {}

    def write(
        self, kind: str, file: str, table: str, values: dict[str, Any], nulls: set[str]
    ) -> None:
        conn = self.files.get(file)
        if conn is None:
            conn = self.files[file] = sqlite3.connect(self.scratch / Path(file).name)
            self.written.append(Path(file).name)
        columns = self.tables.get((file, table))
        if columns is None:
            quoted = table.replace('"', '""')
            conn.executescript(DDL[kind].replace("{t}", quoted))
            columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{quoted}")')]
            self.tables[(file, table)] = columns
        for extra in [c for c in values if c not in columns]:  # columns of a newer schema
            conn.execute(f'ALTER TABLE "{table}" ADD COLUMN "{extra}"')
            columns.append(extra)
        encoded = [_encode(values.get(c), c in nulls, c in JSON_COLUMNS[kind]) for c in columns]
        marks = ", ".join("?" for _ in columns)
        conn.execute(f'INSERT INTO "{table}" VALUES ({marks})', encoded)
        name = f"{Path(file).name}:{table}"
        self.counts[name] = self.counts.get(name, 0) + 1

    def close(self) -> None:
        for conn in self.files.values():
            conn.commit()
            conn.close()
        self.files.clear()


def export_sqlite(
    conninfo: str,
    outdir: Path,
    *,
    source_timezone: str = DEFAULT_TIMEZONE,
    overwrite: bool = False,
    progress: Callable[[str, int, int], None] = lambda name, done, total: None,
) -> dict[str, int]:
    """Write the export into `outdir`; return the rows written per file:table."""
    zone = ZoneInfo(source_timezone)
    outdir.mkdir(parents=True, exist_ok=True)
    scratch = outdir / ".pagbank-pg-export.partial"
    if scratch.exists():
        for leftover in scratch.iterdir():
            leftover.unlink()
    scratch.mkdir(exist_ok=True)
    writer = _Writer(scratch)
    queries = load_queries()
    try:
        with direct_connection(conninfo) as pg:
            for kind, query_name in EXPORTS.items():
                query = queries[query_name]
                total = pg.execute(queries[f"count_{query_name}"].compiled.sql).fetchone()
                done = 0
                with pg.transaction(), pg.cursor(name=f"export_{kind}") as cursor:
                    cursor.itersize = 2000
                    cursor.execute(query.compiled.sql)
                    for group in _groups(kind, iter(cursor)):
                        for file, table, values, nulls in restore(kind, group, zone):
                            writer.write(kind, file, table, values, nulls)
                        done += len(group)
                        if done % 2000 < len(group):
                            progress(kind, done, int(total["n"]) if total else done)
                progress(kind, done, done)
        writer.close()
        clashes = [f for f in writer.written if (outdir / f).exists()]
        if clashes and not overwrite:
            raise ExportError(
                f"{outdir} already holds {', '.join(clashes)}; pass --overwrite to replace"
            )
        for file in writer.written:
            (scratch / file).replace(outdir / file)
    finally:
        writer.close()
        for leftover in scratch.iterdir():
            leftover.unlink()
        scratch.rmdir()
    return writer.counts
