"""The loader and the placeholder compiler: pure, no server."""

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pagbank_pg import QueryArgumentError, QueryLoadError, load_queries
from pagbank_pg.query.loader import compile_sql, parse_queries

HERE = Path(__file__).parent


@pytest.mark.parametrize(
    ("sql", "compiled", "params"),
    [
        ("SELECT :a", "SELECT %(a)s", ("a",)),
        ("VALUES (:a,:b)", "VALUES (%(a)s,%(b)s)", ("a", "b")),
        ("SELECT :a::jsonb", "SELECT %(a)s::jsonb", ("a",)),
        ("f(:a)", "f(%(a)s)", ("a",)),
        ("SELECT x::int", "SELECT x::int", ()),
        ("SELECT 'it''s :no'", "SELECT 'it''s :no'", ()),
        ("SELECT E'\\' :no'", "SELECT E'\\' :no'", ()),
        ('SELECT "a:no"', 'SELECT "a:no"', ()),
        ("SELECT 1 -- :no\n, :a", "SELECT 1 -- :no\n, %(a)s", ("a",)),
        ("/* :no /* :no */ :no */ :a", "/* :no /* :no */ :no */ %(a)s", ("a",)),
        ("$$ :no $$ :a", "$$ :no $$ %(a)s", ("a",)),
        ("$f$ :no $$ :no $f$", "$f$ :no $$ :no $f$", ()),
        ("SELECT 5 % 2, 'a%'", "SELECT 5 %% 2, 'a%%'", ()),
        ("SELECT a[1:2], a[lo:hi]", "SELECT a[1:2], a[lo:hi]", ()),
        ("SELECT :a, :a", "SELECT %(a)s, %(a)s", ("a",)),
        ("SELECT 1;  -- done", "SELECT 1;  -- done", ()),
    ],
)
def test_compile_examples(sql: str, compiled: str, params: tuple[str, ...]) -> None:
    result = compile_sql(sql)
    assert (result.sql, result.params) == (compiled, params)


def test_json_params_are_those_cast_to_json() -> None:
    result = compile_sql("SELECT :a::jsonb, :b :: JSON, :c::text, :d")
    assert result.json_params == {"a", "b"}


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT 'open", "unterminated '"),
        ('SELECT "open', 'unterminated "'),
        ("SELECT /* open", "unterminated /* comment"),
        ("SELECT $$ open", "unterminated $$ body"),
        ("SELECT 1; SELECT 2", "more than one statement"),
    ],
)
def test_compile_rejects(sql: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("$", r"\$").replace("*", r"\*")):
        compile_sql(sql)


# Pieces of SQL the compiler must copy as they are, and placeholders it must find.
_inert_text = st.text(alphabet="abc :%$'\"-*/\\[]1", max_size=12)
_inert = st.one_of(
    _inert_text.map(lambda t: "'" + t.replace("'", "''") + "'"),
    _inert_text.map(lambda t: '"' + t.replace('"', '""') + '"'),
    _inert_text.filter(lambda t: "\n" not in t).map(lambda t: "-- " + t + "\n"),
    _inert_text.filter(lambda t: "*/" not in t and "/*" not in t and not t.endswith("/")).map(
        lambda t: "/* " + t + " */"
    ),
    _inert_text.filter(lambda t: "$q$" not in t and not t.endswith("$")).map(
        lambda t: "$q$" + t + "$q$"
    ),
    st.sampled_from(["x::int", "a[1:2]", "5 % 2", " ", "(", ")", ",", "SELECT", "\n"]),
)
_names = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)


@given(st.lists(st.one_of(_inert, _names.map(lambda n: ("param", n))), max_size=12))
def test_compile_finds_exactly_the_placeholders(pieces: list[object]) -> None:
    sql = " ".join(f":{p[1]}" if isinstance(p, tuple) else str(p) for p in pieces)
    expected = " ".join(
        f"%({p[1]})s" if isinstance(p, tuple) else str(p).replace("%", "%%") for p in pieces
    )
    names = [p[1] for p in pieces if isinstance(p, tuple)]
    result = compile_sql(sql)
    assert result.sql == expected
    assert result.params == tuple(dict.fromkeys(names))


def test_load_the_package_queries_and_describe_them() -> None:
    queries = load_queries()
    query = queries["touch_user_session"]
    assert query.kind == "one"
    assert query.params == ("context", "session_id")
    assert query.compiled.json_params == {"context"}
    assert query.doc.startswith("Record one interaction")
    assert query.file.endswith("user_sessions.sql") and query.line > 1


def test_load_a_folder_of_test_queries() -> None:
    queries = load_queries(HERE / "queries")
    assert {q.kind for q in queries.values()} == {"one", "many", "scalar", "exec", "execrows"}
    assert queries["tricky"].params == ("yes",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "-- name: a :one\nSELECT 1;\n-- name: a :many\nSELECT 2;",
            "f.sql:3: duplicate query name 'a', first defined at f.sql:1",
        ),
        ("-- name: a :first\nSELECT 1;", "f.sql:1: query a has kind ':first'"),
        ("-- name: a\nSELECT 1;", "f.sql:1: query a has kind None"),
        ("-- name: a :one\n-- only a doc\n", "f.sql:1: query a has no SQL"),
        ("\n\n-- name: GetIt :one\nSELECT 1;", "f.sql:3: query name 'GetIt' is not snake_case"),
        ("-- name: a :one\nSELECT 'x", "f.sql:1: query a: unterminated '"),
        (
            "SELECT 0;\n-- name: a :one\nSELECT 1;",
            "f.sql:1: SQL before the first '-- name:' header",
        ),
    ],
)
def test_loading_fails_loudly_with_file_and_line(text: str, message: str, tmp_path: Path) -> None:
    file = tmp_path / "f.sql"
    file.write_text(text)
    with pytest.raises(QueryLoadError) as raised:
        load_queries(tmp_path)
    assert str(raised.value).replace(f"{tmp_path}/", "").startswith(message)


def test_loading_a_missing_folder() -> None:
    with pytest.raises(QueryLoadError, match="no such file or folder"):
        load_queries("/nonexistent/queries")


def test_bind_names_the_query_the_parameter_and_the_place() -> None:
    (query,) = parse_queries("-- name: q :one\nSELECT :a, :b", "f.sql")
    with pytest.raises(QueryArgumentError) as raised:
        query.bind({"a": 1, "c": 2})
    assert str(raised.value) == (
        "query q (f.sql:1): missing parameter 'b'; unknown parameter 'c' (it takes: a, b)"
    )


def test_importing_the_package_reads_no_sql_file() -> None:
    code = (
        "import pagbank_pg, pagbank_pg.cli, pagbank_pg.health\n"
        "from pagbank_pg.query.loader import _package_queries, internal_queries\n"
        "print(internal_queries.cache_info().currsize, _package_queries.cache_info().currsize)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "0 0\n"
