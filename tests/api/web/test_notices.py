"""Driver notices: billing's low-balance outbox rows, trip and top-up receipts become notices
once per event, go out on each channel the driver has, are retried with backoff, and show in the
portal's inbox with how each delivery went."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from billing.adapters import orm as b
from billing.adapters import outbox
from billing.services import set_contacts, set_low_balance_notice, top_up
from billing.services.seed import CENTRAL_LOT
from gateway.notices.port import OutgoingMessage, SendError
from gateway.notices.worker import REDACTED, NoticeWorker
from gateway.orm import Notice, NoticeDelivery
from tests.api.web.conftest import PASSWORD, Env
from tests.api.web.helpers import stay

PHONE = "+84912000111"
EMAIL = "an@example.vn"


class Recorder:
    """A sender that keeps what it was given; fails while ``failures`` is above zero."""

    def __init__(self, failures: int = 0) -> None:
        self.sent: list[OutgoingMessage] = []
        self.failures = failures

    def send(self, message: OutgoingMessage) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise SendError("provider busy")
        self.sent.append(message)


class Clock:
    """The worker's time, a little ahead of the rows' own (stamped with the real time)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now


def _worker(
    env: Env, clock: Callable[[], datetime] | None = None, **senders: Recorder
) -> NoticeWorker:
    kwargs = {"clock": clock} if clock else {}
    return NoticeWorker(env.session_factory, senders, **kwargs)  # type: ignore[arg-type]


def _an(env: Env) -> int:
    return int(env.demo.accounts["an"])  # type: ignore[attr-defined]


def _notices(env: Env, kind: str) -> list[Notice]:
    with env.session_factory() as s:
        return list(s.scalars(select(Notice).where(Notice.kind == kind).order_by(Notice.id)))


def test_low_balance_notice_goes_out_once_on_every_channel(world: Env) -> None:
    an = _an(world)
    set_contacts(world.uow(), an, phone=PHONE, email=EMAIL)
    set_low_balance_notice(world.uow(), an, 480_000)
    stay(world, CENTRAL_LOT, "30A-123.45")  # 500.000 - 50.000 = 450.000 < 480.000
    sms, email, push = Recorder(), Recorder(), Recorder()
    worker = _worker(world, sms=sms, email=email, push=push)
    worker.run_once()
    (notice,) = _notices(world, "low_balance")
    assert notice.account_id == str(an) and notice.code == "notice_low_balance"
    low = [m for m in sms.sent if m.subject == "Số dư thấp"]
    assert [m.recipient for m in low] == [PHONE]
    assert "450.000 ₫" in low[0].body and "480.000 ₫" in low[0].body
    assert [m.recipient for m in email.sent if m.subject == "Số dư thấp"] == [EMAIL]
    assert len([m for m in push.sent if m.subject == "Số dư thấp"]) == 1
    # The trip's receipt went too (and the seed's top-up of 500.000 ₫).
    assert any("Đã thu 50.000 ₫" in m.body and "30A-123.45" in m.body for m in sms.sent)
    assert any(m.subject == "Nạp tiền thành công" for m in sms.sent)
    sent = len(sms.sent) + len(email.sent) + len(push.sent)
    with world.session_factory() as s:
        assert outbox.pending(s, outbox.LOW_BALANCE_NOTICE) == 0

    worker.run_once()  # nothing new happened: nothing is sent again
    assert len(sms.sent) + len(email.sent) + len(push.sent) == sent
    assert len(_notices(world, "low_balance")) == 1


def test_low_balance_is_not_repeated_until_a_top_up(world: Env) -> None:
    an = _an(world)
    set_contacts(world.uow(), an, phone=PHONE, email=None)
    set_low_balance_notice(world.uow(), an, 480_000)
    end = datetime.now(UTC) - timedelta(hours=5)
    sms = Recorder()
    worker = _worker(world, sms=sms)
    stay(world, CENTRAL_LOT, "30A-123.45", end=end)
    worker.run_once()
    stay(world, CENTRAL_LOT, "30A-123.45", end=end + timedelta(hours=2))
    worker.run_once()
    assert len(_notices(world, "low_balance")) == 1  # still the same dip below the level
    with world.session_factory() as s:
        assert outbox.pending(s, outbox.LOW_BALANCE_NOTICE) == 0  # handled, not left behind
    top_up(world.uow(), an, 20_000, "demo-bank", "small-one")
    stay(world, CENTRAL_LOT, "30A-123.45")
    worker.run_once()
    assert len(_notices(world, "low_balance")) == 2  # topped up, then below again: warned


