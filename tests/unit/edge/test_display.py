"""The lane display: Vietnamese text folded for LED boards, packed into registers."""

from __future__ import annotations

import pytest

from edge.io.display import LogDisplay, RegisterDisplay, fold_ascii, text_registers
from edge.io.memory import MemoryIo
from edge.io.points import IoError


def test_vietnamese_is_folded_to_what_an_led_board_can_show() -> None:
    assert fold_ascii("Số dư không đủ") == "So du khong du"
    assert fold_ascii("Đã thu 25.000 ₫") == "Da thu 25.000 d"
    assert fold_ascii("Mời qua ✓") == "Moi qua ?"


def test_text_fills_the_block_two_bytes_a_register_zero_padded() -> None:
    assert text_registers("Mời", 3, "ascii") == [0x4D6F, 0x6900, 0x0000]
    assert text_registers("ABCDEFG", 2, "ascii") == [0x4142, 0x4344]  # cut to the block


def test_utf8_is_never_cut_inside_a_character() -> None:
    words = text_registers("Mời", 2, "utf-8")  # M, ờ (3 bytes), i: 5 bytes > 4
    raw = b"".join(w.to_bytes(2, "big") for w in words).rstrip(b"\0")
    assert raw.decode("utf-8") == "Mờ"


def test_the_register_display_writes_its_block() -> None:
    io = MemoryIo()
    RegisterDisplay("g1", io, address=40, registers=4).show("Xin chào")
    assert [io.registers[40 + i] for i in range(4)] == text_registers("Xin chao", 4, "ascii")


class DeadBlock:
    def write_registers(self, address: int, values: list[int]) -> None:
        raise IoError("led (10.0.0.7:502 unit 1): no answer")


def test_a_dark_display_is_logged_and_does_not_stop_the_lane(
    caplog: pytest.LogCaptureFixture,
) -> None:
    RegisterDisplay("g1", DeadBlock(), address=0, registers=4).show("Mời qua")
    assert "display not updated" in caplog.text


def test_the_log_display_keeps_what_it_showed() -> None:
    display = LogDisplay("g1")
    display.show("Mời qua")
    assert display.shown == ["Mời qua"]
