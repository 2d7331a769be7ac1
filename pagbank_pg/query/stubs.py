"""Typing for named queries: a generated module of Protocols, one per query, so that editors
and mypy know each query's name, parameters and result. Pure: text in, text out.

`pagbank-pg stubs` writes it for a folder of queries (sync and async). The package's own
module, `types.py`, is made by `render_package()` (the tests check that it is up to date): the
public namespace, sync and async; each internal area, sync only unless async code uses it, with
its typed accessor (`agno_queries(on)`, ...).
"""

from pathlib import Path
from typing import NamedTuple

from ..config import QUERIES_DIR
from .loader import Queries, Query, internal_queries, load_queries


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


def _package_imports(asynchronous_areas: bool) -> str:
    """The imports of `types.py` (the async twins' names only when an area is used async)."""
    overload = ", overload" if asynchronous_areas else ""
    typing_names = f"TYPE_CHECKING, Any, Protocol, cast{overload}"
    twins = "    from .database import Database, Transaction\n"
    if asynchronous_areas:
        twins += "    from .database_async import AsyncDatabase, AsyncTransaction\n"
    return (
        "from collections.abc import AsyncIterator, Iterable, Iterator, Mapping\n"
        f"from typing import {typing_names}\n\nimport psycopg\n\n"
        f"from .areas import area_queries\n\nif TYPE_CHECKING:\n{twins}"
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


def _source(query: Query) -> str:
    """Where `query` comes from: its file, relative to the package's queries when it is one."""
    path = Path(query.file)
    return str(path.relative_to(QUERIES_DIR)) if path.is_relative_to(QUERIES_DIR) else path.name


def _protocol(query: Query, prefix: str, asynchronous: bool) -> str:
    """A query's Protocol: the call, and what its kind supports besides (`.many(rows)` but for
    :copy, `.stream(...)` for the kinds that read rows)."""
    params = ["self"]
    if query.kind == "copy":  # the data to copy comes first, positionally
        params += ["data: bytes", "/"]
    if query.params:
        params += ["*", *(f"{p}: Any" for p in query.params)]
    awaited = "async " if asynchronous else ""
    iterator = "AsyncIterator" if asynchronous else "Iterator"
    methods = [_def(awaited, "__call__", params, RESULTS[query.kind])]
    if query.kind != "copy":
        methods.append(_def(awaited, "many", ["self", "rows: Iterable[Mapping[str, Any]]"], "int"))
    if query.kind in ("one", "many", "scalar"):
        methods.append(_def("", "stream", params, f"{iterator}[dict[str, Any]]"))
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
    protocols = _protocols(queries, name, asynchronous=True, through="db.queries")
    return "\n\n".join([header, IMPORTS, QUERY_PROTOCOL, *protocols])


def render_package() -> str:
    """The package's `types.py`: the Protocols of the public namespace (sync and async) and of
    each internal area, with the area's accessor."""
    sources = []
    asynchronous_areas = any(s.area and s.asynchronous for s in PACKAGE_NAMESPACES)
    parts = [_package_imports(asynchronous_areas), QUERY_PROTOCOL]
    for space in PACKAGE_NAMESPACES:
        queries = load_queries() if space.area is None else internal_queries(space.area)
        for file in sorted({_source(query) for query in queries.values()}):
            sources.append(f"sql/queries/{file} ({space.area or 'db.queries'})")
        through = f"{space.area}_queries(on)" if space.area else "db.queries"
        parts += _protocols(queries, space.protocol, space.asynchronous, through)
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


def _protocols(queries: Queries, name: str, asynchronous: bool, through: str) -> list[str]:
    """`name` (and `Async<name>` when `asynchronous`), with a private Protocol per query (named
    after `name` too, so that namespaces sharing a module never clash)."""
    area = "" if name in ("Queries", "PackageQueries") else name.removesuffix("Queries")
    parts = []
    for prefix, awaited in (("", False), ("Async", True))[: 2 if asynchronous else 1]:
        own = f"_{area}{prefix}"
        parts += [_protocol(query, own, awaited) for query in queries.values()]
        members = "".join(f"    {q.name}: {own}{_camel(q.name)}\n" for q in queries.values())
        how = "awaited" if awaited else "called"
        body = members or "    pass\n"
        parts.append(
            f"class {prefix}{name}(Protocol):\n"
            f'    """The named queries, {how} through {through}."""\n\n{body}'
        )
    return parts
