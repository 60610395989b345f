"""Why a car was charged: the plate-matching evidence kept on a passage (docs/no-stop.md).

An operator sees everything the settlement weighed: the camera's hypotheses, the best
matching cars inside with their posteriors, the "not inside" alternative and the threshold.
A driver disputing a charge sees the same figures for their own passage, but never another
car's plate: the other candidates are shown as "another car".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel

from gateway.api.access import AccessFirstRoute, PassageId
from gateway.api.passages import load_passage
from gateway.api.schemas import AUTH_ERRORS, CodedHTTPException, not_found
from gateway.deps import CurrentUser, SessionDep

router = APIRouter(tags=["passages"], responses=AUTH_ERRORS, route_class=AccessFirstRoute)


class HypothesisOut(BaseModel):
    text: str
    key: str
    logprob: float


class MatchOut(BaseModel):
    plate: str | None  # None: another car's plate, hidden from a driver
    key: str | None
    posterior: float
    session_id: int | None


class EvidenceOut(BaseModel):
    passage_id: int
    direction: str
    read: str | None  # the reader's own text
    confidence: float
    hypotheses: list[HypothesisOut]
    matched: str | None  # the plate the passage was settled under by matching, if any
    auto: bool  # the machine decided alone (best posterior >= threshold)
    posterior: float
    runner_up_posterior: float
    not_inside: float
    threshold: float
    candidates: int
    top: list[MatchOut]


def evidence_view(row: Any, *, driver: bool) -> EvidenceOut | None:
    """The evidence of a passage row (``billing_passages``), or None when it has none."""
    ev = row.match_evidence
    if not ev:
        return None
    own = row.plate_key
    sessions = list(ev.get("top_sessions") or [])
    top = []
    for i, (key, posterior) in enumerate(ev.get("top") or []):
        hidden = driver and key != own
        top.append(
            MatchOut(
                plate=None if hidden else _plate(key),
                key=None if hidden else key,
                posterior=float(posterior),
                session_id=None if hidden or i >= len(sessions) else sessions[i],
            )
        )
    return EvidenceOut(
        passage_id=row.id,
        direction=ev.get("direction") or row.direction,
        read=ev.get("read"),
        confidence=float(ev.get("confidence") or 0.0),
        hypotheses=[HypothesisOut(text=t, key=k, logprob=lp) for t, k, lp in ev["hypotheses"]],
        matched=_plate(ev["matched_key"]) if ev.get("matched_key") else None,
        auto=bool(ev.get("auto")),
        posterior=float(ev.get("posterior") or 0.0),
        runner_up_posterior=float(ev.get("runner_up_posterior") or 0.0),
        not_inside=float(ev.get("not_inside") or 0.0),
        threshold=float(ev.get("threshold") or 0.0),
        candidates=int(ev.get("candidates") or 0),
        top=top,
    )


def _plate(key: str) -> str:
    from billing.domain.plates import canonical_plate

    return canonical_plate(key) or key


@router.get(
    "/passages/{passage_id}/evidence",
    response_model=EvidenceOut,
    responses=not_found("no such passage, or it was settled without matching"),
)
def passage_evidence(passage_id: PassageId, session: SessionDep, user: CurrentUser) -> EvidenceOut:
    """Why the passage was settled under its plate: hypotheses, matches, posteriors."""
    view = evidence_view(load_passage(session, passage_id), driver=user.role == "driver")
    if view is None:
        raise CodedHTTPException(status.HTTP_404_NOT_FOUND, "not_found")
    return view
