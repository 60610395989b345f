"""pymodbus's own Modbus TCP server as a gate's I/O module, on a port of the test's own.

Inputs (discrete inputs, FC 2) are set by the test; every coil and register write is recorded
with the time it arrived, so a test can see a pulse as the module saw it. ``silent_server``
is a module that accepts connections and never answers (a hung device).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from edge.io.memory import pulse_lengths
from tests.conftest import free_port

BITS = 64  # addresses 0-63 of coils and discrete inputs
REGISTERS = 256


@dataclass
class IoModule:
    port: int
    unit_id: int
    inputs: dict[int, bool] = field(default_factory=dict)
    coil_writes: list[tuple[float, int, bool]] = field(default_factory=list)
    register_writes: list[tuple[int, list[int]]] = field(default_factory=list)

    async def action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> None:
        if function_code == 2:  # read discrete inputs: serve the test's levels
            for addr in range(address, address + count):
                index, bit = addr // 16 - start_address, addr % 16
                if self.inputs.get(addr):
                    registers[index] |= 1 << bit
                else:
                    registers[index] &= ~(1 << bit)
        elif function_code in (5, 15) and values is not None:
            now = time.monotonic()
            for i, on in enumerate(values):
                self.coil_writes.append((now, address + i, bool(on)))
        elif function_code in (6, 16) and values is not None:
            self.register_writes.append((address, [int(v) for v in values]))

    def pulses(self, address: int) -> list[float]:
        return pulse_lengths(list(self.coil_writes), address)


def _device(module: IoModule) -> SimDevice:
    def bits() -> list[SimData]:
        return [SimData(0, count=BITS // 16, datatype=DataType.BITS)]

    return SimDevice(
        module.unit_id,
        simdata=(
            bits(),
            bits(),
            [SimData(0, count=REGISTERS, datatype=DataType.REGISTERS)],
            [SimData(0, count=1, datatype=DataType.REGISTERS)],
        ),
        action=module.action,
    )


@contextlib.contextmanager
def modbus_server(unit_id: int = 1, port: int | None = None) -> Iterator[IoModule]:
    module = IoModule(port or free_port(), unit_id)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, ModbusTcpServer] = {}

    async def serve() -> None:
        server = ModbusTcpServer(_device(module), address=("127.0.0.1", module.port))
        holder["server"] = server
        ready.set()
        await server.serve_forever()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    ready.wait(5)
    _wait_listening(module.port)
    try:
        yield module
    finally:
        asyncio.run_coroutine_threadsafe(holder["server"].shutdown(), loop).result(5)
        thread.join(5)
        loop.close()


def _wait_listening(port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP listener that takes connections and requests and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, _ = sock.accept()
                held.append(conn)  # read nothing, answer nothing

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        sock.close()
