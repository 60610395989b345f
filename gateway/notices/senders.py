"""The notice senders the settings ask for: email over SMTP when ``PARKING_SMTP_HOST`` is set,
SMS and web push through the stub (its inbox under the data directory) unless switched off."""

from __future__ import annotations

from gateway.notices.port import Channel, NoticeSender
from gateway.notices.smtp import SmtpSender
from gateway.notices.stub import StubSender
from gateway.settings import Settings


def from_settings(settings: Settings) -> dict[Channel, NoticeSender]:
    senders: dict[Channel, NoticeSender] = {}
    if settings.smtp_host:
        senders["email"] = SmtpSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    if settings.notice_stubs:
        inbox = settings.data_dir / "notices"
        senders["sms"] = StubSender(inbox / "sms.jsonl")
        senders["push"] = StubSender(inbox / "push.jsonl")
    return senders
