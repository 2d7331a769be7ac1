"""PostgreSQL rows back into the source rows they came from (the exporter writes them, verify
compares them). Pure: no I/O."""

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple

from .. import mapping
from ..config import DEFAULT_FILE, DEFAULT_TABLES


class Restored(NamedTuple):
    """One source row: where it goes, its values, and its columns that are SQL NULL."""

    file: str
    table: str
    values: dict[str, Any]
    nulls: set[str]


def source_of(row: Mapping[str, Any], kind: str) -> tuple[str, str]:
    """(file, table) a PostgreSQL row came from; Agno's defaults for rows written only here
    (or whose metadata no longer says)."""
    metadata = row["metadata"] if isinstance(row["metadata"], dict) else {}
    agno = metadata.get("agno") if kind != "sessions" else None
    marker = metadata.get(mapping.IMPORT_KEY) if kind == "sessions" else None
    found = (agno.get("source") if isinstance(agno, dict) else None) or marker
    if isinstance(found, dict) and "file" in found and "table" in found:
        return str(found["file"]), str(found["table"])
    return DEFAULT_FILE, DEFAULT_TABLES[kind]


def restore(kind: str, rows: list[dict[str, Any]], zone: tzinfo) -> Iterator[Restored]:
    """The source rows of PostgreSQL rows (of one source row, for sessions)."""
    file, table = source_of(rows[0], kind)
    if kind in ("agent", "team"):
        values, nulls = mapping.session_from_rows(rows, kind)
        yield Restored(file, table, values, nulls)
        return
    for row in rows:
        if kind == "memory":
            memory = mapping.agno_memory(row) if (row["metadata"] or {}).get("agno") else None
            yield Restored(file, table, memory or _synthesized_memory(row), set())
        else:
            values, nulls = mapping.pagbank_session(row, zone)
            yield Restored(file, table, values, nulls)


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
