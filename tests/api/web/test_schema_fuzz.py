"""Property-based requests generated from the OpenAPI document: no input makes the API fail (5xx).

Schemathesis builds valid and invalid requests for every operation; each goes through the app
as an admin (who may reach every route) and must get a deliberate answer, never a crash.
(Schemathesis' own pytest plugin does not run on this pytest; its strategies are driven by
Hypothesis directly.)
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api.web.conftest import Env


def test_no_request_makes_the_api_fail(world: Env) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.client.app)
    headers = world.auth("admin")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 35

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            try:
                response = case.call(headers=headers)
            except Exception as exc:  # the test client re-raises what would be a 500
                failures.append(f"{case.method} {case.formatted_path} {case.query}: {exc!r}")
                return
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query or ''} "
                    f"-> {response.status_code}: {response.text[:200]}"
                )

        run()
    assert not failures, "\n".join(failures[:20])
