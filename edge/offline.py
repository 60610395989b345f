"""Degraded mode: the edge decides a passage itself when the center cannot answer in time.

The rules (issue 11):

- The edge decides only for an event whose barrier command did not come within
  ``decide_after_s`` (1.5 s), or at once while the broker is unreachable.
- It reads the plate itself (lpr, the same reader and policies: a read that is not auto-ok is
  "unreadable", never a guess).
- Entry: open for a plate on the lot's signed allow-list (``edge.allowlist``).
- Exit: open when the plate's remaining offline credit covers the lot's maximum fare; that fare
  is then deducted locally (the real fare is priced by billing later, and is at most that for a
  stay of up to a day).
- Anything else stays closed, and the display says why.

:class:`CreditLedger` keeps what was deducted locally, per event, on disk: a restart during an
outage must not give the credit back. A deduction stops counting once the center has answered
its event *and* an allow-list issued after that answer has arrived (that list's credit already
reflects the debit). So, per plate, the deductions the edge made against one allow-list never
add up to more than the credit that list granted (tests/unit/edge/test_offline.py checks it
with hypothesis).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from edge.allowlist import Allowlist
from gateway.protocol import OfflineDecision

log = logging.getLogger(__name__)

# An answer counts as reflected in an allow-list issued at least this long after it (the
# gateway's and the edge's clocks differ a little; erring this way keeps the credit spent).
COVER_MARGIN_S = 5.0

DISPLAY = {
    "allowlisted": "Xin mời vào (ngoại tuyến) / Welcome (offline)",
    "credit_covers": "Xin mời qua (ngoại tuyến) / Please go (offline)",
    "not_allowlisted": "Mất kết nối - xe chưa có trong danh sách, vui lòng chờ nhân viên / "
    "Offline: plate not on the list, please wait for staff",
    "credit_short": "Mất kết nối - số dư ngoại tuyến không đủ, vui lòng chờ nhân viên / "
    "Offline: offline credit too low, please wait for staff",
    "unreadable": "Mất kết nối - không đọc được biển số, vui lòng chờ nhân viên / "
    "Offline: plate not read, please wait for staff",
    "no_allowlist": "Mất kết nối - vui lòng chờ nhân viên / Offline: please wait for staff",
}


@dataclass(frozen=True)
class Spend:
    event_id: str
    plate_key: str
    fare_vnd: int
    version: int  # of the allow-list the credit came from
    answered_at: float | None = None  # wall clock (time.time) when the center answered


class CreditLedger:
    """Offline credit spent locally, per plate; persisted as JSON (small: one row an exit
    decided offline, dropped once a newer allow-list covers it)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._spends: dict[str, Spend] = {}
        if path is not None and path.exists():
            try:
                rows = json.loads(path.read_text(encoding="utf-8"))
                self._spends = {r["event_id"]: Spend(**r) for r in rows}
            except (OSError, ValueError, TypeError, KeyError) as exc:
                # Losing the record would hand spent credit back: refuse to start without it.
                raise RuntimeError(f"offline credit ledger {path} is unreadable: {exc}") from exc

    def _covered(self, spend: Spend, allowlist: Allowlist) -> bool:
        return (
            spend.answered_at is not None
            and allowlist.issued_at.timestamp() >= spend.answered_at + COVER_MARGIN_S
        )

    def remaining(self, allowlist: Allowlist, plate_key: str) -> int | None:
        """The plate's credit left: the list's credit less what was spent here and is not yet
        reflected in it (None: not on the list). May be negative after a smaller new list."""
        credit = allowlist.credit(plate_key)
        if credit is None:
            return None
        with self._lock:
            spent = sum(
                s.fare_vnd
                for s in self._spends.values()
                if s.plate_key == plate_key and not self._covered(s, allowlist)
            )
        return credit - spent

    def spend(
        self, allowlist: Allowlist, plate_key: str, event_id: str, fare_vnd: int
    ) -> int | None:
        """Deduct ``fare_vnd`` if the remaining credit covers it: the credit before the
        deduction, or None (nothing deducted)."""
        if fare_vnd < 0:
            raise ValueError("a fare is never negative")
        with self._lock:
            credit = allowlist.credit(plate_key)
            if credit is None or event_id in self._spends:
                return None
            spent = sum(
                s.fare_vnd
                for s in self._spends.values()
                if s.plate_key == plate_key and not self._covered(s, allowlist)
            )
            before = credit - spent
            if before < fare_vnd:
                return None
            self._spends[event_id] = Spend(event_id, plate_key, fare_vnd, allowlist.version)
            self._save()
            return before

    def answered(self, event_id: str, at: float | None = None) -> None:
        """The center answered this event (billing has settled it)."""
        with self._lock:
            spend = self._spends.get(event_id)
            if spend is None or spend.answered_at is not None:
                return
            self._spends[event_id] = Spend(
                spend.event_id,
                spend.plate_key,
                spend.fare_vnd,
                spend.version,
                time.time() if at is None else at,
            )
            self._save()

    def new_allowlist(self, allowlist: Allowlist) -> int:
        """Forget the deductions ``allowlist`` reflects; returns how many."""
        with self._lock:
            gone = [e for e, s in self._spends.items() if self._covered(s, allowlist)]
            for event_id in gone:
                del self._spends[event_id]
            if gone:
                self._save()
        return len(gone)

    def exposure_vnd(self) -> int:
        """Deducted locally for exits the center has not answered yet: what the lot let out
        on credit that billing still has to settle."""
        with self._lock:
            return sum(s.fare_vnd for s in self._spends.values() if s.answered_at is None)

    def spends(self) -> list[Spend]:
        with self._lock:
            return list(self._spends.values())

    def _save(self) -> None:  # with the lock held
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(s) for s in self._spends.values()]), encoding="utf-8")
        os.replace(tmp, self.path)


