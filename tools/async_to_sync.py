"""Write `pagbank_pg/query/database.py` from its twin `database_async.py`, so the two never drift.

The sync module is the async one without `async`/`await` and with the sync names of psycopg's
classes (the way psycopg_pool keeps its twins). A line may say how it reads in sync:
`code  # sync: other code` becomes `other code` (same indentation), and a line ending in
`# async only` is left out.

Usage: python tools/async_to_sync.py [--check]
"""

import re
import sys
from pathlib import Path

QUERY = Path(__file__).resolve().parent.parent / "pagbank_pg" / "query"
SOURCE, TARGET = QUERY / "database_async.py", QUERY / "database.py"
HEADER = "# Generated from database_async.py by tools/async_to_sync.py: do not edit.\n"

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
]
_SYNC_AS = re.compile(r"^(?P<indent>\s*).*?\s*# sync: (?P<sync>.*)$")


def convert(text: str) -> str:
    """The sync module of the async module `text`."""
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
    return HEADER + re.sub(r"\n{3,}(?=\S)", "\n\n\n", "\n".join(out)).rstrip() + "\n"


def main() -> int:
    wanted = convert(SOURCE.read_text(encoding="utf-8"))
    if "--check" in sys.argv[1:]:
        if TARGET.read_text(encoding="utf-8") != wanted:
            print(f"{TARGET} is not up to date: run python tools/async_to_sync.py")
            return 1
        return 0
    TARGET.write_text(wanted, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
