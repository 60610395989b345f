"""Broker credentials across runs of ``parking mqtt config``: kept, added, dropped, rotated."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.broker_credentials import CredentialFileError, load, plan, save


def test_passwords_are_kept_new_gates_added_and_removed_gates_dropped(tmp_path: Path) -> None:
    first = plan(None, ["gateway"], [("L1", "in"), ("L1", "out")])
    assert first.created == ("gate/L1/in", "gate/L1/out") and first.services_new == ("gateway",)
    save(tmp_path, first.credentials, port=1883)
    second = plan(load(tmp_path), ["gateway"], [("L1", "in"), ("L2", "in")])
    assert second.kept == ("gate/L1/in",) and second.created == ("gate/L2/in",)
    assert second.removed == ("gate/L1/out",) and second.services_new == ()
    old = {g.username: g.password for g in first.credentials.gates}
    new = {g.username: g.password for g in second.credentials.gates}
    assert new["gate/L1/in"] == old["gate/L1/in"] and new["gate/L2/in"] not in old.values()
    assert second.credentials.service_users == first.credentials.service_users
    save(tmp_path, second.credentials, port=1883)
    assert not (tmp_path / "gates" / "L1" / "out.json").exists()  # its file went with it
    assert (tmp_path / "gates" / "L2" / "in.json").exists()


def test_rotate_and_a_renamed_service_user_get_new_passwords(tmp_path: Path) -> None:
    first = plan(None, ["gateway"], [("L1", "in")])
    rotated = plan(first.credentials, ["gateway"], [("L1", "in")], rotate=True)
    assert rotated.created == ("gate/L1/in",) and rotated.services_new == ("gateway",)
    assert rotated.credentials.gates[0].password != first.credentials.gates[0].password
    renamed = plan(first.credentials, ["gw2"], [("L1", "in")])
    assert renamed.services_new == ("gw2",) and renamed.kept == ("gate/L1/in",)
    assert renamed.removed == ("gateway",)
    assert renamed.credentials.service_users["gw2"] != first.credentials.service_users["gateway"]


def test_one_account_and_env_file_per_gateway_instance(tmp_path: Path) -> None:
    """The broker binds a client id to its account: two instances need two accounts."""
    two = plan(None, ["gw-a", "gw-b"], [("L1", "in")])
    assert two.services_new == ("gw-a", "gw-b")
    save(tmp_path, two.credentials, port=1883)
    env_a = (tmp_path / "gateways" / "gw-a.env").read_text()
    assert "PARKING_MQTT_USERNAME=gw-a\n" in env_a and "PARKING_MQTT_CLIENT_ID=gw-a\n" in env_a
    assert f"PARKING_MQTT_PASSWORD={two.credentials.service_users['gw-a']}\n" in env_a
    three = plan(load(tmp_path), ["gw-a", "gw-b", "gw-c"], [("L1", "in")])
    assert three.services_new == ("gw-c",)
    assert three.credentials.service_users["gw-a"] == two.credentials.service_users["gw-a"]
    one = plan(load(tmp_path), ["gw-b"], [("L1", "in")])
    assert one.removed == ("gw-a",)
    save(tmp_path, one.credentials, port=1883)
    assert sorted(p.name for p in (tmp_path / "gateways").iterdir()) == ["gw-b.env"]


def test_a_version_1_credentials_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "credentials.json").write_text(
        '{"version": 1, "service": {"username": "gateway", "password": "old"}, "gates": []}'
    )
    (tmp_path / "gateway.env").write_text("PARKING_MQTT_PASSWORD=old\n")
    creds = load(tmp_path)
    assert creds is not None and creds.service_users == {"gateway": "old"}
    again = plan(creds, ["gateway"], [("L1", "in")])
    assert again.services_new == () and again.credentials.service_users == {"gateway": "old"}
    save(tmp_path, again.credentials, port=1883)
    assert not (tmp_path / "gateway.env").exists()  # replaced by gateways/gateway.env
    assert (tmp_path / "gateways" / "gateway.env").exists()


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
