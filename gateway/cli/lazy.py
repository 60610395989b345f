"""Command groups imported on use, so ``parking`` runs on the base install.

The plate-reading, e-invoice, web and simulator commands need optional extras (OpenCV,
cryptography and lxml, argon2 and FastAPI, ...). Imported eagerly, one missing extra would
break every command, ``parking --help`` and ``parking db upgrade`` included. Here a group is
imported only when it is run; listing it in the help needs only its one-line description; and a
group or command whose extra is missing answers with the ``pip install`` line that fixes it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer.core import TyperCommand, TyperGroup

# Typer ships its own copy of click (``typer._click``) in recent versions and uses the click
# package in older ones, so the click types below are spelled ``Any``.

PROJECT_PACKAGES = frozenset({"lpr", "billing", "einvoice", "gateway", "simulator", "edge"})

# Which extra brings a third-party module (top-level import name); see pyproject.toml.
MODULE_EXTRAS: Mapping[str, str] = {
    **dict.fromkeys(("sqlalchemy", "alembic", "psycopg"), "db"),
    **dict.fromkeys(("cv2", "onnxruntime", "numpy", "PIL"), "lpr"),
    **dict.fromkeys(("easyocr", "easyocr_en_models", "torch", "torchvision"), "easyocr"),
    **dict.fromkeys(("pymodbus",), "edge"),
    **dict.fromkeys(("gpiod",), "gpio"),
    **dict.fromkeys(
        ("lxml", "cryptography", "num2words", "segno", "reportlab", "jinja2", "httpx"), "einvoice"
    ),
    **dict.fromkeys(
        (
            "fastapi",
            "starlette",
            "uvicorn",
            "multipart",
            "paho",
            "amqtt",
            "prometheus_client",
            "argon2",
            "itsdangerous",
            "plotly",
            "fastapi_offline",
            "zopfli",
        ),
        "gateway",
    ),
}


def missing_extra(exc: ModuleNotFoundError, default: str | None = None) -> str | None:
    """The extra to install for this missing module; None when it is one of the project's own
    modules (a bug, not a lighter install) so the error is not hidden."""
    top = (exc.name or "").split(".")[0]
    if not top or top in PROJECT_PACKAGES:
        return None
    return default or MODULE_EXTRAS.get(top, "all")


def install_hint(what: str, extra: str, exc: ModuleNotFoundError) -> str:
    return (
        f"{what} needs optional dependencies that are not installed (no module named "
        f"{exc.name!r}): pip install 'parking[{extra}]'"
    )


@dataclass(frozen=True)
class Lazy:
    """``module:attribute`` of a Typer app (a group) or of a function (one command), the extra
    it needs, and its line in the help."""

    target: str
    extra: str
    help: str

    def load(self, name: str) -> Any:
        module_name, attr = self.target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            extra = missing_extra(exc, self.extra)
            if extra is None:
                raise
            return _unavailable(name, self, install_hint(f"parking {name}", extra, exc))
        target = getattr(module, attr)
        command: Any
        if isinstance(target, typer.Typer):
            command = typer.main.get_group(target)  # a group even with one command
        else:  # a plain function: one top-level command (``parking topup ...``)
            single = typer.Typer()
            single.command(name)(target)
            command = typer.main.get_command(single)
        command.name = name
        return command


def _unavailable(name: str, lazy: Lazy, message: str) -> TyperCommand:
    def explain() -> None:
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(1)

    return TyperCommand(
        name,
        callback=explain,
        help=f"{lazy.help} ({message})",
        short_help=lazy.help,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


class LazyGroup(TyperGroup):
    """A Typer group with extra sub-commands named in ``lazy``, imported when they run."""

    lazy: ClassVar[Mapping[str, Lazy]] = {}
    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        eager = super().list_commands(ctx)
        return eager + [name for name in self.lazy if name not in eager]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        lazy = self.lazy.get(cmd_name)
        if command is not None or lazy is None:
            return command
        if self._listing:  # the help lists it: its description is enough
            return TyperCommand(cmd_name, help=lazy.help, short_help=lazy.help)
        return lazy.load(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
