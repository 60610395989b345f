"""The lane's text display: what the driver reads ("Mời qua", "Số dư không đủ", ...).

Two kinds: a stub that writes the text to the log (a lane without a display, tests), and a
block of Modbus holding registers that an LED controller reads (two bytes per register, big
endian, zero-padded). Many LED boards have no Vietnamese glyphs, so the register display
folds to ASCII by default (``Số dư`` -> ``So du``); ``utf-8`` sends the bytes as they are,
cut at a character boundary. A display that fails is logged and counted by its device; it
never stops the lane.
"""

from __future__ import annotations

import logging
import unicodedata
from typing import Literal, Protocol

from edge.io.points import IoError, RegisterBlock

log = logging.getLogger(__name__)


class Display(Protocol):
    def show(self, text: str) -> None:
        """Put ``text`` on the display (never raises: a dark display must not stop a lane)."""
        ...


class LogDisplay:
    def __init__(self, lane: str) -> None:
        self.lane = lane
        self.shown: list[str] = []

    def show(self, text: str) -> None:
        self.shown.append(text)
        log.info("lane %s display: %s", self.lane, text)


def fold_ascii(text: str) -> str:
    """Vietnamese (or any Latin) text without diacritics: "Đã thu 25.000 ₫" -> "Da thu 25.000 d"."""
    text = text.replace("Đ", "D").replace("đ", "d").replace("₫", "d")
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.encode("ascii", "replace").decode("ascii")


def text_registers(text: str, registers: int, encoding: Literal["ascii", "utf-8"]) -> list[int]:
    """``text`` as exactly ``registers`` 16-bit words: two bytes each, big endian, zero-padded."""
    capacity = 2 * registers
    if encoding == "ascii":
        data = fold_ascii(text).encode("ascii")[:capacity]
    else:
        data = text.encode("utf-8")[:capacity]
        while data:  # never end in the middle of a character
            try:
                data.decode("utf-8")
                break
            except UnicodeDecodeError:
                data = data[:-1]
    data = data.ljust(capacity, b"\0")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, capacity, 2)]


class RegisterDisplay:
    def __init__(
        self,
        lane: str,
        device: RegisterBlock,
        address: int,
        registers: int,
        encoding: Literal["ascii", "utf-8"] = "ascii",
    ) -> None:
        self.lane = lane
        self.device = device
        self.address = address
        self.registers = registers
        self.encoding = encoding

    def show(self, text: str) -> None:
        log.info("lane %s display: %s", self.lane, text)
        try:
            self.device.write_registers(
                self.address, text_registers(text, self.registers, self.encoding)
            )
        except IoError as exc:  # logged and counted by the device
            log.warning("lane %s: display not updated (%s)", self.lane, exc)
