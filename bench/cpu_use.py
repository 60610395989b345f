"""Where a bench run's CPU went, by process group, read from /proc (Linux).

A latency figure alone does not say whether a goal failed for want of cores or for a slow
path: this module lets a bench report, per event, the CPU of the plate reader pool, of the
bench process itself (the simulated gates and, when in-process, the gateway), of gateway
processes it started, of PostgreSQL's backends for its database and of Mosquitto, and how many
of the machine's cores they kept busy together.

    before = snapshot(database="parking_bench_ab12")
    ...  # the run
    used = cpu_between(before, snapshot(database="parking_bench_ab12"))  # seconds per group
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

#: the groups, in the order benches print them
GROUPS = ("reader pool", "bench process", "gateway processes", "postgresql", "mosquitto")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used so far: user + system) of a process; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def process_cpu(pids: Iterable[int]) -> float:
    """CPU seconds used so far by these processes together (those gone count nothing)."""
    return sum(st[1] for pid in pids if (st := _stat(pid)) is not None)


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _group(pid: int, me: int, parents: Mapping[int, int], database: str | None) -> str | None:
    if pid == me:
        return "bench process"
    cmd = _cmdline(pid)
    if cmd.startswith("postgres:"):
        return "postgresql" if database is None or f" {database} " in cmd else None
    if "mosquitto" in cmd.split(" ", 1)[0]:
        return "mosquitto"  # the bench's private broker too, though it is a child
    p = parents.get(pid)
    while p is not None and p > 1:
        if p == me:
            return "reader pool" if "multiprocessing" in cmd else "gateway processes"
        p = parents.get(p)
    return None


def snapshot(database: str | None = None) -> dict[int, tuple[str, float]]:
    """Per process of a group: (group, CPU seconds so far). ``database``: count only the
    PostgreSQL backends serving it (other work on a shared server is not this run's)."""
    stats: dict[int, tuple[int, float]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := _stat(int(name))) is not None:
            stats[int(name)] = st
    parents = {pid: st[0] for pid, st in stats.items()}
    me = os.getpid()
    out: dict[int, tuple[str, float]] = {}
    for pid, (_ppid, cpu) in stats.items():
        group = _group(pid, me, parents, database)
        if group is not None:
            out[pid] = (group, cpu)
    return out


def cpu_between(
    before: Mapping[int, tuple[str, float]], after: Mapping[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds per group between two snapshots. A process that ended in between is not
    counted (its last use is not readable); one that started counts from zero."""
    used = dict.fromkeys(GROUPS, 0.0)
    for pid, (group, cpu) in after.items():
        start = before.get(pid)
        used[group] += cpu - (start[1] if start is not None and start[0] == group else 0.0)
    return used
