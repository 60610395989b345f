"""Lighter installs: ``parking`` still starts and runs what the install has; a command that
needs a missing extra names the extra instead of a traceback.

The extras' modules are hidden from a fresh interpreter by a meta path finder that fails every
import of them, as on a machine where ``pip install 'parking[...]'`` ran without them: the
central billing install (``parking[db]``), a gate box (``parking[edge]``: no SQLAlchemy, no web
stack, no torch) and the bare base install.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config_draft import simulated_config
from tests.conftest import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
# Top-level modules of the extras (pyproject.toml), by what a gate box has and has not.
DB_MODULES = ["sqlalchemy", "alembic", "psycopg"]
TORCH_MODULES = ["easyocr", "torch", "torchvision", "rapidocr_onnxruntime"]
EDGE_MODULES = [
    "cv2",
    "onnxruntime",
    "numpy",
    "PIL",
    "paho",
    "pymodbus",
    "httpx",
    "prometheus_client",
]
EXTRAS_MODULES = [
    *TORCH_MODULES,
    "cv2",
    "onnxruntime",
    "pymodbus",
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


def _parking(
    tmp_path: Path, *args: str, hidden: list[str] = EXTRAS_MODULES
) -> subprocess.CompletedProcess[str]:
    wrapper = tmp_path / "without_extras.py"
    wrapper.write_text(WITHOUT_EXTRAS)
    return subprocess.run(
        [sys.executable, str(wrapper), ",".join(hidden), *args],
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


def test_help_migrations_and_billing_commands_need_only_the_db_extra(tmp_path: Path) -> None:
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
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"pip install 'parking[{extra}]'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


# A gate box: parking[edge] = lpr on ONNX Runtime and OpenCV, MQTT, Modbus, HTTP; nothing else.
EDGE_BOX_HIDDEN = sorted(set(EXTRAS_MODULES + DB_MODULES) - set(EDGE_MODULES))


def test_a_gate_box_runs_its_commands_without_the_database_web_or_torch(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "a.jpg"), np.full((360, 640, 3), 90, np.uint8))
    gate_toml = tmp_path / "gate.toml"
    gate_toml.write_text(
        simulated_config(
            "lot-light", {"g1": "entry"}, frames, data_dir=tmp_path, broker_port=free_port()
        )
    )
    gate_toml.chmod(0o600)

    helped = _parking(tmp_path, "--help", hidden=EDGE_BOX_HIDDEN)
    assert helped.returncode == 0, helped.stderr
    assert "edge" in helped.stdout and "accounts" in helped.stdout
    parsed = _parking(tmp_path, "edge", "check", "-c", str(gate_toml), "--config-only",
                      hidden=EDGE_BOX_HIDDEN)  # fmt: skip
    assert parsed.returncode == 0, parsed.stderr
    checked = _parking(tmp_path, "edge", "check", "-c", str(gate_toml), "--open",
                       hidden=EDGE_BOX_HIDDEN)  # fmt: skip
    # everything but the broker (nobody listens on its port) passes, with no import error
    assert "ok    camera" in checked.stdout and "ok    barrier" in checked.stdout, checked.stderr
    assert "FAIL  broker" in checked.stdout and "Traceback" not in checked.stderr
    easyocr = _parking(tmp_path, "lpr", "read", "--recognizer", "easyocr", str(frames / "a.jpg"),
                       hidden=EDGE_BOX_HIDDEN)  # fmt: skip
    assert easyocr.returncode == 1
    assert "pip install 'parking[easyocr]'" in easyocr.stderr and "Traceback" not in easyocr.stderr
    billing = _parking(tmp_path, "accounts", "list", hidden=EDGE_BOX_HIDDEN)
    assert billing.returncode == 1
    assert "pip install 'parking[db]'" in billing.stderr


def test_the_bare_base_install_names_the_edge_extra(tmp_path: Path) -> None:
    everything = sorted(set(EXTRAS_MODULES + DB_MODULES + EDGE_MODULES))
    helped = _parking(tmp_path, "--help", hidden=everything)
    assert helped.returncode == 0, helped.stderr
    done = _parking(tmp_path, "edge", "check", "--config-only", hidden=everything)
    assert done.returncode == 1
    assert "pip install 'parking[edge]'" in done.stderr
    assert "Traceback" not in done.stderr
