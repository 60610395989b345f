"""Settings come from PARKING_* variables; the default database is a SQLite file in the data dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.migrate import ensure_sqlite_dir
from gateway.settings import Settings


@pytest.fixture()
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No PARKING_* variable and no .env file from the machine running the tests."""
    for name in [n for n in os.environ if n.startswith("PARKING_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_to_a_sqlite_file_under_the_data_dir(clean_env: Path) -> None:
    s = Settings()
    assert s.data_dir == Path("var") and s.database_url is None
    assert s.effective_database_url == "sqlite:///var/parking.db"


def test_reads_the_parking_prefix(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARKING_DATA_DIR", str(clean_env / "elsewhere"))
    monkeypatch.setenv("PARKING_MQTT_PORT", "1884")
    monkeypatch.setenv("MQTT_PORT", "9999")  # without the prefix: not ours
    s = Settings()
    assert s.data_dir == clean_env / "elsewhere" and s.mqtt_port == 1884
    assert (
        s.effective_database_url == f"sqlite:///{(clean_env / 'elsewhere').as_posix()}/parking.db"
    )
    monkeypatch.setenv("PARKING_DATABASE_URL", "postgresql+psycopg://u@h:5432/db")
    assert Settings().effective_database_url == "postgresql+psycopg://u@h:5432/db"


def test_the_sqlite_folder_is_made_before_migrating(clean_env: Path) -> None:
    ensure_sqlite_dir("sqlite:///a/b/parking.db")
    assert (clean_env / "a" / "b").is_dir()
    ensure_sqlite_dir("sqlite://")  # in memory: nothing to make
    ensure_sqlite_dir("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert sorted(p.name for p in clean_env.iterdir()) == ["a"]


def test_payment_providers_come_from_the_environment_as_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from pydantic import ValidationError

    from gateway.payments.providers import directory

    one = {
        "name": "vnpay-qr",
        "label": "VNPay QR",
        "kind": "qr",
        "webhook_secret": "s" * 32,
        "checkout_url": "https://pay.example/checkout",
    }
    monkeypatch.setenv("PARKING_PAYMENT_PROVIDERS", json.dumps([one]))
    (provider,) = Settings(_env_file=None).payment_providers  # type: ignore[call-arg]
    assert (provider.name, provider.secret, provider.pulls) == ("vnpay-qr", "s" * 32, False)
    assert "s" * 32 not in repr(provider)  # the secret never reaches a log line
    for bad in ({"webhook_secret": "short"}, {"checkout_url": "javascript:alert(1)"}):
        monkeypatch.setenv("PARKING_PAYMENT_PROVIDERS", json.dumps([{**one, **bad}]))
        with pytest.raises(ValidationError):
            Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="twice"):
        directory([provider, provider])
    monkeypatch.delenv("PARKING_PAYMENT_PROVIDERS")
    assert Settings(_env_file=None).payment_providers == []  # type: ignore[call-arg]
