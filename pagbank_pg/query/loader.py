"""Named SQL statements: parse `-- name:` files and compile `:param` placeholders, once, at load.

Pure functions without I/O but for `load_queries`, which reads the files. The syntax:

    -- name: get_user_session :one
    -- Fetch one session by id, or nothing.
    SELECT * FROM user_sessions WHERE session_id = :session_id;

Kinds: `:one` (a row or None), `:many` (a list of rows), `:scalar` (first column of the first
row, or None), `:exec` (nothing), `:execrows` (the affected row count), `:copy` (a `COPY …
FROM STDIN` fed the bytes given as the call's one positional argument; the row count). Rows
are dicts.

Where a call runs, decided here, once: a statement that only reads (a plain SELECT, or a WITH
whose parts all only read; no locking clause, no SELECT INTO, no sequence or advisory-lock
function) may be served by a read replica; anything else runs on the primary. A word after the
kind overrides it: `-- name: next_ticket :one primary` (a SELECT with side effects the rule
cannot see) or `... :many replica`.

The `.sql` files at the top of `sql/queries` are the public namespace (`db.queries`); each
sub-folder is the namespace of one internal area (`internal_queries("transfer")`).
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from psycopg.types.json import Jsonb

from ..config import QUERIES_DIR
from ..errors import QueryArgumentError, QueryLoadError

KINDS = ("one", "many", "scalar", "exec", "execrows", "copy")

# `-- name: snake_name :kind`, the header that opens a statement.
_HEADER = re.compile(r"^--\s*name:\s*(?P<name>\S+)(?:\s+:(?P<kind>\S+))?(?:\s+(?P<route>\S+))?\s*$")
ROUTES = ("primary", "replica")
# What makes a SELECT more than a read: a data-modifying part, SELECT INTO, a locking clause,
# a sequence or an advisory lock (matched in the statement's code, strings and comments out).
_WRITES = re.compile(
    r"\b(?:insert|update|delete|merge|into|for\s+(?:no\s+key\s+update|key\s+share|share)"
    r"|nextval|setval|pg_advisory\w*|pg_try_advisory\w*|lock)\b",
    re.IGNORECASE,
)
_READ_STARTS = ("select", "with", "values", "table")
_SNAKE = re.compile(r"[a-z_][a-z0-9_]*")
# A doc line right under the header: a comment line.
_DOC = re.compile(r"^--\s?(?P<text>.*)$")
# What the compiler must step over whole, and what it rewrites, leftmost first.
_TOKEN = re.compile(
    r"""
      (?P<line_comment>--[^\n]*)                       # -- to the end of the line
    | (?P<block_comment>/\*)                           # /* … */, nested: scanned by hand
    | (?P<escape_string>(?<![\w$])[Ee]'(?:[^'\\]|\\.|'')*')   # E'…', backslash escapes
    | (?P<string>'(?:[^']|'')*')                       # '…' with '' for a quote
    | (?P<identifier>"(?:[^"]|"")*")                   # "quoted identifier"
    | (?P<dollar>(?<![\w$])\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$)   # $$ or $tag$ opening a body
    | (?P<cast>::)                                     # a cast, never a placeholder
    | (?P<param>(?<![\w:]):(?P<param_name>[A-Za-z_][A-Za-z_0-9]*))  # :name, not a[1:x]
    | (?P<percent>%)                                   # psycopg's escape character
    | (?P<semicolon>;)                                 # end of the statement
    | (?P<unterminated>['"])                           # a quote no pattern above closed
    """,
    re.VERBOSE,
)
# `::json` / `::jsonb` right after a placeholder: its value is sent as JSON.
_JSON_CAST = re.compile(r"\s*::\s*jsonb?\b", re.IGNORECASE)
# Only comments and blanks may follow the final `;`.
_TRAILING = re.compile(r"\s*(?:(?:--[^\n]*|/\*.*?\*/)\s*)*", re.DOTALL)


@dataclass(frozen=True)
class Compiled:
    """A statement in psycopg's `%(name)s` form, with its parameters in order of appearance."""

    sql: str
    params: tuple[str, ...]
    json_params: frozenset[str]


def _escape(text: str) -> str:
    return text.replace("%", "%%")


def _block_comment_end(sql: str, start: int) -> int:
    depth, pos = 0, start
    while True:
        opening, closing = sql.find("/*", pos), sql.find("*/", pos)
        if closing < 0:
            raise ValueError("unterminated /* comment")
        if 0 <= opening < closing:
            depth, pos = depth + 1, opening + 2
        else:
            depth, pos = depth - 1, closing + 2
            if depth == 0:
                return pos


def compile_sql(sql: str) -> Compiled:
    """Rewrite `:name` placeholders as `%(name)s` and double every literal `%`.

    Strings, quoted identifiers, comments, dollar-quoted bodies and casts are left alone.
    Raises ValueError for an unterminated string, comment or body, or a second statement.
    """
    out: list[str] = []
    params: list[str] = []
    json_params: set[str] = set()
    pos = 0
    while match := _TOKEN.search(sql, pos):
        out.append(_escape(sql[pos : match.start()]))
        kind, end = match.lastgroup, match.end()
        if kind == "param":
            name = match["param_name"]
            params.append(name)
            if _JSON_CAST.match(sql, end):
                json_params.add(name)
            out.append(f"%({name})s")
        elif kind == "percent":
            out.append("%%")
        elif kind == "unterminated":
            raise ValueError(f"unterminated {match[0]} at offset {match.start()}")
        else:
            if kind == "block_comment":
                end = _block_comment_end(sql, match.start())
            elif kind == "dollar":
                closing = sql.find(match[0], end)
                if closing < 0:
                    raise ValueError(f"unterminated {match[0]} body")
                end = closing + len(match[0])
            elif kind == "semicolon" and _TRAILING.match(sql, end).end() != len(sql):  # type: ignore[union-attr]
                raise ValueError("more than one statement; put each in its own -- name: block")
            out.append(_escape(sql[match.start() : end]))
        pos = end
    out.append(_escape(sql[pos:]))
    unique = tuple(dict.fromkeys(params))
    return Compiled("".join(out), unique, frozenset(json_params))


def _code(sql: str) -> str:
    """`sql` with its strings, quoted identifiers, comments and bodies blanked out."""
    out, pos = [], 0
    while match := _TOKEN.search(sql, pos):
        out.append(sql[pos : match.start()])
        kind, end = match.lastgroup, match.end()
        if kind == "block_comment":
            end = _block_comment_end(sql, match.start())
        elif kind == "dollar":
            end = sql.find(match[0], end) + len(match[0])
        keep = kind in ("cast", "param", "percent", "semicolon")
        out.append(sql[match.start() : end] if keep else " ")
        pos = end
    out.append(sql[pos:])
    return "".join(out)


def only_reads(sql: str) -> bool:
    """Whether `sql` (one compiled-checked statement) only reads: a SELECT, VALUES, TABLE or a
    WITH of reads, with nothing that writes or locks (see the module's doc)."""
    code = _code(sql).strip().lower()
    first = code.split(None, 1)[0].lstrip("(") if code else ""
    return first in _READ_STARTS and not _WRITES.search(code)


@dataclass(frozen=True)
class Query:
    """One named statement: what it is, where it came from, and its compiled form."""

    name: str
    kind: str
    doc: str
    sql: str
    compiled: Compiled
    file: str
    line: int
    route: str = "primary"  # "replica": it only reads, and a read replica may serve it

    @property
    def params(self) -> tuple[str, ...]:
        return self.compiled.params

    @property
    def where(self) -> str:
        return f"{self.name} ({self.file}:{self.line})"

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check `values` against the parameters (before any I/O) and adapt JSON ones."""
        missing = [p for p in self.params if p not in values]
        unknown = [v for v in values if v not in self.compiled.params]
        if missing or unknown:
            problems = [f"missing parameter {p!r}" for p in missing]
            problems += [f"unknown parameter {v!r}" for v in unknown]
            expected = ", ".join(self.params) or "none"
            raise QueryArgumentError(
                f"query {self.where}: {'; '.join(problems)} (it takes: {expected})"
            )
        json_params = self.compiled.json_params
        if not json_params:
            return dict(values)
        return {
            k: self._json(k, v) if k in json_params and v is not None else v
            for k, v in values.items()
        }

    def _json(self, param: str, value: Any) -> Jsonb:
        """`value` serialised now, so that bad JSON fails before any I/O, naming the query."""
        try:
            text = orjson.dumps(value)
        except TypeError as error:
            raise QueryArgumentError(
                f"query {self.where}: parameter {param!r} is not JSON-serialisable: {error}"
            ) from None
        return Jsonb(text, dumps=_already_dumped)


def _already_dumped(text: bytes) -> bytes:
    return text


def parse_queries(text: str, file: str = "<string>") -> list[Query]:
    """Every `-- name:` statement of a file's text, in order."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _HEADER.match(line)]
    preamble = "\n".join(lines[: starts[0]] if starts else lines)
    if _has_code(preamble):
        raise QueryLoadError(f"{file}:1: SQL before the first '-- name:' header")
    queries = []
    for index, start in enumerate(starts):
        stop = starts[index + 1] if index + 1 < len(starts) else len(lines)
        queries.append(_parse_block(lines[start:stop], file, start + 1))
    return queries


def _has_code(text: str) -> bool:
    return bool(_TRAILING.sub("", text).strip())


def _parse_block(block: list[str], file: str, line: int) -> Query:
    header = _HEADER.match(block[0])
    assert header is not None
    name, kind, route = header["name"], header["kind"], header["route"]
    if not _SNAKE.fullmatch(name):
        raise QueryLoadError(f"{file}:{line}: query name {name!r} is not snake_case")
    if kind not in KINDS:
        raise QueryLoadError(
            f"{file}:{line}: query {name} has kind {kind and ':' + kind!r}; "
            f"expected one of {', '.join(':' + k for k in KINDS)}"
        )
    body, doc = block[1:], []
    while body and (comment := _DOC.match(body[0])):
        doc.append(comment["text"].rstrip())
        body = body[1:]
    if route is not None and route not in ROUTES:
        raise QueryLoadError(
            f"{file}:{line}: query {name}: {route!r} after the kind; expected "
            f"{' or '.join(ROUTES)} (where the call runs), or nothing"
        )
    sql = "\n".join(body).strip()
    if not _has_code(sql):
        raise QueryLoadError(f"{file}:{line}: query {name} has no SQL")
    try:
        compiled = compile_sql(sql)
    except ValueError as error:
        raise QueryLoadError(f"{file}:{line}: query {name}: {error}") from None
    route = route or ("replica" if kind != "copy" and only_reads(sql) else "primary")
    return Query(name, kind, "\n".join(doc).strip(), sql, compiled, file, line, route)


class Queries(Mapping[str, Query]):
    """The named statements of a folder (or file), by name."""

    def __init__(self, queries: list[Query]) -> None:
        self._by_name: dict[str, Query] = {}
        for query in queries:
            first = self._by_name.get(query.name)
            if first is not None:
                raise QueryLoadError(
                    f"{query.file}:{query.line}: duplicate query name {query.name!r}, "
                    f"first defined at {first.file}:{first.line}"
                )
            self._by_name[query.name] = query

    def __getitem__(self, name: str) -> Query:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)


def load_queries(path: str | Path | None = None) -> Queries:
    """Load the `.sql` files of a folder (sorted by name), or one file; default: the package's
    (read and compiled once per process: they are part of the installed package)."""
    if path is None:
        return _package_queries()
    return _load(Path(path))


@cache
def _package_queries() -> Queries:
    return _load(QUERIES_DIR)


@cache
def internal_queries(area: str) -> Queries:
    """The statements of one internal area of the package (a sub-folder of `sql/queries`),
    read and compiled once per process; they are not part of `db.queries`."""
    return _load(QUERIES_DIR / area)


def _load(source: Path) -> Queries:
    if source.is_dir():
        files = sorted(source.glob("*.sql"))
    elif source.is_file():
        files = [source]
    else:
        raise QueryLoadError(f"{source}: no such file or folder of .sql query files")
    found: list[Query] = []
    for file in files:
        found += parse_queries(file.read_text(encoding="utf-8"), str(file))
    return Queries(found)
