"""Files that hold customer data are private (0600, folders 0700), are never written through
a link planted at their path, and are not left half-written."""

import os
import pwd
import stat
from pathlib import Path

import psycopg
import pytest

from pagbank_pg import PrivateFileError
from pagbank_pg.private import atomic_private_file, private_file, scratch_folder

from .agno_files import hostile_files
from .helpers import run


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> object:
    """A umask that would leave files world-readable."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def seed(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO user_memories (user_id, memory, memory_tags) VALUES ('u-1', 'x', '{}')"
        )


def test_the_reject_file_is_private_and_never_followed(db_dsn: str, tmp_path: Path) -> None:
    folder = hostile_files(tmp_path / "hostile")
    reject_file = tmp_path / "rejects.jsonl"
    run("import-sqlite", str(folder), "--dsn", db_dsn, "--reject-file", str(reject_file))
    assert mode(reject_file) == 0o600
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    planted = tmp_path / "planted.jsonl"
    planted.symlink_to(target)
    code, _, err = run("import-sqlite", str(folder), "--dsn", db_dsn, "--reject-file", str(planted))
    assert code == 1 and "is a symbolic link" in err and "Traceback" not in err
    assert target.read_text() == "precious\n"


def test_export_user_writes_a_private_file_atomically(db_dsn: str, tmp_path: Path) -> None:
    seed(db_dsn)
    out = tmp_path / "u-1.json"
    code, _, err = run("export-user", "u-1", "--dsn", db_dsn, "--out", str(out))
    assert code == 0, err
    assert mode(out) == 0o600 and not (tmp_path / "u-1.json.partial").exists()
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    (tmp_path / "u-1.json.partial").symlink_to(target)  # a link planted at the partial path
    code, _, err = run("export-user", "u-1", "--dsn", db_dsn, "--out", str(out))
    assert code == 0, err
    assert target.read_text() == "precious\n" and mode(out) == 0o600


def test_a_failed_export_user_leaves_no_partial_file(db_dsn: str, tmp_path: Path) -> None:
    out = tmp_path / "missing-folder" / "u-1.json"
    code, _, err = run("export-user", "u-1", "--dsn", db_dsn, "--out", str(out))
    assert code == 1 and "cannot write" in err and "Traceback" not in err
    assert not out.parent.exists()


def test_export_sqlite_files_and_scratch_folder_are_private(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    run("import-sqlite", str(agno_data), "--dsn", db_dsn)
    out = tmp_path / "out"
    code, _, err = run("export-sqlite", str(out), "--dsn", db_dsn)
    assert code == 0, err
    files = sorted(out.iterdir())
    assert files and all(mode(f) == 0o600 for f in files)
    assert mode(out) == 0o700


def test_a_link_planted_as_the_scratch_folder_is_never_followed(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    run("import-sqlite", str(agno_data), "--dsn", db_dsn)
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / ".pagbank-pg-export.partial").symlink_to(elsewhere)
    code, _, err = run("export-sqlite", str(out), "--dsn", db_dsn)
    assert code == 0, err
    assert list(elsewhere.iterdir()) == [] and (out / "pagbank.db").is_file()


def test_the_helpers_refuse_links_and_tighten_what_exists(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.write_text("x")
    loose.chmod(0o644)
    with private_file(loose) as file:
        file.write(b"y")
    assert mode(loose) == 0o600 and loose.read_bytes() == b"y"
    made = scratch_folder(tmp_path, ".scratch.")
    assert mode(made) == 0o700 and made.name.startswith(".scratch.")
    link = tmp_path / "link"
    link.symlink_to(loose)
    with pytest.raises(PrivateFileError, match="symbolic link"):
        private_file(link)
    with pytest.raises(RuntimeError), atomic_private_file(tmp_path / "half.json") as file:
        file.write(b"half")
        raise RuntimeError
    assert not (tmp_path / "half.json").exists()
    assert not (tmp_path / "half.json.partial").exists()


def planted_by_another_user(path: Path, folder: bool = False) -> int:
    """`path` made by "another user" (nobody when this runs as root), open to everyone, and
    opened by that user before the run: the descriptor it keeps (a file's) is returned."""
    if folder:
        path.mkdir()
        path.chmod(0o777)
    else:
        path.write_bytes(b"")
        path.chmod(0o666)
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    return -1 if folder else os.open(path, os.O_RDONLY)


def test_a_reject_file_planted_by_another_user_never_gets_the_rows(
    db_dsn: str, tmp_path: Path
) -> None:
    folder = hostile_files(tmp_path / "hostile")
    shared = tmp_path / "shared"
    shared.mkdir()
    reject_file = shared / "rejects.jsonl"
    kept = planted_by_another_user(reject_file)
    try:
        code, _, err = run("import-sqlite", str(folder), "--dsn", db_dsn,
                           "--reject-file", str(reject_file))  # fmt: skip
        assert code == 1 and "4 row(s) rejected" in err
        assert os.read(kept, 1 << 20) == b""  # what the other user holds got nothing
    finally:
        os.close(kept)
    status = os.lstat(reject_file)
    assert (status.st_uid, mode(reject_file)) == (os.geteuid(), 0o600)
    assert b"too-deep" in reject_file.read_bytes()
    assert sorted(p.name for p in shared.iterdir()) == ["rejects.jsonl"]


def test_an_export_never_writes_into_a_scratch_folder_another_user_planted(
    db_dsn: str, agno_data: Path, tmp_path: Path
) -> None:
    from pagbank_pg.transfer.exporter import export_sqlite

    run("import-sqlite", str(agno_data), "--dsn", db_dsn)
    out = tmp_path / "out"
    out.mkdir()
    planted = out / ".pagbank-pg-export.partial"
    planted_by_another_user(planted, folder=True)
    seen: list[list[str]] = []
    export = export_sqlite(
        db_dsn, out, progress=lambda *_: seen.append(sorted(p.name for p in planted.iterdir()))
    )
    assert export.rejected == [] and len(seen) >= 4
    assert all(names == [] for names in seen)  # nothing of the export ever went in there
    assert planted.is_dir() and list(planted.iterdir()) == []
    files = sorted(p.name for p in out.iterdir() if p != planted)
    assert "pagbank.db" in files and all(f.endswith(".db") for f in files)
    assert all(os.lstat(out / f).st_uid == os.geteuid() and mode(out / f) == 0o600 for f in files)
