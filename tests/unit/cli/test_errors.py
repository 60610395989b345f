"""gateway.cli.errors: which exit code and which one line each kind of failure gets."""

from __future__ import annotations

import errno

import httpx
import pytest
from sqlalchemy.exc import ArgumentError, OperationalError

from billing.domain.model import DomainError
from gateway.cli.errors import CliError, ExitCode, describe, one_line


def _operational(message: str) -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception(message))


@pytest.mark.parametrize(
    ("exc", "code", "words"),
    [
        (CliError("no gates", ExitCode.REFUSED), ExitCode.REFUSED, "no gates"),
        (DomainError("balance too low"), ExitCode.REFUSED, "balance too low"),
        (LookupError("no lot X"), ExitCode.REFUSED, "no lot X"),
        (ValueError("bad date 'x'"), ExitCode.USAGE, "bad date"),
        (_operational("connection refused\nDETAIL: more"), ExitCode.DATABASE, "refused"),
        (_operational("no such table: billing_lots"), ExitCode.DATABASE, "db upgrade"),
        (ArgumentError("Could not parse SQLAlchemy URL"), ExitCode.DATABASE, "DATABASE_URL"),
        (ConnectionError("broker refused gw-1: not authorized"), ExitCode.BROKER, "MQTT"),
        (httpx.ConnectError("All connection attempts failed"), ExitCode.SERVICE, "remote"),
        (PermissionError(errno.EACCES, "Permission denied", "/etc/x"), ExitCode.FILE, "/etc/x"),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED, "interrupted"),
        (RuntimeError("boom"), ExitCode.INTERNAL, "RuntimeError: boom"),
    ],
)
def test_each_failure_has_its_code_and_one_line(
    exc: BaseException, code: ExitCode, words: str
) -> None:
    failure = describe(exc)
    assert failure.code == code
    assert words in failure.message and "\n" not in failure.line
    assert failure.line.startswith("error: ")


def test_a_long_message_is_cut_to_its_first_line() -> None:
    assert one_line("first\nsecond") == "first"
    assert len(one_line("x" * 1000)) == 300
