"""Settings of the mock tax authority, read from ``TAXAUTH_*`` when asked for (never at import)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TaxAuthoritySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAXAUTH_", extra="ignore")

    data_dir: Path = Path("var/tax-authority")
    # SQLAlchemy URL of the authority's own database (a separate system: SQLite by default).
    database_url: str | None = None
    # The authority's code in message headers (MNNhan of what it receives, MNGui of its answers).
    code: str = "TCT"
    tax_code: str = "0100000000"  # MST in the authority's own certificate
    name: str = "Tổng cục Thuế (mô phỏng)"
    # PKCS#12 with the authority's key; a local one is generated under data_dir when unset.
    pkcs12: Path | None = None
    pkcs12_password: str | None = None

    # PEM file of the CAs sellers' certificates must chain to; unset: integrity and MST only.
    trusted_ca_pem: Path | None = None

    max_body_bytes: int = Field(default=1024 * 1024, description="largest accepted message")
    max_invoices_per_message: int = 500
    max_invoice_age_days: int = Field(default=30, description="older issue dates are rejected")
    future_tolerance_seconds: int = 300

    # Fault injection, so clients can be tested against an unreliable authority.
    fault_latency_ms: int = 0  # added to every API answer
    fault_latency_jitter_ms: int = 0  # plus a uniform random share of this
    fault_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)  # 503 before processing
    fault_drop_rate: float = Field(default=0.0, ge=0.0, le=1.0)  # connection closed, no work
    fault_drop_after_rate: float = Field(default=0.0, ge=0.0, le=1.0)  # work done, answer lost
    fault_seed: int | None = None  # makes the injected faults reproducible
    # Comma-separated path prefixes the faults apply to (pages and admin stay reliable).
    fault_paths: str = "/api/tdiep"

    # Admin API (seller registration): required header X-Admin-Token when set.
    admin_token: str | None = None
    # Register a demo seller on start (the lot operator of `parking demo`).
    seed_demo_seller: bool = False
    demo_seller_tax_code: str = "0101234567"
    demo_seller_name: str = "Công ty TNHH Bãi đỗ xe Thông Minh"
    demo_seller_cash_register_code: str = "41849"
    # Allowed "template/series" pairs, fnmatch patterns ("?" = any one character).
    demo_seller_series: str = "1/C??M*,1/C??T*,1/K??M*"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tax-authority.db').as_posix()}"
