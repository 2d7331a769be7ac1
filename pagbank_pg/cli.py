"""The `pagbank-pg` command.

Every command that touches a database takes `--dsn`; without it `DATABASE_URL` is used, and
without that the embedded server (started on demand). Exit code 0 on success; otherwise 1 and
one line on stderr saying what failed and what to do.
"""

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import config, lgpd, mapping
from .conninfo import describe, resolve_dsn, to_conninfo
from .errors import PagbankPgError
from .health import check as health_check
from .private import atomic_private_file
from .query import Database, load_queries
from .query.stubs import render, render_package
from .schema import embedded, migrations
from .transfer import exporter, importer, verify
from .transfer.kinds import KINDS, KindName
from .transfer.progress import progress_reporter
from .transfer.source import printable

F = TypeVar("F", bound=Callable[..., Any])


def _dsn_option(command: F) -> F:
    return click.option(
        "--dsn",
        metavar="URL",
        help="Database URL or key=value string (default: $DATABASE_URL, else the embedded server).",
    )(command)


def _migrations_option(command: F) -> F:
    return click.option(
        "--migrations",
        "migrations_dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar=config.MIGRATIONS_ENV,
        help="Folder of yoyo .sql migrations (default: the package's own).",
    )(command)


def _say_started(data: Path) -> None:
    click.echo(
        f"started the embedded PostgreSQL server, data in {data} (it keeps running: "
        "`pagbank-pg server stop` stops it)",
        err=True,
    )
    earlier = config.EARLIER_HOME / "pgdata" / "PG_VERSION"
    if earlier.exists() and earlier.resolve() != (data / "PG_VERSION").resolve():
        click.echo(
            f"note: {config.EARLIER_HOME.resolve()} holds the data of an embedded server "
            f"started by an earlier version; set {config.HOME_ENV}={config.EARLIER_HOME.resolve()}"
            " to keep using it",
            err=True,
        )


def _resolve(dsn: str | None) -> str:
    """--dsn, else DATABASE_URL, else the embedded server (saying so when it starts)."""
    return resolve_dsn(dsn, on_start=_say_started)


def _confirm(question: str, refused: str, yes: bool) -> None:
    """Ask `question` on the terminal unless `yes`; raise with `refused` (what was not done)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise PagbankPgError(f"{refused}: no terminal to confirm on; pass --yes")
    if not click.confirm(question, err=True):
        raise PagbankPgError(f"{refused}: not confirmed (pass --yes to skip the question)")


class _Group(click.Group):
    """Turns the package's errors into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PagbankPgError as error:
            click.echo(f"pagbank-pg: error: {printable(error)}", err=True)
            ctx.exit(1)


