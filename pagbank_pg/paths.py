"""Where the SQL files are: the one place that knows it.

An installed wheel carries them inside the package (`pagbank_pg/sql`, force-included at build
time); a source checkout (or an editable install) has them at the top of the repository.
"""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
SQL_DIR = _PACKAGE / "sql" if (_PACKAGE / "sql").is_dir() else _PACKAGE.parent / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
QUERIES_DIR = SQL_DIR / "queries"
