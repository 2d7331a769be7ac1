"""Write docs/statements.md, the reference of the app's named statements, from sql/queries.

Run `python tools/statements_doc.py` after editing sql/queries; `--check` exits 1 when the page
is out of date (a test does the same).
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pagbank_pg.config import QUERIES_DIR  # noqa: E402
from pagbank_pg.query.loader import parse_queries  # noqa: E402

TARGET = REPO / "docs" / "statements.md"

HEADER = """# The app's statements, by table

Generated from `sql/queries/*.sql` by `python tools/statements_doc.py`: do not edit (a test
fails when this page and the SQL files differ).

Everything the agent app does with its data is a named statement in `sql/queries/`, atomic in
SQL (single statements, `ON CONFLICT`, `jsonb ||`, array operators; no read-modify-write in
Python), served by the plan's indexes (a test EXPLAINs each one), with timestamps set by the
database. Bad input raises `QueryArgumentError` or `QueryError` and changes nothing.

Call one as `db.queries.<name>(...)`, keyword arguments only, exactly the parameters listed;
with an `AsyncDatabase` put `await` in front. Kinds: `:one` (a dict or None), `:many` (a list
of dicts), `:scalar` (first column of the first row, or None), `:exec` (None), `:execrows` (the
affected row count). Route: `replica` statements only read and may be served by a read
replica (see [deployment](deployment.md)); the others always run on the primary. Paging is
by keyset: pass the `created_at` and `id` of the last row of a page to get the next one.

The sub-folders of `sql/queries/` (transfer, agno, schema, topology, …) hold the statements of
the importer and exporter, the Agno integration and the schema checks: internal, not in
`db.queries`.
"""


def _preamble(text: str) -> str:
    """The comment lines at the top of a file, before its first statement, as one paragraph."""
    lines = []
    for line in text.splitlines():
        if line.startswith("-- name:"):
            break
        if line.startswith("--"):
            lines.append(line[2:].strip())
    return " ".join(line for line in lines if line)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render(queries_dir: Path = QUERIES_DIR) -> str:
    """The whole page, from the `.sql` files directly in `queries_dir`."""
    parts = [HEADER]
    for file in sorted(queries_dir.glob("*.sql")):
        text = file.read_text(encoding="utf-8")
        parts.append(f"## `{file.name}`\n")
        preamble = _preamble(text)
        if preamble:
            parts.append(f"{preamble}\n")
        parts.append("| statement | kind | route | parameters | what |\n|---|---|---|---|---|")
        for query in parse_queries(text, file.name):
            params = ", ".join(f"`{p}`" for p in query.params) or "none"
            parts.append(
                f"| `{query.name}` | `:{query.kind}` | {query.route} | {params} | "
                f"{_cell(query.doc)} |"
            )
        parts.append("")
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.is_file() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET.relative_to(REPO)} is out of date: run python tools/statements_doc.py")
            return 1
        return 0
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
