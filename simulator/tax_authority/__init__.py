"""The mock tax authority: its own FastAPI app, database, checks and tax-office pages.

Start it with ``parking tax-authority serve``; build it in tests with :func:`create_app`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_app(*args: Any, **kwargs: Any) -> FastAPI:
    from simulator.tax_authority.app import create_app as _create_app

    return _create_app(*args, **kwargs)
