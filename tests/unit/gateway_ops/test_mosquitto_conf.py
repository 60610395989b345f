"""The generated Mosquitto files: password hashes in mosquitto_passwd's format, tight ACLs."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from gateway.mosquitto_conf import (
    GateCredential,
    acl_file,
    broker_config,
    gate_username,
    hash_password,
    password_file,
    write_config,
)


def test_password_hash_is_pbkdf2_sha512_in_mosquitto_format() -> None:
    h = hash_password("s3cret", salt=b"0123456789ab")
    _, kind, iterations, salt, digest = h.split("$")
    assert kind == "7" and iterations == "101"
    expected = hashlib.pbkdf2_hmac("sha512", b"s3cret", b"0123456789ab", 101)
    assert base64.b64decode(salt) == b"0123456789ab"
    assert base64.b64decode(digest) == expected
    assert hash_password("s3cret") != hash_password("s3cret")  # salted
    assert "s3cret" not in password_file({"gateway": "s3cret"})


def test_each_gate_gets_only_its_own_topics() -> None:
    gates = [GateCredential("L1", "in-1", "a"), GateCredential("L1", "out-1", "b")]
    acl = acl_file(["gateway"], gates)
    blocks = {b.splitlines()[0]: b.splitlines()[1:] for b in acl.strip().split("\n\n")}
    assert blocks["user gate/L1/in-1"] == [
        "topic write lots/L1/gates/in-1/events",
        "topic readwrite lots/L1/gates/in-1/status",
        "topic read lots/L1/gates/in-1/commands",
        "topic read lots/L1/allowlist",  # its lot's signed allow-list, never another lot's
    ]
    assert not any("out-1" in line for line in blocks["user gate/L1/in-1"])
    assert not any("write lots/L1/allowlist" in line for line in blocks["user gate/L1/in-1"])
    assert "topic write lots/+/gates/+/commands" in blocks["user gateway"]
    assert "topic write lots/+/allowlist" in blocks["user gateway"]
    assert "topic write lots/+/gates/+/events" not in blocks["user gateway"]


def test_config_refuses_anonymous_and_persists_sessions(tmp_path: Path) -> None:
    text = broker_config(tmp_path, port=18883)
    assert "allow_anonymous false" in text
    assert "listener 18883 127.0.0.1" in text
    assert "persistence true" in text and f"password_file {tmp_path}/passwd" in text
    assert "set_tcp_nodelay true" in text  # no Nagle delay on barrier commands
    conf = write_config(
        tmp_path, port=18883, service_users={"gateway": "x"}, gates=[GateCredential("L", "G", "y")]
    )
    assert conf.read_text() == text
    assert (tmp_path / "passwd").read_text().count("\n") == 2
    assert oct((tmp_path / "passwd").stat().st_mode & 0o777) == "0o600"


def test_gate_usernames_never_collide_although_ids_contain_dots() -> None:
    assert gate_username("A.B", "C") != gate_username("A", "B.C")
    assert gate_username("A.B", "C") == "gate/A.B/C"
    assert gate_username("hn-01", "hn-01_in.1") == "gate/hn-01/hn-01_in.1"


@pytest.mark.parametrize(
    ("lot", "gate"),
    [("A\n", "C"), ("A", "C\nuser gateway"), ("A/B", "C"), ("A", "+"), ("", "C"), ("A:B", "C")],
)
def test_ids_that_could_break_the_password_or_acl_file_are_refused(lot: str, gate: str) -> None:
    with pytest.raises(ValueError, match="does not match"):
        gate_username(lot, gate)


def test_files_are_private_and_a_service_user_cannot_inject_lines(tmp_path: Path) -> None:
    old = tmp_path / "passwd"
    old.write_text("stale")
    old.chmod(0o644)
    write_config(tmp_path, port=1, service_users={"gateway": "x"}, gates=[])
    for name in ("passwd", "acl", "mosquitto.conf"):
        assert oct((tmp_path / name).stat().st_mode & 0o777) == "0o600"
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(ValueError):
        write_config(tmp_path, port=1, service_users={"gw\ntopic #": "x"}, gates=[])
