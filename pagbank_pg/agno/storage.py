"""The storage classes of the Agno integration; `pagbank_pg.agno` is their public home."""

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple

from agno.memory.v2.db.base import MemoryDb
from agno.memory.v2.db.schema import MemoryRow
from agno.storage.base import Storage
from agno.storage.session.agent import AgentSession
from agno.storage.session.team import TeamSession

from .. import mapping
from ..config import DEFAULT_FILE, SESSION_TIMEOUT_MINUTES
from ..errors import (
    ConfigurationError,
    InvalidRecord,
    QueryError,
    RejectedRow,
)
from ..query import Database, require_tables
from ..query.rows import UserSessionRow
from ..query.types import AgnoQueries, agno_queries, schema_queries
from ..transfer.kinds import KINDS
from .common import Served
from .merge import check_owner
from .writes import stored_rows, write_session

logger = logging.getLogger("pagbank_pg.agno")
Mode = Literal["agent", "team", "workflow", "workflow_v2"]


def _fields(kind: Literal["agent", "team"], record: type) -> tuple[str, ...]:
    """The columns of Agno's SQLite table that its session record carries."""
    names = {f.name for f in dataclasses.fields(record)}
    return tuple(c for c in KINDS[kind].source_columns if c in names)


# What an upsert takes from a session, per mode.
_FIELDS = {"agent": _fields("agent", AgentSession), "team": _fields("team", TeamSession)}


def _require_table(db: Database, table: str) -> None:
    require_tables(schema_queries(db), "the database", table)


class _Statements(NamedTuple):
    """The statements of one mode (agent or team) of the storage."""

    rows: Callable[..., list[dict[str, Any]]]
    delete: Callable[..., int]
    delete_all: Callable[..., int]


def _statements(agno: AgnoQueries, kind: str) -> _Statements:
    """The statements of `kind`."""
    if kind == "team":
        return _Statements(
            agno.team_session_rows, agno.delete_team_session_rows, agno.delete_all_team_sessions
        )
    return _Statements(
        agno.agent_session_rows, agno.delete_agent_session_rows, agno.delete_all_agent_sessions
    )


