"""What a failed ``parking`` command tells its user: one line on stderr and an exit code that
says what failed.

Commands do not print their own errors: they raise, and the ``parking`` group
(:class:`gateway.cli.ParkingGroup`) hands whatever escapes to :func:`describe` once, for every
command. A database that is down used to end in a 160-line traceback; a script calling
``parking`` needs the exit code to tell "the database is down" (retry later) from "you typed it
wrong" (do not). A traceback is printed only when ``PARKING_DEBUG`` is set.

Exit codes (also in README.md):

==  ========================================================================================
0   done
1   the command ran and said no: a business rule refused it, an id does not exist, or a
    check found problems (``parking reconcile`` mismatches, an invalid invoice signature)
2   bad usage or input: an unknown option, a value that does not parse
3   the database: unreachable, ``PARKING_DATABASE_URL`` malformed, or the schema missing or
    old (``parking db upgrade``)
4   the MQTT broker: unreachable or refusing the credentials
5   a file or directory: cannot be read or written
6   optional dependencies missing: the message names the ``pip install 'parking[...]'``
7   a remote service (tax authority, payment provider) unreachable or failing
70  an unexpected error (a bug): the message names it; ``PARKING_DEBUG=1`` shows the traceback
130 interrupted (Ctrl-C)
==  ========================================================================================
"""

from __future__ import annotations

import errno
import importlib
import os
import traceback
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from billing.domain.model import DomainError
from gateway.cli.lazy import install_hint, missing_extra


def _click_classes(name: str) -> tuple[type[Exception], ...]:
    """Click's exception class ``name`` in every copy in use: Typer ships its own copy of click
    (``typer._click``, with Abort in ``typer.exceptions``) in recent versions and raises its
    exceptions; a command may still raise the click package's. That package may be missing: a
    gate box (``parking[edge]``) with such a Typer has no click installed."""
    found: list[type[Exception]] = []
    for module in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and cls not in found:
            found.append(cls)
    return tuple(found)


CLICK_ERRORS = _click_classes("ClickException")
CLICK_ABORTS = _click_classes("Abort")
_USAGE_ERRORS = _click_classes("UsageError")


class ExitCode(IntEnum):
    OK = 0
    REFUSED = 1
    USAGE = 2
    DATABASE = 3
    BROKER = 4
    FILE = 5
    MISSING_EXTRA = 6
    SERVICE = 7
    INTERNAL = 70
    INTERRUPTED = 130


class CliError(Exception):
    """A failure a command can name itself: ``raise CliError("no gates", ExitCode.REFUSED)``."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Failure:
    code: ExitCode
    message: str  # one line, without the "error: " prefix; empty: nothing more to say

    @property
    def line(self) -> str:
        return f"error: {self.message}"


# Where an exception's class comes from says which outside party failed.
_DATABASE_MODULES = frozenset({"sqlalchemy", "psycopg", "psycopg2", "sqlite3", "alembic"})
_BROKER_MODULES = frozenset({"paho", "amqtt"})
_SERVICE_MODULES = frozenset({"httpx", "httpcore", "h11"})
_CONNECTION_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}
)


def one_line(text: object, limit: int = 300) -> str:
    """The first non-empty line of ``text``, shortened: a message must not span the screen."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


