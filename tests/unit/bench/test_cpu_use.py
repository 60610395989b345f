"""bench.cpu_use: a bench's CPU figures are as good as its grouping of the processes."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.cpu_use import GROUPS, cpu_between, snapshot

BURN = 0.3  # CPU seconds


def _burn(seconds: float) -> None:
    t = time.process_time()
    while time.process_time() - t < seconds:
        pass


def test_a_busy_child_and_this_process_are_counted_in_their_groups() -> None:
    before = snapshot()
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "t = time.process_time()\n"
            f"while time.process_time() - t < {BURN}: pass\n"
            "print('done', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "done"
        _burn(BURN)
        used = cpu_between(before, snapshot())
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)
    assert set(used) == set(GROUPS)
    assert used["gateway processes"] >= BURN - 0.05  # a child that is no reader pool worker
    assert used["bench process"] >= BURN - 0.05
    assert used["reader pool"] == 0.0
