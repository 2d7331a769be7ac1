"""Agno 1.7 memory rows (`str(dict)` of a Python literal) <-> `user_memories` rows. Pure: no
I/O; the literal is parsed with `ast.literal_eval`, never evaluated."""

import ast
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from ..config import MAX_LITERAL_BYTES
from ..errors import RejectedRow
from .common import IDS, Source, checked_text, parse_time

_PLAIN = (str, int, float, bool, type(None))


def _plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def parse_memory_literal(text: Any) -> dict[str, Any]:
    """The dict Agno wrote with `str(dict)`, parsed as a literal (never evaluated)."""
    if not isinstance(text, str):
        raise RejectedRow(f"memory is not text: {text!r:.60}")
    if len(text) > MAX_LITERAL_BYTES:
        raise RejectedRow(
            f"memory is a literal of {len(text):,} characters, over the {MAX_LITERAL_BYTES:,} "
            "one may hold"
        )
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as error:
        raise RejectedRow(f"memory is not a plain Python literal ({error})") from None
    if not isinstance(value, dict) or not _plain(value):
        raise RejectedRow("memory is not a dict of plain values (str, number, list, dict, None)")
    return value


_DB_TIME = "%Y-%m-%d %H:%M:%S"


def _db_time(value: Any, column: str, raw: dict[str, Any]) -> datetime | None:
    """A SQLite CURRENT_TIMESTAMP text (UTC)."""
    return parse_time(value, column, UTC, _render_db_time_strict, raw)


def memory_id(source: Source, source_id: str) -> uuid.UUID:
    """The `user_memories.id` of an Agno memory id: itself when a UUID, else derived from it
    and its file and table (so tables of the same name in two files never collide)."""
    try:
        return uuid.UUID(source_id)
    except ValueError:
        return uuid.uuid5(IDS, f"{source.file}\x1f{source.table}\x1f{source_id}")


def agno_memory_row(raw: Mapping[str, Any], source: Source) -> dict[str, Any]:
    """The `user_memories` row of an Agno memory row (id, user_id, memory, timestamps)."""
    literal = parse_memory_literal(raw.get("memory"))
    text = checked_text(literal.get("memory"), "memory text", limit=None, required=True)
    user_id = checked_text(raw.get("user_id"), "user_id", required=True)
    kept: dict[str, Any] = {}
    source_id = checked_text(raw.get("id"), "id", required=True)
    row_id = memory_id(source, source_id)
    if str(row_id) != source_id:
        kept["id"] = source_id
    created_at = _db_time(raw.get("created_at"), "created_at", kept)
    updated_at = _db_time(raw.get("updated_at"), "updated_at", kept)
    topics = literal.get("topics")
    tags = topics if isinstance(topics, list) and all(isinstance(t, str) for t in topics) else None
    rest = {
        k: v
        for k, v in literal.items()
        if k != "memory"
        and not (k == "topics" and tags is not None)
        and not (k == "memory_id" and v == source_id)
    }
    agno = {
        "source": {"file": source.file, "table": source.table},
        "keys": list(literal),  # str(dict) is in key order
        "rest": rest,
    }
    if kept:
        agno["raw"] = kept
    if any("\x00" in t for t in tags or ()) or "\x00" in orjson.dumps(rest).decode():
        raise RejectedRow("memory holds a NUL character, which PostgreSQL cannot store")
    return {
        "id": row_id,
        "user_id": user_id,
        "memory": text,
        "created_at": created_at,
        "updated_at": updated_at,
        "metadata": {"agno": agno},
        "memory_tags": tags,
        "business_units": None,
        "importance_score": 0.5,
    }


def _render_db_time_strict(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_DB_TIME)


def render_db_time(value: datetime | None) -> str | None:
    """A timestamp as SQLite's CURRENT_TIMESTAMP text (UTC), or None."""
    return _render_db_time_strict(value) if value is not None else None


def agno_memory_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    """The dict Agno keeps of a `user_memories` row written by `agno_memory_row`."""
    agno = row["metadata"]["agno"]
    source_id = agno.get("raw", {}).get("id", str(row["id"]))
    values = {
        "memory": row["memory"],
        "topics": row["memory_tags"],
        "memory_id": source_id,
        **agno["rest"],
    }
    return {k: values[k] for k in agno["keys"]}


def agno_memory(row: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of `agno_memory_row`: the memory row's values, `memory` as `str(dict)`."""
    kept = row["metadata"]["agno"].get("raw", {})
    return {
        "id": kept.get("id", str(row["id"])),
        "user_id": row["user_id"],
        "memory": str(agno_memory_dict(row)),
        "created_at": kept.get("created_at", render_db_time(row["created_at"])),
        "updated_at": kept.get("updated_at", render_db_time(row["updated_at"])),
    }
