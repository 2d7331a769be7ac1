"""The `pagbank-pg` command.

Every command that touches a database takes `--dsn`; without it `DATABASE_URL` is used, and
without that the embedded server (started on demand). Exit code 0 on success; otherwise 1 and
one line on stderr saying what failed and what to do.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import embedded, migrations
from .errors import PagbankPgError
from .queries import load_queries
from .settings import describe, resolve_dsn
from .stubs import render

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
        envvar="PAGBANK_PG_MIGRATIONS",
        help="Folder of yoyo .sql migrations (default: the package's own).",
    )(command)


class _Group(click.Group):
    """Turns the package's errors into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PagbankPgError as error:
            click.echo(f"pagbank-pg: error: {error}", err=True)
            ctx.exit(1)


@click.group(cls=_Group)
def main() -> None:
    """PostgreSQL data layer of PagBank's multi-agent assistant."""


@main.command()
@_dsn_option
@_migrations_option
def migrate(dsn: str | None, migrations_dir: Path | None) -> None:
    """Apply every pending migration, in order, and list what was applied."""
    conninfo = resolve_dsn(dsn)
    done = migrations.apply(
        conninfo, migrations_dir, on_applied=lambda mid: click.echo(f"applied {mid}")
    )
    if done:
        click.echo(f"{len(done)} migration(s) applied to {describe(conninfo)}")
    else:
        click.echo(f"nothing to apply: {describe(conninfo)} is up to date")


@main.command()
@_dsn_option
@_migrations_option
def status(dsn: str | None, migrations_dir: Path | None) -> None:
    """Show each migration: when it was applied, or pending."""
    conninfo = resolve_dsn(dsn)
    states = migrations.status(conninfo, migrations_dir)
    width = max(len(state.id) for state in states)
    click.echo(f"{'MIGRATION':<{width}}  APPLIED (UTC)")
    for state in states:
        when = state.applied_at.strftime("%Y-%m-%d %H:%M:%S") if state.applied_at else "pending"
        click.echo(f"{state.id:<{width}}  {when}")
    pending = sum(state.applied_at is None for state in states)
    click.echo(f"{len(states) - pending} applied, {pending} pending on {describe(conninfo)}")


@main.command()
@_dsn_option
@_migrations_option
@click.option("--to", "to", metavar="ID", help="Roll back every migration applied after ID.")
@click.option("--all", "everything", is_flag=True, help="Roll back every applied migration.")
def rollback(
    dsn: str | None, migrations_dir: Path | None, to: str | None, everything: bool
) -> None:
    """Roll back the last applied migration (or down to --to ID, or --all)."""
    if to and everything:
        raise click.UsageError("give --to ID or --all, not both")
    conninfo = resolve_dsn(dsn)
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
@_migrations_option
def schema(migrations_dir: Path | None) -> None:
    """Print the full DDL in apply order (for review, or `psql -f`)."""
    click.echo(migrations.schema_sql(migrations_dir), nl=False)


@main.command()
@click.option(
    "--queries",
    "queries_path",
    type=click.Path(exists=True, path_type=Path),
    help="Folder or file of named queries (default: the package's own).",
)
@click.option("--name", default="Queries", show_default=True, help="Name of the Protocol.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
def stubs(queries_path: Path | None, name: str, out: Path | None) -> None:
    """Write typing Protocols of named queries (for editors and mypy)."""
    text = render(load_queries(queries_path), name)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")


@main.group()
def server() -> None:
    """The embedded PostgreSQL server (data in $PAGBANK_PG_HOME, default ./.pagbank-pg)."""


@server.command("start")
def server_start() -> None:
    """Start the embedded server (if needed) and print its URL."""
    click.echo(embedded.ensure_running())


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
