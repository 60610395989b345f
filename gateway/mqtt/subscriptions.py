"""The consumer's subscriptions, made exactly what its settings say on every connect.

A persistent MQTT session keeps its subscriptions across restarts. After one run with
``PARKING_MQTT_SHARE_GROUP=`` (a plain subscription) the next run with a share group resumed the
session with both, and every event arrived twice; a changed lot filter likewise kept the old one
(events of lots this gateway no longer serves). Subscribing again never removes anything, so on
every connect the consumer unsubscribes whatever a previous configuration may have left:

- the filters it subscribed last time, remembered in a small file of its own (per client id,
  under the data directory), and
- the obvious alternates of its events filter, for a session whose file is gone: the plain and
  the shared forms, in the default group and in its own, for its lot filter and for all lots.

Then it subscribes what it wants and remembers that. Unsubscribing a filter the session does not
have is harmless (the broker answers "no subscription existed").
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from gateway.mqtt.client import shared
from gateway.protocol import topic_filter

log = logging.getLogger(__name__)

DEFAULT_GROUP = "gateway"


def events_alternates(lot_filter: str, share_group: str | None) -> set[str]:
    """Events filters an earlier configuration of this consumer may have subscribed."""
    groups = {None, DEFAULT_GROUP, share_group}
    return {shared(g, topic_filter("events", lot)) for g in groups for lot in {lot_filter, "+"}}


class SubscriptionMemory:
    """The filters a client id subscribed last, in ``path`` (None: remember nothing)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def load(self) -> set[str]:
        if self.path is None or not self.path.exists():
            return set()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {str(f) for f in data["filters"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("subscriptions file %s unreadable (%s); ignoring it", self.path, exc)
            return set()

    def save(self, filters: Iterable[str]) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            tmp.write_text(json.dumps({"filters": sorted(filters)}), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:  # the alternates still cover the usual cases next time
            log.warning("could not remember the subscriptions in %s: %s", self.path, exc)


def stale_filters(
    wanted: Sequence[str], remembered: Iterable[str], alternates: Iterable[str]
) -> list[str]:
    """What to unsubscribe before subscribing ``wanted``."""
    return sorted((set(remembered) | set(alternates)) - set(wanted))
