"""What the sync and async databases share: binding a query to a runner, shaping results,
naming the query in errors. Pure: no I/O here.
"""

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from .errors import QueryError
from .queries import Queries, Query
from .settings import error_line, redact


def shape(query: Query, rows: list[dict[str, Any]] | None, rowcount: int) -> Any:
    """The result of a call of `query`, from the rows it returned and its row count."""
    if query.kind == "many":
        return rows or []
    if query.kind == "one":
        return rows[0] if rows else None
    if query.kind == "scalar":
        return next(iter(rows[0].values())) if rows else None
    if query.kind == "execrows":
        return rowcount
    return None


def fetches(query: Query) -> bool:
    """Whether a call of `query` reads rows back."""
    return query.kind in ("one", "many", "scalar")


def query_error(query: Query, error: psycopg.Error) -> QueryError:
    """`error`, raised by the database inside `query`, as a QueryError naming the query."""
    reason = error.diag.message_primary or error_line(error)
    if error.diag.message_detail:
        reason += f" ({error.diag.message_detail})"
    if error.sqlstate == "42P01":  # undefined_table
        reason += "; is the schema migrated? run: pagbank-pg migrate"
    return QueryError(f"query {query.where} failed: {redact(reason)}", error.sqlstate)


def bind(query: Query, runner: Any) -> Callable[..., Any]:
    """A function calling `query` through `runner`, with the query's signature and doc.

    The function also carries `.many(rows)`, `.stream(**params)` and the query's attributes
    (`name`, `kind`, `params`, `sql`, `doc`, `file`, `line`), so `help()` and
    `inspect.signature()` describe the statement.
    """

    def call(**params: Any) -> Any:
        return runner.run(query, params)

    call.__name__ = call.__qualname__ = query.name
    call.__doc__ = f"{query.doc}\n\n:{query.kind}  {query.file}:{query.line}\n\n{query.sql}"
    call.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY) for p in query.params]
    )
    for attribute in ("name", "kind", "params", "sql", "doc", "file", "line"):
        setattr(call, attribute, getattr(query, attribute))
    call.query = query  # type: ignore[attr-defined]
    call.many = lambda rows: runner.run_many(query, rows)  # type: ignore[attr-defined]
    call.stream = lambda **params: runner.stream(query, params)  # type: ignore[attr-defined]
    return call


class QueryNamespace:
    """`db.queries`: every named query as a method, bound to one way of running it."""

    def __init__(self, queries: Queries, runner: Any) -> None:
        self._queries = queries
        self._runner = runner
        self._bound: dict[str, Callable[..., Any]] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        bound = self._bound.get(name)
        if bound is None:
            if name not in self._queries:
                raise AttributeError(
                    f"no query named {name!r}; known: {', '.join(sorted(self._queries))}"
                )
            bound = self._bound[name] = bind(self._queries[name], self._runner)
        return bound

    def __dir__(self) -> list[str]:
        return sorted(self._queries)

    def __iter__(self) -> Iterator[str]:
        return iter(self._queries)

    def __len__(self) -> int:
        return len(self._queries)

    def __repr__(self) -> str:
        return f"<queries: {', '.join(self._queries)}>"
