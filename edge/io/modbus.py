"""A Modbus TCP I/O module (Advantech ADAM-6050, Moxa ioLogik E1212, ...) through pymodbus.

One connection per module, shared by every point wired to it, one request at a time (a Modbus
TCP module answers requests in order and many accept only a few connections). A module that
does not answer must not stall the lane: each request waits at most ``timeout_s``, a failed
connection is retried no sooner than ``retry_s`` later (requests in between fail at once), and
every failure is an :class:`IoError` naming the module, counted in ``edge_io_errors``. The log
says when a module stops answering and when it is back, not once per poll.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from edge.io.metrics import IoMetrics
from edge.io.points import IoError

log = logging.getLogger(__name__)


class ModbusIo:
    def __init__(
        self,
        name: str,
        host: str,
        port: int = 502,
        unit_id: int = 1,
        timeout_s: float = 0.5,
        *,
        retry_s: float = 1.0,
        metrics: IoMetrics | None = None,
    ) -> None:
        from pymodbus.client import ModbusTcpClient

        self.name = name
        self.where = f"{host}:{port} unit {unit_id}"
        self.unit_id = unit_id
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.metrics = metrics or IoMetrics()
        self._client = ModbusTcpClient(host, port=port, timeout=timeout_s, retries=0)
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._failures = 0  # consecutive failed requests (0: the module answers)

    def __str__(self) -> str:
        return f"modbus {self.name} ({self.where})"

    def read_input(self, table: str, address: int) -> bool:
        what = f"read {table} {address}"
        if table == "coil":
            reply = self._request(
                what, lambda c: c.read_coils(address, count=1, device_id=self.unit_id)
            )
        else:
            reply = self._request(
                what, lambda c: c.read_discrete_inputs(address, count=1, device_id=self.unit_id)
            )
        return bool(reply.bits[0])

    def write_coil(self, address: int, on: bool) -> None:
        self._request(
            f"write coil {address} {'on' if on else 'off'}",
            lambda c: c.write_coil(address, on, device_id=self.unit_id),
        )

    def write_registers(self, address: int, values: list[int]) -> None:
        self._request(
            f"write {len(values)} registers at {address}",
            lambda c: c.write_registers(address, values, device_id=self.unit_id),
        )

    def close(self) -> None:
        with self._lock:
            self._client.close()

    def _request(self, what: str, call: Callable[[Any], Any]) -> Any:
        from pymodbus.exceptions import ModbusException

        op = what.split(" ", 1)[0]
        with self._lock:
            try:
                if not self._client.connected:
                    if time.monotonic() < self._retry_at:
                        raise IoError(f"{self}: unreachable (next try in under {self.retry_s:g} s)")
                    if not self._client.connect():
                        self._retry_at = time.monotonic() + self.retry_s
                        raise IoError(f"{self}: cannot connect")
                reply = call(self._client)
                if reply.isError():
                    raise IoError(f"{self}: {what} refused by the device: {reply}")
            except ModbusException as exc:
                # No answer in time (or a broken socket): drop the connection, so a late answer
                # is never taken for the next request's.
                self._client.close()
                self._retry_at = time.monotonic() + self.retry_s
                failure = IoError(
                    f"{self}: no answer to {what} within {self.timeout_s:g} s ({exc})"
                )
                self._failed(op, failure)
                raise failure from None
            except IoError as exc:
                self._failed(op, exc)
                raise
            if self._failures:
                log.info("%s answers again (after %d failed requests)", self, self._failures)
                self._failures = 0
            return reply

    def _failed(self, op: str, exc: IoError) -> None:
        self.metrics.io_errors.labels(self.name, op).inc()
        if self._failures == 0:
            log.error("%s", exc)
        self._failures += 1
