"""Every failure of the real ``parking`` command is one line on stderr with an exit code that
says what failed (gateway/cli/errors.py), never a traceback: bad input, a database that is down
or misconfigured or not migrated, a file that cannot be written, an endless input file."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from billing.services.seed import CENTRAL_LOT
from gateway.broker import free_port
from gateway.cli.errors import ExitCode
from tests.integration.cli.test_mqtt_config import _database

pytestmark = pytest.mark.integration

PARKING = str(Path(sys.executable).parent / "parking")


def run(url: str, *args: str, memory_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # in the child: a bounded address space, so reading "all" fails fast
        if memory_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    env = {k: v for k, v in os.environ.items() if k != "PARKING_DEBUG"}
    return subprocess.run(
        [PARKING, *args],
        env={**env, "PARKING_DATABASE_URL": url, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )


def one_line_error(done: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """The single stderr line of a failed run, checked for its exit code and its words."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == code, (done.returncode, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _database(tmp_path_factory.mktemp("cli-errors"))


def test_a_policy_value_that_is_not_a_number(url: str) -> None:
    done = run(url, "lots", "policy", CENTRAL_LOT, "min_plate_confidence=abc")
    one_line_error(done, ExitCode.REFUSED, "min_plate_confidence", "not a number")
    done = run(url, "lots", "policy", CENTRAL_LOT, "duplicate_window_s=1.5")
    one_line_error(done, ExitCode.REFUSED, "duplicate_window_s", "whole number")
    assert run(url, "lots", "policy", CENTRAL_LOT, "min_plate_confidence=0.9").returncode == 0


def test_bad_usage_and_unparsable_values(url: str) -> None:
    one_line_error(run(url, "accounts", "show", "abc"), ExitCode.USAGE, "account_id")
    one_line_error(run(url, "--no-such-option"), ExitCode.USAGE, "--no-such-option")
    one_line_error(run(url, "reconcile", "--date", "23/11/2026"), ExitCode.USAGE, "23/11/2026")
    one_line_error(run(url, "accounts", "show", "999"), ExitCode.REFUSED, "no account 999")


def test_mqtt_config_into_a_directory_that_cannot_exist(url: str) -> None:
    done = run(url, "mqtt", "config", "--out", "/proc/nope")
    one_line_error(done, ExitCode.FILE, "/proc/nope")


@pytest.mark.parametrize(
    "args",
    [
        ("accounts", "list"),
        ("reconcile", "--date", "2026-11-23"),
        ("mqtt", "config", "--out", "unused"),
        ("db", "upgrade"),
        ("users", "list"),
    ],
)
def test_any_command_while_the_database_is_down(args: tuple[str, ...], tmp_path: Path) -> None:
    down = f"postgresql+psycopg://postgres:s3cret@127.0.0.1:{free_port()}/parking"
    line = one_line_error(run(down, *args), ExitCode.DATABASE, "database", "refused")
    assert "s3cret" not in line  # the password never reaches the screen


def test_a_database_url_that_is_garbage() -> None:
    for args in (("accounts", "list"), ("db", "upgrade")):
        one_line_error(run("garbage", *args), ExitCode.DATABASE, "PARKING_DATABASE_URL")


def test_a_database_without_the_schema_says_to_upgrade(tmp_path: Path) -> None:
    empty = f"sqlite:///{(tmp_path / 'empty.db').as_posix()}"
    one_line_error(run(empty, "accounts", "list"), ExitCode.DATABASE, "parking db upgrade")


def test_einvoice_verify_reads_no_more_than_its_limit(url: str) -> None:
    """/dev/zero never ends: the command must stop at the 8 MiB limit + 1 byte, not read until
    the memory runs out (it did, then raised MemoryError)."""
    done = run(url, "einvoice", "verify", "/dev/zero", memory_bytes=3 * 1024**3)
    assert done.returncode == ExitCode.REFUSED, done.stderr
    assert "too large" in done.stdout and "Traceback" not in done.stderr
