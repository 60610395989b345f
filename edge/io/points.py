"""Digital inputs and outputs: the one-method protocols every I/O backend implements.

A barrier, a loop detector or a safety photocell is one contact. Whether it sits on a Modbus
module, a GPIO pin of the box or in memory (tests, benches) does not matter to the logic that
uses it, so the logic sees only ``read()`` and ``write(on)``; ``active_low`` is applied here,
once, for every backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class IoError(RuntimeError):
    """An input could not be read or an output not set (device down, timeout, refused).
    The message names the device and what was asked of it; it is logged where it happens."""


class DigitalInput(Protocol):
    def read(self) -> bool:
        """The contact's state (True = active), or IoError."""
        ...


class DigitalOutput(Protocol):
    def write(self, on: bool) -> None:
        """Switch the contact (True = active), or IoError."""
        ...


class RegisterBlock(Protocol):
    def write_registers(self, address: int, values: list[int]) -> None:
        """Write 16-bit holding registers from ``address`` on (Modbus FC 16), or IoError."""
        ...


class IoDevice(Protocol):
    """An I/O module (Modbus TCP), the box's GPIO chip, or memory."""

    name: str

    def read_input(self, table: str, address: int) -> bool:
        """The raw level of input ``address`` (``table``: discrete_input or coil), or IoError."""
        ...

    def write_coil(self, address: int, on: bool) -> None:
        """Set output ``address`` to a raw level, or IoError."""
        ...


@dataclass(frozen=True)
class InputPin:
    """A ``DigitalInput`` on a device; ``active_low`` inverts the raw level."""

    device: IoDevice
    address: int
    table: str = "discrete_input"
    active_low: bool = False

    def read(self) -> bool:
        return self.device.read_input(self.table, self.address) != self.active_low

    def __str__(self) -> str:
        return f"{self.device.name} {self.table} {self.address}"


@dataclass(frozen=True)
class OutputPin:
    """A ``DigitalOutput`` on a device; ``active_low`` inverts the raw level."""

    device: IoDevice
    address: int
    active_low: bool = False

    def write(self, on: bool) -> None:
        self.device.write_coil(self.address, on != self.active_low)

    def __str__(self) -> str:
        return f"{self.device.name} output {self.address}"
