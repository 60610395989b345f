"""A base install without the extras: ``parking`` still starts, migrates and runs billing's
commands; a command that needs a missing extra names the extra instead of a traceback.

The extras' modules are hidden from a fresh interpreter by a meta path finder that fails every
import of them, as on a machine where ``pip install parking`` ran without ``[lpr]`` & co.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli.errors import ExitCode

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
# Top-level modules of every extra (pyproject.toml: lpr, einvoice, gateway, simulator).
EXTRAS_MODULES = [
    "cv2",
    "onnxruntime",
    "easyocr",
    "torch",
    "torchvision",
    "rapidocr_onnxruntime",
    "numpy",
    "PIL",
    "lxml",
    "cryptography",
    "num2words",
    "segno",
    "reportlab",
    "httpx",
    "jinja2",
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
]

WITHOUT_EXTRAS = """
import importlib.abc, runpy, sys

BLOCKED = set(sys.argv[1].split(","))


class WithoutExtras(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, WithoutExtras())
sys.argv = ["parking", *sys.argv[2:]]
runpy.run_module("gateway.cli", run_name="__main__", alter_sys=True)
"""


def _parking(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    wrapper = tmp_path / "without_extras.py"
    wrapper.write_text(WITHOUT_EXTRAS)
    return subprocess.run(
        [sys.executable, str(wrapper), ",".join(EXTRAS_MODULES), *args],
        cwd=ROOT,
        env={
            **os.environ,
            "PARKING_DATA_DIR": str(tmp_path),
            "PARKING_DATABASE_URL": f"sqlite:///{(tmp_path / 'parking.db').as_posix()}",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_wrapper_really_hides_the_extras(tmp_path: Path) -> None:
    done = _parking(tmp_path, "lpr", "read", "x.jpg")
    assert "no module named" in done.stderr.lower(), done.stderr


def test_help_migrations_and_billing_commands_need_no_extra(tmp_path: Path) -> None:
    helped = _parking(tmp_path, "--help")
    assert helped.returncode == 0, helped.stderr
    for command in ("db", "accounts", "lots", "mqtt", "users", "lpr", "einvoice", "demo"):
        assert command in helped.stdout
    upgraded = _parking(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "parking.db").exists()
    seeded = _parking(tmp_path, "lots", "seed-demo")
    assert seeded.returncode == 0, seeded.stderr
    listed = _parking(tmp_path, "lots", "list")
    assert listed.returncode == 0 and "hn-hoankiem-01" in listed.stdout, listed.stderr
    mqtt = _parking(tmp_path, "mqtt", "config", "--out", str(tmp_path / "mqtt"))
    assert mqtt.returncode == 0, mqtt.stderr


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (("einvoice", "verify", "invoice.xml"), "einvoice"),
        (("users", "list"), "gateway"),
        (("lpr", "read", "plate.jpg"), "lpr"),
        (("tax-authority", "serve"), "simulator"),
        (("serve",), "gateway,einvoice,lpr"),
        (("worker",), "gateway,einvoice"),
        (("demo", "--duration", "1"), "all"),
    ],
)
def test_a_command_without_its_extra_says_what_to_install(
    tmp_path: Path, args: tuple[str, ...], extra: str
) -> None:
    done = _parking(tmp_path, *args)
    assert done.returncode == ExitCode.MISSING_EXTRA, done.stdout + done.stderr
    assert f"pip install 'parking[{extra}]'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
