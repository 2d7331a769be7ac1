"""Every command and every option of `pagbank-pg` says what it does, and `--version` says
which version this is."""

from importlib.metadata import version

import click
import pytest
from click.testing import CliRunner

from pagbank_pg.cli import main


def _commands(
    group: click.Group, path: tuple[str, ...] = ("pagbank-pg",)
) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = [(path, group)]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


COMMANDS = _commands(main)


def test_the_tree_is_walked() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"pagbank-pg migrate", "pagbank-pg import-sqlite", "pagbank-pg server stop"} <= names


@pytest.mark.parametrize(
    "path,command", COMMANDS, ids=[" ".join(p[1:]) or "main" for p, _ in COMMANDS]
)
def test_every_command_and_option_has_help(path: tuple[str, ...], command: click.Command) -> None:
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
    undocumented = [
        "/".join(param.opts)
        for param in command.params
        if isinstance(param, click.Option) and not (param.help or "").strip()
    ]
    assert not undocumented, f"{' '.join(path)}: options without help: {undocumented}"
    shown = CliRunner().invoke(main, [*path[1:], "--help"])
    assert shown.exit_code == 0 and "Usage: " in shown.output


def test_version() -> None:
    shown = CliRunner().invoke(main, ["--version"], prog_name="pagbank-pg")
    assert (shown.exit_code, shown.output) == (0, f"pagbank-pg {version('pagbank-pg')}\n")
