"""Email through an SMTP server (``PARKING_SMTP_*``): the standard library's smtplib, no more.

The ``Message-ID`` header is derived from the delivery, so a retry after a timeout carries the
same id and mail systems can drop the repeat.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from gateway.notices.port import OutgoingMessage, SendError


@dataclass(frozen=True)
class SmtpSender:
    host: str
    port: int = 25
    sender: str = "Bãi đỗ xe không tiền mặt <no-reply@parking.local>"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0

    def send(self, message: OutgoingMessage) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        digest = hashlib.sha256(message.message_id.encode()).hexdigest()[:32]
        mail["Message-ID"] = f"<{digest}@parking.notices>"
        mail.set_content(message.body)
        for a in message.attachments:
            maintype, _, subtype = a.content_type.partition("/")
            mail.add_attachment(a.data, maintype=maintype, subtype=subtype, filename=a.filename)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"smtp {self.host}:{self.port}: {exc}") from exc
