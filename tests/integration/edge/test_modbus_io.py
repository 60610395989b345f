"""The lane's I/O against pymodbus's own Modbus TCP server: car in -> coil pulsed, the safety
inputs, the display, and a module that does not answer or is down."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import pytest

from edge.io.barrier import BarrierController
from edge.io.display import RegisterDisplay, text_registers
from edge.io.metrics import IoMetrics
from edge.io.modbus import ModbusIo
from edge.io.points import InputPin, IoError, OutputPin
from edge.io.triggers import LoopTrigger
from tests.conftest import free_port
from tests.edge_helpers import wait_for
from tests.integration.edge.modbus_server import IoModule, modbus_server, silent_server

pytestmark = pytest.mark.integration

LOOP, OCCUPIED, MANUAL, BARRIER = 0, 1, 2, 16


@contextlib.contextmanager
def barrier_on(
    module: IoModule,
    metrics: IoMetrics,
    pulse_s: float,
    *,
    occupied: bool = False,
    manual: bool = False,
) -> Iterator[tuple[ModbusIo, BarrierController]]:
    """Lane g1's barrier on the module's output 16, its thread running; inputs 1 (vehicle under
    the arm) and 2 (manual open) when asked for."""
    io = ModbusIo("adam", "127.0.0.1", module.port, unit_id=module.unit_id, metrics=metrics)
    barrier = BarrierController(
        "g1",
        OutputPin(io, BARRIER),
        pulse_s=pulse_s,
        occupied=InputPin(io, OCCUPIED) if occupied else None,
        manual_open=InputPin(io, MANUAL) if manual else None,
        poll_s=0.02,
        metrics=metrics,
    )
    barrier.start()
    try:
        yield io, barrier
    finally:
        barrier.stop()
        io.close()


def test_car_on_the_loop_then_the_coil_is_pulsed() -> None:
    metrics = IoMetrics()
    with modbus_server() as module, barrier_on(module, metrics, 0.3) as (io, barrier):
        trigger = LoopTrigger("g1", InputPin(io, LOOP), debounce_s=0.05, metrics=metrics)
        assert not trigger.poll()  # the lane is empty
        module.inputs[LOOP] = True
        assert wait_for(trigger.poll), "the loop input was never seen"
        assert barrier.open("central", "paid 25.000 d", event_id="ev-1")
        assert wait_for(lambda: len(module.pulses(BARRIER)) == 1)
    (pulse,) = module.pulses(BARRIER)
    assert 0.27 <= pulse < 3.0  # the module saw one pulse of about pulse_s
    assert [on for _, addr, on in module.coil_writes if addr == BARRIER] == [True, False]
    assert metrics.count("edge_vehicle_triggers", lane="g1", kind="loop") == 1
    assert metrics.count("edge_barrier_opens", lane="g1", reason="central") == 1


def test_a_vehicle_under_the_arm_holds_the_open_pulse_until_it_clears() -> None:
    metrics = IoMetrics()
    with (
        modbus_server() as module,
        barrier_on(module, metrics, 0.2, occupied=True) as (_io, barrier),
    ):
        module.inputs[OCCUPIED] = True
        assert barrier.open("central")
        time.sleep(0.6)  # three pulses long: still held
        assert module.pulses(BARRIER) == []
        assert barrier.is_open
        module.inputs[OCCUPIED] = False
        assert wait_for(lambda: len(module.pulses(BARRIER)) == 1)
    assert module.pulses(BARRIER)[0] >= 0.6
    assert metrics.count("edge_barrier_holds", lane="g1") == 1


def test_the_manual_open_input_raises_the_arm_once_per_press() -> None:
    metrics = IoMetrics()
    with (
        modbus_server() as module,
        barrier_on(module, metrics, 0.1, manual=True) as (_io, barrier),
    ):
        module.inputs[MANUAL] = True  # pressed and held
        assert wait_for(lambda: len(module.pulses(BARRIER)) == 1)
        time.sleep(0.3)
    assert len(module.pulses(BARRIER)) == 1
    assert metrics.count("edge_barrier_opens", lane="g1", reason="manual") == 1
    assert [o.reason for o in barrier.opens] == ["manual"]


def test_the_display_text_lands_in_the_holding_registers() -> None:
    with modbus_server() as module:
        io = ModbusIo("led", "127.0.0.1", module.port)
        try:
            RegisterDisplay("g1", io, address=100, registers=8).show("Số dư không đủ")
        finally:
            io.close()
    assert module.register_writes == [(100, text_registers("So du khong du", 8, "ascii"))]


def test_the_unit_id_addresses_one_module_behind_a_gateway() -> None:
    with modbus_server(unit_id=7) as module:
        module.inputs[LOOP] = True
        io = ModbusIo("moxa", "127.0.0.1", module.port, unit_id=7)
        try:
            assert InputPin(io, LOOP).read() is True
            assert InputPin(io, LOOP, active_low=True).read() is False
        finally:
            io.close()


def test_a_module_that_does_not_answer_fails_fast_is_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = IoMetrics()
    caplog.set_level(logging.INFO, logger="edge.io")
    with silent_server() as port:
        io = ModbusIo("adam", "127.0.0.1", port, timeout_s=0.3, retry_s=0.0, metrics=metrics)
        trigger = LoopTrigger("g1", InputPin(io, LOOP), debounce_s=0.0, metrics=metrics)
        barrier = BarrierController("g1", OutputPin(io, BARRIER), metrics=metrics)
        try:
            started = time.monotonic()
            with pytest.raises(IoError, match=r"adam .*no answer to read discrete_input 0"):
                InputPin(io, LOOP).read()
            assert time.monotonic() - started < 3.0  # the timeout, not a hang
            assert trigger.poll() is False  # the lane sees "no car", it does not crash
            assert barrier.open("central", event_id="ev-9") is False
        finally:
            io.close()
    assert metrics.count("edge_io_errors", device="adam", op="read") == 2
    assert metrics.count("edge_io_errors", device="adam", op="write") == 1
    assert metrics.count("edge_barrier_failures", lane="g1") == 1
    assert metrics.count("edge_barrier_opens", lane="g1", reason="central") == 0
    device_errors = [r for r in caplog.records if r.name == "edge.io.modbus" and r.levelno >= 40]
    assert len(device_errors) == 1  # one line when it stops answering, not one per request
    assert any("barrier NOT opened (central)" in r.getMessage() for r in caplog.records)


def test_a_module_that_comes_back_is_used_again(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edge.io")
    port = free_port()
    io = ModbusIo("adam", "127.0.0.1", port, timeout_s=0.3, retry_s=0.2)
    try:
        with pytest.raises(IoError, match="cannot connect"):
            InputPin(io, LOOP).read()
        with pytest.raises(IoError, match="unreachable"):  # within retry_s: no new attempt
            InputPin(io, LOOP).read()
        with modbus_server(port=port) as module:
            module.inputs[LOOP] = True
            assert wait_for(lambda: _reads(InputPin(io, LOOP)), timeout=5)
    finally:
        io.close()
    assert any("answers again" in r.getMessage() for r in caplog.records)


def _reads(pin: InputPin) -> bool:
    try:
        return pin.read()
    except IoError:
        return False
