# Generated from db_async.py by tools/async_to_sync.py: do not edit.
"""Agno 2/3's `db` over the plan's tables. db_async.py holds the async twin, an `BaseDb`;
db.py, the sync one (a `BaseDb`), is generated from it by tools/async_to_sync.py.

* Agent sessions go to `agent_sessions` (one row per `(session_id, agent_id)`), team sessions
  to `team_sessions`, memories to `user_memories`, in the shape the importer and the Agno 1.7
  storage write (`pagbank_pg.mapping.agno2`).
* A session write is the 1.7 storage's (`writes.write_session`): under the session's lock, an
  erased user is passed over, another user's session raises `SessionOwnershipError`, and what
  comes in is merged with what is stored, so racing app replicas keep every run.
* Sessions Agno 1.7 wrote (imported, or by the 1.7 storage) read back as Agno 2/3 sessions:
  their runs go through Agno's own v1-to-v2 conversion (`agno.db.migrations.v1_to_v2`).
* Everything the plan has no table for (workflow sessions, metrics, evals, knowledge, traces
  and spans, learnings, culture on 2.x, schema versions, and the rest of Agno's tables) goes
  to Agno's own `PostgresDb` in the schema `agno_schema` of the same database.
* On Agno 3, a turn writes its run through `upsert_run`: the run is put in the session's row
  in SQL (appended, or put in place of its stored state unless the writer's copy is a stale
  one), and `upsert_session` writes the session's own values and the runs it has not been
  served, as Agno 3's own: neither reads, re-serializes or rewrites the session's other runs
  in Python. A row that cannot take one run so (a route-mode split, a conversation the app
  appended to) is written whole, merged, as on Agno 2, where `upsert_session` carries every
  run.
* Agno 3's runs API (`get_run`, `get_runs`, `delete_run(s)`, `cancel_pending_run`,
  `reassign_session_owner`) reads and changes the runs inside the agent and team rows in SQL
  (`agno_run_page`, `cancel_agno_run`, `reassign_agno_session`); a deleted run's session is
  rewritten whole under its lock (`writes.rewrite_session`). A workflow's runs are Agno's.
"""

import contextlib
import dataclasses
import functools
import inspect
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, cast

import psycopg
from agno.db.base import BaseDb, SessionType
from agno.db.migrations.v1_to_v2 import (
    convert_any_metrics_in_data,
    convert_v1_metrics_to_v2,
    safe_get_runs_from_memory,
)
from agno.db.postgres import PostgresDb
from agno.db.schemas.memory import UserMemory
from agno.run.agent import RunOutput
from agno.run.team import TeamRunOutput
from agno.run.workflow import WorkflowRunOutput
from agno.session import AgentSession, TeamSession, WorkflowSession
from psycopg import sql
from sqlalchemy import Engine, create_engine, func, select

from .. import mapping
from ..config import DEFAULT_FILE
from ..conninfo import resolve_dsn
from ..errors import InvalidRecord, RejectedRow, SessionOwnershipError
from ..query import Database, Transaction
from ..query.types import AgnoQueries, agno_queries, lgpd_queries, schema_queries
from ..transfer.kinds import KINDS
from .common import Kind, RunObjects, Served, marked_run, served_fingerprint
from .merge import check_owner
from .writes import put_runs, rewrite_session, stored_rows, write_session

try:  # Agno 3: the runs that make a turn's history (no member runs, none cancelled)
    from agno.db.utils import filter_context_runs
except ImportError:  # Agno 2 has no runs_limit to count them for

    def filter_context_runs(runs: list[Any]) -> list[Any]:
        return runs


logger = logging.getLogger("pagbank_pg.agno")

PLAN_TABLES = ("agent_sessions", "team_sessions", "user_memories")
# Agno 3 writes a turn's run through upsert_run; Agno 2 has none and writes it inline.
RUNS_APART = hasattr(BaseDb, "upsert_run")
_CLASSES: dict[str, Any] = {"agent": AgentSession, "team": TeamSession}
_SORTS = ("created_at", "updated_at", "session_id")
_RUN_CLASSES: dict[str, Any] = {
    "agent": RunOutput, "team": TeamRunOutput, "workflow": WorkflowRunOutput,
}  # fmt: skip
_LIVE = ("PENDING", "RUNNING")  # the statuses a run can be cancelled from (Agno's rule)


def _kind(session_type: Any) -> Kind | None:
    """ "agent" or "team" for the plan's tables; None for a workflow session (Agno's)."""
    value = getattr(session_type, "value", session_type)
    if value in ("agent", "team"):
        return cast(Kind, value)
    return None


def _run_kind(run: Any) -> Kind | None:
    """ "agent" or "team" for a run of the plan's tables; None for a workflow's (Agno's)."""
    if isinstance(run, dict):
        return "agent" if "agent_id" in run else "team" if "team_id" in run else None
    if isinstance(run, TeamRunOutput):
        return "team"
    return "agent" if isinstance(run, RunOutput) else None


def _run_id(run: Any) -> Any:
    return run.get("run_id") if isinstance(run, dict) else getattr(run, "run_id", None)


def _history_run(run: dict[str, Any]) -> Any:
    """A run of an agent session as AgentSession.from_dict builds it (None: left out)."""
    if "agent_id" in run:
        return RunOutput.from_dict(run)
    return TeamRunOutput.from_dict(run) if "team_id" in run else None


def _kind_of(session: Any) -> Kind | None:
    if isinstance(session, TeamSession):
        return "team"
    if isinstance(session, AgentSession):
        return "agent"
    return None


def _v1_run(run: Any) -> Any:
    """An Agno 1.7 run as Agno 2/3 reads one (Agno's own v1-to-v2 conversion)."""
    if not isinstance(run, dict):
        return run
    if "run_id" not in run and isinstance(run.get("response"), dict):  # the legacy format
        run = {
            **run["response"],
            "messages": run.get("messages") or run["response"].get("messages"),
        }
    return convert_any_metrics_in_data(safe_get_runs_from_memory({"runs": [dict(run)]}))[0]


def engine_for(dsn: str) -> Engine:
    """A SQLAlchemy engine on the same server as `dsn` (a libpq URL or conninfo), through
    psycopg 3: no second set of credentials."""
    connect = psycopg.Connection.connect
    return create_engine("postgresql+psycopg://", creator=lambda: connect(dsn))