@click.group(cls=_Group)
@click.version_option(package_name="pagbank-pg", message="%(prog)s %(version)s")
def main() -> None:
    """PostgreSQL data layer of PagBank's multi-agent assistant."""


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table on stdout; numbers right-aligned with thousands separators."""
    table = Table(*headers, box=None, pad_edge=False)
    for column in table.columns[1:]:
        column.justify = "right"
    for row in rows:  # Text: a name's brackets are not markup
        table.add_row(*(Text(f"{v:,}" if isinstance(v, int) else printable(v)) for v in row))
    Console(width=200).print(table)


@main.command()
@_dsn_option
@_migrations_option
def migrate(dsn: str | None, migrations_dir: Path | None) -> None:
    """Apply every pending migration, in order, and list what was applied."""
    conninfo = _resolve(dsn)
    done = migrations.apply(
        conninfo, migrations_dir, on_applied=lambda mid: click.echo(f"applied {mid}")
    )
    if done:
        click.echo(f"{len(done)} migration(s) applied to {describe(conninfo)}")
    else:
        click.echo(f"nothing to apply: {describe(conninfo)} is up to date")
    built = migrations.deferred_indexes(conninfo, restore=True)
    if built:
        click.echo(f"built {len(built)} index(es) an interrupted import had deferred: "
                   f"{', '.join(built)}")  # fmt: skip
    elif migrations.import_running(conninfo):
        click.echo("an import is running: the indexes it deferred are built when it ends")


@main.command()
@_dsn_option
@_migrations_option
def status(dsn: str | None, migrations_dir: Path | None) -> None:
    """Show each migration: when it was applied, or pending."""
    conninfo = _resolve(dsn)
    states = migrations.status(conninfo, migrations_dir)
    width = max(len(state.id) for state in states)
    click.echo(f"{'MIGRATION':<{width}}  APPLIED (UTC)")
    for state in states:
        when = state.applied_at.strftime("%Y-%m-%d %H:%M:%S") if state.applied_at else "pending"
        click.echo(f"{state.id:<{width}}  {when}")
    pending = sum(state.applied_at is None for state in states)
    click.echo(f"{len(states) - pending} applied, {pending} pending on {describe(conninfo)}")
    deferred = migrations.deferred_indexes(conninfo)
    if deferred and migrations.import_running(conninfo):
        click.echo(f"{len(deferred)} index(es) deferred by the import running now, built when "
                   f"it ends: {', '.join(deferred)}")  # fmt: skip
    elif deferred:
        click.echo(f"{len(deferred)} index(es) deferred by an interrupted import, missing until "
                   f"import-sqlite or migrate runs again: {', '.join(deferred)}")  # fmt: skip


@main.command()
@_dsn_option
@_migrations_option
@click.option("--to", "to", metavar="ID", help="Roll back every migration applied after ID.")
@click.option("--all", "everything", is_flag=True, help="Roll back every applied migration.")
@click.option("--yes", is_flag=True, help="With --all: do not ask for confirmation.")
def rollback(
    dsn: str | None, migrations_dir: Path | None, to: str | None, everything: bool, yes: bool
) -> None:
    """Roll back the last applied migration (or down to --to ID, or --all)."""
    if to and everything:
        raise click.UsageError("give --to ID or --all, not both")
    conninfo = _resolve(dsn)
    if everything:
        _confirm(
            f"Roll back every migration of {describe(conninfo)}, dropping the six tables "
            "and all their data?",
            "nothing rolled back",
            yes,
        )
    done = migrations.rollback(
        conninfo,
        migrations_dir,
        to=to,
        everything=everything,
        on_rolled_back=lambda mid: click.echo(f"rolled back {mid}"),
    )
    if done:
        click.echo(f"{len(done)} migration(s) rolled back on {describe(conninfo)}")
    else:
        click.echo(f"nothing to roll back on {describe(conninfo)}")


@main.command()
@_dsn_option
@click.option(
    "--replica-dsn",
    metavar="URL",
    help="Read replicas, one or a multi-host URL (default: $DATABASE_REPLICA_URL).",
)
@click.option("--json", "as_json", is_flag=True, help="The same, as one JSON object.")
def health(dsn: str | None, replica_dsn: str | None, as_json: bool) -> None:
    """The database's role, its standbys and their lag, each read replica, pending
    migrations and missing indexes; exit code 1 unless it is a reachable primary with nothing
    pending and no index an import deferred (a readiness probe). A replica that is down is
    shown, not counted: reads go to the primary."""
    replicas = config.replica_url(replica_dsn)
    found = health_check(_resolve(dsn), replica_dsn=to_conninfo(replicas) if replicas else None)
    if as_json:
        click.echo(orjson.dumps(found.as_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        lag = "" if found.lag_seconds is None else f", {found.lag_seconds:.1f} s behind"
        click.echo(f"{found.node}: {found.role} (PostgreSQL {found.version}{lag})")
        for standby in found.standbys:
            behind = standby["lag_seconds"]
            click.echo(
                f"  standby {standby['name'] or standby['address']}: {standby['state']}, "
                f"{standby['sync_state']}, "
                + ("no lag reported" if behind is None else f"{behind:.1f} s behind")
            )
        for replica in found.replicas:
            if not replica["reachable"]:
                click.echo(f"read replica {replica['node']}: unreachable ({replica['error']})")
                continue
            behind = replica["lag_seconds"]
            click.echo(
                f"read replica {replica['node']}: {replica['role']}, "
                + ("no lag reported" if behind is None else f"{behind:.1f} s behind")
            )
        pending = found.pending_migrations
        click.echo(f"migrations: {', '.join(pending) + ' pending' if pending else 'up to date'}")
        deferred = found.deferred_indexes
        if not deferred:
            click.echo("indexes: complete")
        elif found.import_running:
            click.echo(f"indexes: {len(deferred)} missing, deferred by the import running now "
                       f"({', '.join(deferred)}): built when it ends")  # fmt: skip
        else:
            click.echo(f"indexes: {len(deferred)} missing, deferred by an interrupted import "
                       f"({', '.join(deferred)}): run import-sqlite again, or pagbank-pg "
                       "migrate")  # fmt: skip
    if not found.ready:
        raise SystemExit(1)


@main.command()
@_migrations_option
def schema(migrations_dir: Path | None) -> None:
    """Print the full DDL in apply order (for review, or `psql -f`)."""
    click.echo(migrations.schema_sql(migrations_dir), nl=False)


@contextmanager
def _database(dsn: str | None) -> Iterator[Database]:
    with Database.open(_resolve(dsn), min_size=1, max_size=1) as db:
        yield db


def _agno_schema_option(command: F) -> F:
    return click.option(
        "--agno-schema",
        "agno_schemas",
        multiple=True,
        default=(config.AGNO_SCHEMA,),
        show_default=True,
        help="The schema of Agno's own tables (PagbankDb's agno_schema) to reach too; repeat "
        "it for several. A schema that does not exist is passed over, and said so.",
    )(command)


def _say_absent(db: Database, agno_schemas: Sequence[str]) -> None:
    for schema in lgpd.absent_agno_schemas(db, agno_schemas):
        click.echo(
            f"skipped Agno schema {schema!r}: it does not exist (an app on Agno 1.7 has none)",
            err=True,
        )


@main.command("export-user")
@_dsn_option
@_agno_schema_option
@click.argument("user_id")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the JSON here (0600, atomically) instead of to stdout.",
)
def export_user(
    dsn: str | None, agno_schemas: tuple[str, ...], user_id: str, out: Path | None
) -> None:
    """Write everything held about USER_ID as JSON (LGPD access request), streamed: any size.
    The six tables, then Agno's own tables that hold the user's rows (workflow sessions,
    metrics, evals, traces, …) in the --agno-schema schemas."""
    with _database(dsn) as db:
        if out is None:
            lgpd.export_user(db, user_id, sys.stdout.buffer, agno_schemas)
            _say_absent(db, agno_schemas)
            return
        with atomic_private_file(out) as file:  # 0600, whole or not at all
            counts = lgpd.export_user(db, user_id, file, agno_schemas)
        _say_absent(db, agno_schemas)
    click.echo(f"wrote {out}: " + ", ".join(f"{k} {n}" for k, n in counts.items()))


@main.command("forget-user")
@_dsn_option
@_agno_schema_option
@click.argument("user_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--record-anyway",
    is_flag=True,
    help="Record the erasure even when no row holds USER_ID (its future writes are dropped).",
)
def forget_user(
    dsn: str | None, agno_schemas: tuple[str, ...], user_id: str, yes: bool, record_anyway: bool
) -> None:
    """Erase USER_ID from all six tables and from Agno's own tables in the --agno-schema
    schemas, in one transaction (LGPD erasure request)."""
    _confirm(f"Erase every row of user {user_id!r}?", "nothing erased", yes)
    with _database(dsn) as db:
        removed = lgpd.forget_user(
            db, user_id, record_anyway=record_anyway, agno_schemas=agno_schemas
        )
        _say_absent(db, agno_schemas)
    if not removed:
        click.echo(f"user {user_id!r} was erased before; nothing of it is left")
        return
    width = max(len(table) for table in removed)
    for table, count in removed.items():
        click.echo(f"{table:<{width}}  {count}")
    total = sum(removed.values())
    if total:
        click.echo(f"erased user {user_id!r}: {total} row(s) changed")
    else:
        click.echo(f"recorded user {user_id!r} as erased: no row of it was found")
    click.echo(f"note: {lgpd.REACH}", err=True)


@main.command("expire-sessions")
@_dsn_option
@click.option(
    "--timeout-minutes",
    type=click.IntRange(min=1),
    default=config.SESSION_TIMEOUT_MINUTES,
    show_default=True,
    help="Deactivate sessions idle for longer than this.",
)
def expire_sessions(dsn: str | None, timeout_minutes: int) -> None:
    """Deactivate the user sessions idle for longer than the timeout."""
    with _database(dsn) as db:
        expired = db.queries.expire_user_sessions(timeout_minutes=timeout_minutes)
    click.echo(f"expired {expired} session(s) idle for over {timeout_minutes} minutes")


def _zone(_ctx: click.Context, _param: click.Parameter, zone: str) -> str:
    """`zone` when it names a time zone, else a usage error (before any work)."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"unknown zone {zone!r}; give an IANA zone name, such as {config.SOURCE_TIMEZONE}"
        ) from None
    return zone


