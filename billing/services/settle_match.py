"""Which plate a passage is settled under when the reader sent its evidence (docs/no-stop.md).

At an exit the candidates are the plates with an open session in the lot (and the hypotheses
an unsure entry kept); at an entry, the registered vehicles the read's hypotheses name. The
pure :mod:`billing.domain.matching` gives the posteriors; this module fetches the candidates,
decides which plate the settlement goes on with, and writes the evidence kept on the passage.
Runs inside the settlement transaction, before the passage row is inserted.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, literal_column, select, update

from billing.domain.decisions import PassageInput
from billing.domain.matching import MatchResult, PlateEvidence, match, match_evidence
from billing.domain.model import Direction
from billing.domain.plates import canonical_plate
from billing.domain.policy import LotPolicy
from billing.services.statements import SESSIONS, VEHICLES

log = logging.getLogger("billing.services.settle")

UNSURE_KEY_PREFIX = "~"  # the plate key of a session opened for an unsure entry read
NEAR_REGISTERED_LIMIT = 64  # registered plates of the read's province and series, scored


@dataclass(frozen=True)
class Matched:
    """What matching made of a read: the plate to settle under (None: the read's own)."""

    result: MatchResult
    plate: str | None  # canonical text of the matched plate when ``result.auto``
    key: str | None
    session_id: int | None  # the open session the exit matched (exits only)
    join_session: int | None  # an unsure entry's session that takes the matched plate
    conflict: bool  # the read is confident of another plate than the match's best
    top_sessions: tuple[int | None, ...] = ()  # the open session of each of result.top

    def evidence(self, p: PassageInput, evidence: PlateEvidence) -> dict[str, Any]:
        return {
            "hypotheses": [[h.text, h.key, round(h.logprob, 4)] for h in evidence.hypotheses],
            "read": p.plate_text,
            "confidence": p.plate_confidence,
            "direction": p.direction,
            "matched_key": self.key,
            "session_id": self.session_id,
            **self.result.to_dict(),
            "top_sessions": list(self.top_sessions),
        }


@functools.cache
def q_open_plates() -> Select[Any]:
    """(plate key, session id) of the lot's open sessions of a known plate."""
    s = SESSIONS.c
    return select(s.plate_key, s.id).where(
        s.lot_id == bindparam("lot"),
        s.status == literal_column("'open'"),
        s.plate_key.not_like(f"{UNSURE_KEY_PREFIX}%"),
    )


@functools.cache
def q_open_unsure() -> Select[Any]:
    """The lot's open sessions of unsure entries, with the hypotheses they kept."""
    s = SESSIONS.c
    return select(s.id, s.entry_hypotheses).where(
        s.lot_id == bindparam("lot"),
        s.status == literal_column("'open'"),
        s.plate_key.like(f"{UNSURE_KEY_PREFIX}%"),
    )


@functools.cache
def q_session_plate() -> Select[Any]:
    return select(SESSIONS.c.plate_text).where(SESSIONS.c.id == bindparam("sid"))


@functools.cache
def q_registered(n: int) -> Select[Any]:
    v = VEHICLES.c
    return select(v.plate_key, v.plate_text).where(
        v.plate_key.in_([bindparam(f"k{i}") for i in range(n)]), v.active.is_(True)
    )


@functools.cache
def q_registered_near() -> Select[Any]:
    """Registered plates of the read's province and series, one character longer or shorter
    at most: the candidates a confident misread (a dropped or doubled digit) still names."""
    v = VEHICLES.c
    return (
        select(v.plate_key, v.plate_text)
        .where(
            v.plate_key.like(bindparam("prefix")),
            func.length(v.plate_key).between(bindparam("lo"), bindparam("hi")),
            v.active.is_(True),
        )
        .order_by(v.plate_key)
        .limit(NEAR_REGISTERED_LIMIT)
    )


@functools.cache
def q_registered_count() -> Select[Any]:
    return select(func.count()).select_from(VEHICLES).where(VEHICLES.c.active.is_(True))


def match_read(
    db: Connection,
    p: PassageInput,
    evidence: PlateEvidence,
    policy: LotPolicy,
    read_key: str | None,
) -> Matched:
    """Match the read against the lot's candidates; ``read_key``: the read's own plate key."""
    if p.direction == Direction.EXIT.value:
        params = {"lot": p.lot_id}
        # Plates first, then the hypotheses of unsure entries: a key that is both stays the car
        # that entered under it. Plain tuples into a dict: a lot holds a thousand cars.
        session_of: dict[str, int] = dict(db.execute(q_open_plates(), params).tuples().all())
        unsure: set[int] = set()
        for sid, hyps in db.execute(q_open_unsure(), params).tuples():
            unsure.add(sid)
            for key in hyps or ():
                session_of.setdefault(key, sid)
        result = match_evidence(
            evidence, list(session_of), policy.match_not_inside_prior, policy.match_threshold
        )
        key = result.best if result.auto else None
        sid = session_of.get(key) if key else None
        plate = None
        if key and sid is not None and sid not in unsure:
            plate = db.scalar(q_session_plate(), {"sid": sid})
        plate = plate or (canonical_plate(key) if key else None)
        tops = tuple(session_of.get(r.key) for r in result.top)
        matched = Matched(result, plate, key, sid, sid if sid in unsure else None, False, tops)
    else:
        hyp_keys = list(dict.fromkeys(h.key for h in evidence.hypotheses if h.key))
        registered: dict[str, str] = {}
        if hyp_keys:
            params = {f"k{i}": k for i, k in enumerate(hyp_keys)}
            for row in db.execute(q_registered(len(hyp_keys)), params):
                registered[row.plate_key] = row.plate_text
            best = hyp_keys[0]
            near = {"prefix": f"{best[:3]}%", "lo": len(best) - 1, "hi": len(best) + 1}
            for row in db.execute(q_registered_near(), near):
                registered.setdefault(row.plate_key, row.plate_text)
        total = int(db.scalar(q_registered_count()) or 0)
        result = match(
            list(registered),
            total,
            evidence.score,
            evidence.background(),
            policy.match_not_inside_prior,
            policy.match_threshold,
        )
        key = result.best if result.auto else None
        plate = registered.get(key) if key else None
        matched = Matched(result, plate, key, None, None, False)
    # The reader's confident reads (auto_ok, calibrated to be wrong about 2 in 1,000) are never
    # overruled by the matcher: a confident read of one plate while another is the likelier
    # match is a conflict (an entry misread, a car that entered unseen), never a charge to the
    # other plate. An unsure read that a likely but not sure match contradicts goes the same way.
    contradicted = read_key is not None and result.best not in (None, read_key)
    if contradicted and result.posterior >= 0.5 and (not p.needs_review or not result.auto):
        matched = Matched(result, None, None, None, None, True, matched.top_sessions)
    return matched


def join_unsure_session(db: Connection, session_id: int, plate: str, key: str) -> None:
    """The exit matched a plate an unsure entry could have been: that session is this car's."""
    v = VEHICLES.c
    vehicle = select(v.id).where(v.plate_key == key, v.active.is_(True)).scalar_subquery()
    account = select(v.account_id).where(v.plate_key == key, v.active.is_(True)).scalar_subquery()
    db.execute(
        update(SESSIONS)
        .where(SESSIONS.c.id == session_id)
        .values(plate_key=key, plate_text=plate, vehicle_id=vehicle, account_id=account)
    )
    log.info("unsure entry session %s joined up with the exit of %s", session_id, plate)
