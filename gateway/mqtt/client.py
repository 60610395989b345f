"""paho-mqtt 2 clients configured the one way the system needs them.

MQTT v5 with a persistent session (clean_start False plus a session expiry) so a gateway that
restarts finds the QoS 1 events published meanwhile waiting for it; paho's own reconnect loop
with exponential backoff; an optional fallback to 3.1.1 (``clean_session=False``) for brokers
that do not speak v5, such as the embedded amqtt broker.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.protocol import PUBLISH_OVERHEAD_BYTES

log = logging.getLogger(__name__)

QOS = 1


@dataclass(frozen=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "parking-gateway"
    username: str | None = None
    password: str | None = None
    protocol: Literal["v5", "v311"] = "v5"
    keepalive: int = 30
    # Persistent session: the broker keeps subscriptions and queued QoS 1 messages this long.
    session_expiry_s: int = 3600
    clean_start: bool = False
    # How many unacknowledged messages the broker may send us at once (v5 Receive Maximum).
    receive_maximum: int = 200
    # paho's reconnect backoff. Short: while the gateway is away, gates' events go unanswered
    # (they resend them, but every second counts at a barrier).
    reconnect_min_s: int = 1
    reconnect_max_s: int = 4
    will: tuple[str, bytes, bool] | None = field(default=None)  # topic, payload, retain
    # v5 Maximum Packet Size: the broker must not send us a bigger packet (it drops it instead),
    # so an oversized event never reaches paho, which reads a whole packet before any check.
    max_packet_bytes: int | None = None
    # TLS (production: a password must never cross the network in the clear). The CA that signed
    # the broker's certificate (None: the system's trust store); a client certificate and key
    # only where the broker asks for one.
    tls: bool = False
    tls_ca_file: str | None = None
    tls_certfile: str | None = None
    tls_keyfile: str | None = None

    @property
    def v5(self) -> bool:
        return self.protocol == "v5"


def make_client(cfg: MqttConfig, *, manual_ack: bool = False) -> mqtt.Client:
    """A configured, not yet connected client (call :func:`connect` to start it)."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=cfg.client_id,
        protocol=MQTTProtocolVersion.MQTTv5 if cfg.v5 else MQTTProtocolVersion.MQTTv311,
        clean_session=None if cfg.v5 else cfg.clean_start,
        reconnect_on_failure=True,
        manual_ack=manual_ack,
    )
    if cfg.username:
        client.username_pw_set(cfg.username, cfg.password)
    if cfg.tls:
        client.tls_set(ca_certs=cfg.tls_ca_file, certfile=cfg.tls_certfile, keyfile=cfg.tls_keyfile)
    elif cfg.password and not _loopback(cfg.host):
        log.warning(
            "MQTT password for %s sent to %s without TLS: set PARKING_MQTT_TLS=1",
            cfg.username,
            cfg.host,
        )
    client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)
    # Unacked QoS 1 messages we may have in flight towards the broker; the rest wait in order.
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    if cfg.will is not None:
        will_topic, will_payload, will_retain = cfg.will
        client.will_set(will_topic, will_payload, qos=QOS, retain=will_retain)
    client.on_socket_open = no_delay
    return client


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def no_delay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    """Send each MQTT packet at once (TCP_NODELAY): paho leaves Nagle's algorithm on.

    With Nagle on, a packet written while the previous one is still unacknowledged at the TCP
    level waits for that ACK, and the broker delays its ACKs (up to 40 ms on Linux): a barrier
    command published right after the event's PUBACK sat there for about 40 ms.
    """
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def connect_properties(cfg: MqttConfig) -> Properties | None:
    if not cfg.v5:
        return None
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = cfg.session_expiry_s
    props.ReceiveMaximum = cfg.receive_maximum
    if cfg.max_packet_bytes is not None:
        props.MaximumPacketSize = cfg.max_packet_bytes
    return props


def expiring(client: mqtt.Client, expiry_s: int | None) -> Properties | None:
    """PUBLISH properties with a v5 Message Expiry Interval (None on 3.1.1 or without expiry).

    The broker drops a message still queued for an offline subscriber after ``expiry_s``: a
    gate back from an outage must not receive a burst of old "open" commands.
    """
    if expiry_s is None or client.protocol != MQTTProtocolVersion.MQTTv5:
        return None
    props = Properties(PacketTypes.PUBLISH)
    props.MessageExpiryInterval = expiry_s
    return props


def packet_limit(max_payload_bytes: int) -> int:
    """The Maximum Packet Size that admits a payload of this size and its PUBLISH header
    (``gateway.protocol.PUBLISH_OVERHEAD_BYTES``: fixed header, topic, packet id, properties)."""
    return max_payload_bytes + PUBLISH_OVERHEAD_BYTES


def connect(client: mqtt.Client, cfg: MqttConfig, timeout: float = 10.0) -> None:
    """Connect, start the network thread and wait for CONNACK; raise when refused or late.

    After the first success the network thread reconnects by itself with backoff.
    """
    connected = threading.Event()
    refused: list[str] = []
    previous = client.on_connect

    def on_connect(c: mqtt.Client, userdata: object, flags: object, reason: object, props: object):
        if getattr(reason, "is_failure", False):
            refused.append(str(reason))
        connected.set()
        if previous is not None:
            callback: Any = previous
            callback(c, userdata, flags, reason, props)

    client.on_connect = on_connect
    try:
        client.connect(
            cfg.host,
            cfg.port,
            keepalive=cfg.keepalive,
            clean_start=cfg.clean_start if cfg.v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=connect_properties(cfg),
        )
        client.loop_start()
        if not connected.wait(timeout):
            client.loop_stop()
            raise ConnectionError(f"no CONNACK from {cfg.host}:{cfg.port} in {timeout}s")
        if refused:
            client.loop_stop()
            client.disconnect()
            raise ConnectionError(f"broker refused {cfg.client_id}: {refused[0]}")
    finally:
        client.on_connect = previous


def shared(group: str | None, topic_filter: str) -> str:
    """``$share/<group>/<filter>`` when a group is given: consumers in a group split the load."""
    return f"$share/{group}/{topic_filter}" if group else topic_filter


def stop(client: mqtt.Client) -> None:
    try:
        client.disconnect()
    finally:
        client.loop_stop()
