"""Write each sync module from its async twin, so the two never drift: `pagbank_pg/query/
database.py` from `database_async.py`; in `pagbank_pg/agno/`, `db.py` from `db_async.py` and
`writes.py` from `writes_async.py` (`TWINS`).

The sync module is the async one without `async`/`await` and with the sync names of psycopg's
classes (the way psycopg_pool keeps its twins). A line may say how it reads in sync:
`code  # sync: other code` becomes `other code` (same indentation), and a line ending in
`# async only` is left out. The result passes `ruff check` and `ruff format --check` as
psycopg's generated twins do: a `with` whose whole body is another `with` (an `async with`
inside a `with`, in the async module) becomes one `with` of both, a one-line `from … import`
loses the names the sync module no longer uses and is sorted again, and the async module
writes the calls and signatures that would fit on one line without `await` exploded, with a
trailing comma. What is written is then passed through `ruff check --select I --fix` and
`ruff format` (the testing extra installs ruff), which sort the imports the sync module alone needs.

Usage: python tools/async_to_sync.py [--check]
"""

import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pagbank_pg"
QUERY = PACKAGE / "query"
SOURCE, TARGET = QUERY / "database_async.py", QUERY / "database.py"
# Every (async source, sync target); the first is SOURCE, TARGET.
TWINS = [
    (SOURCE, TARGET),
    (PACKAGE / "agno" / "db_async.py", PACKAGE / "agno" / "db.py"),
    (PACKAGE / "agno" / "writes_async.py", PACKAGE / "agno" / "writes.py"),
]
HEADER = "# Generated from {source} by tools/async_to_sync.py: do not edit.\n"

# Whole words, in order: the async name, and its sync twin.
NAMES = [
    (r"async def", "def"),
    (r"async with", "with"),
    (r"async for", "for"),
    (r"await ", ""),
    (r"asynccontextmanager", "contextmanager"),
    (r"AsyncGenerator", "Generator"),
    (r"AsyncIterator", "Iterator"),
    (r"aclose", "close"),
    (r"Awaitable\[None\]", "None"),
    (r"AsyncConnectionPool", "ConnectionPool"),
    (r"AsyncConnection", "Connection"),
    (r"AsyncDatabase", "Database"),
    (r"AsyncTransaction", "Transaction"),
    (r"AsyncPackageQueries", "PackageQueries"),
    (r"__aenter__", "__enter__"),
    (r"__aexit__", "__exit__"),
    (r"AsyncBaseDb", "BaseDb"),
    (r"AsyncPostgresDb", "PostgresDb"),
    (r"AsyncAgnoTables", "AgnoTables"),
    (r"AsyncPagbankDb", "PagbankDb"),
    (r"AsyncAgnoQueries", "AgnoQueries"),
    (r"AsyncSchemaQueries", "SchemaQueries"),
    (r"AsyncEngine", "Engine"),
    (r"async_creator", "creator"),
    (r"create_async_engine", "create_engine"),
    (r"writes_async", "writes"),
]
_SYNC_AS = re.compile(r"^(?P<indent>\s*).*?\s*# sync: (?P<sync>.*)$")
_WITH = re.compile(r"^(?P<indent>\s*)with (?P<items>.+):$")
_FROM_IMPORT = re.compile(r"^from (?P<module>\S+) import (?P<names>[\w, ]+)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _merge_withs(lines: list[str]) -> list[str]:
    """`with a:` whose whole body is `with b:` becomes `with a, b:`, its body dedented."""
    out, i = [], 0
    while i < len(lines):
        outer = _WITH.match(lines[i])
        inner = _WITH.match(lines[i + 1]) if outer and i + 1 < len(lines) else None
        if outer and inner and _indent(lines[i + 1]) == _indent(lines[i]) + 4:
            end = i + 2
            while end < len(lines) and (
                not lines[end].strip() or _indent(lines[end]) > _indent(lines[i + 1])
            ):
                end += 1
            rest = next((line for line in lines[end:] if line.strip()), "")
            if _indent(rest) <= _indent(lines[i]):  # the inner `with` is the whole body
                merged = f"{outer['indent']}with {outer['items']}, {inner['items']}:"
                lines[i:end] = [merged, *(line[4:] for line in lines[i + 2 : end])]
                continue  # the merged line may take a third `with`
        out.append(lines[i])
        i += 1
    return out


def _order(name: str) -> tuple[int, str]:
    """isort's order of imported names: CONSTANTS, Classes, then the rest."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def _tidy_imports(lines: list[str]) -> list[str]:
    """One-line `from … import` lines without the names nothing else uses, sorted."""
    text = "\n".join(lines)
    out = []
    for line in lines:
        if match := _FROM_IMPORT.match(line):
            names = [n.strip() for n in match["names"].split(",") if n.strip()]
            used = [n for n in names if len(re.findall(rf"\b{n}\b", text)) > 1]
            if not used:
                continue
            line = f"from {match['module']} import {', '.join(sorted(set(used), key=_order))}"
        out.append(line)
    return out


def convert(text: str, source: str = SOURCE.name) -> str:
    """The sync module of the async module `text` (read from the file named `source`)."""
    out = []
    for line in text.splitlines():
        if line.rstrip().endswith("# async only"):
            continue
        if match := _SYNC_AS.match(line):
            out.append(match["indent"] + match["sync"])
        else:
            for name, sync in NAMES:
                line = re.sub(rf"\b{name}", sync, line)
            out.append(line)
    out = _tidy_imports(_merge_withs(out))
    body = re.sub(r"\n{3,}(?=\S)", "\n\n\n", "\n".join(out)).rstrip()
    return HEADER.format(source=source) + body + "\n"


def generated(source: Path, target: Path) -> str:
    """What `target` must hold: the sync module of `source`, through ruff."""
    return _ruff(convert(source.read_text(encoding="utf-8"), source.name), target)


def _ruff(text: str, target: Path) -> str:
    """`text` with its imports sorted and formatted by ruff (the project's settings), as
    psycopg passes its generated twins through its formatter (the testing extra installs ruff)."""
    for command in (["check", "--select", "I", "--fix", "--quiet"], ["format", "--quiet"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--stdin-filename", str(target), "-"],
            input=text, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            sys.exit(f"ruff failed on {target.name} (pip install -e '.[testing]'): {done.stderr}")
        text = done.stdout
    return text


def main() -> int:
    stale = 0
    for source, target in TWINS:
        wanted = generated(source, target)
        if "--check" in sys.argv[1:]:
            if not target.exists() or target.read_text(encoding="utf-8") != wanted:
                print(f"{target} is not up to date: run python tools/async_to_sync.py")
                stale = 1
            continue
        target.write_text(wanted, encoding="utf-8")
        print(f"wrote {target}")
    return stale


if __name__ == "__main__":
    sys.exit(main())
