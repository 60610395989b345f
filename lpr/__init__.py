"""Offline Vietnamese plate reading: localize, split lines, recognize, decode under the grammar.

Public API: ``PlateReader(...).read(frames, crop=None) -> PlateRead`` and
``lpr.pool.ReaderPool(workers).read(frames, crop) -> Future[PlateRead]``. Nothing heavy is
imported or loaded until a reader is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lpr.errors import BadImage, LprError, ModelMissing
from lpr.types import Candidate, PlateRead

if TYPE_CHECKING:
    from lpr.reader import PlateReader

__all__ = ["BadImage", "Candidate", "LprError", "ModelMissing", "PlateRead", "PlateReader"]


def __getattr__(name: str) -> Any:
    if name == "PlateReader":
        from lpr.reader import PlateReader

        return PlateReader
    raise AttributeError(name)
