"""The gateway's allow-list publisher: each lot's list signed with the gateway's key, retained on
its lot's topic, republished when its content changed or when due, with increasing versions."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from edge.allowlist import load_public_key, verify_allowlist
from gateway.allowlist import AllowlistPublisher, public_key, signing_key
from gateway.settings import Settings


@dataclass
class Content:
    lot_id: str
    max_fare_vnd: int = 50_000
    cap_vnd: int = 200_000
    credits: dict[str, int] = field(default_factory=lambda: {"30A12345": 150_000})


class Client:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, int, bool]] = []

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> Any:
        self.sent.append((topic, payload, qos, retain))


def test_lists_are_signed_retained_and_republished_on_change(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    contents = {"L1": Content("L1"), "L2": Content("L2", credits={})}
    client = Client()
    publisher = AllowlistPublisher(
        client,
        signing_key(settings),
        lots=lambda: ["L1", "L2"],
        content=lambda lot, _at: contents[lot],
        refresh_s=3600,
        min_gap_s=0,
    )
    assert publisher.publish_due() == 2
    topic, payload, qos, retain = client.sent[0]
    assert (topic, qos, retain) == ("lots/L1/allowlist", 1, True)
    key = load_public_key(public_key(settings))
    first = verify_allowlist(payload, key, "L1")
    assert first.credits == {"30A12345": 150_000}
    assert publisher.publish_due() == 0  # not due, nothing new
    assert publisher.publish_due(changed=True) == 0  # money moved elsewhere: same content
    contents["L1"].credits["30A12345"] = 100_000
    assert publisher.publish_due(changed=True) == 1
    second = verify_allowlist(client.sent[-1][1], key, "L1")
    assert second.version > first.version and second.credit("30A12345") == 100_000


def test_the_signing_key_is_the_setting_or_made_once(tmp_path: Path) -> None:
    made = Settings(data_dir=tmp_path)
    assert public_key(made) == public_key(made)  # kept in data_dir/secrets
    assert (tmp_path / "secrets" / "allowlist_signing_key").exists()
    seed = base64.b64encode(bytes(range(32))).decode()
    given = Settings(data_dir=tmp_path, allowlist_signing_key=seed)
    assert public_key(given) != public_key(made)
    with pytest.raises(ValueError, match="32 bytes"):
        signing_key(Settings(data_dir=tmp_path, allowlist_signing_key="AAAA"))


def test_a_failing_lot_does_not_stop_the_others(tmp_path: Path) -> None:
    client = Client()

    def content(lot: str, _at: datetime) -> Content:
        if lot == "bad":
            raise LookupError("no lot 'bad'")
        return Content(lot)

    publisher = AllowlistPublisher(
        client, signing_key(Settings(data_dir=tmp_path)), lots=lambda: ["bad", "L1"],
        content=content,
    )  # fmt: skip
    assert publisher.publish_due() == 1
    assert client.sent[0][0] == "lots/L1/allowlist"
