"""What each kind of table is, declared once: the PostgreSQL table of the plan the importer
writes it to, the SQLite table Agno 1.7 (SqliteStorage, SqliteMemoryDb) or PagBank's session
manager writes (its columns, DDL, key and clock), how a row maps to PostgreSQL and back, and the
statements that move it. A fifth kind is one more entry of KINDS. The statements that list
columns are checked against this at load (`check_copy`)."""

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal

from .. import mapping
from ..errors import QueryLoadError
from ..mapping import Source
from .values import json_value, json_values, plain_values

KindName = Literal["agent", "team", "memory", "sessions"]
Row = dict[str, Any]
Mapper = Callable[[tuple[Any, ...]], list[Row]]  # one source row's values to its target rows
UnitOf = Callable[[str], str | None]  # an agent id's business unit


@dataclass(frozen=True)
class Target:
    """A table of the plan as the importer writes it: its columns (in COPY order) and types."""

    table: str
    columns: tuple[str, ...]
    types: tuple[str, ...]


_DB_TIME = "%Y-%m-%d %H:%M:%S"  # SQLite's CURRENT_TIMESTAMP, as Agno's memories carry it


@dataclass(frozen=True)
class Clock:
    """How a kind's rows say when they were written: values of `type`, this moment as one
    (`now`), and one `seconds` earlier (`shift`, raising on a value that is not one)."""

    type: type
    now: Callable[[tzinfo], Any]
    shift: Callable[[Any, int], Any]

    def earlier(self, value: Any, seconds: int) -> Any:
        """`value` `seconds` earlier; None when it is not a time of this clock."""
        try:
            return self.shift(value, seconds)
        except (TypeError, ValueError, OverflowError):
            return None

    def later(self, a: Any, b: Any) -> Any:
        """The later of two times (None: none); a value of another type (dirty data) does not
        count."""
        wanted = self.type
        a = a if isinstance(a, wanted) and not isinstance(a, bool) else None
        b = b if isinstance(b, wanted) and not isinstance(b, bool) else None
        return a if b is None else b if a is None else max(a, b)

    def from_text(self, text: str | None) -> Any:
        """A time as the watermark stored it (text); None when it is not one."""
        if text is None or self.type is str:
            return text
        try:
            return self.type(text)
        except ValueError:
            return None


def _shift_text(pattern: str | None) -> Callable[[Any, int], Any]:
    """Shift text times of `pattern` (None: ISO 8601)."""

    def shift(value: Any, seconds: int) -> Any:
        parsed = datetime.strptime(value, pattern) if pattern else datetime.fromisoformat(value)
        moved = parsed - timedelta(seconds=seconds)
        return moved.strftime(pattern) if pattern else moved.isoformat()

    return shift


EPOCH = Clock(int, lambda zone: int(time.time()), lambda value, seconds: int(value) - seconds)
DB_TIME = Clock(str, lambda zone: datetime.now(UTC).strftime(_DB_TIME), _shift_text(_DB_TIME))
LOCAL_ISO = Clock(
    str, lambda zone: datetime.now(zone).replace(tzinfo=None).isoformat(), _shift_text(None)
)

MapperOf = Callable[[tuple[str, ...], Source, tzinfo, UnitOf], Mapper]
Restorer = Callable[[list[Row], tzinfo], Iterator[tuple[Row, set[str]]]]


@dataclass(frozen=True)
class Kind:
    """One kind of table (see the module's doc)."""

    name: KindName
    target: Target
    source: tuple[tuple[str, str], ...]  # the SQLite columns, in order, with their declarations
    optional: frozenset[str]  # source columns an older or leaner table may lack
    json_columns: tuple[str, ...]  # source columns holding JSON text
    key: str  # the source column that names a row
    time: str  # when a source row was last written: an SQL expression over its columns
    clock: Clock  # ... and what that expression gives
    default_table: str  # where a row written only in PostgreSQL goes on export
    indexes: tuple[tuple[str, str], ...]  # the SQLite indexes: (name with {t}, columns)
    sqlalchemy: bool  # DDL as SQLAlchemy writes it (Agno): a column a line, the key at the end
    split: bool  # one source row is several target rows (a session and its runs)
    marker: tuple[str, ...]  # where a target row's metadata names its source {file, table}
    mapper: MapperOf  # the function mapping a source row to its target rows
    restorer: Restorer  # target rows back into (source values, JSON columns that were NULL)
    stored_keys: Callable[[Source, list[Any]], dict[str, list[Any]]]  # source keys, as bound
    comparable: Callable[[Row], Row] = lambda values: values  # what verify compares

    @property
    def source_columns(self) -> tuple[str, ...]:
        return tuple(column for column, _ in self.source)

    @property
    def required(self) -> frozenset[str]:
        """The columns that make a SQLite table one of this kind (it may have more)."""
        return frozenset(self.source_columns) - self.optional

    def ddl(self, table: str) -> str:
        """The SQLite script creating `table` (any name: it is quoted) and its indexes."""
        if self.sqlalchemy:
            columns = "".join(f"\t{c} {declared}, \n" for c, declared in self.source)
            create = f'CREATE TABLE "{{t}}" (\n{columns}\tPRIMARY KEY ({self.key})\n);'
        else:
            create = f'CREATE TABLE "{{t}}" ({", ".join(" ".join(c) for c in self.source)});'
        indexes = [f'CREATE INDEX "{name}" ON "{{t}}" ({on});' for name, on in self.indexes]
        return "\n".join([create, *indexes]).replace("{t}", table.replace('"', '""'))

    def statement(self, queries: Any, verb: str) -> Any:
        """The transfer statement `verb` of this kind (`copy_stage`: `copy_stage_<target>`)."""
        return getattr(queries, f"{verb}_{self.target.table}")


