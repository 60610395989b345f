"""What the edge's tests share: waiting for a condition, and the gate files of
``parking mqtt config`` that an installer copies to a gate box."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path


def wait_for(condition: Callable[[], object], timeout: float = 5.0) -> bool:
    """Poll ``condition`` until it is true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def write_gate_account(out: Path, lot: str, gate: str, password: str, port: int = 1883) -> Path:
    """``OUT/gates/LOT/GATE.json`` as ``parking mqtt config --out OUT`` writes it."""
    path = out / "gates" / lot / f"{gate}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "lot_id": lot,
        "gate_id": gate,
        "port": port,
        "username": f"gate/{lot}/{gate}",
        "password": password,
    }
    path.write_text(json.dumps(body, indent=2) + "\n")
    return path
