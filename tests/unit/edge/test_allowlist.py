"""The signed allow-list: what the gateway signs the edge takes; anything tampered, for another
lot, older than the list in use or over the size limit is refused with a stable code."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.allowlist import (
    MAX_ALLOWLIST_BYTES,
    Allowlist,
    AllowlistRefused,
    AllowlistStore,
    load_public_key,
    public_key_b64,
    sign_allowlist,
    verify_allowlist,
)

KEY = Ed25519PrivateKey.generate()
PUBLIC = load_public_key(public_key_b64(KEY))


def allowlist(
    version: int = 1, lot: str = "L1", credits: dict[str, int] | None = None
) -> Allowlist:
    return Allowlist(
        lot,
        version,
        datetime(2026, 12, 6, 9, 0, tzinfo=UTC),
        max_fare_vnd=50_000,
        cap_vnd=200_000,
        credits=credits or {"30A12345": 150_000, "51G99999": 0},
    )


def test_signed_list_round_trips() -> None:
    got = verify_allowlist(sign_allowlist(allowlist(), KEY), PUBLIC, "L1")
    assert got == allowlist()
    assert got.credit("30A12345") == 150_000
    assert got.credit("29B11111") is None


def test_tampered_body_is_refused() -> None:
    outer = json.loads(sign_allowlist(allowlist(), KEY))
    body = json.loads(base64.b64decode(outer["body"]))
    body["entries"][0][1] = 99_000_000  # a richer credit for one plate
    outer["body"] = base64.b64encode(json.dumps(body).encode()).decode()
    with pytest.raises(AllowlistRefused) as err:
        verify_allowlist(json.dumps(outer).encode(), PUBLIC, "L1")
    assert err.value.code == "bad_signature"


def test_wrong_key_is_refused() -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(AllowlistRefused) as err:
        verify_allowlist(sign_allowlist(allowlist(), other), PUBLIC, "L1")
    assert err.value.code == "bad_signature"


def test_another_lots_list_is_refused() -> None:
    with pytest.raises(AllowlistRefused) as err:
        verify_allowlist(sign_allowlist(allowlist(lot="L2"), KEY), PUBLIC, "L1")
    assert err.value.code == "wrong_lot"


@pytest.mark.parametrize("payload", [b"", b"{", b"[]", b'{"v":1,"body":"!!","sig":""}'])
def test_garbage_is_malformed(payload: bytes) -> None:
    with pytest.raises(AllowlistRefused) as err:
        verify_allowlist(payload, PUBLIC, "L1")
    assert err.value.code == "malformed"


def test_oversized_list_is_refused_before_parsing() -> None:
    with pytest.raises(AllowlistRefused) as err:
        verify_allowlist(b" " * (MAX_ALLOWLIST_BYTES + 1), PUBLIC, "L1")
    assert err.value.code == "too_large"
    many = {f"{i:08d}": 1 for i in range(60_000)}
    with pytest.raises(ValueError, match="limit"):
        sign_allowlist(allowlist(credits=many), KEY)


def test_bad_entries_are_never_signed() -> None:
    with pytest.raises(ValueError):
        sign_allowlist(allowlist(credits={"30A-123.45": 1}), KEY)
    with pytest.raises(ValueError):
        sign_allowlist(allowlist(credits={"30A12345": -1}), KEY)


def test_store_takes_newer_versions_only_and_keeps_them_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "allowlist.json"
    store = AllowlistStore(path, PUBLIC, "L1")
    assert store.current is None
    assert store.offer(sign_allowlist(allowlist(5), KEY)) is not None
    assert store.offer(sign_allowlist(allowlist(5), KEY)) is None  # the retained one again
    with pytest.raises(AllowlistRefused) as err:
        store.offer(sign_allowlist(allowlist(4), KEY))  # a replayed older list
    assert err.value.code == "stale"
    assert store.current is not None and store.current.version == 5
    assert store.offer(sign_allowlist(allowlist(6), KEY)) is not None
    again = AllowlistStore(path, PUBLIC, "L1")  # a restart during an outage
    assert again.current is not None and again.current.version == 6


def test_store_ignores_a_tampered_file(tmp_path: Path) -> None:
    path = tmp_path / "allowlist.json"
    path.write_bytes(sign_allowlist(allowlist(), Ed25519PrivateKey.generate()))
    assert AllowlistStore(path, PUBLIC, "L1").current is None
