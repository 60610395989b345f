"""Broker credentials across runs of ``parking mqtt config``: kept, added, dropped, rotated."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.broker_credentials import CredentialFileError, load, plan, save


def test_passwords_are_kept_new_gates_added_and_removed_gates_dropped(tmp_path: Path) -> None:
    first = plan(None, "gateway", [("L1", "in"), ("L1", "out")])
    assert first.created == ("gate/L1/in", "gate/L1/out") and first.service_rotated
    save(tmp_path, first.credentials, port=1883)
    second = plan(load(tmp_path), "gateway", [("L1", "in"), ("L2", "in")])
    assert second.kept == ("gate/L1/in",) and second.created == ("gate/L2/in",)
    assert second.removed == ("gate/L1/out",) and not second.service_rotated
    old = {g.username: g.password for g in first.credentials.gates}
    new = {g.username: g.password for g in second.credentials.gates}
    assert new["gate/L1/in"] == old["gate/L1/in"] and new["gate/L2/in"] not in old.values()
    assert second.credentials.service_password == first.credentials.service_password
    save(tmp_path, second.credentials, port=1883)
    assert not (tmp_path / "gates" / "L1" / "out.json").exists()  # its file went with it
    assert (tmp_path / "gates" / "L2" / "in.json").exists()


def test_rotate_and_a_renamed_service_user_get_new_passwords(tmp_path: Path) -> None:
    first = plan(None, "gateway", [("L1", "in")])
    rotated = plan(first.credentials, "gateway", [("L1", "in")], rotate=True)
    assert rotated.created == ("gate/L1/in",) and rotated.service_rotated
    assert rotated.credentials.gates[0].password != first.credentials.gates[0].password
    renamed = plan(first.credentials, "gw2", [("L1", "in")])
    assert renamed.service_rotated and renamed.kept == ("gate/L1/in",)
    assert renamed.credentials.service_password != first.credentials.service_password


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"gates": []}',
        '{"service": {"username": "gw", "password": "x\\ny"}, "gates": []}',
        '{"service": {"username": "gw", "password": "x"}, "gates": [{"lot_id": "a/b"}]}',
    ],
)
def test_a_damaged_credentials_file_is_an_error_not_a_silent_rotation(
    tmp_path: Path, content: str
) -> None:
    (tmp_path / "credentials.json").write_text(content)
    with pytest.raises(CredentialFileError, match="not a credentials file"):
        load(tmp_path)
