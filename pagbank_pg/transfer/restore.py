"""PostgreSQL rows back into the source rows they came from (the exporter writes them, verify
compares them). Pure: no I/O."""

from collections.abc import Iterator, Mapping
from datetime import tzinfo
from typing import Any, NamedTuple

from ..config import DEFAULT_FILE
from .kinds import KINDS, KindName


class Restored(NamedTuple):
    """One source row: where it goes, its values, and its columns that are SQL NULL."""

    file: str
    table: str
    values: dict[str, Any]
    nulls: set[str]


def source_of(row: Mapping[str, Any], kind: KindName) -> tuple[str, str]:
    """(file, table) a PostgreSQL row came from; Agno's defaults for rows written only here
    (or whose metadata no longer says)."""
    found: Any = row["metadata"]
    for key in KINDS[kind].marker:
        found = found.get(key) if isinstance(found, dict) else None
    if isinstance(found, dict) and "file" in found and "table" in found:
        return str(found["file"]), str(found["table"])
    return DEFAULT_FILE, KINDS[kind].default_table


def restore(kind: KindName, rows: list[dict[str, Any]], zone: tzinfo) -> Iterator[Restored]:
    """The source rows of PostgreSQL rows (of one source row, for sessions)."""
    file, table = source_of(rows[0], kind)
    for values, nulls in KINDS[kind].restorer(rows, zone):
        yield Restored(file, table, values, nulls)
