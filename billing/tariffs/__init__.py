"""The shipped tariff files (TOML, one file per tariff version) and their loader."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from billing.domain.model import DomainError
from billing.domain.tariffs import Tariff, TariffCatalog, tariff_from_dict

TARIFF_DIR = Path(__file__).resolve().parent


def load_tariff(path: Path) -> Tariff:
    try:
        with path.open("rb") as fh:
            return tariff_from_dict(tomllib.load(fh))
    except (tomllib.TOMLDecodeError, DomainError) as exc:
        raise DomainError(f"{path.name}: {exc}") from None


def load_catalog(directory: Path | None = None) -> TariffCatalog:
    """Every ``*.toml`` in ``directory`` (default: the shipped files); cached per directory."""
    return _load(str((directory or TARIFF_DIR).resolve()))


@lru_cache(maxsize=8)
def _load(directory: str) -> TariffCatalog:
    return TariffCatalog(load_tariff(p) for p in sorted(Path(directory).glob("*.toml")))
