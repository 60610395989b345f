"""Secrets the operator did not set: made once per data directory, never a default in code.

A session-signing key shipped in the source would let anyone who read it forge sign-ins. When
``PARKING_SECRET_KEY`` is unset, it is drawn at random on first use and kept in
``<data_dir>/secrets/<name>`` (0600), so sign-ins survive a restart of a single instance.
Several API instances need the value set explicitly in their environment. (A payment
provider's webhook secret is never made here: it is the provider's to issue, configured with
the provider in ``PARKING_PAYMENT_PROVIDERS``.)
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from gateway.settings import Settings

log = logging.getLogger(__name__)


def local_secret(data_dir: Path, name: str) -> str:
    """The secret ``name`` kept under ``data_dir``, made on first use (safe against a race)."""
    folder = data_dir / "secrets"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text().strip()
        if len(value) < 32:
            msg = f"{path} holds no usable secret; delete it to make a new one"
            raise RuntimeError(msg) from None
        return value
    value = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value


def with_local_secrets(settings: Settings) -> Settings:
    """``settings`` with every unset secret taken from (or made in) the data directory."""
    update: dict[str, str] = {}
    for field, env in (("secret_key", "PARKING_SECRET_KEY"),):
        if not getattr(settings, field):
            update[field] = local_secret(settings.data_dir, field)
            log.warning(
                "%s is not set: using the secret kept in %s (set it when several instances "
                "must share it)",
                env,
                settings.data_dir / "secrets" / field,
            )
    return settings.model_copy(update=update) if update else settings
