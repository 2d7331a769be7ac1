"""Typing for named queries: a generated module of Protocols, one per query, so that editors
and mypy know each query's name, parameters and result. Pure: text in, text out.

`pagbank-pg stubs` writes it for a folder of queries (sync and async). The package's own
module, `types.py`, is made by `render_package()` (the tests check that it is up to date): the
public namespace, sync and async; each internal area, sync only unless async code uses it, with
its typed accessor (`agno_queries(on)`, ...).
"""

import re
from pathlib import Path
from typing import NamedTuple

from ..config import QUERIES_DIR
from .loader import Queries, Query, internal_queries, load_queries
from .rows import ROW_TYPES


class Namespace(NamedTuple):
    """One of the package's namespaces in `types.py`."""

    protocol: str  # the name of its Protocol (and Async<protocol>)
    area: str | None  # the sub-folder of sql/queries; None: the public db.queries
    asynchronous: bool  # whether async code uses it: then Async<protocol> is emitted too


PACKAGE_NAMESPACES = (
    Namespace("PackageQueries", None, True),
    Namespace("AgnoQueries", "agno", True),
    Namespace("LgpdQueries", "lgpd", True),
    Namespace("SchemaQueries", "schema", True),
    Namespace("TopologyQueries", "topology", False),
    Namespace("TransferQueries", "transfer", False),
)

RESULTS = {
    "one": "dict[str, Any] | None",
    "many": "list[dict[str, Any]]",
    "scalar": "Any",
    "exec": "None",
    "execrows": "int",
    "copy": "int",
}
# A statement that returns whole rows of one table: `SELECT * FROM t` (filtered, ordered,
# limited; no join, no second table), the same over a CTE that is such a select of t, or a
# write of t `RETURNING *` (an UPDATE ... FROM or a DELETE ... USING would return the other
# table's columns too, so they are left untyped). tests/test_rows.py checks each against what
# the server describes.
_FILTERS = r"(?:\s+(?:WHERE|ORDER|LIMIT)\b(?:(?!\bJOIN\b)[^;])*)?;?"
WHOLE_ROWS = re.compile(
    rf"SELECT\s+\*\s+FROM\s+(?P<selected>\w+){_FILTERS}"
    rf"|WITH\s+(?P<cte>\w+)\s+AS\s+(?:MATERIALIZED\s+)?\(\s*SELECT\s+\*\s+FROM\s+(?P<inner>\w+)"
    rf"{_FILTERS.removesuffix(';?')}\s*\)\s*SELECT\s+\*\s+FROM\s+(?P=cte){_FILTERS}"
    r"|(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?P<written>\w+)\b"
    r"(?:(?!\bFROM\b|\bUSING\b).)*\bRETURNING\s+\*\s*;?",
    re.IGNORECASE | re.DOTALL,
)
LINE_LENGTH = 100  # the project's; longer signatures are written one parameter a line

QUERY_PROTOCOL = '''class _Query(Protocol):
    """What every named query exposes."""

    name: str
    kind: str
    params: tuple[str, ...]
    sql: str
    doc: str
    file: str
    line: int
'''

IMPORTS = """from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, Protocol
"""


def _package_imports(asynchronous_areas: bool, row_types: list[str]) -> str:
    """The imports of `types.py` (the async twins' names only when an area is used async; the
    row types the statements return)."""
    overload = ", overload" if asynchronous_areas else ""
    typing_names = f"TYPE_CHECKING, Any, Protocol, cast{overload}"
    twins = "    from .database import Database, Transaction\n"
    if asynchronous_areas:
        twins += "    from .database_async import AsyncDatabase, AsyncTransaction\n"
    rows = f"from .rows import {', '.join(row_types)}\n"
    if len(rows) > LINE_LENGTH + 1:  # as `ruff format` writes it: a name a line
        rows = "from .rows import (\n" + "".join(f"    {name},\n" for name in row_types) + ")\n"
    return (
        "from collections.abc import AsyncIterator, Iterable, Iterator, Mapping\n"
        f"from typing import {typing_names}\n\nimport psycopg\n\n"
        f"from .areas import area_queries\n{rows if row_types else ''}\nif TYPE_CHECKING:\n{twins}"
    )


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _docstring(text: str, indent: str) -> str:
    """`text` as a docstring at `indent` (whole: every line)."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = text.splitlines()
    if len(lines) == 1 and len(indent) + len(lines[0]) + 6 <= LINE_LENGTH:
        return f'{indent}"""{lines[0]}"""\n'
    body = "".join(f"{indent}{line}\n" if line else "\n" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{body}{indent}"""\n'


