"""I/O held in memory: the simulated device of tests, benches and unwired lanes.

It behaves like an I/O module that always answers: inputs are set by the test (or stay
inactive), outputs and registers keep their state and a time-stamped history, so a test can
check that a coil was pulsed and for how long.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class MemoryIo:
    name: str = "memory"
    inputs: dict[tuple[str, int], bool] = field(default_factory=dict)
    coils: dict[int, bool] = field(default_factory=dict)
    registers: dict[int, int] = field(default_factory=dict)
    #: (clock(), address, on) for every coil write
    coil_log: list[tuple[float, int, bool]] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set_input(self, address: int, on: bool, table: str = "discrete_input") -> None:
        with self._lock:
            self.inputs[(table, address)] = on

    def read_input(self, table: str, address: int) -> bool:
        with self._lock:
            return self.inputs.get((table, address), False)

    def write_coil(self, address: int, on: bool) -> None:
        with self._lock:
            self.coils[address] = on
            self.coil_log.append((self.clock(), address, on))
        log.debug("%s: coil %d %s", self.name, address, "on" if on else "off")

    def write_registers(self, address: int, values: list[int]) -> None:
        with self._lock:
            for i, value in enumerate(values):
                self.registers[address + i] = value

    def pulses(self, address: int) -> list[float]:
        """Lengths (s) of the completed on-off pulses of one coil, in order."""
        with self._lock:
            return pulse_lengths(self.coil_log, address)


def pulse_lengths(writes: Iterable[tuple[float, int, bool]], address: int) -> list[float]:
    """From (time, address, on) writes: the lengths of one output's completed pulses."""
    out: list[float] = []
    started: float | None = None
    for at, addr, on in writes:
        if addr != address:
            continue
        if on and started is None:
            started = at
        elif not on and started is not None:
            out.append(at - started)
            started = None
    return out