def _source_timezone_option(command: F) -> F:
    return click.option(
        "--source-timezone",
        default=config.SOURCE_TIMEZONE,
        show_default=True,
        callback=_zone,
        help="Zone of the naive timestamps of PagBank's sessions table.",
    )(command)


def _explicit_tables(specs: tuple[str, ...]) -> dict[tuple[str, str], KindName]:
    explicit: dict[tuple[str, str], KindName] = {}
    for spec in specs:
        where, _, kind = spec.partition("=")
        file_name, _, table = where.rpartition(":")
        if not (file_name and table and kind):
            raise click.BadParameter(f"{spec!r}: expected FILE:TABLE=KIND", param_hint="--table")
        if kind not in KINDS:
            raise click.BadParameter(
                f"{spec!r}: unknown kind {kind!r}; use one of {', '.join(KINDS)}",
                param_hint="--table",
            )
        explicit[(Path(file_name).name, table)] = kind
    return explicit


def _units(path: Path | None) -> dict[str, str]:
    """The --units file: a JSON object of agent id (or a word in it) to business unit."""
    if path is None:
        return dict(mapping.DEFAULT_UNITS)
    try:
        units = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise click.BadParameter(f"{path}: not a readable JSON file ({error})") from None
    if not isinstance(units, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in units.items()
    ):
        raise click.BadParameter(
            f'{path}: expected a JSON object of strings, like {{"pix": "conta_digital"}}',
            param_hint="--units",
        )
    return units