def _def(prefix: str, name: str, params: list[str], result: str) -> str:
    """A method stub on one line; else its parameters on a line of their own; else one
    parameter a line (how `ruff format` writes it)."""
    one_line = f"    {prefix}def {name}({', '.join(params)}) -> {result}: ..."
    if len(one_line) <= LINE_LENGTH:
        return one_line + "\n"
    listed = f"        {', '.join(params)}\n"
    if len(listed) > LINE_LENGTH:
        listed = "".join(f"        {p},\n" for p in params)
    return f"    {prefix}def {name}(\n{listed}    ) -> {result}: ...\n"


def returned_table(query: Query) -> str | None:
    """The plan's table whose whole rows `query` returns, if it reads rows and returns them."""
    found = WHOLE_ROWS.fullmatch(query.sql.strip())
    table = found and (found["selected"] or found["inner"] or found["written"])
    return table if query.kind in ("one", "many") and table in ROW_TYPES else None


def _result(query: Query, rows: bool) -> tuple[str, str]:
    """What a call of `query` returns, and what a row of it is (`rows`: typed by the plan's
    row types where the statement returns a table's whole rows)."""
    table = returned_table(query) if rows else None
    row = ROW_TYPES[table].__name__ if table else "dict[str, Any]"
    if query.kind == "one":
        return f"{row} | None", row
    if query.kind == "many":
        return f"list[{row}]", row
    return RESULTS[query.kind], "dict[str, Any]"


def _source(query: Query) -> str:
    """Where `query` comes from: its file, relative to the package's queries when it is one."""
    path = Path(query.file)
    return str(path.relative_to(QUERIES_DIR)) if path.is_relative_to(QUERIES_DIR) else path.name


def _protocol(query: Query, prefix: str, asynchronous: bool, rows: bool) -> str:
    """A query's Protocol: the call, and what its kind supports besides (`.many(rows)` but for
    :copy, `.stream(...)` for the kinds that read rows)."""
    params = ["self"]
    if query.kind == "copy":  # the data to copy comes first, positionally
        params += ["data: bytes", "/"]
    if query.params:
        params += ["*", *(f"{p}: Any" for p in query.params)]
    awaited = "async " if asynchronous else ""
    iterator = "AsyncIterator" if asynchronous else "Iterator"
    result, row = _result(query, rows)
    methods = [_def(awaited, "__call__", params, result)]
    if query.kind != "copy":
        methods.append(_def(awaited, "many", ["self", "rows: Iterable[Mapping[str, Any]]"], "int"))
    if query.kind in ("one", "many", "scalar"):
        methods.append(_def("", "stream", params, f"{iterator}[{row}]"))
    doc = f"{query.doc or query.name}\n\n:{query.kind}, {_source(query)}:{query.line}"
    return (
        f"class {prefix}{_camel(query.name)}(_Query, Protocol):\n"
        f"{_docstring(doc, '    ')}\n{''.join(methods)}"
    )


def _header(summary: str, sources: list[str], command: str) -> str:
    listed = "".join(f"- {source}\n" for source in sources)
    return (
        f'"""{summary}\n\nGenerated by `{command}` from:\n\n{listed}\n'
        'Do not edit: change the .sql files and regenerate.\n"""'
    )