class AgnoTables(PostgresDb):  # type: ignore[misc]
    """Agno's own PostgresDb for what the plan has no table for; its metrics also count the
    sessions and runs of the plan's tables (`plan_sessions`)."""

    def __init__(
        self,
        plan_sessions: Callable[..., Any],
        first_plan_session: Callable[..., Any],
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.plan_sessions = plan_sessions
        self.first_plan_session = first_plan_session

    def _get_all_sessions_for_metrics_calculation(
        self, start_timestamp: int | None = None, end_timestamp: int | None = None
    ) -> list[dict[str, Any]]:
        own = super()._get_all_sessions_for_metrics_calculation(
            start_timestamp,
            end_timestamp,
        )
        return [*own, *self.plan_sessions(start_timestamp, end_timestamp)]

    def _get_metrics_calculation_starting_date(self, table: Any) -> date | None:
        count = select(func.count()).select_from(table)
        with self.Session() as sess:
            has_metrics = (sess.execute(count)).scalar()
        found = super()._get_metrics_calculation_starting_date(table)
        first = self.first_plan_session()
        ours = datetime.fromtimestamp(first, tz=UTC).date() if first is not None else None
        if has_metrics or ours is None:
            return cast(date | None, found)
        return min(found, ours) if found is not None else ours


_WRITES = ("upsert_", "create_", "update_", "append_")  # Agno's writes an erasure stops


def _owner_of(
    method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[str | None, str | None]:
    """The (user, session) a write to Agno's tables is for: its `user_id` and session
    arguments, else those of the record it writes (an eval run, a trace, a knowledge row, …).
    Where a method has `agno_session_id` (a transcript), that is the session: its
    `session_id` is another framework's."""
    try:
        given = inspect.signature(method).bind_partial(*args, **kwargs).arguments
    except TypeError:  # Agno's own will say what is wrong with the call
        given = dict(kwargs)
    record = next(iter(given.values()), None)

    def named(name: str) -> str | None:
        value = given.get(name)
        if value is None and name not in given:
            value = record.get(name) if isinstance(record, dict) else getattr(record, name, None)
        return value if isinstance(value, str) else None

    parameters = inspect.signature(method).parameters
    session = "agno_session_id" if "agno_session_id" in parameters else "session_id"
    return named("user_id"), named(session)


def _delegate(name: str) -> Callable[..., Any]:
    def call(self: "PagbankDb", *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.agno_db, name)
        owner = _owner_of(method, args, kwargs) if name.startswith(_WRITES) else (None, None)
        if owner == (None, None):
            return method(*args, **kwargs)
        with self._writing_for(owner) as [erased]:
            return None if erased else method(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"Agno's own `PostgresDb.{name}`, in the schema `agno_schema`."
    return call


# What PagbankDb does itself; every other public method of BaseDb that Agno's PostgresDb
# implements is Agno's (`_Delegated`).
OWN = frozenset(
    {
        "table_exists", "close", "to_dict", "from_dict",
        "delete_session", "delete_sessions", "get_session", "get_sessions", "rename_session",
        "upsert_session", "upsert_sessions",
        "clear_memories", "delete_user_memory", "delete_user_memories", "get_all_memory_topics",
        "get_user_memory", "get_user_memories", "get_user_memory_stats", "upsert_user_memory",
        "upsert_memories",
        "get_run", "get_runs", "upsert_run", "delete_run", "delete_runs", "cancel_pending_run",
        "reassign_session_owner",
    }
)  # fmt: skip
DELEGATED = tuple(
    sorted(
        name
        for name, value in vars(BaseDb).items()
        if callable(value)
        and not name.startswith("_")
        and name not in OWN
        and getattr(PostgresDb, name, value) is not value
    )
)
_Delegated: type = type("_Delegated", (), {name: _delegate(name) for name in DELEGATED})


class PagbankDb(_Delegated, BaseDb):  # type: ignore[misc]
    """Agno 2/3's `db` over the plan's tables (see the module's doc).

    `db_url` None: `DATABASE_URL`, else the embedded server; `replica_dsn`: read replicas, as
    `Database.open` takes them (the pool opens on first use); `agno_schema`: the schema
    of Agno's own tables; `db`: an open `Database` to use instead (its pool is shared,
    and closed by its owner)."""

    def __init__(
        self,
        db_url: str | None = None,
        *,
        replica_dsn: str | None = None,
        agno_schema: str = "agno",
        db: Database | None = None,
        id: str | None = None,
    ) -> None:
        self.dsn = resolve_dsn(db_url)
        self.replica_dsn = replica_dsn
        self._db, self._owns_db = db, db is None
        self._opening = threading.Lock()
        self.agno_schema = agno_schema
        self.agno_db = AgnoTables(
            self._plan_sessions,
            self._first_plan_session,
            db_engine=engine_for(self.dsn),
            db_schema=agno_schema,
        )
        super().__init__(id=id or self.agno_db.id)
        self.memory_source = mapping.Source(DEFAULT_FILE, KINDS["memory"].default_table)
        self.served = Served()  # the runs Agno was given, per session (a stale copy stays out)
        self.run_objects = RunObjects()  # the run objects of the last sessions read
        self.erased_skipped = 0  # writes of erased users passed over (LGPD)

    # --- the database -------------------------------------------------------------------------

    def _database(self) -> Database:
        """The pool (opened on first use) and, in `self.agno`, the Agno area's statements."""
        if self._db is None:
            with self._opening:
                if self._db is None:
                    opened = Database.open(self.dsn, replica_dsn=self.replica_dsn)
                    self.agno = agno_queries(opened)
                    self._db = opened
        elif not hasattr(self, "agno"):
            self.agno = agno_queries(self._db)
        return self._db

    def _statements(self) -> AgnoQueries:
        self._database()
        return self.agno

    def table_exists(self, table_name: str) -> bool:
        if table_name in PLAN_TABLES:
            db = self._database()
            checks = schema_queries(db)
            return bool(checks.table_exists(table_name=table_name))
        return bool(self.agno_db.table_exists(table_name))

    def close(self) -> None:
        self.agno_db.close()
        if self._owns_db and self._db is not None:
            self._db.close()

    def to_dict(self) -> dict[str, Any]:
        return {**self.agno_db.to_dict(), "agno_schema": self.agno_schema, "type": "pagbank"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PagbankDb":
        return cls(agno_schema=data.get("agno_schema", "agno"), id=data.get("id"))

    def _erased(self, user_id: str | None, session_id: str | None = None) -> bool:
        db = self._database()
        if lgpd_queries(db).is_erased(user_id=user_id, session_id=session_id):
            self.erased_skipped += 1  # LGPD: the user asked to be forgotten
            logger.info("a write of an erased user passed over")
            return True
        return False

    @contextlib.contextmanager
    def _writing_for(
        self,
        *owners: tuple[str | None, str | None],
        sessions: bool = False,
    ) -> Iterator[list[bool]]:
        """Whether each write to Agno's own tables for a (user, session) is passed over (LGPD:
        an erased one), decided under the erasure guard that the plan's tables take in their
        triggers, and held until the caller's writes are done: an erasure waits for them and
        erases them too, or the writes see the erasure.

        `sessions`: the writes are of workflow sessions (Agno's own table). Each session's
        lock is held too (one writer at a time, as for the plan's sessions), and a session
        that another user owns raises `SessionOwnershipError` (`check_owner`)."""
        db = self._database()
        with db.transaction() as tx:
            lgpd = lgpd_queries(tx)
            ids = sorted({session for _, session in owners if session is not None})
            for each in ids if sessions else []:  # in one order: no deadlock
                agno_queries(tx).lock_agno_session(mode="workflow", session_id=each)
            erased = []
            for user_id, session_id in owners:
                lgpd.guard_writer(user_id=user_id, session_id=session_id)
                erased.append(bool(lgpd.is_erased(user_id=user_id, session_id=session_id)))
            if sessions:  # an erased user's write is passed over, not checked
                kept = [o for o, gone in zip(owners, erased, strict=True) if not gone]
                self._check_workflow_owners(self._workflow_owners(tx, ids), kept)
            if any(erased):
                self.erased_skipped += sum(erased)
                logger.info("a write of an erased user passed over")
            yield erased

    def _workflow_owners(
        self, tx: Transaction, session_ids: list[str]
    ) -> dict[str, list[str | None]]:
        """The stored owner of each of the workflow session ids found in Agno's own table."""
        table = self.agno_db.session_table_name
        if not session_ids or not agno_queries(tx).agno_table_found(
            agno_schema=self.agno_schema, table_name=table
        ):
            return {}
        owners = sql.SQL("SELECT session_id, user_id FROM {} WHERE session_id = ANY(%s)").format(
            sql.Identifier(self.agno_schema, table)
        )
        cursor = tx.connection.execute(owners, [session_ids])
        rows = cursor.fetchall()
        return {row["session_id"]: [row["user_id"]] for row in rows}

    def _check_workflow_owners(
        self,
        stored: dict[str, list[str | None]],
        owners: Iterable[tuple[str | None, str | None]],
    ) -> None:
        """`SessionOwnershipError` unless each (user, session) may write its workflow session,
        whose stored owners are `stored` (`_workflow_owners`); in a batch, a session the batch
        writes before is that writer's."""
        table = f"{self.agno_schema}.{self.agno_db.session_table_name}"
        owned = {session_id: list(users) for session_id, users in stored.items()}
        for user_id, session_id in owners:
            if session_id is not None:
                check_owner(owned.get(session_id, []), user_id, session_id, table)
                owned.setdefault(session_id, []).append(user_id)

    # --- sessions -----------------------------------------------------------------------------

    def _session(
        self, rows: list[dict[str, Any]], kind: Kind, deserialize: bool | None,
        runs_limit: int | None = None, include_runs: bool = True,
    ) -> Any:  # fmt: skip
        values, _ = mapping.session_from_rows(rows, kind)
        memory = values.get("memory")
        stored = memory.get("runs") if isinstance(memory, dict) else None
        fps = {
            run.get("run_id"): run.get(mapping.agno2.FP)
            for run in (stored if isinstance(stored, list) else [])
            if mapping.agno2.is_v2_run(run)
        }
        data = mapping.agno2.session_dict(values, kind, convert_v1=_v1_run)
        data["session_data"] = _session_data(data.get("session_data"))
        if runs_limit is not None:  # the last runs that make a turn's history, as Agno's own
            history = filter_context_runs(data["runs"])
            data["runs"] = history[-runs_limit:] if runs_limit > 0 else []
        if not include_runs:
            data["runs"] = []
        # What Agno writes back of a run it leaves unchanged: the run as given here (Agno's
        # to_dict gives back what its from_dict took), fingerprinted when it was written.
        # Taken first: from_dict consumes it. A run stored without a fingerprint (Agno 1.7's,
        # or the messages the app appended) may come back filled in by Agno (message ids,
        # defaults): that copy is served too (below).
        given = [r for r in data["runs"] if isinstance(r, dict) and r.get("run_id") is not None]
        self.served.remember(
            f"{kind}:{data['session_id']}",
            (served_fingerprint(r, fps.get(r["run_id"])) for r in given),
            (r["run_id"] for r in given),
        )
        if not deserialize:
            if not include_runs:
                del data["runs"]
            return {**data, "session_type": kind}
        if kind == "agent" and RUNS_APART and include_runs:  # a turn's read, as Agno 3's own
            runs = self.run_objects.objects(
                f"{kind}:{data['session_id']}", data["runs"], fps, _history_run
            )
            session = AgentSession.from_dict({**data, "runs": []})
            if session is not None:
                session.runs = runs
        else:
            session = _CLASSES[kind].from_dict(data)
            if session is not None and not include_runs:
                session.runs = None
        if session is not None:  # runs stored without a fingerprint: Agno's copy, as served
            self.served.remember(
                f"{kind}:{data['session_id']}",
                (
                    served_fingerprint(run.to_dict(), None)
                    for run in session.runs or []
                    if not isinstance(fps.get(run.run_id), str)
                ),
            )
        return session

    def _rows(self, values: dict[str, Any], kind: Kind) -> list[dict[str, Any]]:
        source = mapping.Source(DEFAULT_FILE, KINDS[kind].default_table)
        try:
            return mapping.agno_session_rows(values, kind, source)
        except RejectedRow as error:
            raise InvalidRecord(
                f"session {values.get('session_id')!r} cannot be stored: {error}"
            ) from None

    def _rows_of(
        self,
        kind: Kind,
        session_id: str,
        user_id: str | None,
    ) -> list[dict[str, Any]]:
        rows = stored_rows(self._statements(), kind, session_id)
        return [r for r in rows if r["user_id"] == user_id] if user_id is not None else rows

    def get_session(
        self,
        session_id: str,
        session_type: SessionType | None = None,
        user_id: str | None = None,
        deserialize: bool | None = True,
        runs_limit: int | None = None,
    ) -> Any:
        """The session (of `user_id` only, when given), or None. Without a session type, an
        agent session, else a team one, else one of Agno's own tables."""
        kinds: tuple[Kind, ...] = (
            ("agent", "team")
            if session_type is None
            else tuple(filter(None, [_kind(session_type)]))
        )
        for kind in kinds:
            rows = self._rows_of(kind, session_id, user_id)
            if rows:
                return self._session(rows, kind, deserialize, runs_limit)
        if session_type is not None and kinds:
            return None
        return self.agno_db.get_session(
            session_id=session_id, session_type=session_type or SessionType.WORKFLOW,
            user_id=user_id, deserialize=deserialize,
        )  # fmt: skip

    def upsert_session(self, session: Any, deserialize: bool | None = True) -> Any:
        """Store the session merged with what is stored, and return it as stored; None when
        it belongs to an erased user. Another user's session id raises
        `SessionOwnershipError`."""
        kind = _kind_of(session)
        if kind is None:
            whose = (session.user_id, session.session_id)
            with self._writing_for(whose, sessions=True) as [erased]:
                if erased:
                    return None
                return self.agno_db.upsert_session(session, deserialize=deserialize)
        if RUNS_APART:
            return self._upsert_apart(session, kind, deserialize)
        return self._upsert_whole(session, kind, deserialize)

    def _upsert_apart(self, session: Any, kind: Kind, deserialize: bool | None) -> Any:
        """Agno 3's session write: the session's own values, and the runs this storage did not
        serve (new ones; Agno writes a changed run through upsert_run), in SQL."""
        key = f"{kind}:{session.session_id}"
        known = self.served.ids_of(key)
        fresh = [
            marked_run(run if isinstance(run, dict) else run.to_dict())
            for run in session.runs or []
            if _run_id(run) not in known
        ]
        data = session.to_dict(include_runs=False)
        values = mapping.agno2.session_values(data, kind)
        now = int(time.time())  # the database sets the stored timestamps
        values.update(created_at=values.get("created_at") or now, updated_at=now)
        [fields] = self._rows(values, kind)
        served = self.served.of(key)
        outcome, appended = put_runs(
            self._database(), kind, session.session_id, session.user_id,
            [run for run, _ in fresh], fields=fields,
            served=[fp.hex() for fp in served] if served is not None else None,
        )  # fmt: skip
        if outcome == "whole":
            return self._upsert_whole(session, kind, deserialize)
        if outcome == "erased":
            self.erased_skipped += 1  # LGPD: the user asked to be forgotten
            logger.info("session of an erased user passed over")
            return None
        # Served: the runs written now, in the writer's copy (a run the row held already, a
        # copy not read here, stays as stored: its copy is not one this storage served).
        written = [(run, fp) for run, fp in fresh if run["run_id"] in appended]
        self.served.remember(
            key, (bytes.fromhex(fp) for _, fp in written), (run["run_id"] for run, _ in written)
        )
        if not deserialize:
            runs = [run if isinstance(run, dict) else run.to_dict() for run in session.runs or []]
            return {**data, "runs": runs, "session_type": kind}
        stored = _CLASSES[kind].from_dict({**data, "runs": []})
        stored.runs = session.runs
        return stored

    def _upsert_whole(self, session: Any, kind: Kind, deserialize: bool | None) -> Any:
        """The session with every run, merged with what is stored (Agno 2's write, and Agno 3's
        for a row that cannot take its runs one at a time)."""
        values = mapping.agno2.session_values(session.to_dict(), kind)
        now = int(time.time())  # the database sets the stored timestamps
        values.update(created_at=values.get("created_at") or now, updated_at=now)
        written = write_session(
            self._database(),
            kind,
            values,
            lambda merged: self._rows(merged, kind),
            merge=True,
            served=self.served.of(f"{kind}:{session.session_id}"),
            merge_data=False,  # Agno 2/3 store the session's dicts as given
        )
        if written is None:
            self.erased_skipped += 1  # LGPD: the user asked to be forgotten
            logger.info("session of an erased user passed over")
            return None
        return self._session(written, kind, deserialize)

    def upsert_run(
        self,
        run: Any,
        session_id: str,
        user_id: str | None = None,
        run_index: int | None = None,
    ) -> None:
        """Store one run of a session (Agno 3 calls it once a turn): put in the session's row in
        SQL, appended or in place of its stored state, unless this storage served the very
        copy given and the stored state is another (a stale copy never sets a run back). An
        erased user's run is passed over; another user's session raises
        `SessionOwnershipError`. A workflow's run goes to Agno's own table."""
        kind = _run_kind(run)
        if kind is None:
            with self._writing_for((user_id, session_id), sessions=True) as [erased]:
                if erased:
                    return None
                return self.agno_db.upsert_run(  # type: ignore[no-any-return]
                    run=run, session_id=session_id, user_id=user_id, run_index=run_index
                )
        given = run if isinstance(run, dict) else run.to_dict()
        if given.get("run_id") is None:
            raise InvalidRecord(
                f"a run of session {session_id!r} has no run_id; nothing was written: give it one"
            )
        if given.get("parent_run_id") is not None:
            kind = "team"  # a team member's run: the team's session holds it, as Agno's own
        marked, fp = marked_run(given)
        key = f"{kind}:{session_id}"
        served = self.served.of(key)
        if served is not None and bytes.fromhex(fp) in served:
            # The very copy this storage was served or wrote (Agno 3 writes a turn's run in
            # upsert_session, then again here): what is stored is that run or a newer state
            # of it, never set back, so nothing is written; the checks alone are made.
            check = (self._statements()).agno_session_check(
                mode=kind, session_id=session_id, user_id=user_id
            )
            assert check is not None
            if check["erased"]:
                self.erased_skipped += 1  # LGPD: the user asked to be forgotten
                logger.info("run of an erased user passed over")
                return None
            check_owner(check["owners"], user_id, session_id, f"{kind}_sessions")
            return None
        db = self._database()
        outcome, _ = put_runs(
            db, kind, session_id, user_id, [marked], replace=True,
            served=[f.hex() for f in served] if served is not None else None,
        )  # fmt: skip
        if outcome == "whole":
            column = "team_id" if kind == "team" else "agent_id"
            default = {column: given.get(column) or mapping.agno2.NO_ID}
            written = write_session(
                db, kind,
                {"session_id": session_id, "user_id": user_id, "memory": {"runs": [marked]}},
                lambda merged: self._rows({**default, **merged}, kind),
                merge=True, served=served,
            )  # fmt: skip
            outcome = "done" if written else "erased"
        if outcome == "erased":
            self.erased_skipped += 1  # LGPD: the user asked to be forgotten
            logger.info("run of an erased user passed over")
            return None
        self.served.remember(key, [bytes.fromhex(fp)], [given["run_id"]])
        return None

    def upsert_sessions(
        self,
        sessions: list[Any],
        deserialize: bool | None = True,
        preserve_updated_at: bool = False,
    ) -> list[Any]:
        """`upsert_session` of each (each under its own lock); the erased are left out. A
        batch holding another user's session id raises `SessionOwnershipError` before any
        of it is written (the owners of the batch read in one statement per table)."""
        agno = self._statements()
        kinds: tuple[Kind, ...] = ("agent", "team")
        for kind in kinds:
            batch = [s for s in sessions if _kind_of(s) == kind]
            if not batch:
                continue
            owners_of = agno.team_session_owners if kind == "team" else agno.agent_session_owners
            owners: dict[str, list[str | None]] = {}
            for row in owners_of(session_ids=[s.session_id for s in batch]):
                owners.setdefault(row["session_id"], []).append(row["user_id"])
            for s in batch:  # a session the batch writes before is that writer's
                check_owner(
                    owners.get(s.session_id, []), s.user_id, s.session_id, f"{kind}_sessions"
                )
                owners.setdefault(s.session_id, []).append(s.user_id)
        workflows = [s for s in sessions if _kind_of(s) is None]
        whose = tuple((s.user_id, s.session_id) for s in workflows)
        if workflows:  # checked again below, under the sessions' locks
            db = self._database()
            with db.transaction() as tx:
                ids = sorted({s.session_id for s in workflows})
                self._check_workflow_owners(self._workflow_owners(tx, ids), whose)
        ours = [s for s in sessions if _kind_of(s) is not None]
        stored = [self.upsert_session(s, deserialize=deserialize) for s in ours]
        with self._writing_for(*whose, sessions=True) as erased:  # Agno's own bulk path
            kept = [s for s, gone in zip(workflows, erased, strict=True) if not gone]
            own: Any = self.agno_db
            if kept and not hasattr(own, "upsert_sessions"):  # Agno's async db has no bulk
                for s in kept:
                    stored.append(own.upsert_session(s, deserialize=deserialize))
            elif kept:
                stored += own.upsert_sessions(
                    kept, deserialize=deserialize, preserve_updated_at=preserve_updated_at
                )
        return [s for s in stored if s is not None]

    # --- runs -----------------------------------------------------------------------------------

    def _run_rows(self, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Agno's runs-table rows of the runs `agno_run_page` found: each run's `run_data` is
        the run as its session reads back (`get_session`'s expansion)."""
        sessions: dict[tuple[str, str], dict[str, Any]] = {}
        kinds: tuple[Kind, ...] = ("agent", "team")
        for kind in kinds:
            ids = list({f["session_id"] for f in found if f["kind"] == kind})
            for sid, session in (self._load(kind, ids, None, False, True)).items():
                sessions[(kind, sid)] = session
        rows = []
        for f in found:
            session = sessions.get((f["kind"], f["session_id"]), {})
            run = next((r for r in session.get("runs") or [] if _run_id(r) == f["run_id"]), None)
            if run is not None:
                fields = {k: v for k, v in f.items() if k not in ("kind", "total")}
                rows.append({**fields, "run_data": run})
        return rows

    def _found_runs(self, run_ids: list[str]) -> list[dict[str, Any]]:
        """Where the runs of these ids are, in the plan's tables (each session holding one)."""
        return (self._statements()).agno_run_page(
            run_ids=run_ids, mode=None, session_id=None, user_id=None, agent_id=None,
            team_id=None, workflow_id=None, status=None, sort_by=None, sort_asc=True,
            limit=None, offset=0,
        )  # fmt: skip

    def get_run(self, run_id: str, deserialize: bool | None = True) -> Any:
        """The run (a RunOutput or TeamRunOutput; `deserialize` False: Agno's runs-table row,
        the run in `run_data`) found in the agent and team rows by its id, else a workflow's
        run in Agno's own table; None when there is none."""
        rows = self._run_rows(self._found_runs([run_id]))
        if rows:
            return _run_object(rows[0]) if deserialize else rows[0]
        if not RUNS_APART:
            return None
        return self.agno_db.get_run(run_id, deserialize=deserialize)

    def get_runs(
        self,
        session_id: str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        team_id: str | None = None,
        workflow_id: str | None = None,
        status: Any = None,
        limit: int | None = None,
        page: int | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        deserialize: bool | None = True,
    ) -> Any:
        """The runs of the agent and team rows (of `user_id`'s sessions only, when given) and,
        unless an agent or team filter leaves them out, the workflow runs of Agno's own table:
        filtered, sorted (by a column of Agno's runs table, newest first unless `sort_order`
        is "asc"; none: by position in the session, as Agno's own) and paginated in SQL
        (`page` from 1, with `limit`). With `deserialize` False: (Agno's runs-table rows, how
        many match)."""
        offset = _offset("get_runs", limit, page)
        filters = {
            "run_ids": None, "mode": None, "session_id": session_id, "user_id": user_id,
            "agent_id": agent_id, "team_id": team_id, "workflow_id": workflow_id,
            "status": getattr(status, "value", status), "sort_by": sort_by,
            "sort_asc": sort_order == "asc",
        }  # fmt: skip
        theirs: list[dict[str, Any]] = []
        if RUNS_APART and (workflow_id is not None or (agent_id is None and team_id is None)):
            theirs, _ = self.agno_db.get_runs(
                session_id=session_id, user_id=user_id, agent_id=agent_id, team_id=team_id,
                workflow_id=workflow_id, status=status, deserialize=False,
            )  # fmt: skip
        page_of = (self._statements()).agno_run_page
        if theirs:  # both places: every match's keys, sorted and paginated here
            keys = [*page_of(**filters, limit=None, offset=0), *theirs]
            keys.sort(key=_run_tie_key)  # ties ascending, whichever the order (as the SQL)
            keys.sort(
                key=lambda r: _run_sort_key(r, sort_by), reverse=_run_desc(sort_by, sort_order)
            )
            total = len(keys)
            chosen = keys[offset : offset + limit] if limit is not None else keys[offset:]
        else:
            chosen = page_of(**filters, limit=limit, offset=offset)
            total = chosen[0]["total"] if chosen else 0
            if not chosen and offset:
                everything = page_of(**filters, limit=1, offset=0)
                total = everything[0]["total"] if everything else 0
        ours = self._run_rows([r for r in chosen if "kind" in r])
        by_id = {(r["session_id"], r["run_id"]): r for r in ours}
        rows = [r if "kind" not in r else by_id.get((r["session_id"], r["run_id"])) for r in chosen]
        kept = [r for r in rows if r is not None]
        if not deserialize:
            return kept, int(total)
        return [_run_object(r) for r in kept]

    def _delete_runs(self, run_ids: list[str]) -> bool:
        """Take the runs of these ids out of their sessions' rows: each session rewritten whole
        under its lock (`rewrite_session`), so its conversation keeps only the messages its
        other runs refer to. Whether any was taken out."""
        ids = set(run_ids)
        places = {(f["kind"], f["session_id"]) for f in self._found_runs(run_ids)}

        def without(values: dict[str, Any]) -> dict[str, Any] | None:
            memory = values.get("memory")
            if not isinstance(memory, dict) or not isinstance(memory.get("runs"), list):
                return None
            runs = memory["runs"]
            kept = [run for run in runs if _stored_run_id(run) not in ids]
            if len(kept) == len(runs):
                return None
            return {**values, "memory": {**memory, "runs": kept}}

        deleted = False
        db = self._database()
        for kind, session_id in sorted(places):
            rows_of = functools.partial(self._rows, kind=kind)
            deleted |= rewrite_session(db, kind, session_id, without, rows_of)
        return deleted

    def delete_run(self, run_id: str) -> bool:
        """Take the run out of its session (agent and team rows; see `_delete_runs`), or a
        workflow's run out of Agno's own table. Whether a run was deleted."""
        ours = self._delete_runs([run_id])
        theirs = bool(self.agno_db.delete_run(run_id)) if RUNS_APART else False
        return ours or theirs

    def delete_runs(self, run_ids: list[str]) -> None:
        """`delete_run` of each, each session rewritten once."""
        self._delete_runs(list(run_ids))
        if RUNS_APART:
            self.agno_db.delete_runs(run_ids)

    def cancel_pending_run(
        self,
        run_id: str,
        *,
        session_id: str,
        reason: str,
        user_id: str | None = None,
        expected_status: str = "PENDING",
    ) -> bool:
        """Cancel the run when its stored status is still `expected_status` (PENDING or
        RUNNING), in one statement under the session's locks: its status becomes CANCELLED,
        `reason` its content when it has none, the rest of it is kept. Only a run of
        `user_id`'s session, or of a session without a user (as Agno's own). A workflow's run:
        Agno's own. Whether the run changed."""
        if expected_status not in _LIVE:
            raise InvalidRecord(
                f"run {run_id!r} of session {session_id!r}: only a PENDING or RUNNING run can be"
                f" cancelled, not {expected_status!r}; nothing was changed"
            )
        db = self._database()
        with db.transaction() as tx:
            agno = agno_queries(tx)
            agno.lock_agno_session(mode="agent", session_id=session_id)
            agno.lock_agno_session(mode="team", session_id=session_id)
            changed = agno.cancel_agno_run(
                run_id=run_id, session_id=session_id, reason=reason, user_id=user_id,
                expected_status=expected_status,
            )  # fmt: skip
        if changed or not RUNS_APART:
            return bool(changed)
        theirs = self.agno_db.cancel_pending_run(
            run_id, session_id=session_id, reason=reason, user_id=user_id,
            expected_status=expected_status,
        )  # fmt: skip
        return bool(theirs)

    def reassign_session_owner(
        self, session_id: str, *, previous_user_id: str, user_id: str | None
    ) -> bool:
        """Give the session to `user_id`, only while its owner is still `previous_user_id`
        and none of its runs is pending, running or paused, in one statement on the agent and
        team rows (under the session's locks), else on Agno's own table (a workflow session).
        Never to an erased user. Whether the session changed hands."""
        db = self._database()
        with db.transaction() as tx:
            agno = agno_queries(tx)
            agno.lock_agno_session(mode="agent", session_id=session_id)
            agno.lock_agno_session(mode="team", session_id=session_id)
            changed = agno.reassign_agno_session(
                session_id=session_id, previous_user_id=previous_user_id, user_id=user_id
            )
        if changed or not RUNS_APART:
            return bool(changed)
        with self._writing_for((user_id, session_id)) as [erased]:
            if erased:
                return False
            return bool(
                self.agno_db.reassign_session_owner(
                    session_id, previous_user_id=previous_user_id, user_id=user_id
                )
            )

    def _page(self, kind: Kind, filters: dict[str, Any], limit: int | None, offset: int,
                    sort_by: str | None, asc: bool) -> list[dict[str, Any]]:  # fmt: skip
        agno = self._statements()
        page = agno.team_session_page if kind == "team" else agno.agent_session_page
        return page(**filters, sort_by=sort_by, sort_asc=asc, limit=limit, offset=offset)

    def _load(self, kind: Kind, ids: list[str], user_id: str | None,
                    deserialize: bool | None, include_runs: bool) -> dict[str, Any]:  # fmt: skip
        agno = self._statements()
        rows = (agno.team_session_rows if kind == "team" else agno.agent_session_rows)(
            session_ids=ids
        )
        by_id: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if user_id is None or row["user_id"] == user_id:
                by_id.setdefault(row["session_id"], []).append(row)
        return {
            sid: self._session(group, kind, deserialize, include_runs=include_runs)
            for sid, group in by_id.items()
        }

    def get_sessions(
        self,
        session_type: SessionType | None = None,
        user_id: str | None = None,
        component_id: str | None = None,
        session_name: str | None = None,
        start_timestamp: int | None = None,
        end_timestamp: int | None = None,
        limit: int | None = None,
        page: int | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        deserialize: bool | None = True,
        include_runs: bool = True,
    ) -> Any:
        """Sessions of the plan's tables and of Agno's own (`session_type` None: all of them),
        filtered, sorted (`created_at` unless `sort_by` is `updated_at` or `session_id`;
        newest first unless `sort_order` is "asc") and paginated (`page` from 1). With
        `deserialize` False: (session dicts, how many match)."""
        asc = sort_order == "asc"
        sort = sort_by if sort_by in _SORTS else "created_at"
        offset = _offset("get_sessions", limit, page)
        filters = {
            "user_id": user_id, "component_id": component_id, "session_name": session_name,
            "start_epoch": start_timestamp, "end_epoch": end_timestamp,
        }  # fmt: skip
        kind = _kind(session_type)
        if kind is not None:
            found = self._page(kind, filters, limit, offset, sort, asc)
            total = found[0]["total"] if found else self._count(kind, filters)
            loaded = self._load(kind, [f["session_id"] for f in found], user_id, deserialize,
                                include_runs)  # fmt: skip
            sessions = [loaded[f["session_id"]] for f in found if f["session_id"] in loaded]
            return sessions if deserialize else (sessions, total)
        if session_type is not None:  # a workflow session: Agno's own alone
            return self.agno_db.get_sessions(
                session_type=session_type, user_id=user_id, component_id=component_id,
                session_name=session_name, start_timestamp=start_timestamp,
                end_timestamp=end_timestamp, limit=limit, page=page, sort_by=sort_by,
                sort_order=sort_order, deserialize=deserialize,
            )  # fmt: skip
        # All of them: the keys of every match, sorted and paginated here, then the page read.
        keys: list[tuple[Any, str, str, Any]] = []
        kinds: tuple[Kind, ...] = ("agent", "team")
        for each in kinds:
            for f in self._page(each, filters, None, 0, sort, asc):
                keys.append((f[sort], each, f["session_id"], None))
        theirs, _ = self.agno_db.get_sessions(
            session_type=None, user_id=user_id, component_id=component_id,
            session_name=session_name, start_timestamp=start_timestamp,
            end_timestamp=end_timestamp, deserialize=False,
        )  # fmt: skip
        for s in theirs:
            key = (
                s.get("updated_at") or s.get("created_at") if sort == "updated_at" else s.get(sort)
            )
            keys.append((key, "agno", s["session_id"], s))
        keys.sort(
            key=lambda k: (k[0] is None, k[0] if k[0] is not None else 0, k[2]), reverse=not asc
        )
        chosen = keys[offset : offset + limit] if limit is not None else keys[offset:]
        loaded_by: dict[str, dict[str, Any]] = {}
        for each in kinds:
            ids = [k[2] for k in chosen if k[1] == each]
            loaded_by[each] = self._load(each, ids, user_id, deserialize, include_runs)
        sessions = []
        for _, where, sid, raw in chosen:
            if where == "agno":
                sessions.append(_agno_session(raw, deserialize, include_runs))
            elif sid in loaded_by[where]:
                sessions.append(loaded_by[where][sid])
        return sessions if deserialize else (sessions, len(keys))

    def _count(self, kind: Kind, filters: dict[str, Any]) -> int:
        found = self._page(kind, filters, 1, 0, "created_at", False)
        return int(found[0]["total"]) if found else 0

    def rename_session(
        self,
        session_id: str,
        session_type: SessionType | None,
        session_name: str,
        user_id: str | None = None,
        deserialize: bool | None = True,
    ) -> Any:
        """Set the session's name (`session_data.session_name`); None when there is no such
        session (of `user_id`, when given)."""
        kind, session = _kind(session_type), None
        if session_type is None:  # whichever table holds it
            session = self.get_session(session_id, None, user_id=user_id)
            kind = _kind_of(session)
        if kind is None:
            return self.agno_db.rename_session(
                session_id=session_id, session_type=session_type, session_name=session_name,
                user_id=user_id, deserialize=deserialize,
            )  # fmt: skip
        if session is None:
            session = self.get_session(session_id, session_type, user_id=user_id)
        if session is None:
            return None
        session.session_data = {**(session.session_data or {}), "session_name": session_name}
        return self.upsert_session(session, deserialize=deserialize)

    def delete_session(self, session_id: str, user_id: str | None = None) -> bool:
        """Delete every row of the session id (of `user_id` only, when given), wherever it is."""
        agno = self._statements()
        deleted = agno.delete_agent_sessions_of(session_ids=[session_id], user_id=user_id)
        deleted += agno.delete_team_sessions_of(session_ids=[session_id], user_id=user_id)
        theirs = self.agno_db.delete_session(session_id, user_id=user_id)
        return bool(deleted) or bool(theirs)

    def delete_sessions(self, session_ids: list[str], user_id: str | None = None) -> None:
        agno = self._statements()
        agno.delete_agent_sessions_of(session_ids=session_ids, user_id=user_id)
        agno.delete_team_sessions_of(session_ids=session_ids, user_id=user_id)
        self.agno_db.delete_sessions(session_ids, user_id=user_id)

    def _first_plan_session(self) -> int | None:
        first = (self._statements()).first_session_epoch()
        return int(first) if first is not None else None

    def _plan_sessions(self, start: int | None, end: int | None) -> list[dict[str, Any]]:
        """The plan's sessions as Agno's metrics read sessions: one per session id and type,
        each run's model and provider."""
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        agno = self._statements()
        for row in agno.sessions_for_metrics(start_epoch=start, end_epoch=end):
            runs = [
                {"model": r.get("model"), "model_provider": r.get("model_provider") or ""}
                for r in (row["runs"] if isinstance(row["runs"], list) else [])
                if isinstance(r, dict) and mapping.SPLIT not in r
            ]
            key = (row["session_type"], row["session_id"])
            if key in merged:
                merged[key]["runs"] += runs
            else:
                merged[key] = {**row, "session_data": row["session_data"] or {}, "runs": runs}
        return list(merged.values())

    # --- memories -----------------------------------------------------------------------------

    def _memory(self, row: Mapping[str, Any], deserialize: bool | None) -> Any:
        stored = mapping.agno_memory_dict(row) if (row["metadata"] or {}).get("agno") else None
        values = mapping.agno2.memory_dict(row, stored)
        if not deserialize:
            return values
        fields = {f.name for f in dataclasses.fields(UserMemory)}
        return UserMemory.from_dict({k: v for k, v in values.items() if k in fields})

    def _memory_id(self, memory_id: str) -> uuid.UUID:
        return mapping.memory_id(self.memory_source, memory_id)

    def upsert_user_memory(
        self, memory: UserMemory, deserialize: bool | None = True, *, _keep_updated_at: bool = False
    ) -> Any:
        """Store the memory (a memory id that is not a UUID maps to one derived from it; the
        caller's id comes back); None when it belongs to an erased user. A memory stored
        already keeps its user and `created_at`, and its `updated_at` becomes now, as on
        Agno's own; another user's memory id raises `SessionOwnershipError`."""
        if memory.memory_id is None:
            memory.memory_id = str(uuid.uuid4())
        if self._erased(memory.user_id):
            return None
        given = dataclasses.asdict(memory)
        given["updated_at"] = given.get("updated_at") or given.get("created_at") or int(time.time())
        try:
            row = mapping.agno_memory_row(mapping.agno2.memory_raw(given), self.memory_source)
        except RejectedRow as error:
            raise InvalidRecord(f"memory {memory.memory_id!r} cannot be stored: {error}") from None
        save = (self._statements()).save_agno2_memory
        stored = save(**{p: row[p] for p in save.params if p != "keep_updated_at"},
                            keep_updated_at=_keep_updated_at)  # fmt: skip
        if stored is not None:
            return self._memory(stored, deserialize)
        if self._erased(memory.user_id):  # erased meanwhile: the trigger kept it out
            return None
        raise SessionOwnershipError(
            f"memory {memory.memory_id!r} belongs to another user; nothing was written: "
            "give this user's memory a new id"
        )

    def upsert_memories(
        self,
        memories: list[UserMemory],
        deserialize: bool | None = True,
        preserve_updated_at: bool = False,
    ) -> list[Any]:
        """`upsert_user_memory` of each; `preserve_updated_at`: a memory stored already takes
        the `updated_at` given, not now."""
        stored = [
            self.upsert_user_memory(
                m, deserialize=deserialize, _keep_updated_at=preserve_updated_at
            )
            for m in memories
        ]
        return [m for m in stored if m is not None]

    def get_user_memory(
        self, memory_id: str, deserialize: bool | None = True, user_id: str | None = None
    ) -> Any:
        db = self._database()
        row = db.queries.get_memory(id=self._memory_id(memory_id))
        if row is None or (user_id is not None and row["user_id"] != user_id):
            return None
        return self._memory(row, deserialize)

    def get_user_memories(
        self,
        user_id: str | None = None,
        agent_id: str | None = None,
        team_id: str | None = None,
        topics: list[str] | None = None,
        search_content: str | None = None,
        limit: int | None = None,
        page: int | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        deserialize: bool | None = True,
    ) -> Any:
        offset = _offset("get_user_memories", limit, page)
        agno = self._statements()
        rows = agno.agno2_memories(
            user_id=user_id, agent_id=agent_id, team_id=team_id, topics=topics or None,
            search=search_content, sort_by=sort_by, sort_asc=sort_order == "asc",
            limit=limit, offset=offset,
        )  # fmt: skip
        memories = [self._memory(row, deserialize) for row in rows]
        if deserialize:
            return memories
        total = rows[0]["total"] if rows else 0
        if not rows and offset:
            everything = agno.agno2_memories(
                user_id=user_id, agent_id=agent_id, team_id=team_id, topics=topics or None,
                search=search_content, sort_by=None, sort_asc=False, limit=1, offset=0,
            )  # fmt: skip
            total = everything[0]["total"] if everything else 0
        return memories, int(total)

    def get_all_memory_topics(self, user_id: str | None = None) -> list[str]:
        topics = (self._statements()).agno2_memory_topics(user_id=user_id)
        return [row["topic"] for row in topics]

    def get_user_memory_stats(
        self, limit: int | None = None, page: int | None = None, user_id: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        offset = _offset("get_user_memory_stats", limit, page)
        agno = self._statements()
        rows = agno.agno2_memory_stats(user_id=user_id, limit=limit, offset=offset)
        stats = [
            {
                "user_id": r["user_id"],
                "total_memories": r["total_memories"],
                "last_memory_updated_at": r["last_memory_updated_at"],
            }
            for r in rows
        ]
        return stats, int(rows[0]["total"]) if rows else 0

    def delete_user_memory(self, memory_id: str, user_id: str | None = None) -> None:
        agno = self._statements()
        agno.delete_agno2_memories(ids=[self._memory_id(memory_id)], user_id=user_id)

    def delete_user_memories(self, memory_ids: list[str], user_id: str | None = None) -> None:
        ids = [self._memory_id(m) for m in memory_ids]
        (self._statements()).delete_agno2_memories(ids=ids, user_id=user_id)

    def clear_memories(self) -> None:
        (self._statements()).delete_all_memories()


def _run_object(row: dict[str, Any]) -> Any:
    """The run object of Agno's runs-table row."""
    return _RUN_CLASSES[row["run_type"]].from_dict(row["run_data"])


def _stored_run_id(run: Any) -> Any:
    """The id of a stored run (an Agno 1.7 run of the legacy format: its response's)."""
    if not isinstance(run, dict):
        return None
    response = run.get("response")
    if "run_id" not in run and isinstance(response, dict):
        return response.get("run_id")
    return run.get("run_id")


_NUMBERS = ("created_at", "updated_at", "run_index")
_TEXTS = (
    "run_id", "session_id", "user_id", "status", "agent_id", "team_id", "workflow_id",
    "run_type", "parent_run_id",
)  # fmt: skip


def _offset(method: str, limit: int | None, page: int | None) -> int:
    """The rows before page `page` (from 1) of `limit` rows; a page without a limit, or before
    the first, is the caller's mistake (InvalidRecord, a ValueError, as Agno 3's own)."""
    if page is not None and (limit is None or page < 1):
        raise InvalidRecord(
            f"{method}: page {page} needs a limit and starts at 1 (as Agno's own); nothing was read"
        )
    return (page - 1) * limit if limit is not None and page is not None else 0


def _run_sort_key(row: dict[str, Any], sort_by: str | None) -> tuple[Any, ...]:
    """The order of `agno_run_page` by `sort_by` (NULL last ascending, first descending), for
    runs of both places; ties go by `_run_tie_key`, sorted first."""
    value = row.get(sort_by) if sort_by in _NUMBERS or sort_by in _TEXTS else None
    if sort_by == "updated_at" and "kind" not in row:  # Agno's own: updated_at, else created_at
        value = row.get("updated_at") or row.get("created_at")
    return (value is None, value if value is not None else 0)


def _run_tie_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """`agno_run_page`'s order among runs of equal `sort_by`: run_index, then created_at."""
    return (row.get("run_index") or 0, row.get("created_at") or 0, row.get("session_id") or "")


def _run_desc(sort_by: str | None, sort_order: str | None) -> bool:
    return (sort_by in _NUMBERS or sort_by in _TEXTS) and sort_order != "asc"


def _session_data(data: Any) -> Any:
    """Session data with Agno 1.7's session metrics renamed as Agno 2/3 names them."""
    if isinstance(data, dict) and isinstance(data.get("session_metrics"), dict):
        return {**data, "session_metrics": convert_v1_metrics_to_v2(data["session_metrics"])}
    return data


def _agno_session(raw: dict[str, Any], deserialize: bool | None, include_runs: bool) -> Any:
    if not include_runs:
        raw = {k: v for k, v in raw.items() if k != "runs"}
    if not deserialize:
        return raw
    classes: dict[Any, Any] = {"agent": AgentSession, "team": TeamSession}
    return classes.get(raw.get("session_type"), WorkflowSession).from_dict(raw)


__all__ = ["DELEGATED", "OWN", "AgnoTables", "PagbankDb"]