@main.command("import-sqlite")
@_dsn_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--table",
    "tables",
    multiple=True,
    metavar="FILE:TABLE=KIND",
    help="Name a table's kind (agent, team, memory, sessions) instead of recognising it.",
)
@click.option(
    "--reject-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=config.REJECT_FILE,
    show_default=True,
    help="Where rejected rows go, one JSON object a line (written only when needed).",
)
@_source_timezone_option
@click.option(
    "--units",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file mapping agent ids (or words in them) to business units.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=config.IMPORT_BATCH,
    show_default=True,
    help="Source rows per batch (one transaction each), at most.",
)
@click.option("--accept-rejects", is_flag=True, help="Exit 0 even when rows were rejected.")
@click.option(
    "--full", is_flag=True, help="Compare every row, not only those written since the last run."
)
@click.option(
    "--prune",
    is_flag=True,
    help="Delete the rows imported from a table that it no longer holds (never the app's own).",
)
def import_sqlite(
    dsn: str | None,
    paths: tuple[Path, ...],
    tables: tuple[str, ...],
    reject_file: Path,
    source_timezone: str,
    units: Path | None,
    batch_size: int,
    accept_rejects: bool,
    full: bool,
    prune: bool,
) -> None:
    """Import PagBank's SQLite files (a data/ folder or .db files) into the six tables."""
    unit_map = _units(units)
    conninfo = _resolve(dsn)
    with progress_reporter() as progress:
        report = importer.import_sqlite(
            conninfo,
            list(paths),
            explicit=_explicit_tables(tables),
            reject_file=reject_file,
            batch_size=batch_size,
            source_timezone=source_timezone,
            units=unit_map,
            progress=progress,
            warn=lambda line: click.echo(f"note: {printable(line)}", err=True),
            full=full,
            prune=prune,
        )
    for note in report.notes:
        click.echo(f"note: {printable(note)}", err=True)
    if report.erased:
        click.echo(f"note: {report.erased} row(s) of erased users passed over (LGPD)", err=True)
    print_table(
        ["source", "read", "inserted", "updated", "unchanged", "rejected"],
        [[name, c.read, c.inserted, c.updated, c.unchanged, c.rejected]
         for name, c in report.counts.items()],
    )  # fmt: skip
    for name, keys in report.pruned.items():
        for key in keys:
            click.echo(f"removed {name} {printable(key)} (no longer in SQLite)")
    if report.rejected:
        message = f"{report.rejected} row(s) rejected; see {report.reject_file}"
        if not accept_rejects and not report.unreadable:
            raise PagbankPgError(message + " (pass --accept-rejects to accept them)")
        click.echo(message, err=True)
    _fail_on_unreadable(report.unreadable, "imported")


def _fail_on_unreadable(unreadable: dict[str, str], done: str) -> None:
    """One line naming each table SQLite could not read, and why (exit code 1)."""
    if unreadable:
        tables = "; ".join(f"{name} ({reason})" for name, reason in sorted(unreadable.items()))
        raise PagbankPgError(
            f"{len(unreadable)} table(s) could not be read: {tables}; every other table was "
            f"{done} (fix the file and run again)"
        )