def _imported(rows: list[Row]) -> list[Row]:
    """Agno rows marked as written by the import (metadata.agno.source.imported): only such
    rows are ever pruned, never one the app wrote (PagBank sessions carry their own marker)."""
    for row in rows:
        row["metadata"]["agno"]["source"]["imported"] = True
    return rows


def _agno_sessions(kind: Literal["agent", "team"]) -> tuple[MapperOf, Restorer]:
    def mapper(columns: tuple[str, ...], source: Source, zone: tzinfo, unit_of: UnitOf) -> Mapper:
        def session(values: tuple[Any, ...]) -> list[Row]:
            raw, nulls = json_values(columns, values, mapping.AGNO_JSON_COLUMNS)
            return _imported(mapping.agno_session_rows(raw, kind, source, nulls, unit_of))

        return session

    def restorer(rows: list[Row], zone: tzinfo) -> Iterator[tuple[Row, set[str]]]:
        yield mapping.session_from_rows(rows, kind)

    return mapper, restorer


def _memory_mapper(
    columns: tuple[str, ...], source: Source, zone: tzinfo, unit_of: UnitOf
) -> Mapper:
    return lambda values: _imported(
        [mapping.agno_memory_row(plain_values(columns, values), source)]
    )


def _memory_restorer(rows: list[Row], zone: tzinfo) -> Iterator[tuple[Row, set[str]]]:
    for row in rows:
        memory = mapping.agno_memory(row) if (row["metadata"] or {}).get("agno") else None
        yield memory or _synthesized_memory(row), set()


def _synthesized_memory(row: Mapping[str, Any]) -> Row:
    """A memory written only in PostgreSQL, as Agno's SqliteMemoryDb stores one."""
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


def _session_mapper(
    columns: tuple[str, ...], source: Source, zone: tzinfo, unit_of: UnitOf
) -> Mapper:
    return lambda values: [
        mapping.pagbank_session_row(plain_values(columns, values), source, zone, json_value)
    ]


def _session_restorer(rows: list[Row], zone: tzinfo) -> Iterator[tuple[Row, set[str]]]:
    for row in rows:
        yield mapping.pagbank_session(row, zone)


def _session_ids(source: Source, keys: list[Any]) -> dict[str, list[Any]]:
    return {"session_ids": keys}


def _memory_ids(source: Source, keys: list[Any]) -> dict[str, list[Any]]:
    return {"ids": [str(mapping.memory_id(source, key)) for key in keys]}


def _parsed_memory(values: Row) -> Row:
    return {**values, "memory": mapping.parse_memory_literal(values["memory"])}


_AGNO_SESSION = (
    ("session_id", "VARCHAR NOT NULL"), ("user_id", "VARCHAR"), ("memory", "JSON"),
    ("session_data", "JSON"), ("extra_data", "JSON"), ("created_at", "INTEGER"),
    ("updated_at", "INTEGER"), ("agent_id", "VARCHAR"), ("agent_data", "JSON"),
    ("team_session_id", "VARCHAR"),
)  # fmt: skip
_AGNO_TIME = "coalesce(updated_at, created_at)"  # epoch seconds; updated_at NULL until a 2nd write


def _agno_kind(name: Literal["agent", "team"], target: Target, **declared: Any) -> Kind:
    mapper, restorer = _agno_sessions(name)
    return Kind(
        name, target, json_columns=mapping.AGNO_JSON_COLUMNS, key="session_id", time=_AGNO_TIME,
        clock=EPOCH, default_table=f"{name}_sessions", sqlalchemy=True, split=True,
        marker=("agno", "source"), mapper=mapper, restorer=restorer, stored_keys=_session_ids,
        **declared,
    )  # fmt: skip


def _ix(*columns: str) -> tuple[tuple[str, str], ...]:
    """SQLAlchemy's index of each column (ix_<table>_<column>)."""
    return tuple((f"ix_{{t}}_{column}", column) for column in columns)


