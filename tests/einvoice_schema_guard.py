"""Every invoice the tests build is validated against the XSD (issue 5: "validate every invoice
built in tests").

The fixture wraps :func:`einvoice.xml_build.hdon_text`, the one place an ``HDon`` is written
from an :class:`einvoice.model.Invoice` (the issuing maker signs its text; ``build_hdon`` and
``invoice_xml``, which the mock's test factory and the verifier's builders use, go through it),
and fails the test when a freshly built invoice does not conform. Tests that break an invoice on
purpose (wrong totals, tampering) do so *after* building, so they are unaffected. Modules that
imported ``hdon_text`` by name get the wrapper too.

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

    original = xml_build.hdon_text

    def checked(*args: Any, **kwargs: Any) -> Any:
        text = original(*args, **kwargs)
        errors = xsd.validate(text.document())
        assert errors == [], f"built invoice does not conform to einvoice/schema/hdon.xsd: {errors}"
        BUILT.append(1)
        return text

    monkeypatch.setattr(xml_build, "hdon_text", checked)
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(("tests.", "einvoice.", "simulator.", "bench")):
            continue
        if getattr(module, "hdon_text", None) is original:
            monkeypatch.setattr(module, "hdon_text", checked)
    yield
