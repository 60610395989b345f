"""No signing secret lives in the code: unset ones are made per data directory and kept."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.local_secrets import local_secret, with_local_secrets
from gateway.settings import Settings


def settings(data_dir: Path, **kw: str) -> Settings:
    return Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'p.db'}", **kw)  # type: ignore[arg-type]


def test_unset_secrets_are_made_once_per_data_dir_and_survive_a_restart(tmp_path: Path) -> None:
    first = create_app(settings(tmp_path))
    token = first.state.token_signer.issue("api", 7, "hash")
    restarted = create_app(settings(tmp_path))
    claims = restarted.state.token_signer.load("api", token)
    assert claims is not None and claims.user_id == 7
    # another installation's key does not accept the token
    other = create_app(settings(tmp_path / "other"))
    assert other.state.token_signer.load("api", token) is None
    made = first.state.settings
    assert len(made.secret_key) >= 32
    mode = (tmp_path / "secrets" / "secret_key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    # A payment provider's webhook secret is the provider's to issue: none is ever made here.
    assert made.payment_providers == [] and sorted(
        p.name for p in (tmp_path / "secrets").iterdir()
    ) == ["secret_key"]


def test_secrets_set_in_the_environment_win_and_nothing_is_written(tmp_path: Path) -> None:
    s = with_local_secrets(settings(tmp_path, secret_key="k" * 40))
    assert s.secret_key == "k" * 40
    assert not (tmp_path / "secrets").exists()


def test_a_damaged_secret_file_is_refused_not_used(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "secret_key").write_text("short\n")
    with pytest.raises(RuntimeError, match="no usable secret"):
        local_secret(tmp_path, "secret_key")
