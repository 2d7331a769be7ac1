"""Editors and mypy know the package's query names, parameters and results."""

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

import pagbank_pg.query.types
from pagbank_pg.cli import main
from pagbank_pg.query.stubs import render_package

from .helpers import REPO


def _mypy(folder: Path, code: str) -> subprocess.CompletedProcess[str]:
    """mypy --strict run on `code`, written to use.py in `folder`."""
    (folder / "use.py").write_text(code)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "use.py"],
        capture_output=True,
        text=True,
        cwd=folder,
        check=False,
    )


def test_query_types_are_up_to_date_with_the_sql() -> None:
    generated = Path(pagbank_pg.query.types.__file__).read_text(encoding="utf-8")
    assert generated == render_package(), (
        "sql/queries changed: run pagbank-pg stubs --package --out pagbank_pg/query/types.py"
    )


def test_stubs_command_types_a_folder_of_queries(tmp_path: Path) -> None:
    out = tmp_path / "my_queries.py"
    result = CliRunner().invoke(
        main, ["stubs", "--queries", str(REPO / "tests" / "queries"), "--out", str(out)]
    )
    assert result.exit_code == 0 and result.stdout == f"wrote {out}\n"
    text = out.read_text()
    assert "class Queries(Protocol):" in text and "class AsyncQueries(Protocol):" in text
    assert "def __call__(self, *, user_id: Any) -> int: ..." in text  # forget :execrows
    assert "async def __call__(self, *, user_id: Any) -> list[dict[str, Any]]: ..." in text


def test_mypy_flags_unknown_names_and_missing_parameters(tmp_path: Path) -> None:
    done = _mypy(
        tmp_path,
        "from pagbank_pg import AsyncDatabase, Database\n"
        "def f(db: Database) -> None:\n"
        "    reveal_type(db.queries.get_user_session(session_id='s'))\n"
        "    db.queries.get_user_sesion(session_id='s')\n"
        "    db.queries.touch_user_session(session_id='s')\n"
        "    with db.transaction() as tx:\n"
        "        reveal_type(tx.queries.get_user_session.stream(session_id='s'))\n"
        "async def g(db: AsyncDatabase) -> None:\n"
        "    reveal_type(await db.queries.touch_user_session(session_id='s', context={}))\n"
        "def h(db: Database) -> None:\n"
        "    row = db.queries.get_user_session(session_id='s')\n"
        "    assert row is not None\n"
        "    reveal_type(row['interaction_count'])\n"
        "    row['interaction_cont']\n",
    )
    by_line: dict[int, str] = {}
    for line in done.stdout.splitlines():
        if line.startswith("use.py:"):
            number, message = line.split(":", 2)[1:]
            by_line[int(number)] = by_line.get(int(number), "") + message
    assert 'Revealed type is "TypedDict(pagbank_pg.query.rows.UserSessionRow, ' in by_line[3]
    assert by_line[3].endswith('}) | None"')
    assert 'error: "PackageQueries" has no attribute "get_user_sesion"' in by_line[4]
    assert 'error: Missing named argument "context"' in by_line[5]
    assert "Iterator[" in by_line[7]
    assert by_line[9].endswith('}) | None"') and "UserSessionRow" in by_line[9]
    assert by_line[13].endswith('Revealed type is "int | None"')
    assert 'TypedDict "UserSessionRow" has no key "interaction_cont"' in by_line[14]
    assert "Found 3 errors in 1 file" in done.stdout, done.stdout


def test_mypy_knows_what_each_kind_supports_and_the_areas(tmp_path: Path) -> None:
    done = _mypy(
        tmp_path,
        "from pagbank_pg import Database\n"
        "from pagbank_pg.query.types import schema_queries\n"
        "def f(db: Database) -> None:\n"
        "    with db.transaction() as tx:\n"
        "        tx.queries.delete_agent_session.stream(session_id='s', agent_id='a')\n"
        "    reveal_type(schema_queries(db).table_exists(table_name='t'))\n"
        "    schema_queries(db).table_exist(table_name='t')\n"
        "    db.queries.table_exists(table_name='t')\n",
    )
    errors = [line for line in done.stdout.splitlines() if line.startswith("use.py:")]
    assert errors == [
        'use.py:5: error: "_DeleteAgentSession" has no attribute "stream"  [attr-defined]',
        'use.py:6: note: Revealed type is "Any"',
        'use.py:7: error: "SchemaQueries" has no attribute "table_exist"; '
        'maybe "table_exists"?  [attr-defined]',
        'use.py:8: error: "PackageQueries" has no attribute "table_exists"  [attr-defined]',
    ], done.stdout
