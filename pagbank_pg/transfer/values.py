"""A SQLite row's values decoded into those `mapping` takes: TEXT checked as UTF-8, JSON parsed,
a value over the cap refused (each raising RejectedRow for that row alone). No I/O."""

import base64
import re
from typing import Any, NamedTuple

import orjson

from ..config import MAX_VALUE_BYTES
from ..errors import RejectedRow
from ..mapping import has_markers

_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")  # an escaped U+0000, not an escaped backslash


class Oversized(NamedTuple):
    """A value over MAX_VALUE_BYTES, left unread: its row is rejected."""

    size: int


def _within_cap(value: Any, column: str) -> None:
    if isinstance(value, Oversized):
        raise RejectedRow(
            f"{column} holds {value.size:,} bytes, over the {MAX_VALUE_BYTES:,} a value may hold"
        )


def text(value: Any, column: str) -> Any:
    """A TEXT value as str (raising RejectedRow on invalid UTF-8); other values as they are."""
    _within_cap(value, column)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise RejectedRow(f"{column} is not valid UTF-8 ({error})") from None
    return value


def json_value(value: Any, column: str) -> Any:
    """A JSON TEXT value parsed (raising RejectedRow on bad JSON or a U+0000 inside)."""
    raw = value if isinstance(value, bytes) else str(value).encode()
    if b"\\u0000" in raw and _JSON_NUL.search(raw):
        raise RejectedRow(f"{column} holds a U+0000 character, which PostgreSQL cannot store")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise RejectedRow(f"{column} is not valid JSON ({error})") from None


def json_values(
    columns: tuple[str, ...], values: tuple[Any, ...], json_columns: tuple[str, ...]
) -> tuple[dict[str, Any], frozenset[str]]:
    """A row's values, TEXT decoded and `json_columns` parsed, and the JSON columns that are
    NULL."""
    raw: dict[str, Any] = {}
    nulls: set[str] = set()
    for column, value in zip(columns, values, strict=True):
        _within_cap(value, column)
        if column in json_columns:
            if value is None:
                nulls.add(column)
                raw[column] = None
                continue
            encoded = value if isinstance(value, bytes) else str(value).encode()
            if column == "memory" and has_markers(encoded):
                raise RejectedRow("memory holds a marker reserved by the importer ($pagbank_...)")
            raw[column] = json_value(value, column)
        else:
            raw[column] = text(value, column)
    return raw, frozenset(nulls)


def plain_values(columns: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    """A row's values with TEXT decoded (JSON left as text)."""
    return {c: text(v, c) for c, v in zip(columns, values, strict=True)}


def describe_row(columns: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    """A rejected row as JSON-safe values: text, or {"base64": …} for bytes that are not UTF-8."""
    described = {}
    for column, value in zip(columns, values, strict=True):
        if isinstance(value, Oversized):
            value = {"oversized_bytes": value.size}  # not read: over the cap
        elif isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                value = {"base64": base64.b64encode(value).decode()}
        described[column] = value
    return described
