"""GPIO lines of the gate box itself (relay HATs, opto-isolated inputs) through libgpiod 2.

``gpiod`` (the ``parking[gpio]`` extra) is imported only when a config names a gpio device:
most boxes drive their barrier through a Modbus module and never need it. Each line is
requested once, on first use, as an input or an output, and kept; ``active_low`` is applied
by the pins (``edge.io.points``), so lines are requested with their raw levels.
"""

from __future__ import annotations

import threading
from typing import Any

from edge.io.metrics import IoMetrics
from edge.io.points import IoError

CONSUMER = "parking-edge"


class GpioIo:
    def __init__(self, name: str, chip: str, *, metrics: IoMetrics | None = None) -> None:
        try:
            import gpiod
        except ModuleNotFoundError as exc:
            raise IoError(
                f"gpio {name}: the gpiod module is missing: pip install 'parking[gpio]'"
            ) from exc
        self._gpiod: Any = gpiod
        self.name = name
        self.chip = chip
        self.metrics = metrics or IoMetrics()
        self._lines: dict[int, tuple[Any, bool]] = {}  # offset -> (request, is_output)
        self._lock = threading.Lock()

    def __str__(self) -> str:
        return f"gpio {self.name} ({self.chip})"

    def _line(self, offset: int, output: bool) -> Any:
        known = self._lines.get(offset)
        if known is not None:
            request, is_output = known
            if is_output != output:
                raise IoError(f"{self}: line {offset} is used as both an input and an output")
            return request
        from gpiod.line import Direction, Value

        settings = self._gpiod.LineSettings(
            direction=Direction.OUTPUT if output else Direction.INPUT,
            **({"output_value": Value.INACTIVE} if output else {}),
        )
        request = self._gpiod.request_lines(self.chip, consumer=CONSUMER, config={offset: settings})
        self._lines[offset] = (request, output)
        return request

    def read_input(self, table: str, address: int) -> bool:
        from gpiod.line import Value

        with self._lock:
            try:
                return bool(self._line(address, output=False).get_value(address) == Value.ACTIVE)
            except OSError as exc:
                self.metrics.io_errors.labels(self.name, "read").inc()
                raise IoError(f"{self}: cannot read line {address}: {exc}") from exc

    def write_coil(self, address: int, on: bool) -> None:
        from gpiod.line import Value

        with self._lock:
            try:
                self._line(address, output=True).set_value(
                    address, Value.ACTIVE if on else Value.INACTIVE
                )
            except OSError as exc:
                self.metrics.io_errors.labels(self.name, "write").inc()
                raise IoError(f"{self}: cannot set line {address}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            for request, _ in self._lines.values():
                request.release()
            self._lines.clear()