def describe(exc: BaseException, command: str = "parking", extra: str | None = None) -> Failure:
    """The exit code and the one line to print for ``exc`` escaping ``command`` (whose
    optional dependencies are the extra ``extra``, when it needs one)."""
    if isinstance(exc, CliError):
        return Failure(exc.code, one_line(exc))
    if isinstance(exc, (KeyboardInterrupt, *CLICK_ABORTS)):
        return Failure(ExitCode.INTERRUPTED, "interrupted")
    if type(exc).__name__ == "NoArgsIsHelpError":  # the help was printed already
        return Failure(ExitCode.USAGE, "")
    if isinstance(exc, CLICK_ERRORS):
        return _usage(exc)
    if isinstance(exc, ModuleNotFoundError):
        needed = missing_extra(exc, extra)
        if needed is not None:
            return Failure(ExitCode.MISSING_EXTRA, install_hint(command, needed, exc))
    database = _database(exc)
    if database is not None:
        return database
    origin = _origins(exc)
    if origin & _BROKER_MODULES or _mentions_broker(exc):
        return Failure(ExitCode.BROKER, f"MQTT broker: {_reason(exc)}")
    if origin & _SERVICE_MODULES:
        return Failure(ExitCode.SERVICE, f"remote service: {_reason(exc)}")
    if isinstance(exc, OSError):
        return _os_error(exc)
    name = type(exc).__name__
    if isinstance(exc, DomainError):
        return Failure(ExitCode.REFUSED, one_line(exc))
    if isinstance(exc, LookupError):
        return Failure(ExitCode.REFUSED, one_line(exc.args[0] if exc.args else name))
    if isinstance(exc, ValueError):
        return Failure(ExitCode.USAGE, one_line(exc) or name)
    return Failure(
        ExitCode.INTERNAL,
        f"unexpected {name}: {one_line(exc)} (a bug; PARKING_DEBUG=1 shows the traceback)",
    )


def debug_enabled() -> bool:
    return os.environ.get("PARKING_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def traceback_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def _usage(exc: Any) -> Failure:
    message = one_line(exc.format_message())
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, _USAGE_ERRORS) and ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    code = exc.exit_code if exc.exit_code in (1, 2) else ExitCode.USAGE
    return Failure(ExitCode(code), message)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _origins(exc: BaseException) -> set[str]:
    """Top-level packages of the exception classes in ``exc``'s chain."""
    return {type(e).__module__.split(".")[0] for e in _chain(exc)}


def _mentions_broker(exc: BaseException) -> bool:
    """The gateway's own MQTT code raises ConnectionError naming the broker."""
    return isinstance(exc, ConnectionError) and "broker" in str(exc).lower()


def _reason(exc: BaseException) -> str:
    for e in _chain(exc):
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
    return one_line(exc) or type(exc).__name__


def _database(exc: BaseException) -> Failure | None:
    chain = _chain(exc)
    if not {type(e).__module__.split(".")[0] for e in chain} & _DATABASE_MODULES:
        return None
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain).lower()
    url = _database_url()
    if names & {"ArgumentError", "NoSuchModuleError"} and "url" in text:
        return Failure(
            ExitCode.DATABASE,
            f"PARKING_DATABASE_URL is not a database URL ({one_line(exc)})",
        )
    if (
        "no such table" in text
        or "undefinedtable" in text.replace(" ", "")
        or ("does not exist" in text and "relation" in text)
    ):
        return Failure(
            ExitCode.DATABASE,
            f"the database at {url} has no or an old schema: run `parking db upgrade` "
            f"({_driver_message(chain)})",
        )
    if names & {"OperationalError", "InterfaceError"} or "connect" in text:
        return Failure(
            ExitCode.DATABASE,
            f"cannot use the database at {url}: {_driver_message(chain)}",
        )
    if names & {"ArgumentError", "NoSuchModuleError"}:
        return Failure(ExitCode.DATABASE, f"database misconfigured: {one_line(exc)}")
    return None


def _driver_message(chain: list[BaseException]) -> str:
    """The database driver's own words (the innermost exception), on one line."""
    innermost = chain[-1]
    orig = getattr(chain[0], "orig", None)
    return one_line(orig if orig is not None else innermost) or type(innermost).__name__


def _database_url() -> str:
    """The configured database, without its password."""
    try:
        from sqlalchemy import make_url

        from gateway.settings import get_settings

        raw = get_settings().effective_database_url
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:  # the URL itself may be what is wrong
        return os.environ.get("PARKING_DATABASE_URL", "(PARKING_DATABASE_URL)")[:100]


def _os_error(exc: OSError) -> Failure:
    if exc.errno in _CONNECTION_ERRNOS and exc.filename is None:
        return Failure(ExitCode.SERVICE, f"connection failed: {exc.strerror or exc}")
    where = exc.filename if exc.filename is not None else None
    reason = exc.strerror or one_line(exc) or type(exc).__name__
    if where is None:
        return Failure(ExitCode.FILE, reason)
    other = f" -> {exc.filename2}" if exc.filename2 is not None else ""
    return Failure(ExitCode.FILE, f"{where}{other}: {reason}")
