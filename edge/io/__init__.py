"""The gate's hardware behind small protocols, each with a simulated one for tests.

- ``points``: ``DigitalInput.read()`` and ``DigitalOutput.write(on)``, on Modbus TCP I/O modules
  (``modbus``), GPIO lines (``gpio``) or memory (``memory``).
- ``camera``: ``Camera.capture() -> (JPEG frames, crop)`` from an RTSP stream (``rtsp``), an HTTP
  snapshot URL (``snapshot``) or a folder (``folder``).
- ``triggers``: ``VehicleTrigger.poll() -> bool``, once per vehicle: a loop detector's input or
  a vehicle entering a region of the image.
- ``barrier``: the barrier's safety rules (pulse, vehicle-under-the-arm interlock, manual open,
  every open logged with why); ``display``: ``Display.show(text)``.
- ``build``: all of it from a lane of gate.toml (``edge.config``).
"""
