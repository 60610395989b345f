"""The mock tax authority: its own FastAPI app, database, checks and tax-office pages.

Start it with ``parking tax-authority serve``; build it in tests with :func:`create_app`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Type checkers see the real signature; at run time the app module loads on the first call.
    from simulator.tax_authority.app import create_app as create_app
else:

    def create_app(*args, **kwargs):
        from simulator.tax_authority.app import create_app as _create_app

        return _create_app(*args, **kwargs)
