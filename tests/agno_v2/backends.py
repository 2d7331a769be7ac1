"""The storages the conformance tests run against, each on a fresh database of the test server:
ours (`PagbankDb`, `AsyncPagbankDb`) and Agno's own (`PostgresDb`, `AsyncPostgresDb`, in a
schema of their own). Agno's own are the reference: a test that fails on them tests the wrong
thing. An async storage is driven through `Synchronous`, so one test body serves all four."""

import asyncio
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import URL

AGNO_MAJOR = int(version("agno").split(".")[0])
OURS = ("pagbank", "pagbank_async")
AGNOS = ("agno", "agno_async")
REFERENCE_SCHEMA = "agno_reference"  # Agno's own PostgresDb, beside ours in the same database


def sqlalchemy_url(dsn: str, driver: str = "psycopg") -> str:
    """`dsn` (a libpq string) as the SQLAlchemy URL Agno's own storage takes."""
    params = conninfo_to_dict(dsn)
    database, user, password = (
        params.pop("dbname"),
        params.pop("user", None),
        params.pop("password", None),
    )
    query = {key: str(value) for key, value in params.items()}  # host (a socket folder too), port
    url = URL.create(
        f"postgresql+{driver}", username=user, password=password, database=database, query=query
    )
    return url.render_as_string(hide_password=False)


def open_db(kind: str, dsn: str) -> Any:
    """A storage of `kind` on database `dsn` (for an async one: call it inside a running loop)."""
    if kind == "pagbank":
        from pagbank_pg.agno import PagbankDb

        return PagbankDb(dsn)
    if kind == "pagbank_async":
        from pagbank_pg.agno import AsyncPagbankDb

        return AsyncPagbankDb(dsn)
    from agno.db.postgres import AsyncPostgresDb, PostgresDb

    if kind == "agno":
        return PostgresDb(db_url=sqlalchemy_url(dsn), db_schema=REFERENCE_SCHEMA)
    if kind == "agno_async":
        return AsyncPostgresDb(
            db_url=sqlalchemy_url(dsn, "psycopg_async"), db_schema=REFERENCE_SCHEMA
        )
    raise ValueError(f"no storage kind {kind!r}")


class Synchronous:
    """An async storage whose coroutine methods each run to completion on one event loop."""

    def __init__(self, db: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._db, self._loop = db, loop

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._db, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run_until_complete(attribute(*args, **kwargs))

        return call


@dataclass
class Backend:
    kind: str
    db: Any  # every method returns its result, whether the storage is sync or async
    native: Any  # the storage itself, for Agno's Agent and Team
    dsn: str
    loop: asyncio.AbstractEventLoop | None

    @property
    def ours(self) -> bool:
        return self.kind in OURS

    def run(self, call: Callable[[], Any]) -> Any:
        """`call()`, awaited on the storage's loop when it returns an awaitable."""
        result = call()
        if inspect.isawaitable(result):
            assert self.loop is not None
            return self.loop.run_until_complete(result)
        return result


def open_backend(kind: str, dsn: str) -> Backend:
    if not kind.endswith("_async"):
        native = open_db(kind, dsn)
        return Backend(kind, native, native, dsn, None)
    loop = asyncio.new_event_loop()

    async def opened() -> Any:
        return open_db(kind, dsn)

    native = loop.run_until_complete(opened())
    return Backend(kind, Synchronous(native, loop), native, dsn, loop)


def close_backend(backend: Backend) -> None:
    close = getattr(backend.native, "close", None)
    if close is not None:
        backend.run(close)
    engine = getattr(backend.native, "db_engine", None)
    if engine is not None:  # Agno's own: its SQLAlchemy engine
        backend.run(engine.dispose)
    if backend.loop is not None:
        backend.loop.close()


@pytest.fixture(params=OURS + AGNOS)
def backend(request: pytest.FixtureRequest, db_dsn: str) -> Iterator[Backend]:
    """Each storage in turn, ours and Agno's own, on a fresh migrated database."""
    opened = open_backend(request.param, db_dsn)
    yield opened
    close_backend(opened)


@pytest.fixture(params=("pagbank", "agno"))
def sync_backend(request: pytest.FixtureRequest, db_dsn: str) -> Iterator[Backend]:
    """The sync storages, ours and Agno's own: bulk upserts are BaseDb's only (AsyncBaseDb
    has no upsert_sessions or upsert_memories)."""
    opened = open_backend(request.param, db_dsn)
    yield opened
    close_backend(opened)


@pytest.fixture(params=OURS)
def own_backend(request: pytest.FixtureRequest, db_dsn: str) -> Iterator[Backend]:
    """Ours only, sync and async: for what only the plan's tables have."""
    opened = open_backend(request.param, db_dsn)
    yield opened
    close_backend(opened)


def save(backend: Backend, session: Any) -> Any:
    """Store `session` as Agno's Agent does on the installed Agno: the session row, then, on
    Agno 3, each run through `upsert_run` (a storage without it keeps the runs inline; Agno
    ignores its NotImplementedError). Returns what `upsert_session` returned."""
    stored = backend.db.upsert_session(session)
    if AGNO_MAJOR >= 3:
        for index, run in enumerate(session.runs or []):
            try:
                backend.db.upsert_run(
                    run=run,
                    session_id=session.session_id,
                    user_id=session.user_id,
                    run_index=index,
                )
            except NotImplementedError:
                break
    return stored
