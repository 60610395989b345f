"""Alembic, configured in code: one script location, one version folder per package.

Each package owns its tables and its migration branch (labels ``billing``, ``einvoice``,
``gateway``), so the packages evolve their schemas independently; ``upgrade heads`` applies all.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from gateway.db import ensure_sqlite_dir

ROOT = Path(__file__).resolve().parent.parent
VERSION_LOCATIONS = [
    ROOT / "billing" / "adapters" / "migrations",
    ROOT / "einvoice" / "migrations",
    ROOT / "gateway" / "migrations" / "versions",
]
# Modules whose ``metadata`` attribute describes the tables (used by autogenerate only).
METADATA_MODULES = ["billing.adapters.orm", "einvoice.db", "gateway.orm"]


def target_metadata() -> list[MetaData]:
    found: list[MetaData] = []
    for name in METADATA_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        found.append(module.metadata)
    return found


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "gateway" / "migrations"))
    cfg.set_main_option(
        "version_locations", " ".join(str(p) for p in VERSION_LOCATIONS if p.is_dir())
    )
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "heads") -> None:
    ensure_sqlite_dir(database_url)
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    ensure_sqlite_dir(database_url)
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> None:
    ensure_sqlite_dir(database_url)
    command.current(alembic_config(database_url), verbose=False)
