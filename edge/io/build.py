"""gate.toml's lanes as live objects: devices, cameras, triggers, barriers, displays.

The one place that turns configuration into I/O, used by ``parking edge check`` now and by the
edge process later. Devices are shared: two lanes wired to one Modbus module use one
connection. Nothing touches the hardware here; ``GateIo.start()`` starts the camera readers and
barrier threads, ``close()`` stops them (within seconds: SIGINT and SIGTERM end the process).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edge import config as cfg
from edge.camera import Camera
from edge.io.barrier import BarrierController
from edge.io.display import Display, LogDisplay, RegisterDisplay
from edge.io.folder import FolderCamera
from edge.io.memory import MemoryIo
from edge.io.metrics import IoMetrics
from edge.io.points import DigitalInput, InputPin, IoDevice, OutputPin
from edge.io.rtsp import RtspCamera
from edge.io.snapshot import SnapshotCamera
from edge.io.triggers import LoopTrigger, MotionTrigger, VehicleTrigger

log = logging.getLogger(__name__)


@dataclass
class LaneIo:
    gate_id: str
    direction: str
    camera: Camera
    trigger: VehicleTrigger
    barrier: BarrierController
    display: Display
    #: the lane's inputs by role (loop, occupied, manual_open), for checks and status
    inputs: dict[str, DigitalInput] = field(default_factory=dict)


@dataclass
class GateIo:
    devices: dict[str, IoDevice]
    lanes: dict[str, LaneIo]
    metrics: IoMetrics

    def start(self) -> None:
        for lane in self.lanes.values():
            if isinstance(lane.camera, RtspCamera):
                lane.camera.start()
            lane.barrier.start()

    def close(self) -> None:
        for lane in self.lanes.values():
            lane.barrier.stop()
            closer = getattr(lane.camera, "close", None)
            if closer is not None:
                closer()
        for device in self.devices.values():
            closer = getattr(device, "close", None)
            if closer is not None:
                closer()


def build_device(name: str, device: cfg.Device, metrics: IoMetrics) -> IoDevice:
    if isinstance(device, cfg.ModbusDevice):
        from edge.io.modbus import ModbusIo

        return ModbusIo(
            name, device.host, device.port, device.unit_id, device.timeout_s, metrics=metrics
        )
    if isinstance(device, cfg.GpioDevice):
        from edge.io.gpio import GpioIo

        return GpioIo(name, device.chip, metrics=metrics)
    return MemoryIo(name)


def build_camera(lane: str, camera: cfg.Camera, metrics: IoMetrics) -> Camera:
    """The camera of a lane; its settings are the keyword arguments of the camera class."""
    settings = camera.model_dump(exclude={"kind"})
    if isinstance(camera, cfg.RtspCamera):
        return RtspCamera(lane, metrics=metrics, **settings)
    if isinstance(camera, cfg.SnapshotCamera):
        return SnapshotCamera(lane, metrics=metrics, **settings)
    return FolderCamera(lane, metrics=metrics, **settings)


def _input(devices: Mapping[str, IoDevice], point: cfg.InputPoint) -> InputPin:
    return InputPin(devices[point.device], point.address, point.table, point.active_low)


def _output(devices: Mapping[str, IoDevice], point: cfg.OutputPoint) -> OutputPin:
    return OutputPin(devices[point.device], point.address, point.active_low)


def build_lane(lane: cfg.LaneConfig, devices: Mapping[str, IoDevice], metrics: IoMetrics) -> LaneIo:
    name = lane.gate_id
    camera = build_camera(name, lane.camera, metrics)
    inputs: dict[str, DigitalInput] = {}
    trigger: VehicleTrigger
    if isinstance(lane.trigger, cfg.LoopTrigger):
        inputs["loop"] = _input(devices, lane.trigger.input)
        trigger = LoopTrigger(
            name, inputs["loop"], debounce_s=lane.trigger.debounce_s, metrics=metrics
        )
    else:
        if not isinstance(camera, RtspCamera):  # the config refuses this; kept for the type
            raise ValueError(f"lane {name}: a motion trigger needs an rtsp camera")
        trigger = MotionTrigger(
            name,
            camera,
            region=lane.trigger.region,
            threshold=lane.trigger.threshold,
            cooldown_s=lane.trigger.cooldown_s,
            clear_s=lane.trigger.clear_s,
            metrics=metrics,
        )
    b = lane.barrier
    if b.occupied is not None:
        inputs["occupied"] = _input(devices, b.occupied)
    if b.manual_open is not None:
        inputs["manual_open"] = _input(devices, b.manual_open)
    barrier = BarrierController(
        name,
        _output(devices, b.open),
        pulse_s=b.pulse_s,
        close_output=_output(devices, b.close) if b.close is not None else None,
        occupied=inputs.get("occupied"),
        manual_open=inputs.get("manual_open"),
        close_after_s=b.close_after_s,
        poll_s=b.poll_s,
        metrics=metrics,
    )
    display: Display
    if isinstance(lane.display, cfg.ModbusDisplay):
        block: Any = devices[lane.display.device]
        display = RegisterDisplay(
            name, block, lane.display.address, lane.display.registers, lane.display.encoding
        )
    else:
        display = LogDisplay(name)
    return LaneIo(name, lane.direction, camera, trigger, barrier, display, inputs)


def build_io(
    config: cfg.EdgeConfig,
    metrics: IoMetrics | None = None,
    *,
    lanes: list[str] | None = None,
) -> GateIo:
    """The I/O of the config's lanes (or of ``lanes`` only), not started."""
    metrics = metrics or IoMetrics()
    chosen = [lane for lane in config.lanes if lanes is None or lane.gate_id in lanes]
    used = {point.device for lane in chosen for _key, point, _kinds in cfg.lane_points(lane)}
    devices = {
        name: build_device(name, device, metrics)
        for name, device in config.devices.items()
        if name in used
    }
    return GateIo(
        devices, {lane.gate_id: build_lane(lane, devices, metrics) for lane in chosen}, metrics
    )
