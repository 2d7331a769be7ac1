"""Health of the database for a readiness probe and `pagbank-pg health`: the node's role, its
streaming standbys and their lag, each read replica, the pools and where reads went, and
pending migrations, and the indexes an import deferred. Ready means: the server answers, it
takes writes (a primary), no migration is pending, and no index is missing because a first
import into an empty table is running or was interrupted (its data is incomplete too, and
the app's reads by user would scan whole tables); a replica that is down only sends reads to
the primary, so it is reported, not counted against readiness."""

from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from .conninfo import connection_failed, describe, error_line
from .query import Database
from .query.types import schema_queries, topology_queries
from .schema import migrations


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
    replicas: list[dict[str, Any]] = field(default_factory=list)
    replica_pool: dict[str, int] = field(default_factory=dict)
    reads: dict[str, int] = field(default_factory=dict)  # where reads went, and why
    deferred_indexes: list[str] = field(default_factory=list)  # missing: an import deferred them
    import_running: bool = False  # an import-sqlite is writing now (it builds them when it ends)

    @property
    def ready(self) -> bool:
        return self.role == "primary" and not self.pending_migrations and not self.deferred_indexes

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ready": self.ready}


def check(conninfo: str, db: Database | None = None, replica_dsn: str | None = None) -> Health:
    """The health of the server at `conninfo`, of each host of `replica_dsn`, and of `db`'s
    pools, when given; raises ConnectionFailed when the primary cannot be reached."""
    try:
        with psycopg.connect(conninfo, row_factory=dict_row, connect_timeout=5) as conn:
            topology = topology_queries(conn)
            node, standbys = topology.node_state(), topology.standbys()
            assert node is not None  # a SELECT without FROM: always one row
            checks = schema_queries(conn)
            deferred, running = [], False
            if checks.table_exists(table_name="import_deferred_indexes"):
                deferred = [r["index_name"] for r in checks.deferred_indexes()]
                running = bool(checks.import_running())
    except psycopg.OperationalError as error:
        raise connection_failed(conninfo, error_line(error)) from None
    pending = [state.id for state in migrations.status(conninfo) if state.applied_at is None]
    return Health(
        node=describe(conninfo),
        role=node["role"],
        version=node["version"],
        lag_seconds=node["lag_seconds"],
        standbys=standbys,
        pending_migrations=pending,
        pool=dict(db.pool.get_stats()) if db is not None else {},
        replicas=[_replica(node) for node in hosts(replica_dsn)] if replica_dsn else [],
        replica_pool=dict(db.replica_pool.get_stats()) if db and db.replica_pool else {},
        reads=dict(db.routing.counts) if db and db.routing else {},
        deferred_indexes=deferred,
        import_running=running,
    )


def hosts(conninfo: str) -> list[str]:
    """One connection string per host of a libpq multi-host `conninfo`."""
    params = conninfo_to_dict(conninfo)
    listed = {k: str(params[k]).split(",") for k in ("host", "hostaddr", "port") if k in params}
    count = max((len(v) for v in listed.values()), default=1)
    return [
        make_conninfo(conninfo, **{k: v[i] if len(v) > 1 else v[0] for k, v in listed.items()})
        for i in range(count)
    ]


def _replica(conninfo: str) -> dict[str, Any]:
    """One read replica: its role and lag, or why it cannot be reached."""
    try:
        with psycopg.connect(conninfo, row_factory=dict_row, connect_timeout=5) as conn:
            node = topology_queries(conn).node_state()
            assert node is not None  # a SELECT without FROM: always one row
    except psycopg.OperationalError as error:
        return {"node": describe(conninfo), "reachable": False, "error": error_line(error)}
    return {
        "node": describe(conninfo),
        "reachable": True,
        "role": node["role"],
        "lag_seconds": node["lag_seconds"],
    }