KINDS: dict[KindName, Kind] = {
    "agent": _agno_kind(
        "agent",
        Target(
            "agent_sessions",
            ("id", "session_id", "agent_id", "agent_name", "user_id", "business_unit",
             "created_at", "updated_at", "messages", "agent_session_state", "metadata"),
            ("uuid", "text", "text", "text", "text", "text", "timestamptz", "timestamptz",
             "jsonb", "jsonb", "jsonb"),
        ),
        source=_AGNO_SESSION,
        optional=frozenset({"extra_data", "team_session_id"}),
        indexes=_ix("user_id", "team_session_id", "agent_id"),
    ),
    "team": _agno_kind(
        "team",
        Target(
            "team_sessions",
            ("id", "session_id", "team_id", "team_name", "user_id", "created_at", "updated_at",
             "messages", "team_session_state", "metadata"),
            ("uuid", "text", "text", "text", "text", "timestamptz", "timestamptz", "jsonb",
             "jsonb", "jsonb"),
        ),
        source=(*_AGNO_SESSION, ("team_id", "VARCHAR"), ("team_data", "JSON")),
        optional=frozenset({"extra_data", "team_session_id", "agent_id", "agent_data"}),
        indexes=_ix("agent_id", "team_session_id", "user_id", "team_id"),
    ),
    "memory": Kind(
        "memory",
        Target(
            "user_memories",
            ("id", "user_id", "memory", "created_at", "updated_at", "metadata", "memory_tags",
             "business_units", "importance_score"),
            ("uuid", "text", "text", "timestamptz", "timestamptz", "jsonb", "text[]", "text[]",
             "float8"),
        ),
        source=(
            ("id", "VARCHAR NOT NULL"), ("user_id", "VARCHAR"), ("memory", "VARCHAR"),
            ("created_at", "DATETIME DEFAULT CURRENT_TIMESTAMP"),
            ("updated_at", "DATETIME DEFAULT CURRENT_TIMESTAMP"),
        ),
        optional=frozenset(),
        json_columns=(),
        key="id",
        time="coalesce(updated_at, created_at)",  # CURRENT_TIMESTAMP text
        clock=DB_TIME,
        default_table="pagbank_memories",
        indexes=_ix("user_id"),
        sqlalchemy=True,
        split=False,
        marker=("agno", "source"),
        mapper=_memory_mapper,
        restorer=_memory_restorer,
        stored_keys=_memory_ids,
        comparable=_parsed_memory,
    ),
    "sessions": Kind(
        "sessions",
        Target(
            "user_sessions",
            ("session_id", "user_id", "team_id", "created_at", "last_activity",
             "interaction_count", "session_context", "is_active", "metadata"),
            ("text", "text", "text", "timestamptz", "timestamptz", "int4", "jsonb", "bool",
             "jsonb"),
        ),
        source=(
            ("session_id", "TEXT PRIMARY KEY"), ("user_id", "TEXT NOT NULL"),
            ("team_id", "TEXT"), ("created_at", "TEXT NOT NULL"),
            ("last_activity", "TEXT NOT NULL"), ("interaction_count", "INTEGER DEFAULT 0"),
            ("session_context", "TEXT"), ("is_active", "BOOLEAN DEFAULT 1"),
            ("metadata", "TEXT"),
        ),
        optional=frozenset(),
        json_columns=("session_context", "metadata"),
        key="session_id",
        time="last_activity",  # naive local ISO text
        clock=LOCAL_ISO,
        default_table="sessions",
        indexes=(("idx_{t}_user_id", "user_id"), ("idx_{t}_active", "is_active, last_activity")),
        sqlalchemy=False,
        split=False,
        marker=(mapping.IMPORT_KEY,),
        mapper=_session_mapper,
        restorer=_session_restorer,
        stored_keys=_session_ids,
    ),
}  # fmt: skip
# The order tables are recognised in by their columns: team before agent (a team table has
# both's), sessions before memory.
RECOGNISED: tuple[KindName, ...] = ("team", "agent", "sessions", "memory")


def kind_of(columns: Iterable[str]) -> KindName | None:
    """The kind a table's columns say it is."""
    given = set(columns)
    for name in RECOGNISED:
        if KINDS[name].required <= given:
            return name
    return None


# `COPY table (a, b, …) FROM STDIN`: the column list of a copy statement.
_COPY_COLUMNS = re.compile(r"^\s*COPY\s+\w+\s*\((?P<columns>[^)]*)\)\s+FROM\s+STDIN", re.I)


def check_copy(query: Any, target: Target) -> None:
    """Check that a `:copy` statement (a `Query`, or a bound one) copies exactly `target`'s
    columns in their order."""
    found = _COPY_COLUMNS.match(query.sql)
    columns = tuple(c.strip() for c in found["columns"].split(",")) if found else ()
    if columns != target.columns:
        raise QueryLoadError(
            f"{query.file}:{query.line}: query {query.name} copies ({', '.join(columns)}), "
            f"but {target.table} is declared with ({', '.join(target.columns)}) "
            "in pagbank_pg/transfer/kinds.py"
        )
