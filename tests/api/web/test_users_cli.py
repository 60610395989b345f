"""``parking users create/list/grant`` against a migrated database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway import migrate
from gateway.cli import app
from gateway.settings import get_settings


@pytest.fixture()
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{(tmp_path / 'cli.db').as_posix()}"
    migrate.upgrade(url, "gateway@head")
    monkeypatch.setenv("PARKING_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps table cells to the terminal width
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_create_grant_list(cli_db: str) -> None:
    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "users",
            "create",
            "ha",
            "--role",
            "operator",
            "--password",
            "mật khẩu dài",
            "--name",
            "Hà",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "created operator ha" in r.output
    r = runner.invoke(app, ["users", "grant", "ha", "--lot", "hn-hoankiem-01"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        ["users", "create", "an", "--role", "driver", "--password", "12345678", "--account", "7"],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "list"])
    assert r.exit_code == 0
    assert "hn-hoankiem-01" in r.output and "driver" in r.output and "7" in r.output


@pytest.mark.parametrize(
    "args",
    [
        ["users", "create", "x", "--role", "king", "--password", "12345678"],
        ["users", "create", "x", "--role", "driver", "--password", "12345678"],
        ["users", "create", "x", "--role", "admin", "--password", "short"],
        ["users", "grant", "ghost", "--lot", "L"],
        ["users", "grant", "ghost"],
    ],
)
def test_bad_commands_fail_with_a_message(cli_db: str, args: list[str]) -> None:
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1
    assert "error:" in r.output
