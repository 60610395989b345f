"""Errors the reader raises on purpose, so callers can tell bad input from a bug."""

from __future__ import annotations


class LprError(Exception):
    """Base class of the plate reader's own errors."""


class BadImage(LprError, ValueError):
    """The input is not a usable image: empty, truncated, not an image, too large, wrong shape."""


class ModelMissing(LprError, RuntimeError):
    """Model weights are missing or do not match their published checksum (never downloaded)."""
