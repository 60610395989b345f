"""``parking tax-authority register-seller / sellers / errors``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from simulator.cli import app


def test_register_and_list_sellers(tmp_path: Path) -> None:
    db = str(tmp_path / "ta.db")
    runner = CliRunner()
    done = runner.invoke(
        app,
        [
            "register-seller",
            "0101234567",
            "Bãi xe A",
            "--code",
            "41849",
            "--series",
            "1/C??MPK",
            "--db",
            db,
        ],
    )
    assert done.exit_code == 0, done.output
    listed = runner.invoke(app, ["sellers", "--db", db])
    assert "0101234567\t41849\t1/C??MPK\tBãi xe A" in listed.output
    clash = runner.invoke(
        app, ["register-seller", "0109999999", "Bãi xe B", "--code", "41849", "--db", db]
    )
    assert clash.exit_code == 2
    assert "belongs to 0101234567" in clash.output


def test_errors_table() -> None:
    result = CliRunner().invoke(app, ["errors"])
    assert result.exit_code == 0
    assert "| E107 | NUMBER_NOT_ASCENDING |" in result.output