class PostgresStorage(Storage):  # type: ignore[misc]
    """Agno's Storage over `agent_sessions` (mode "agent") or `team_sessions` (mode "team")."""

    def __init__(
        self,
        mode: Mode = "agent",
        *,
        db: Database | None = None,
        db_url: str | None = None,
        units: Mapping[str, str] = mapping.DEFAULT_UNITS,
    ) -> None:
        super().__init__(mode)
        self.db = db if db is not None else Database.open(db_url)
        self.agno = agno_queries(self.db)
        self.units = units
        self.erased_skipped = 0  # sessions of erased users passed over (LGPD)
        self.served = Served()  # the runs this storage read or wrote (a stale copy stays out)

    def _kind(self) -> Literal["agent", "team"]:
        if self.mode not in _FIELDS:
            raise ConfigurationError(
                f"PostgresStorage stores agent and team sessions, not {self.mode}"
            )
        return "team" if self.mode == "team" else "agent"

    def _statements(self) -> _Statements:
        return _statements(self.agno, self._kind())

    def _session(self, rows: list[dict[str, Any]]) -> AgentSession | TeamSession | None:
        values, _ = mapping.session_from_rows(rows, self._kind())
        self.served.add(values["session_id"], values)
        cls = TeamSession if self._kind() == "team" else AgentSession
        return cls.from_dict(values)

    def create(self) -> None:
        """Check that the schema is there (it is made by `pagbank-pg migrate`, not by Agno)."""
        _require_table(self.db, f"{self._kind()}_sessions")

    def upgrade_schema(self) -> None:
        """Nothing to do: the schema is versioned by the project's migrations."""
        self.create()

    def read(
        self, session_id: str, user_id: str | None = None
    ) -> AgentSession | TeamSession | None:
        """The session (read on the primary: see `stored_rows`); with `user_id`, only when it
        is that user's."""
        rows = stored_rows(self.agno, self._kind(), session_id)
        if user_id:
            rows = [r for r in rows if r["user_id"] == user_id]
        return self._session(rows) if rows else None

    def _ids(self, user_id: str | None, entity_id: str | None, limit: int | None) -> list[str]:
        if self._kind() == "team":
            found = self.agno.team_session_ids(user_id=user_id, team_id=entity_id, limit=limit)
        else:
            found = self.agno.agent_session_ids(user_id=user_id, agent_id=entity_id, limit=limit)
        return [row["session_id"] for row in found]

    def _sessions(self, ids: list[str], user_id: str | None) -> list[AgentSession | TeamSession]:
        rows = self._statements().rows(session_ids=ids)
        by_id: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        for row in rows:
            if not user_id or row["user_id"] == user_id:
                by_id[row["session_id"]].append(row)
        sessions = [self._session(group) for group in by_id.values() if group]
        return [s for s in sessions if s is not None]

    def get_all_session_ids(
        self, user_id: str | None = None, entity_id: str | None = None
    ) -> list[str]:
        return self._ids(user_id, entity_id, None)

    def get_all_sessions(
        self, user_id: str | None = None, entity_id: str | None = None
    ) -> list[AgentSession | TeamSession]:
        return self._sessions(self._ids(user_id, entity_id, None), user_id)

    def get_recent_sessions(
        self, user_id: str | None = None, entity_id: str | None = None, limit: int | None = 2
    ) -> list[AgentSession | TeamSession]:
        return self._sessions(self._ids(user_id, entity_id, limit), user_id)

    def upsert(
        self, session: AgentSession | TeamSession, *, then: Callable[[Any], Any] | None = None
    ) -> AgentSession | TeamSession | None:
        """Store `session` merged with what is stored (see `pagbank_pg.agno.merge`): runs
        another replica stored meanwhile are kept. Returns the session as stored; `then` is
        called with it while the session is still locked (the dual write's mirror)."""
        return self._write(session, merge=True, then=then)

    def replace(self, session: AgentSession | TeamSession) -> AgentSession | TeamSession | None:
        """Store `session` exactly as given, dropping what it no longer holds (a run deleted
        on purpose); the last writer wins. Returns the session as stored."""
        return self._write(session, merge=False)

    def _write(
        self,
        session: AgentSession | TeamSession,
        merge: bool,
        then: Callable[[Any], Any] | None = None,
    ) -> AgentSession | TeamSession | None:
        kind = self._kind()
        given = session.to_dict()
        values = {column: given.get(column) for column in _FIELDS[kind]}
        now = int(time.time())  # the database sets the stored timestamps
        values.update(created_at=values["created_at"] or now, updated_at=now)
        mirror = (lambda rows: then(self._session(rows))) if then is not None else None
        written = write_session(
            self.db,
            kind,
            values,
            lambda merged: self._rows(merged, session.session_id),
            merge=merge,
            served=self.served.of(session.session_id),
            then=mirror,
        )
        if written is None:
            self.erased_skipped += 1  # LGPD: the user asked to be forgotten
            logger.info("session of an erased user passed over")
            return None
        return self._session(written)

    def _rows(self, values: dict[str, Any], session_id: str) -> list[dict[str, Any]]:
        source = mapping.Source(DEFAULT_FILE, KINDS[self._kind()].default_table)
        try:
            return mapping.agno_session_rows(
                values,
                self._kind(),
                source,
                unit_of=lambda agent_id: mapping.business_unit_of(agent_id, self.units),
            )
        except RejectedRow as error:
            raise InvalidRecord(f"session {session_id!r} cannot be stored: {error}") from None

    def delete_session(self, session_id: str | None = None) -> None:
        if session_id is not None:
            self._statements().delete(session_id=session_id)

    def drop(self) -> None:
        """Delete every session of this mode (the shared table itself stays)."""
        self._statements().delete_all()


def _memory_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    if (row["metadata"] or {}).get("agno"):
        return mapping.agno_memory_dict(row)
    return {
        "memory_id": str(row["id"]),
        "memory": row["memory"],
        "topics": row["memory_tags"] or [],
    }


class PostgresMemoryDb(MemoryDb):  # type: ignore[misc]
    """Agno memory v2's MemoryDb over `user_memories`."""

    def __init__(self, *, db: Database | None = None, db_url: str | None = None) -> None:
        self.db = db if db is not None else Database.open(db_url)
        self.agno = agno_queries(self.db)
        self.source = mapping.Source(DEFAULT_FILE, KINDS["memory"].default_table)

    def create(self) -> None:
        _require_table(self.db, "user_memories")

    def table_exists(self) -> bool:
        return bool(schema_queries(self.db).table_exists(table_name="user_memories"))

    def _id(self, memory_id: str) -> uuid.UUID:
        return mapping.memory_id(self.source, memory_id)

    def memory_exists(self, memory: MemoryRow) -> bool:
        return self.db.queries.get_memory(id=self._id(str(memory.id))) is not None

    def read_memories(
        self, user_id: str | None = None, limit: int | None = None, sort: str | None = None
    ) -> list[MemoryRow]:
        query = self.agno.agno_memories_oldest if sort == "asc" else self.agno.agno_memories_newest
        rows = query(user_id=user_id, limit=limit)
        return [
            MemoryRow(
                id=_memory_dict(row).get("memory_id", str(row["id"])),
                user_id=row["user_id"],
                memory=_memory_dict(row),
                last_updated=row["updated_at"] or row["created_at"],
            )
            for row in rows
        ]

    def upsert_memory(self, memory: MemoryRow) -> MemoryRow | None:
        raw = {
            "id": memory.id,
            "user_id": memory.user_id or "default",  # Agno's own user id when none is given
            "memory": str(memory.memory),
            "created_at": None,
            "updated_at": None,
        }
        try:
            row = mapping.agno_memory_row(raw, self.source)
        except RejectedRow as error:
            raise InvalidRecord(f"memory {memory.id!r} cannot be stored: {error}") from None
        query = self.agno.save_agno_memory
        query(**{p: row[p] for p in query.params})
        return memory

    def delete_memory(self, memory_id: str) -> None:
        self.db.queries.delete_memory(id=self._id(memory_id))

    def drop_table(self) -> None:
        """Delete every memory (the shared table itself stays)."""
        self.agno.delete_all_memories()

    def clear(self) -> bool:
        self.agno.delete_all_memories()
        return True


