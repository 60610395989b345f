"""SMS and web push until a provider is chosen: the message is logged and appended to a JSON
Lines file (``<data dir>/notices/<channel>.jsonl``), the simulated phone's inbox, where the demo
and the tests read sign-up codes."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gateway.notices.port import OutgoingMessage, SendError

log = logging.getLogger(__name__)


@dataclass
class StubSender:
    inbox: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, message: OutgoingMessage) -> None:
        record = {
            **asdict(message),
            "attachments": [a.filename for a in message.attachments],
            "at": datetime.now(UTC).isoformat(),
        }
        line = json.dumps(record, ensure_ascii=False)
        try:
            with self._lock:
                self.inbox.parent.mkdir(parents=True, exist_ok=True)
                with self.inbox.open("a", encoding="utf-8") as f:
                    f.write(line + "\n")
        except OSError as exc:
            raise SendError(f"stub inbox {self.inbox}: {exc}") from exc
        log.info("%s to %s: %s", message.channel, message.recipient, message.subject)


def read_inbox(path: Path) -> list[dict[str, str]]:
    """What the stub has 'sent', oldest first (empty when nothing was)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