class PlateReadLike(Protocol):
    @property
    def key(self) -> str | None: ...
    @property
    def auto_ok(self) -> bool: ...


ReadFn = Callable[[Sequence[bytes], bytes | None], PlateReadLike]


@dataclass(frozen=True)
class Proposal:
    """What the edge would decide for a passage, before it is claimed (``Lane.settle_offline``)."""

    decision: OfflineDecision
    display: str


class OfflineDecider:
    """The lot's offline rules over its allow-list and credit ledger (one per edge process:
    credit is per vehicle, whichever lane it uses)."""

    def __init__(
        self,
        allowlist: Callable[[], Allowlist | None],
        ledger: CreditLedger,
        read: ReadFn | None,
        *,
        max_age_s: float = 86_400,
    ) -> None:
        self._allowlist = allowlist
        self.ledger = ledger
        self._read = read
        self.max_age_s = max_age_s
        self.lock = threading.Lock()  # proposal, claim and deduction happen as one

    def usable_allowlist(self) -> Allowlist | None:
        allowlist = self._allowlist()
        if allowlist is None:
            return None
        if allowlist.age_s() > self.max_age_s:
            return None
        return allowlist

    def read_key(self, frames: Sequence[bytes], crop: bytes | None) -> str | None:
        """The plate key if the reader is sure of it (auto-ok), else None; never raises."""
        if self._read is None:
            return None
        try:
            read = self._read(frames, crop)
        except Exception as exc:  # a corrupt frame: unreadable, the lane goes on
            log.warning("offline plate read failed: %s", exc)
            return None
        return read.key if read.auto_ok and read.key else None

    def propose(self, direction: str, plate_key: str | None, event_id: str) -> Proposal:
        """The decision for a passage whose plate was read as ``plate_key`` (call with
        :attr:`lock` held, then :meth:`commit` once the lane has claimed the event)."""
        now = datetime.now(UTC)
        allowlist = self.usable_allowlist()

        def closed(reason: str, credit: int | None = None) -> Proposal:
            d = OfflineDecision(
                open=False,
                reason=reason,  # type: ignore[arg-type]
                decided_at=now,
                plate_key=plate_key,
                allowlist_version=allowlist.version if allowlist else None,
                credit_vnd=max(credit, 0) if credit is not None else None,
            )
            return Proposal(d, DISPLAY[reason])

        if allowlist is None:
            return closed("no_allowlist")
        if plate_key is None:
            return closed("unreadable")
        remaining = self.ledger.remaining(allowlist, plate_key)
        if remaining is None:
            return closed("not_allowlisted")
        if direction == "entry":
            d = OfflineDecision(
                open=True,
                reason="allowlisted",
                decided_at=now,
                plate_key=plate_key,
                allowlist_version=allowlist.version,
                credit_vnd=max(remaining, 0),
            )
            return Proposal(d, DISPLAY["allowlisted"])
        if remaining < allowlist.max_fare_vnd:
            return closed("credit_short", remaining)
        d = OfflineDecision(
            open=True,
            reason="credit_covers",
            decided_at=now,
            plate_key=plate_key,
            allowlist_version=allowlist.version,
            credit_vnd=remaining,
            fare_vnd=allowlist.max_fare_vnd,
        )
        return Proposal(d, DISPLAY["credit_covers"])

    def commit(self, proposal: Proposal, event_id: str) -> bool:
        """Deduct an open exit's fare (call with :attr:`lock` held, after the lane claimed the
        event). False when the credit no longer covers it (it was checked under the same lock,
        so only a bug gets here)."""
        d = proposal.decision
        if not d.open or d.fare_vnd is None or d.plate_key is None:
            return True
        allowlist = self.usable_allowlist()
        if allowlist is None:
            return False
        return self.ledger.spend(allowlist, d.plate_key, event_id, d.fare_vnd) is not None
