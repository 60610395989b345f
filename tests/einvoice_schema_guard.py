"""Every invoice the tests build is validated against the XSD (issue 5: "validate every invoice
built in tests").

The fixture wraps :func:`einvoice.xml_build.build_hdon`, the one place an ``HDon`` is made from
an :class:`einvoice.model.Invoice` (the issuing maker, the mock's test factory, the verifier's
builders all go through it), and fails the test when a freshly built element does not conform.
Tests that break an invoice on purpose (wrong totals, tampering) do so *after* building, so they
are unaffected. Modules that imported ``build_hdon`` by name get the wrapper too.

Conftests opt in with ``from tests.einvoice_schema_guard import every_built_invoice_is_valid``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

BUILT: list[int] = []  # how many invoices were validated this session (the guard's own test)


@pytest.fixture(autouse=True)
def every_built_invoice_is_valid(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from einvoice import xml_build, xsd

    original = xml_build.build_hdon

    def checked(*args: Any, **kwargs: Any) -> Any:
        hdon = original(*args, **kwargs)
        errors = xsd.validate_element(hdon)
        assert errors == [], f"built invoice does not conform to einvoice/schema/hdon.xsd: {errors}"
        BUILT.append(1)
        return hdon

    monkeypatch.setattr(xml_build, "build_hdon", checked)
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(("tests.", "einvoice.", "simulator.", "bench")):
            continue
        if getattr(module, "build_hdon", None) is original:
            monkeypatch.setattr(module, "build_hdon", checked)
    yield
