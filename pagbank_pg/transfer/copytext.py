"""Target rows as COPY's text format, in the order of each kind's target columns (see
`kinds`). On the import's hot path: no per-row work beyond each value's encoder."""

from collections.abc import Callable
from typing import Any

import orjson

from .kinds import KINDS, KindName


def _escape(text: bytes) -> bytes:
    """A value for COPY's text format: backslash, newline, carriage return and tab escaped."""
    return (
        text.replace(b"\\", b"\\\\")
        .replace(b"\n", b"\\n")
        .replace(b"\r", b"\\r")
        .replace(b"\t", b"\\t")
    )


def _array(items: list[Any]) -> bytes:
    quoted = (
        b"NULL"
        if item is None
        else b'"' + str(item).encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
        for item in items
    )
    return _escape(b"{" + b",".join(quoted) + b"}")


# COPY text encoders by column type (JSON text from orjson holds no raw control characters).
ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "uuid": lambda v: str(v).encode(),
    "text": lambda v: _escape(v.encode()),
    "timestamptz": lambda v: v.isoformat().encode(),
    "jsonb": lambda v: orjson.dumps(v).replace(b"\\", b"\\\\"),
    "text[]": _array,
    "float8": lambda v: repr(float(v)).encode(),
    "int4": lambda v: str(int(v)).encode(),
    "bool": lambda v: b"t" if v else b"f",
}


def encode_rows(kind: KindName, rows: list[dict[str, Any]]) -> bytes:
    """Target rows as lines of COPY's text format, in the target's column order."""
    target = KINDS[kind].target
    encoders = [ENCODERS[t] for t in target.types]
    lines = []
    for row in rows:
        fields = [
            b"\\N" if row[c] is None else encode(row[c])
            for c, encode in zip(target.columns, encoders, strict=True)
        ]
        lines.append(b"\t".join(fields) + b"\n")
    return b"".join(lines)