def render(queries: Queries, name: str = "Queries") -> str:
    """A module with `<name>` and `Async<name>`: Protocols of every query, sync and async."""
    sources = sorted({_source(query) for query in queries.values()})
    header = _header(
        "Typed names, parameters and results of named queries.", sources, "pagbank-pg stubs"
    )
    protocols = _protocols(queries, name, True, "db.queries", rows=False)
    return "\n\n".join([header, IMPORTS, QUERY_PROTOCOL, *protocols])


def render_package() -> str:
    """The package's `types.py`: the Protocols of the public namespace (sync and async) and of
    each internal area, with the area's accessor."""
    spaces = [
        (space, load_queries() if space.area is None else internal_queries(space.area))
        for space in PACKAGE_NAMESPACES
    ]
    tables = {
        returned_table(q)
        for space, queries in spaces
        if space.area is None
        for q in queries.values()
    }
    row_types = sorted(ROW_TYPES[table].__name__ for table in tables if table)
    asynchronous_areas = any(s.area and s.asynchronous for s in PACKAGE_NAMESPACES)
    parts = [_package_imports(asynchronous_areas, row_types), QUERY_PROTOCOL]
    sources = []
    for space, queries in spaces:
        for file in sorted({_source(query) for query in queries.values()}):
            sources.append(f"sql/queries/{file} ({space.area or 'db.queries'})")
        through = f"{space.area}_queries(on)" if space.area else "db.queries"
        rows = space.area is None  # internal areas return rows their callers reshape
        parts += _protocols(queries, space.protocol, space.asynchronous, through, rows)
        if space.area is not None:
            parts.append(_accessor(space))
    summary = (
        "Typed names, parameters and results of the package's named statements, and a typed\n"
        "accessor per internal area (sqlc's `New(db)`)."
    )
    command = "pagbank-pg stubs --package --out pagbank_pg/query/types.py"
    return "\n\n".join([_header(summary, sources, command), *parts])


def _accessor(space: Namespace) -> str:
    """`<area>_queries(on)`: the statements of an internal area, typed, run on `on`."""
    assert space.area is not None
    name, area = f"{space.area}_queries", space.area
    sync_on = '"Database | Transaction | psycopg.Connection[Any]"'
    doc = _docstring(
        f"The statements of sql/queries/{area}/, run on `on`: a database's pool (each call\n"
        "alone), a transaction (in it), or a connection held outside any pool (on it).",
        "    ",
    )
    body = f'{doc}    return cast({space.protocol}, area_queries(on, "{area}"))\n'
    if not space.asynchronous:
        return f"def {name}(on: {sync_on}) -> {space.protocol}:\n{body}"
    async_on = '"AsyncDatabase | AsyncTransaction | psycopg.AsyncConnection[Any]"'
    return (
        f"@overload\ndef {name}(on: {sync_on}) -> {space.protocol}: ...\n"
        f"@overload\ndef {name}(\n    on: {async_on},\n) -> Async{space.protocol}: ...\n"
        f"def {name}(on: Any) -> Any:\n{body}"
    )


def _protocols(
    queries: Queries, name: str, asynchronous: bool, through: str, rows: bool
) -> list[str]:
    """`name` (and `Async<name>` when `asynchronous`), with a private Protocol per query (named
    after `name` too, so that namespaces sharing a module never clash)."""
    area = "" if name in ("Queries", "PackageQueries") else name.removesuffix("Queries")
    parts = []
    for prefix, awaited in (("", False), ("Async", True))[: 2 if asynchronous else 1]:
        own = f"_{area}{prefix}"
        parts += [_protocol(query, own, awaited, rows) for query in queries.values()]
        members = "".join(f"    {q.name}: {own}{_camel(q.name)}\n" for q in queries.values())
        how = "awaited" if awaited else "called"
        body = members or "    pass\n"
        parts.append(
            f"class {prefix}{name}(Protocol):\n"
            f'    """The named queries, {how} through {through}."""\n\n{body}'
        )
    return parts
