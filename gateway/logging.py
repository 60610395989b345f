"""Structured logs: every line of a passage carries its event id.

The id lives in a context variable, so it follows the passage through asyncio tasks and
``asyncio.to_thread`` without being passed around; a filter copies it onto each record. Output is
JSON lines (``PARKING_LOG_JSON=1``, for collectors) or ``key=value`` text for people.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

event_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "parking_event_id", default=None
)
lane_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("parking_lane", default=None)


@contextmanager
def passage_context(event_id: str, lane: str | None = None) -> Iterator[None]:
    token = event_id_var.set(event_id)
    lane_token = lane_var.set(lane)
    try:
        yield
    finally:
        event_id_var.reset(token)
        lane_var.reset(lane_token)


class ContextFilter(logging.Filter):
    """The passage's event id and lane from the context, unless the line names its own event
    (``extra={"event_id": ...}``: the invoice worker, which knows no passage context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "event_id", None) is None:
            record.event_id = event_id_var.get()
        if getattr(record, "lane", None) is None:
            record.lane = lane_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("event_id", "lane"):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extra = [
            f"{k}={getattr(record, k)}"
            for k in ("event_id", "lane")
            if getattr(record, k, None) is not None
        ]
        return f"{base} {' '.join(extra)}" if extra else base


def configure_logging(*, json_lines: bool = False, level: int | str = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # paho and the HTTP stack are chatty at INFO.
    for noisy in ("httpx", "uvicorn.access", "amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
