"""The documentation: a README that fits on a few screens, topic pages in docs/ whose links
resolve, the statement reference generated from sql/queries, and nothing that points at a
development machine or at a package name that is not this one's."""

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

from .helpers import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def _tool() -> Any:
    path = REPO / "tools" / "statements_doc.py"
    spec = importlib.util.spec_from_file_location("statements_doc", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_statement_reference_is_generated_from_the_sql_files() -> None:
    tool = _tool()
    assert (REPO / "docs" / "statements.md").read_text(encoding="utf-8") == tool.render(), (
        "sql/queries changed: run python tools/statements_doc.py"
    )


def test_the_reference_lists_every_public_statement_with_its_parameters(tmp_path: Path) -> None:
    (tmp_path / "things.sql").write_text(
        "-- Statements on things.\n\n"
        "-- name: get_thing :one\n-- One thing | or nothing.\nSELECT * FROM t WHERE id = :id;\n\n"
        "-- name: bump_thing :execrows\n-- Bump it.\nUPDATE t SET n = n + 1 WHERE id = :id;\n"
    )
    (tmp_path / "internal").mkdir()
    (tmp_path / "internal" / "x.sql").write_text("-- name: hidden :one\nSELECT 1;\n")
    text = _tool().render(tmp_path)
    assert "## `things.sql`\n\nStatements on things.\n" in text
    assert "| `get_thing` | `:one` | replica | `id` | One thing \\| or nothing. |" in text
    assert "| `bump_thing` | `:execrows` | primary | `id` | Bump it. |" in text
    assert "hidden" not in text


def test_the_readme_fits_on_a_few_screens() -> None:
    size = len((REPO / "README.md").read_bytes())
    assert size <= 15_500, f"README.md is {size} bytes; move detail into docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_of_a_page_resolves(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for target, _anchor in _LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        assert (page.parent / target).exists(), f"{page.name}: broken link to {target}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_page_names_a_development_machine_or_an_unpublished_package(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"/work/|/home/\w+/|/Users/", text), page.name
    # pagbank-pg is not on PyPI: a plain `pip install pagbank-pg` would fetch whatever
    # someone publishes under that name.
    assert not re.search(r"pip install\s+['\"]?pagbank-pg", text), page.name


def test_numbers_of_measurements_live_in_the_benchmark_report() -> None:
    timings = re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|µs)\b|\b\d+\.\d+x\b")
    for page in PAGES:
        found = timings.findall(page.read_text(encoding="utf-8"))
        assert not found, f"{page.name} quotes measurements {found}: link bench/REPORT.md"