class PostgresSessionManager:
    """PagBank's session manager over `user_sessions`: sessions expire after a period of
    inactivity (120 minutes by default); every interaction touches its session."""

    def __init__(self, db: Database, session_timeout_minutes: int = SESSION_TIMEOUT_MINUTES):
        self.db = db
        self.timeout_minutes = session_timeout_minutes

    def create_session(
        self,
        user_id: str,
        team_id: str | None = None,
        session_id: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> UserSessionRow:
        """Open a session for `user_id`; a session id another user holds raises
        `SessionOwnershipError`."""
        session_id = session_id or str(uuid.uuid4())
        try:
            row = self.db.queries.create_user_session(
                session_id=session_id,
                user_id=user_id,
                team_id=team_id,
                session_context=context,
                metadata=None,
            )
        except QueryError as error:
            if error.sqlstate == "23505":  # the id is taken: by this user, or another one
                self._owned(session_id, user_id)
            raise
        assert row is not None
        return row

    def _owned(self, session_id: str, user_id: str | None) -> UserSessionRow | None:
        """The session; `SessionOwnershipError` when `user_id` is given and not its owner."""
        row = self.db.queries.get_user_session(session_id=session_id)
        if row is not None and user_id is not None:
            check_owner([row["user_id"]], user_id, session_id, "user_sessions")
        return row

    def get_session(self, session_id: str, user_id: str | None = None) -> UserSessionRow | None:
        """The session, or None when it does not exist, is no longer active, or (with
        `user_id`) is another user's."""
        row = self.db.queries.get_user_session(session_id=session_id)
        if row is None or not row["is_active"]:
            return None
        return row if user_id is None or row["user_id"] == user_id else None

    def touch(
        self,
        session_id: str,
        context: dict[str, Any] | None = None,
        user_id: str | None = None,
    ) -> UserSessionRow | None:
        """Record one interaction, merging `context` into the session's context; with
        `user_id`, another user's session raises `SessionOwnershipError`."""
        self._owned(session_id, user_id)  # a session's user never changes: no race
        return self.db.queries.touch_user_session(session_id=session_id, context=context or {})

    def end_session(self, session_id: str, user_id: str | None = None) -> UserSessionRow | None:
        self._owned(session_id, user_id)
        return self.db.queries.deactivate_user_session(session_id=session_id)

    def cleanup_expired_sessions(self) -> int:
        """Deactivate the sessions idle for longer than the timeout; returns how many."""
        return self.db.queries.expire_user_sessions(timeout_minutes=self.timeout_minutes)

    def get_active_sessions(self, user_id: str) -> list[UserSessionRow]:
        return self.db.queries.active_sessions_of_user(user_id=user_id)

    def get_statistics(self) -> dict[str, Any]:
        stats = self.db.queries.user_session_stats()
        assert stats is not None
        return stats


def _mirror(action: str, call: Callable[[], Any]) -> None:
    try:
        call()
    except Exception:  # the store that is read stays right; the mirror is reported
        logger.exception("dual write: %s failed on the store that is not read", action)


class DualWriteStorage(Storage):  # type: ignore[misc]
    """Writes every session to two storages and reads from one (`read_from`): the cutover's
    dual write. A failure on the store that is not read is logged, not raised. SQLite is
    written PostgreSQL's merged view of a session (what `PostgresStorage.upsert` stored) while
    PostgreSQL still holds the session's lock, so with `read_from="postgres"` both keep every
    run of racing replicas. With `read_from="sqlite"`, SQLite is written the session as given
    (Agno's own last-writer-wins) and PostgreSQL merges."""

    def __init__(
        self,
        postgres: Storage,
        sqlite: Storage,
        read_from: Literal["postgres", "sqlite"] = "postgres",
    ) -> None:
        super().__init__(postgres.mode)
        self.postgres, self.sqlite = postgres, sqlite
        self.primary, self.mirror = (
            (postgres, sqlite) if read_from == "postgres" else (sqlite, postgres)
        )

    @property
    def mode(self) -> Mode:
        return self.primary.mode  # type: ignore[no-any-return]

    @mode.setter
    def mode(self, value: Mode) -> None:
        self.primary.mode = value
        self.mirror.mode = value

    def create(self) -> None:
        self.primary.create()
        _mirror("create", self.mirror.create)

    def upgrade_schema(self) -> None:
        self.primary.upgrade_schema()
        _mirror("upgrade_schema", self.mirror.upgrade_schema)

    def read(self, session_id: str, user_id: str | None = None) -> Any:
        return self.primary.read(session_id, user_id)

    def get_all_session_ids(
        self, user_id: str | None = None, entity_id: str | None = None
    ) -> list[str]:
        return self.primary.get_all_session_ids(user_id, entity_id)  # type: ignore[no-any-return]

    def get_all_sessions(self, user_id: str | None = None, entity_id: str | None = None) -> Any:
        return self.primary.get_all_sessions(user_id, entity_id)

    def get_recent_sessions(
        self, user_id: str | None = None, entity_id: str | None = None, limit: int | None = 2
    ) -> Any:
        return self.primary.get_recent_sessions(user_id, entity_id, limit)

    def upsert(self, session: Any) -> Any:
        if self.primary is self.postgres and isinstance(self.postgres, PostgresStorage):

            def mirror(merged: Any) -> None:
                _mirror("upsert", lambda: self.sqlite.upsert(merged))

            return self.postgres.upsert(session, then=mirror)
        saved = self.primary.upsert(session)
        _mirror("upsert", lambda: self.mirror.upsert(session))
        return saved

    def delete_session(self, session_id: str | None = None) -> None:
        self.primary.delete_session(session_id)
        _mirror("delete_session", lambda: self.mirror.delete_session(session_id))

    def drop(self) -> None:
        self.primary.drop()
        _mirror("drop", self.mirror.drop)


class DualWriteMemoryDb(MemoryDb):  # type: ignore[misc]
    """Writes every memory to two memory DBs and reads from one (`read_from`)."""

    def __init__(
        self,
        postgres: MemoryDb,
        sqlite: MemoryDb,
        read_from: Literal["postgres", "sqlite"] = "postgres",
    ) -> None:
        self.primary, self.mirror = (
            (postgres, sqlite) if read_from == "postgres" else (sqlite, postgres)
        )

    def create(self) -> None:
        self.primary.create()
        _mirror("create", self.mirror.create)

    def table_exists(self) -> bool:
        return bool(self.primary.table_exists())

    def memory_exists(self, memory: MemoryRow) -> bool:
        return bool(self.primary.memory_exists(memory))

    def read_memories(
        self, user_id: str | None = None, limit: int | None = None, sort: str | None = None
    ) -> list[MemoryRow]:
        return self.primary.read_memories(user_id, limit, sort)  # type: ignore[no-any-return]

    def upsert_memory(self, memory: MemoryRow) -> MemoryRow | None:
        saved = self.primary.upsert_memory(memory)
        _mirror("upsert_memory", lambda: self.mirror.upsert_memory(memory))
        return saved

    def delete_memory(self, memory_id: str) -> None:
        self.primary.delete_memory(memory_id)
        _mirror("delete_memory", lambda: self.mirror.delete_memory(memory_id))

    def drop_table(self) -> None:
        self.primary.drop_table()
        _mirror("drop_table", self.mirror.drop_table)

    def clear(self) -> bool:
        cleared = bool(self.primary.clear())
        _mirror("clear", self.mirror.clear)
        return cleared


class PostgresManager:
    """One connection pool and everything PagBank's app needs from it (the plan's Phase 1)."""

    def __init__(
        self,
        db_url: str | None = None,
        *,
        session_timeout_minutes: int = SESSION_TIMEOUT_MINUTES,
        **pool_options: Any,
    ) -> None:
        self.db = Database.open(db_url, **pool_options)
        self.session_timeout_minutes = session_timeout_minutes

    def get_team_storage(self) -> PostgresStorage:
        return PostgresStorage("team", db=self.db)

    def get_agent_storage(self) -> PostgresStorage:
        return PostgresStorage("agent", db=self.db)

    def get_memory_db(self) -> PostgresMemoryDb:
        return PostgresMemoryDb(db=self.db)

    def get_session_manager(self) -> PostgresSessionManager:
        return PostgresSessionManager(self.db, self.session_timeout_minutes)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "PostgresManager":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
