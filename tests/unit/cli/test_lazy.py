"""Lazily imported command groups: a missing extra is named, a missing project module is not
mistaken for one."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gateway.cli import ParkingGroup, app
from gateway.cli.errors import ExitCode
from gateway.cli.lazy import Lazy, missing_extra


def test_the_extra_of_a_missing_module() -> None:
    assert missing_extra(ModuleNotFoundError(name="cryptography.x509")) == "einvoice"
    assert missing_extra(ModuleNotFoundError(name="cv2")) == "lpr"
    assert missing_extra(ModuleNotFoundError(name="paho.mqtt")) == "gateway"
    assert missing_extra(ModuleNotFoundError(name="somelib")) == "all"
    assert missing_extra(ModuleNotFoundError(name="cv2"), "simulator") == "simulator"


def test_a_missing_module_of_the_project_is_a_bug_not_an_extra() -> None:
    assert missing_extra(ModuleNotFoundError(name="einvoice.nothing")) is None
    with pytest.raises(ModuleNotFoundError):
        Lazy("gateway.cli.no_such_module:app", "gateway", "x").load("x")


def test_a_missing_extra_becomes_a_command_that_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    lazy = Lazy("no_such_extra_module.cli:app", "lpr", "Plate reading, elsewhere.")
    monkeypatch.setitem(ParkingGroup.lazy, "elsewhere", lazy)
    result = CliRunner().invoke(app, ["elsewhere", "read", "x.jpg"])
    assert result.exit_code == ExitCode.MISSING_EXTRA
    assert "pip install 'parking[lpr]'" in result.output
    assert "no_such_extra_module" in result.output


def test_lazy_groups_are_listed_and_run_as_groups() -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["--help"])
    assert listed.exit_code == 0
    for name in ("users", "lpr", "einvoice", "tax-authority", "mqtt", "db"):
        assert name in listed.output
    # lpr has a single command; it stays a group, as `parking lpr read` promises.
    assert "read" in runner.invoke(app, ["lpr", "--help"]).output
