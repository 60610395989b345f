"""The edge's own plate reader, from gate.toml's ``[reader]``.

The edge reads plates itself (its read travels with the event, and it decides alone when the
center is down), with lpr's reader and policies. On a gate box that reader runs on ONNX
Runtime only: CRAFT, the torch-based last resort, is loaded only when the config asks for it
(and ``parking[easyocr]`` is installed), so the process stays small and starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.config import ReaderConfig

if TYPE_CHECKING:
    from lpr.reader import PlateReader


def plate_reader(config: ReaderConfig) -> PlateReader:
    """A warmed-up reader: the first car is read as fast as the next."""
    from lpr.reader import PlateReader

    reader = PlateReader(config.recognizer, craft_fallback=config.craft_fallback)
    reader.warm_up()
    return reader
