"""What an operator's client sees through the system's REST API, for the traffic summary.

Barrier commands do not say whether a passage went to the review queue (a gate has no use for
it), so the simulator asks the API, as any outside client would: sign in, then page through
the review queue (pending and resolved) and keep the event ids it generated itself.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

import httpx

log = logging.getLogger(__name__)

PAGE = 500  # the API's largest page


class OperatorApi:
    def __init__(
        self, base_url: str, username: str, password: str, *, timeout_s: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._timeout = timeout_s

    def reviewed(self, event_ids: Collection[str]) -> set[str]:
        """Those of ``event_ids`` whose passage went to review (still pending or resolved)."""
        wanted = set(event_ids)
        found: set[str] = set()
        with httpx.Client(base_url=f"{self.base_url}/api/v1", timeout=self._timeout) as http:
            answer = http.post(
                "/auth/token", data={"username": self._username, "password": self._password}
            )
            answer.raise_for_status()
            http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
            for state in ("pending", "resolved"):
                offset = 0
                while True:
                    page = http.get(
                        "/review", params={"state": state, "limit": PAGE, "offset": offset}
                    )
                    page.raise_for_status()
                    body = page.json()
                    found.update(str(item["event_id"]) for item in body["items"])
                    offset += len(body["items"])
                    if not body["items"] or offset >= int(body["total"]):
                        break
        return found & wanted
