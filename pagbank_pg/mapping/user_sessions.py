"""PagBank's `sessions` rows <-> `user_sessions` rows; naive local timestamps are read in the
zone PagBank ran in. Pure: no I/O."""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from ..errors import RejectedRow
from .common import Source, checked_text, parse_time

IMPORT_KEY = "_pagbank_import"  # our key inside user_sessions.metadata


def _local_time(value: Any, column: str, zone: tzinfo, raw: dict[str, Any]) -> datetime | None:
    return parse_time(value, column, zone, lambda t: _render_local(t, zone), raw)


def _render_local(value: datetime, zone: tzinfo) -> str:
    # Through UTC, as PostgreSQL stores it: a local time that does not exist (skipped by a
    # DST change) renders differently, and is then kept as text.
    return value.astimezone(UTC).astimezone(zone).replace(tzinfo=None).isoformat()


def pagbank_session_row(
    raw: Mapping[str, Any], source: Source, zone: tzinfo, json_of: Callable[[Any, str], Any]
) -> dict[str, Any]:
    """The `user_sessions` row of a PagBank `sessions` row; `json_of(text, column)` parses a
    JSON column (raising RejectedRow)."""
    kept: dict[str, Any] = {}
    created_at = _local_time(raw.get("created_at"), "created_at", zone, kept)
    last_activity = _local_time(raw.get("last_activity"), "last_activity", zone, kept)
    is_active = raw.get("is_active")
    if is_active not in (None, 0, 1) or isinstance(is_active, float):
        kept["is_active"] = is_active
    count = raw.get("interaction_count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise RejectedRow(f"interaction_count is not an integer: {count!r:.60}")
    context_text, metadata_text = raw.get("session_context"), raw.get("metadata")
    context = json_of(context_text, "session_context") if context_text is not None else None
    if context_text is not None and context is None:
        kept["session_context"] = "null"  # the JSON text null, not SQL NULL
    source_meta = json_of(metadata_text, "metadata") if metadata_text is not None else None
    marker: dict[str, Any] = {"file": source.file, "table": source.table}
    if kept:
        marker["raw"] = kept
    if isinstance(source_meta, dict) and IMPORT_KEY not in source_meta:
        metadata = {**source_meta, IMPORT_KEY: marker}
    else:
        metadata = {
            IMPORT_KEY: {**marker, "metadata": source_meta, "sql_null": metadata_text is None}
        }
    return {
        "session_id": checked_text(raw.get("session_id"), "session_id", required=True),
        "user_id": checked_text(raw.get("user_id"), "user_id", required=True),
        "team_id": checked_text(raw.get("team_id"), "team_id"),
        "created_at": created_at,
        "last_activity": last_activity,
        "interaction_count": count,
        "session_context": context,
        "is_active": bool(is_active) if is_active is not None and "is_active" not in kept else None,
        "metadata": metadata,
    }


def pagbank_session(row: Mapping[str, Any], zone: tzinfo) -> tuple[dict[str, Any], set[str]]:
    """The inverse of `pagbank_session_row`: the `sessions` row's values (JSON columns parsed)
    and the JSON columns that were SQL NULL."""
    metadata = dict(row["metadata"] or {})
    marker = metadata.pop(IMPORT_KEY, {})
    kept = marker.get("raw", {})
    nulls = set()
    if "metadata" in marker:
        source_meta = marker["metadata"]
        if marker.get("sql_null"):
            nulls.add("metadata")
    else:
        source_meta = metadata
    if row["session_context"] is None and "session_context" not in kept:
        nulls.add("session_context")

    def time(column: str) -> str | None:
        value = row[column]
        rendered = _render_local(value, zone) if value is not None else None
        return str(kept[column]) if column in kept else rendered

    active = row["is_active"]
    return {
        "session_id": row["session_id"],
        "user_id": row["user_id"],
        "team_id": row["team_id"],
        "created_at": time("created_at"),
        "last_activity": time("last_activity"),
        "interaction_count": row["interaction_count"],
        "session_context": row["session_context"],  # the JSON null when kept says "null"
        "is_active": kept.get("is_active", None if active is None else int(active)),
        "metadata": source_meta,
    }, nulls
