"""MQTT over TLS: the gateway and a gate agent reach a Mosquitto TLS listener signed by a private
CA (made here), with passwords; a client without TLS gets nowhere."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from edge.lane import Lane, LaneConfig
from einvoice.keys import make_ca
from gateway.bootstrap import mqtt_config
from gateway.broker import free_port
from gateway.consumer import Consumer
from gateway.outbox_publisher import OutboxPublisher
from gateway.settings import Settings
from simulator.cameras import TinyCamera
from tests.integration.gateway.private_broker import private_mosquitto
from tests.integration.gateway.test_broker_acl import signed_in
from tests.integration.gateway.test_consumer_mqtt import FakeBilling, start

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class TlsBroker:
    host: str
    port: int
    ca_file: Path


def _pem(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def server_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A private CA and the broker's certificate for 127.0.0.1 / localhost: (ca, cert, key)."""
    ca_key, ca_cert = make_ca("Parking Test MQTT CA")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = datetime.now(UTC) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return (
        _pem(directory / "ca.pem", ca_cert.public_bytes(pem)),
        _pem(directory / "server.pem", cert.public_bytes(pem)),
        _pem(
            directory / "server.key",
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        ),
    )


LOT = "TLS1"
USERS = {"gateway": "gw-secret", f"gate.{LOT}.in-1": "gate-secret"}


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    directory = tmp_path_factory.mktemp("mqtt-tls")
    ca, cert, key = server_certificate(directory)
    listener = [f"cafile {ca}", f"certfile {cert}", f"keyfile {key}", "tls_version tlsv1.2"]
    with private_mosquitto(directory, free_port(), listener, USERS) as (host, port):
        yield TlsBroker(host, port, ca)


async def test_gateway_and_gate_talk_over_tls(tls_broker: TlsBroker, tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        mqtt_host=tls_broker.host,
        mqtt_port=tls_broker.port,
        mqtt_username="gateway",
        mqtt_password=USERS["gateway"],
        mqtt_client_id=f"gw-tls-{uuid.uuid4().hex[:6]}",
        mqtt_tls=True,
        mqtt_tls_ca_file=tls_broker.ca_file,
    )
    cfg = mqtt_config(settings)
    assert cfg.tls and cfg.tls_ca_file == str(tls_broker.ca_file)
    billing = FakeBilling()
    sessions = sessionmaker(bind=create_engine("sqlite://"))
    consumer = Consumer(
        cfg,
        settle=billing.settle,
        read_plate=None,
        publisher_factory=lambda c: OutboxPublisher(
            sessions, c, claim=billing.claim, mark_processed=billing.mark
        ),
        share_group=None,
        lot_filter=LOT,
    )
    running = await start(consumer, billing)
    gate = Lane(
        LaneConfig(
            LOT,
            "in-1",
            "entry",
            tmp_path / "in-1.sqlite",
            host=tls_broker.host,
            port=tls_broker.port,
            username=f"gate.{LOT}.in-1",
            password=USERS[f"gate.{LOT}.in-1"],
            tls=True,
            tls_ca_file=tls_broker.ca_file,
        ),
        TinyCamera(),
    )
    gate.start()
    try:
        assert gate.connected
        event = gate.capture("30A-123.45", camera_text=True)
        command = await asyncio.to_thread(gate.wait_command, event.event_id, 10)
        assert command is not None and command.open
    finally:
        gate.stop()
        running.stop.set()
        await running.task


def test_a_client_without_tls_is_refused(tls_broker: TlsBroker) -> None:
    with pytest.raises((ConnectionError, OSError)):
        signed_in(tls_broker.port, "gateway", USERS["gateway"], tls_broker.host, timeout=1)


def test_a_client_that_does_not_trust_the_ca_is_refused(tls_broker: TlsBroker) -> None:
    """Without the private CA the broker's certificate does not verify: no silent downgrade."""
    with pytest.raises((ConnectionError, OSError)):
        signed_in(
            tls_broker.port, "gateway", USERS["gateway"], tls_broker.host, tls=True, timeout=1
        )