@main.command("verify-import")
@_dsn_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--table",
    "tables",
    multiple=True,
    metavar="FILE:TABLE=KIND",
    help="Name a table's kind (agent, team, memory, sessions), as import-sqlite was told.",
)
@_source_timezone_option
def verify_import(
    dsn: str | None, paths: tuple[Path, ...], tables: tuple[str, ...], source_timezone: str
) -> None:
    """Compare each source table with PostgreSQL: row counts and every row's content."""
    with progress_reporter() as progress:
        verified = verify.verify_import(
            _resolve(dsn),
            list(paths),
            explicit=_explicit_tables(tables),
            source_timezone=source_timezone,
            progress=progress,
        )
    checks = verified.checks
    for note in verified.notes:
        click.echo(f"note: {printable(note)}", err=True)
    print_table(
        ["source", "source rows", "identical", "different", "missing", "erased", "gone",
         "verdict"],
        [[name, c.source_rows, c.identical, c.different, c.missing, c.erased, len(c.gone),
          "ok" if c.ok else "DIFFERS"] for name, c in checks.items()],
    )  # fmt: skip
    for name, check in checks.items():
        for example in check.examples:
            click.echo(printable(example), err=True)
        for key in check.gone:
            click.echo(f"{name}: {printable(key)} is in PostgreSQL, no longer in SQLite", err=True)
    bad = [name for name, check in checks.items() if not check.ok]
    if bad and verified.unreadable:
        click.echo(f"{len(bad)} table(s) differ from PostgreSQL: {', '.join(bad)}", err=True)
    _fail_on_unreadable(verified.unreadable, "verified")
    if bad:
        raise PagbankPgError(
            f"{len(bad)} table(s) differ from PostgreSQL: {', '.join(bad)}; missing rows are in "
            "the import's reject file, or were not imported yet: run import-sqlite (rows gone "
            "from SQLite: import-sqlite --prune deletes them)"
        )


@main.command("export-sqlite")
@_dsn_option
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@_source_timezone_option
@click.option("--overwrite", is_flag=True, help="Replace files already in OUTDIR.")
def export_sqlite(dsn: str | None, outdir: Path, source_timezone: str, overwrite: bool) -> None:
    """Write Agno 1.7-format SQLite files from PostgreSQL (the rollback path)."""
    with progress_reporter() as progress:
        export = exporter.export_sqlite(
            _resolve(dsn),
            outdir,
            source_timezone=source_timezone,
            overwrite=overwrite,
            progress=progress,
        )
    print_table(["written to", "rows"], [[name, n] for name, n in export.counts.items()])
    for reason in export.rejected:
        click.echo(printable(reason), err=True)
    if export.rejected:
        raise PagbankPgError(
            f"{len(export.rejected)} row(s) could not be exported (listed above); the files "
            "hold every other row"
        )


@main.command()
@click.option(
    "--queries",
    "queries_path",
    type=click.Path(exists=True, path_type=Path),
    help="Folder or file of named queries (default: the package's own).",
)
@click.option("--name", default="Queries", show_default=True, help="Name of the Protocol.")
@click.option(
    "--package", is_flag=True, help="The package's own types.py: every namespace of its queries."
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
def stubs(queries_path: Path | None, name: str, package: bool, out: Path | None) -> None:
    """Write typing Protocols of named queries (for editors and mypy)."""
    text = render_package() if package else render(load_queries(queries_path), name)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")


@main.group()
def server() -> None:
    """The embedded PostgreSQL server: one per user and virtual environment (data in
    ~/.local/share/pagbank-pg/<env>, as root /var/lib/pagbank-pg/<env>; $PAGBANK_PG_HOME
    names another folder). It keeps running until `server stop`."""


@server.command("start")
def server_start() -> None:
    """Start the embedded server (if needed) and print its URL."""
    click.echo(embedded.ensure_running(on_start=_say_started))


@server.command("stop")
def server_stop() -> None:
    """Stop the embedded server."""
    stopped = embedded.stop()
    click.echo(f"stopped the server in {embedded.data_dir()}" if stopped else "not running")


@server.command("status")
def server_status() -> None:
    """Say whether the embedded server runs, with its pid, data folder and URL."""
    state = embedded.status()
    if state is None:
        click.echo(f"not running (data folder {embedded.data_dir()})")
        raise SystemExit(3)
    click.echo(f"running, pid {state.pid}, data folder {state.data_dir}\n{state.url}")


@server.command("url")
def server_url() -> None:
    """Print the URL of the running embedded server (for DATABASE_URL)."""
    state = embedded.status()
    if state is None:
        raise PagbankPgError("the embedded server is not running; run: pagbank-pg server start")
    click.echo(state.url)
