"""Property-based requests generated from the OpenAPI document: no input makes the API fail (5xx),
and every answer is one the document promises (status code, content type, body schema).

Schemathesis builds valid and invalid requests for every operation; each goes through the app
as an admin (who may reach every route) and must get a deliberate, documented answer.
(Schemathesis' own pytest plugin does not run on this pytest; its strategies are driven by
Hypothesis directly.)
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.core.result import Ok

from tests.api.web.conftest import Env

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def test_no_request_makes_the_api_fail(world: Env) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.client.app)
    headers = world.auth("admin")
    failures: list[str] = []
    results = list(schema.get_all_operations())
    assert all(isinstance(r, Ok) for r in results), "the OpenAPI document does not load"
    operations = [r.ok() for r in results if isinstance(r, Ok)]
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
                case.call_and_validate(headers=headers, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:  # failed checks, or a re-raised 500
                found = getattr(exc, "exceptions", [exc])
                text = " ".join(" ".join(str(e).split()) for e in found)
                failures.append(f"{case.method} {case.formatted_path} {case.query}: {text[:300]}")

        run()
    assert not failures, "\n".join(failures[:20])
