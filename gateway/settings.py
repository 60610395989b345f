"""Settings of the running system, read from the environment (``PARKING_*``) when asked for.

Nothing is read at import time: call :func:`get_settings` where a value is needed, or build a
:class:`Settings` directly in tests.
"""

from __future__ import annotations

import re
import socket
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.payments.providers import PaymentProvider


def default_client_id(role: str) -> str:
    """``parking-<role>-<hostname>``: unique per host and role, the same after a restart."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname()) or "localhost"
    return f"parking-{role}-{host}"[:128]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARKING_", env_file=".env", extra="ignore")

    # Where the embedded defaults keep their files (SQLite databases, demo keys, gate buffers).
    data_dir: Path = Path("var")
    # SQLAlchemy URL. Default: a SQLite file under data_dir. PostgreSQL:
    # postgresql+psycopg://postgres@127.0.0.1:5432/test
    database_url: str | None = None
    # A read replica (a PostgreSQL hot standby of database_url) for the API's and the pages'
    # GET requests: dashboards, listings, reports. Empty: they read the primary. Writes, and a
    # GET that writes (gateway.deps.PrimarySessionDep), always go to the primary.
    database_read_url: str | None = None

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    # MQTT client id: the broker keeps one persistent session per id, so it must be stable across
    # restarts and unique per gateway process. Default: parking-gateway-<hostname>; several
    # gateways on one host must each set their own (the broker would otherwise hand the session
    # back and forth between them, disconnecting one each time).
    mqtt_client_id: str = Field(default_factory=lambda: default_client_id("gateway"))
    # TLS to the broker (PARKING_MQTT_TLS=1): the CA file that signed the broker's certificate
    # (default: the system's trust store) and, if the broker wants one, a client certificate.
    mqtt_tls: bool = False
    mqtt_tls_ca_file: Path | None = None
    mqtt_tls_certfile: Path | None = None
    mqtt_tls_keyfile: Path | None = None
    # Share subscriptions between several gateway processes ($share/<group>/...).
    mqtt_share_group: str | None = "gateway"
    # "v5" (Mosquitto, EMQX) or "v311" (brokers without MQTT 5, e.g. the embedded amqtt).
    mqtt_protocol: str = "v5"
    # Persistent MQTT session: events published while the gateway restarts wait this long.
    mqtt_session_expiry_s: int = 24 * 3600
    # Which lots this gateway serves ("+" = all), e.g. one gateway group per region.
    mqtt_lot_filter: str = "+"
    # Barrier commands expire (v5 Message Expiry Interval) if a gate has not received them by
    # then: a gate back from an outage must not open for cars long gone.
    mqtt_command_expiry_s: int = 30
    # A gate whose oldest event has waited this long for its decision raises the alert (a
    # warning line, /readyz detail, the dashboard's gate health).
    gate_unanswered_alert_s: float = Field(default=30.0, gt=0)
    # The signed allow-list each lot's edge decides with when the center is down: republished
    # when its content changes (checked after every money movement the outbox publishes) and at
    # least this often (its age is what an edge trusts). 0: not published.
    allowlist_refresh_s: float = Field(default=60.0, ge=0)
    # Its Ed25519 signing key (base64 of the 32-byte seed). Empty: made once and kept in
    # data_dir/secrets; `parking mqtt allowlist-key` prints the public key for gate.toml.
    allowlist_signing_key: str = ""

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Signs session cookies and API tokens. Empty: made once and kept in data_dir/secrets
    # (gateway.local_secrets); set it when several API instances serve the same users.
    secret_key: str = ""
    # The payment providers drivers top up with, as a JSON list (gateway.payments.providers):
    # name, label, kind, webhook_secret (the HMAC key each provider signs its webhooks with),
    # checkout_url, charge_url (auto top-up pulls). None configured: no top-up at all.
    payment_providers: list[PaymentProvider] = Field(default_factory=list)
    # The provider of auto top-ups whose account names none (default: the first that pulls).
    payment_autotopup_provider: str | None = None

    tax_authority_url: str = "http://127.0.0.1:8100"
    # Where people reach this service, e.g. https://parking.example.vn: the QR code on every
    # invoice points at <public_url>/tra-cuu. Unset: the address the request came in on.
    public_url: str | None = None
    # Public invoice lookups allowed per client address and minute (429 beyond).
    lookup_per_minute: int = Field(default=10, ge=1)
    signing_pkcs12: Path | None = None
    signing_pkcs12_password: str | None = None

    lpr_workers: int = 1
    lpr_recognizer: str = "auto"
    # Keep the first frame of every passage under data_dir/images for the review queue.
    keep_images: bool = True
    # Frames are personal data: deleted this many days after capture (0: kept for ever), except
    # those of passages still pending review. See gateway/retention.py.
    image_retention_days: int = Field(default=90, ge=0)
    log_json: bool = False

    # Driver notices (gateway/notices): email through this SMTP server when a host is set;
    # SMS and web push through the stub (data_dir/notices/*.jsonl) until a provider is chosen.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "Bãi đỗ xe không tiền mặt <no-reply@parking.local>"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    notice_stubs: bool = True
    # Receipts are written for trips and top-ups this recent (a worker down for longer skips
    # the older ones rather than flooding drivers with stale receipts).
    notice_receipt_window_h: int = Field(default=24, ge=1)
    # Operator alerts (gateway/alerts): a gate offline, a review backlog, a blacklisted plate
    # seen, the tax authority rejecting. Emailed (through the SMTP server above) to these
    # addresses (comma-separated) and POSTed, signed with HMAC-SHA256, to the webhook.
    alert_emails: str = ""
    alert_webhook_url: str | None = None
    alert_webhook_secret: str | None = None
    alert_review_backlog: int = Field(default=20, ge=1)  # pending passages of one lot
    alert_gate_offline_s: int = Field(default=120, ge=0)  # offline this long before an alert
    alert_listed_window_min: int = Field(default=30, ge=1)  # a listed plate's alert lasts this
    alert_rejected_window_h: int = Field(default=72, ge=1)  # rejections this recent are alerted

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'parking.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
