"""GPIO through libgpiod 2's Python API, on a fake chip (no GPIO hardware here)."""

from __future__ import annotations

import enum
import subprocess
import sys
import types

import pytest

from edge.io.barrier import BarrierController
from edge.io.gpio import GpioIo
from edge.io.points import InputPin, IoError, OutputPin


class FakeChip:
    """The kernel side: line levels and who requested which line."""

    def __init__(self) -> None:
        self.levels: dict[int, bool] = {}
        self.requested: dict[int, str] = {}
        self.broken: set[int] = set()


def fake_gpiod(chip: FakeChip) -> types.ModuleType:
    class Direction(enum.Enum):
        INPUT = 1
        OUTPUT = 2

    class Value(enum.Enum):
        INACTIVE = 0
        ACTIVE = 1

    class LineSettings:
        def __init__(self, direction: Direction, output_value: Value | None = None) -> None:
            self.direction = direction
            self.output_value = output_value

    class LineRequest:
        def __init__(self, config: dict[int, LineSettings]) -> None:
            self.config = config

        def get_value(self, offset: int) -> Value:
            if offset in chip.broken:
                raise OSError(5, "Input/output error")
            return Value.ACTIVE if chip.levels.get(offset) else Value.INACTIVE

        def set_value(self, offset: int, value: Value) -> None:
            if offset in chip.broken:
                raise OSError(5, "Input/output error")
            assert self.config[offset].direction is Direction.OUTPUT
            chip.levels[offset] = value is Value.ACTIVE

        def release(self) -> None:
            for offset in self.config:
                chip.requested.pop(offset, None)

    def request_lines(path: str, consumer: str, config: dict[int, LineSettings]) -> LineRequest:
        for offset, settings in config.items():
            if offset in chip.requested:
                raise OSError(16, "Device or resource busy")
            chip.requested[offset] = consumer
            if settings.output_value is not None:
                chip.levels[offset] = settings.output_value is Value.ACTIVE
        return LineRequest(config)

    module = types.ModuleType("gpiod")
    line = types.ModuleType("gpiod.line")
    line.Direction = Direction  # type: ignore[attr-defined]
    line.Value = Value  # type: ignore[attr-defined]
    module.line = line  # type: ignore[attr-defined]
    module.LineSettings = LineSettings  # type: ignore[attr-defined]
    module.request_lines = request_lines  # type: ignore[attr-defined]
    return module


@pytest.fixture()
def chip(monkeypatch: pytest.MonkeyPatch) -> FakeChip:
    chip = FakeChip()
    module = fake_gpiod(chip)
    monkeypatch.setitem(sys.modules, "gpiod", module)
    monkeypatch.setitem(sys.modules, "gpiod.line", module.line)
    return chip


def test_a_relay_on_a_gpio_line_is_pulsed_and_released(chip: FakeChip) -> None:
    gpio = GpioIo("hat", "/dev/gpiochip0")
    relay = OutputPin(gpio, 17)
    relay.write(True)
    assert chip.levels[17] is True and chip.requested[17] == "parking-edge"
    relay.write(False)
    assert chip.levels[17] is False
    gpio.close()
    assert chip.requested == {}


def test_inputs_read_with_active_low_applied_once(chip: FakeChip) -> None:
    gpio = GpioIo("hat", "/dev/gpiochip0")
    chip.levels[5] = False  # an opto input pulled low when the loop relay closes
    assert InputPin(gpio, 5, active_low=True).read() is True
    chip.levels[5] = True
    assert InputPin(gpio, 5, active_low=True).read() is False


def test_one_line_cannot_be_both_an_input_and_an_output(chip: FakeChip) -> None:
    gpio = GpioIo("hat", "/dev/gpiochip0")
    OutputPin(gpio, 17).write(True)
    with pytest.raises(IoError, match="both an input and an output"):
        InputPin(gpio, 17).read()


def test_a_failing_line_is_an_io_error_the_barrier_reports(chip: FakeChip) -> None:
    gpio = GpioIo("hat", "/dev/gpiochip0")
    chip.broken.add(17)
    barrier = BarrierController("g1", OutputPin(gpio, 17), metrics=gpio.metrics)
    assert barrier.open("central") is False
    assert gpio.metrics.count("edge_io_errors", device="hat", op="write") == 1
    assert gpio.metrics.count("edge_barrier_failures", lane="g1") == 1


def test_without_gpiod_installed_the_error_says_which_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "gpiod", None)  # import gpiod -> ModuleNotFoundError
    with pytest.raises(IoError, match=r"pip install 'parking\[gpio\]'"):
        GpioIo("hat", "/dev/gpiochip0")


def test_gpiod_is_not_imported_unless_a_gpio_device_is_configured() -> None:
    code = (
        "import sys; from edge.io.build import build_io; "
        "assert 'gpiod' not in sys.modules, 'gpiod imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
