"""Failover and switchover on a primary and a synchronous streaming standby of its own (Debian's
PostgreSQL 15 binaries, PAGBANK_PG_TEST_PG_BIN; .ci/run names them): with a multi-host URL
and target_session_attrs=read-write, writes resume after the primary dies and the standby is
promoted, no acknowledged write is lost, the old primary comes back as a standby, and a pooled
connection to a server that turned read-only is thrown away. `pytest -m topology` runs these."""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pagbank_pg import Database, health
from pagbank_pg.schema import migrations

from .helpers import wait_for

pytestmark = pytest.mark.topology
PG_BIN_ENV = "PAGBANK_PG_TEST_PG_BIN"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*command: str) -> None:
    """Run a server program as the postgres user (as root) or as ourselves."""
    if os.geteuid() == 0:
        command = ("runuser", "-u", "postgres", "--", *command)
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stdout}{done.stderr}"


@dataclass
class Node:
    """One PostgreSQL server of the pair, on a loopback port."""

    bin: Path
    data: Path
    port: int = field(default_factory=_free_port)

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def pg(self, program: str, *args: str) -> None:
        _as_postgres(str(self.bin / program), *args)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1"
        self.pg("pg_ctl", "-D", str(self.data), "-l", f"{self.data}.log", "-w", "-o", options,
                "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self.pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def sql(self, statement: str) -> Any:
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else None

    def follow(self, primary: "Node") -> None:
        """Come back (stopped) as a standby of `primary`: rewound onto its timeline."""
        primary.sql("CHECKPOINT")  # its control file names its new timeline, for pg_rewind
        self.pg("pg_rewind", "-D", str(self.data), f"--source-server={primary.dsn}", "-R")
        self.start()
        wait_for(
            lambda: primary.sql("SELECT state FROM pg_stat_replication") == [("streaming",)],
            log=Path(f"{self.data}.log"),
        )
        primary.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")
        primary.sql("SELECT pg_reload_conf()")
        wait_for(lambda: primary.sql("SELECT sync_state FROM pg_stat_replication") == [("sync",)])


@pytest.fixture
def pair() -> Iterator[tuple[Node, Node]]:
    """A primary and a synchronous standby (pg_basebackup -R), the schema migrated."""
    bin_dir = os.environ.get(PG_BIN_ENV)
    if not bin_dir:
        pytest.fail(f"{PG_BIN_ENV} names no PostgreSQL binaries: run these through .ci/run")
    base = Path(tempfile.mkdtemp(prefix="pagbank-failover-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    a, b = Node(Path(bin_dir), base / "a"), Node(Path(bin_dir), base / "b")
    try:
        a.pg("initdb", "-D", str(a.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "-k")
        with (a.data / "postgresql.conf").open("a") as conf:  # pg_rewind finds its WAL
            conf.write("wal_keep_size = '512MB'\n")
        a.start()
        a.pg("pg_basebackup", "-d", a.dsn, "-D", str(b.data), "-R", "-X", "stream", "-c", "fast")
        b.start()
        a.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")  # after the copy: a's own
        a.sql("SELECT pg_reload_conf()")
        wait_for(lambda: a.sql("SELECT sync_state FROM pg_stat_replication") == [("sync",)])
        migrations.apply(a.dsn)
        yield a, b
    finally:
        for node in (a, b):
            if (node.data / "postmaster.pid").exists():
                node.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


class Writer:
    """One app writing sessions through `db` in a thread, as fast as it can: what each write
    returned (acknowledged ids, with their time) and what failed (SQLSTATE or error class)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.acknowledged: list[tuple[str, float]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            session_id = f"s-{n}"
            try:
                self.db.queries.create_user_session(
                    session_id=session_id, user_id="u-1", team_id="ana",
                    session_context=None, metadata=None,
                )  # fmt: skip
                self.acknowledged.append((session_id, time.monotonic()))
            except Exception as error:
                self.failures.append(getattr(error, "sqlstate", None) or type(error).__name__)
                time.sleep(0.01)

    def resumed_after(self, moment: float, seconds: float = 60) -> float:
        """Seconds from `moment` to the first write acknowledged after it."""
        wait_for(lambda: self.acknowledged and self.acknowledged[-1][1] > moment, seconds)
        return next(t for _, t in self.acknowledged if t > moment) - moment

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        assert not self._thread.is_alive()


def _sessions(node: Node) -> set[str]:
    return {row[0] for row in node.sql("SELECT session_id FROM user_sessions")}


def test_failover_then_switchover_lose_no_acknowledged_write(
    pair: tuple[Node, Node], record_property: Any
) -> None:
    a, b = pair
    both = (
        f"host=127.0.0.1,127.0.0.1 port={a.port},{b.port} user=postgres dbname=postgres "
        "target_session_attrs=read-write connect_timeout=2"
    )
    with Database.open(both, min_size=2, max_size=2, timeout=60) as db:
        writer = Writer(db)
        wait_for(lambda: len(writer.acknowledged) > 50)

        # Failover: the primary dies; the standby is promoted.
        a.stop("immediate")
        time.sleep(0.5)
        b.pg("pg_ctl", "-D", str(b.data), "-w", "promote")
        promoted = time.monotonic()
        failover = writer.resumed_after(promoted)
        record_property("failover_resume_seconds", round(failover, 3))
        assert {s for s, _ in writer.acknowledged} <= _sessions(b)  # none lost

        # The old primary comes back as a synchronous standby of the new one.
        a.follow(b)
        mark = time.monotonic()
        writer.resumed_after(mark)
        wait_for(lambda: {s for s, _ in writer.acknowledged} <= _sessions(a))
        assert health.check(b.dsn).standbys[0]["sync_state"] == "sync"

        # Switchover back: b is fenced read-only (its pooled connections now fail with
        # SQLSTATE 25006), a has replayed all of b and is promoted.
        failed_before = len(writer.failures)
        b.sql("ALTER SYSTEM SET default_transaction_read_only = on")
        b.sql("SELECT pg_reload_conf()")
        time.sleep(0.5)
        wait_for(lambda: _replayed(a) >= _position(b))
        a.pg("pg_ctl", "-D", str(a.data), "-w", "promote")
        promoted = time.monotonic()
        switchover = writer.resumed_after(promoted)
        record_property("switchover_resume_seconds", round(switchover, 3))
        read_only = writer.failures[failed_before:].count("25006")
        # Each pooled connection failed once at most: thrown away, never reused.
        assert 1 <= read_only <= 2, writer.failures[failed_before:]
        writer.stop()
        assert {s for s, _ in writer.acknowledged} <= _sessions(a)
        assert health.check(both).role == "primary"
        print(f"\nresumed {failover:.2f}s after the promotion (failover), "
              f"{switchover:.2f}s (switchover); {len(writer.acknowledged)} writes")  # fmt: skip


def _replayed(node: Node) -> int:
    return int(node.sql("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn")[0][0])


def _position(node: Node) -> int:
    return int(node.sql("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")[0][0])
