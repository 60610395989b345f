"""Apps on fresh SQLite databases: people only (``gw_env``), or the demo world (``world``).

Each database is built once per test session (migrations, seed, argon2 hashes) and copied for
every test, so a test starts from a known state in milliseconds.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from billing.adapters import outbox as billing_outbox
from gateway import migrate
from gateway.app import create_app
from gateway.auth.users import create_user, grant
from gateway.db import make_engine, make_session_factory
from gateway.payments.providers import PaymentProvider
from gateway.settings import Settings

PASSWORD = "correct horse battery"
# Two payment providers the test apps know: a bank transfer, and a wallet that pulls.
PROVIDERS = [
    PaymentProvider(
        name="vietbank",
        label="Vietbank",
        kind="bank_transfer",
        webhook_secret=SecretStr("test-webhook-secret-vietbank"),
        checkout_url="http://pay.test/checkout/vietbank",
    ),
    PaymentProvider(
        name="momo",
        label="MoMo",
        kind="wallet",
        webhook_secret=SecretStr("test-webhook-secret-momo"),
        checkout_url="http://pay.test/checkout/momo",
        charge_url="http://pay.test/api/momo/charges",
    ),
]
_TOKENS: dict[tuple[str, str, str], str] = {}


@dataclass(frozen=True)
class Env:
    client: TestClient
    session_factory: sessionmaker[Session]
    settings: Settings
    demo: object | None = None
    template: str = ""

    def token(self, username: str, password: str = PASSWORD) -> str:
        # Every copy of a template has the same users and hashes, so a token issued for one
        # copy is valid for all: sign in once per session, not once per test (argon2 is slow).
        key = (self.template, username, password)
        if key not in _TOKENS:
            r = self.client.post(
                "/api/v1/auth/token", data={"username": username, "password": password}
            )
            assert r.status_code == 200, r.text
            _TOKENS[key] = str(r.json()["access_token"])
        return _TOKENS[key]

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}

    def uow(self) -> Any:
        from billing.adapters.uow import UnitOfWork

        return UnitOfWork(self.session_factory)


def seed_people(
    factory: sessionmaker[Session],
    driver_account: int = 1,
    other_driver_account: int = 2,
    lot_a: str = "LOT-A",
    company_b: str = "OP-B",
) -> None:
    with factory() as s:
        create_user(s, "admin", PASSWORD, "admin", display_name="Quản trị")
        create_user(s, "op-a", PASSWORD, "operator", display_name="Nguyễn Văn A")
        create_user(s, "op-b", PASSWORD, "operator", display_name="Trần Thị B")
        create_user(s, "op-none", PASSWORD, "operator", display_name="No lots")
        create_user(s, "driver", PASSWORD, "driver", account_id=driver_account)
        create_user(s, "driver2", PASSWORD, "driver", account_id=other_driver_account)
        grant(s, "op-a", lot_id=lot_a)
        grant(s, "op-b", company=company_b)
        s.commit()


@pytest.fixture(scope="session")
def gw_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gw-template") / "gw.db"
    url = f"sqlite:///{path.as_posix()}"
    migrate.upgrade(url, "gateway@head")
    engine = make_engine(url)
    seed_people(make_session_factory(engine))
    engine.dispose()
    return path


@dataclass(frozen=True)
class World:
    path: Path
    demo: object


@pytest.fixture(scope="session")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Every package's tables plus billing's demo world: operator, two lots, four accounts.

    op-a may see the central lot only; op-b every lot of the demo operator company; ``driver``
    owns account "an", ``driver2`` account "binh".
    """
    from billing.adapters.uow import UnitOfWork
    from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT, seed_demo

    path = tmp_path_factory.mktemp("world-template") / "world.db"
    url = f"sqlite:///{path.as_posix()}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    demo = seed_demo(UnitOfWork(factory))
    assert AIRPORT_LOT in demo.lots
    _valid_register_code(factory, demo.operator_id)
    seed_people(
        factory,
        driver_account=demo.accounts["an"],
        other_driver_account=demo.accounts["binh"],
        lot_a=CENTRAL_LOT,
        company_b=demo.operator_id,
    )
    engine.dispose()
    return World(path, demo)


def _valid_register_code(factory: sessionmaker[Session], operator_id: str) -> None:
    """einvoice's numbering wants a 5-character cash-register code; the billing seed's
    'M1-26-PK001' is refused, so the demo operator gets one that einvoice accepts."""
    import re

    from billing.adapters import orm as b

    with factory() as s:
        op = s.get(b.Operator, operator_id)
        assert op is not None
        if not re.fullmatch(r"[A-Z0-9]{5}", op.cash_register_code or ""):
            op.cash_register_code = "PK001"
            s.commit()


def _env(template: Path, tmp_path: Path, demo: object | None = None) -> Iterator[Env]:
    path = tmp_path / "app.db"
    shutil.copyfile(template, path)
    url = f"sqlite:///{path.as_posix()}"
    settings = Settings(
        database_url=url,
        data_dir=tmp_path,
        secret_key="test-secret",
        payment_providers=PROVIDERS,
    )
    engine = make_engine(url)
    app = create_app(settings)
    with TestClient(app) as client:
        yield Env(client, make_session_factory(engine), settings, demo, str(template))
    engine.dispose()
    app.state.engine.dispose()


@pytest.fixture()
def gw_env(gw_template: Path, tmp_path: Path) -> Iterator[Env]:
    """Only the gateway's own tables: for sign-in, roles and users."""
    yield from _env(gw_template, tmp_path)


@pytest.fixture()
def world(world_template: World, tmp_path: Path) -> Iterator[Env]:
    yield from _env(world_template.path, tmp_path, world_template.demo)


@pytest.fixture(scope="session")
def invoice_maker(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The demo seller's signing key (made once: RSA key generation is slow)."""
    from billing.services.seed import seed_demo  # noqa: F401  (the seller is the demo operator)
    from einvoice.keys import ensure_demo_keys
    from einvoice.maker import XmlInvoiceMaker
    from einvoice.signing import Signer

    keys = ensure_demo_keys(tmp_path_factory.mktemp("keys"), "0109876543")
    return XmlInvoiceMaker(Signer.from_pkcs12(keys.seller_pkcs12, keys.password))


def issue_invoices(env: Env, maker: object) -> int:
    """Run the invoice worker over the outbox, as the gateway's invoice loop does."""
    from einvoice.worker import InvoiceWorker

    results = InvoiceWorker(env.session_factory, maker, outbox=billing_outbox).run_once()  # type: ignore[arg-type]
    return sum(1 for r in results if r.outcome == "issued")
