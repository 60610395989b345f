"""One safe parser: the verifier, the XSD check and the message codec refuse alike."""

from __future__ import annotations

import pytest

from einvoice import tdiep, xmlsafe
from einvoice.verify import verify_invoice
from einvoice.xsd import validate

HOSTILE = [
    (b'<!DOCTYPE HDon [<!ENTITY a "b">]><HDon>&a;</HDon>', "dtd_forbidden"),
    (b'<!DOCTYPE HDon SYSTEM "http://example.com/x.dtd"><HDon/>', "dtd_forbidden"),
    # The markers are refused before parsing, wherever they are (no invoice quotes them).
    (b"<HDon><!-- <!ENTITY x 'y'> --></HDon>", "dtd_forbidden"),
    # ... and a DOCTYPE the byte check cannot see is refused after parsing.
    (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE HDon><HDon/>'.encode("utf-16"),
        "dtd_forbidden",
    ),
    (b"<HDon>&undeclared;</HDon>", "malformed"),
    (b"<HDon><DLHDon>", "malformed"),
    (b'<?xml version="1.0" encoding="x-unknown"?><HDon/>', "malformed"),
    (b"   ", "malformed"),
    (b"<HDon>" + b"x" * 2048 + b"</HDon>", "too_large"),
]


@pytest.mark.parametrize(("data", "kind"), HOSTILE)
def test_every_reader_refuses_the_same_input_for_the_same_reason(data: bytes, kind: str) -> None:
    with pytest.raises(xmlsafe.XMLRejected) as rejected:
        xmlsafe.parse(data, max_bytes=1024)
    assert rejected.value.kind == kind
    reason = str(rejected.value)
    with pytest.raises(tdiep.TDiepError) as codec:
        tdiep.safe_fromstring(data, max_bytes=1024)
    assert (codec.value.kind, str(codec.value)) == (kind, reason)
    report = verify_invoice(data, max_bytes=1024)
    assert not report.valid and report.error == reason
    if kind != "too_large":  # the XSD check reads invoices of any size the parser takes
        assert validate(data) == [reason]