def test_accounts_without_a_driver_get_no_notices(world: Env) -> None:
    binh = int(world.demo.accounts["binh"])  # type: ignore[attr-defined]
    logistics = int(world.demo.accounts["logistics"])  # type: ignore[attr-defined]
    set_contacts(world.uow(), logistics, phone=PHONE, email=None)
    stay(world, CENTRAL_LOT, "30E-246.80")  # logistics: no one signs in to it
    sms = Recorder()
    _worker(world, sms=sms).run_once()
    with world.session_factory() as s:
        accounts = set(s.scalars(select(Notice.account_id)))
    assert str(logistics) not in accounts
    # driver2 signs in to Bình's account: its seed top-up's receipt is in the inbox, though
    # the account has no phone for an SMS.
    assert str(binh) in accounts
    assert all(m.recipient != PHONE for m in sms.sent)


def test_a_failed_send_is_retried_with_backoff_then_marked_failed(world: Env) -> None:
    an = _an(world)
    set_contacts(world.uow(), an, phone=PHONE, email=EMAIL)
    stay(world, CENTRAL_LOT, "30A-123.45")
    clock = Clock()
    flaky, broken = Recorder(failures=2), Recorder(failures=10**6)
    worker = _worker(world, clock, sms=flaky, email=broken)
    worker.max_attempts = 3
    worker.run_once()
    assert flaky.sent == []
    worker.run_once()  # not due yet: the backoff holds it
    assert flaky.sent == []
    clock.now += timedelta(seconds=31)
    worker.run_once()  # second try fails too
    clock.now += timedelta(seconds=61)
    worker.run_once()
    receipts = [m for m in flaky.sent if "30A-123.45" in m.body]
    assert len(receipts) == 1  # third try went, once
    with world.session_factory() as s:
        email = s.scalars(
            select(NoticeDelivery).where(
                NoticeDelivery.channel == "email", NoticeDelivery.recipient == EMAIL
            )
        ).all()
        assert email and all(d.status == "failed" and d.attempts == 3 for d in email)
        assert all(d.last_error == "provider busy" for d in email)
    # The inbox says which channel failed.
    world.client.post("/login", data={"username": "driver", "password": PASSWORD})
    page = world.client.get("/portal/notices").text
    assert 'data-delivery="email:failed"' in page and 'data-delivery="sms:sent"' in page


def test_inbox_marks_notices_read_and_the_menu_counts_unread(world: Env) -> None:
    stay(world, CENTRAL_LOT, "30A-123.45")
    _worker(world, push=Recorder()).run_once()
    world.client.post("/login", data={"username": "driver", "password": PASSWORD})
    home = world.client.get("/portal").text
    assert '<span class="count">2</span>' in home  # the trip's receipt and the seed top-up's
    page = world.client.get("/portal/notices").text
    assert page.count("notice-item unread") == 2 and "Biên nhận phí gửi xe" in page
    assert '<span class="count">' not in world.client.get("/portal").text
    # English readers get English notices.
    world.client.get("/lang/en")
    assert "Parking receipt" in world.client.get("/portal/notices").text


def test_sent_codes_do_not_stay_readable(world: Env) -> None:
    from gateway.notices.queue import enqueue

    with world.session_factory() as s:
        enqueue(
            s,
            key="signup_code:t1",
            kind="signup_code",
            code="notice_signup_code",
            params={"code": "123456", "minutes": 10},
            lang="vi",
            to=[("sms", PHONE)],
        )
        s.commit()
    sms = Recorder()
    _worker(world, sms=sms).deliver_due()
    assert "123456" in sms.sent[0].body
    (notice,) = _notices(world, "signup_code")
    assert notice.params["code"] == REDACTED


def test_enqueue_is_idempotent_by_key(world: Env) -> None:
    from gateway.notices.queue import enqueue

    for _ in range(2):
        with world.session_factory() as s:
            enqueue(
                s,
                key="low_balance:ev-1",
                kind="low_balance",
                code="notice_low_balance",
                params={"balance": "1 ₫", "level": "2 ₫"},
                lang="vi",
                to=[("sms", PHONE), ("sms", PHONE)],
            )
            s.commit()
    with world.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Notice)) == 1
        assert s.scalar(select(func.count()).select_from(NoticeDelivery)) == 1
        assert (s.scalar(select(func.count()).select_from(b.TopUp)) or 0) >= 1


def test_notices_follow_the_language_the_driver_reads(world: Env) -> None:
    world.client.post("/login", data={"username": "driver", "password": PASSWORD})
    world.client.get("/lang/en")
    stay(world, CENTRAL_LOT, "30A-123.45")
    push = Recorder()
    _worker(world, push=push).run_once()
    assert any(m.subject == "Parking receipt" and "Charged 50.000 ₫" in m.body for m in push.sent)
