"""The TDiep envelope: round trips, whitespace kept, unreadable input refused by kind."""

from __future__ import annotations

import pytest
from lxml import etree

from einvoice import tdiep
from einvoice.tdiep import Header, InvoiceResult, MessageType, Reason, TDiepError

HDON = b'<HDon><DLHDon Id="d1">\n  <TTChung>\n    <SHDon>7</SHDon>\n  </TTChung>\n</DLHDon></HDon>'


def header(**kw: object) -> Header:
    base: dict[str, object] = {
        "sender": "V0101234567",
        "receiver": "TCT",
        "type": MessageType.CASH_REGISTER,
        "message_id": "V0101234567ABC",
        "tax_code": "0101234567",
        "count": 1,
    }
    base.update(kw)
    return Header(**base)  # type: ignore[arg-type]


def test_round_trip_keeps_header_and_invoice_bytes() -> None:
    data = tdiep.build(header(), [HDON])
    message = tdiep.parse(data)
    assert message.header == header(reference_id=None)
    (hdon,) = message.invoices()
    # Whitespace inside the invoice survives (signatures cover it).
    assert tdiep.hdon_bytes(hdon).split(b"\n", 1)[1] == HDON
    assert data.startswith(b"<?xml")


def test_build_does_not_move_the_callers_element() -> None:
    root = etree.fromstring(b"<Wrap>" + HDON + b"</Wrap>")
    hdon = root[0]
    tdiep.build(header(), [hdon])
    assert hdon.getparent() is root


def test_new_message_ids_are_unique_and_prefixed() -> None:
    ids = {tdiep.new_message_id("V0101234567") for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("V0101234567") and len(i) == 11 + 32 for i in ids)


def test_ack_and_check_result_round_trip_in_a_reply() -> None:
    request = header()
    ack = tdiep.build_ack(request.message_id, sender="TCT", receiver=request.sender, received=True)
    results = [
        InvoiceResult(True, "1", "C26MPK", 1, "2026-01-02", "M1-26-41849-00000000001"),
        InvoiceResult(
            False,
            "1",
            "C26MPK",
            2,
            "2026-01-02",
            None,
            (Reason("E102", "bad"), Reason("E110", "x")),
        ),
    ]
    result = tdiep.build_check_result(request, results, sender="TCT")
    reply = tdiep.parse_reply(tdiep.build_reply(ack, result))
    assert reply.ack.acked_id == request.message_id and reply.ack.received
    assert reply.result is not None
    assert reply.result.header.type == MessageType.CHECK_RESULT
    assert reply.result.header.reference_id == request.message_id
    assert reply.result.header.receiver == request.sender
    assert tdiep.parse_check_result(reply.result) == tuple(results)


def test_unreadable_ack_parses_without_a_receiver() -> None:
    ack = tdiep.build_ack(
        "", sender="TCT", receiver="", received=False, reasons=(Reason("T001", "x"),)
    )
    reply = tdiep.parse_reply(ack)  # a bare 999 is a valid reply too
    assert not reply.ack.received and reply.ack.reasons == (Reason("T001", "x"),)
    assert reply.result is None


def test_error_notice_300() -> None:
    data = tdiep.build_error_notice(
        sender="V0101234567",
        receiver="TCT",
        tax_code="0101234567",
        seller_name="A",
        invoices=[{"MCQTCap": "M1-26-41849-00000000001", "TCTBao": "2", "LDo": "sai"}],
    )
    message = tdiep.parse(data)
    assert message.header.type == MessageType.ERROR_NOTICE
    assert message.invoices() == []  # the HDon inside the notice is not an invoice
    notice = message.notice()
    assert notice is not None and notice.findtext("DLTBao/DSHDon/HDon/TCTBao") == "2"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", "malformed"),
        (b"<TDiep><TTChung>", "malformed"),
        (b"\xff\xfe<", "malformed"),
        (b'<!DOCTYPE TDiep [<!ENTITY a "b">]><TDiep>&a;</TDiep>', "dtd_forbidden"),
        (b'<!DOCTYPE x SYSTEM "http://example.com/x.dtd"><x/>', "dtd_forbidden"),
        (b"<Other/>", "envelope"),
        (b"<TDiep><DLieu/></TDiep>", "envelope"),
        (
            b"<TDiep><TTChung><MNGui>a</MNGui><MNNhan>b</MNNhan><MLTDiep>x</MLTDiep>"
            b"<MTDiep>m</MTDiep></TTChung><DLieu/></TDiep>",
            "envelope",
        ),
        (
            b"<TDiep><TTChung><MNGui>a</MNGui><MNNhan>b</MNNhan><MLTDiep>206</MLTDiep>"
            b"</TTChung><DLieu/></TDiep>",
            "envelope",
        ),
        (
            b"<TDiep><TTChung><MNGui>a</MNGui><MNNhan>b</MNNhan><MLTDiep>99999999999</MLTDiep>"
            b"<MTDiep>m</MTDiep></TTChung><DLieu/></TDiep>",
            "envelope",
        ),
        (
            b"<TDiep><TTChung><MNGui>a</MNGui><MNNhan>b</MNNhan><MLTDiep>206</MLTDiep>"
            b"<MTDiep>m</MTDiep><SLuong>-1</SLuong></TTChung><DLieu/></TDiep>",
            "envelope",
        ),
    ],
)
def test_unreadable_input_is_refused_by_kind(data: bytes, kind: str) -> None:
    with pytest.raises(TDiepError) as exc:
        tdiep.parse(data)
    assert exc.value.kind == kind


def test_size_limit_applies_before_parsing() -> None:
    data = tdiep.build(header(), [HDON])
    with pytest.raises(TDiepError) as exc:
        tdiep.parse(data, max_bytes=len(data) - 1)
    assert exc.value.kind == "too_large"
    assert tdiep.parse(data, max_bytes=len(data)).header.message_id == "V0101234567ABC"


def test_deep_nesting_is_refused_not_crashing() -> None:
    deep = b"<TDiep>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</TDiep>"
    with pytest.raises(TDiepError):
        tdiep.parse(deep, max_bytes=len(deep))


def test_the_envelope_must_count_its_invoices_within_the_limits() -> None:
    from simulator.tax_authority.service import envelope_problem

    def header(mtype: int, count: int) -> Header:
        return Header("K0105987432", "TCT", mtype, "m-1", count=count)

    batch = MessageType.CASH_REGISTER
    assert envelope_problem(header(batch, 3), 3, 50) is None
    assert envelope_problem(header(batch, 0), 0, 50) == ("envelope", "DLieu carries no HDon")
    assert envelope_problem(header(batch, 51), 51, 50) == ("too_many", "51 invoices, at most 50")
    assert envelope_problem(header(batch, 2), 3, 50) == ("envelope", "SLuong 2 != 3 HDon")
    coding = MessageType.CODING_REQUEST
    assert envelope_problem(header(coding, 1), 1, 50) is None
    assert envelope_problem(header(coding, 2), 2, 50) == ("envelope", "a 200 carries one HDon")
