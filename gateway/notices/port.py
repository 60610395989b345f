"""The notification port: one method that hands one message to one channel.

Adapters: ``smtp.SmtpSender`` (email), ``stub.StubSender`` (SMS and web push, which a real
provider replaces). A sender raises ``SendError`` when the message did not go; the worker then
retries it later. ``message_id`` is the same for every attempt at one delivery, so a receiver
can drop a repeat if a send that timed out had in fact gone through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Channel = Literal["email", "sms", "push"]
CHANNELS: tuple[Channel, ...] = ("email", "sms", "push")


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email (an invoice's XML and PDF); other channels leave it out."""

    filename: str
    content_type: str  # "application/xml", "application/pdf"
    data: bytes


@dataclass(frozen=True)
class OutgoingMessage:
    channel: Channel
    recipient: str  # an email address, a phone number in E.164, or a user id for push
    subject: str
    body: str
    message_id: str  # stable per delivery: "<notice key>/<channel>"
    attachments: tuple[Attachment, ...] = ()


class SendError(Exception):
    """The message did not go; worth trying again later."""


class NoticeSender(Protocol):
    def send(self, message: OutgoingMessage) -> None: ...
