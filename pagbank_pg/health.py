"""Health of the database for a readiness probe and `pagbank-pg health`: the node's role, its
streaming standbys and their lag, the pool, and pending migrations. Ready means: the server
answers, it takes writes (a primary), and no migration is pending."""

from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from .conninfo import connection_failed, describe, error_line
from .query import Database
from .schema import migrations

_NODE = """
SELECT CASE WHEN pg_is_in_recovery() THEN 'standby' ELSE 'primary' END AS role,
       current_setting('server_version') AS version,
       CASE WHEN pg_is_in_recovery()
            THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS lag_seconds
"""
_STANDBYS = """
SELECT application_name AS name, client_addr::text AS address, state, sync_state,
       extract(epoch FROM replay_lag) AS lag_seconds
FROM pg_stat_replication ORDER BY application_name
"""


@dataclass
class Health:
    """What `check` found; `ready` is what a readiness probe asks."""

    node: str
    role: str
    version: str
    lag_seconds: float | None
    standbys: list[dict[str, Any]] = field(default_factory=list)
    pending_migrations: list[str] = field(default_factory=list)
    pool: dict[str, int] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.role == "primary" and not self.pending_migrations

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ready": self.ready}


def check(conninfo: str, db: Database | None = None) -> Health:
    """The health of the server at `conninfo` (and of `db`'s pool, when given); raises
    ConnectionFailed when the server cannot be reached."""
    try:
        with psycopg.connect(conninfo, row_factory=dict_row, connect_timeout=5) as conn:
            node = conn.execute(_NODE).fetchone()
            standbys = conn.execute(_STANDBYS).fetchall()
    except psycopg.OperationalError as error:
        raise connection_failed(conninfo, error_line(error)) from None
    assert node is not None
    pending = [state.id for state in migrations.status(conninfo) if state.applied_at is None]
    lag = node["lag_seconds"]
    return Health(
        node=describe(conninfo),
        role=node["role"],
        version=node["version"],
        lag_seconds=float(lag) if lag is not None else None,
        standbys=[{**s, "lag_seconds": _seconds(s["lag_seconds"])} for s in standbys],
        pending_migrations=pending,
        pool=dict(db.pool.get_stats()) if db is not None else {},
    )


def _seconds(value: Any) -> float | None:
    return float(value) if value is not None else None
