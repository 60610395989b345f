"""A fake tax authority behind ``httpx.MockTransport``: answers like the contract, fails on cue.

It keeps one answer per message id (as the real mock does), records every request, and can be
told to fail the next calls with a refused connection, a timeout after processing (answer lost),
a 503 or a garbage body.
"""

from __future__ import annotations

from collections import deque

import httpx
from lxml import etree

from einvoice import tdiep


class FakeAuthority:
    def __init__(self, reject_numbers: set[int] | None = None) -> None:
        self.answers: dict[str, bytes] = {}
        self.invoices: dict[tuple[str, str, int], str] = {}  # (template, series, no) -> message
        self.requests: list[str] = []
        self.faults: deque[str] = deque()
        self.reject_numbers = reject_numbers or set()
        self.no_result_once: set[str] = set()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/tdiep"
        message = tdiep.parse(request.content)
        self.requests.append(message.header.message_id)
        fault = self.faults.popleft() if self.faults else None
        if fault == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if fault == "503":
            return httpx.Response(503, text="busy")
        if fault == "garbage":
            return httpx.Response(200, content=b"<html>proxy error</html")
        if fault == "unreadable":
            ack = tdiep.build_ack(
                message.header.message_id,
                sender="TCT",
                receiver=message.header.sender,
                received=False,
                reasons=[tdiep.Reason("T006", "too many invoices")],
            )
            return httpx.Response(400, content=tdiep.build_reply(ack))
        body = self.answers.get(message.header.message_id)
        if body is None:
            body = self._process(message)
            self.answers[message.header.message_id] = body
        if fault == "drop_after":
            raise httpx.ReadTimeout("answer lost", request=request)
        return httpx.Response(200, content=body)

    def _process(self, message: tdiep.Message) -> bytes:
        header = message.header
        ack = tdiep.build_ack(
            header.message_id, sender="TCT", receiver=header.sender, received=True
        )
        if header.message_id in self.no_result_once:
            self.no_result_once.discard(header.message_id)
            return tdiep.build_reply(ack)
        results = []
        coded = None
        for hdon in message.invoices():
            key = (
                hdon.findtext(".//KHMSHDon"),
                hdon.findtext(".//KHHDon"),
                int(hdon.findtext(".//SHDon")),
            )
            number = key[2]
            if number in self.reject_numbers:
                results.append(
                    tdiep.InvoiceResult(
                        False, key[0], key[1], number, reasons=(tdiep.Reason("E109", "VAT wrong"),)
                    )
                )
                continue
            if key in self.invoices:
                results.append(
                    tdiep.InvoiceResult(
                        False, key[0], key[1], number, reasons=(tdiep.Reason("E106", "dup"),)
                    )
                )
                continue
            self.invoices[key] = header.message_id
            mccqt = hdon.findtext("MCCQT") or f"AUTHCODE{number:015d}"
            results.append(tdiep.InvoiceResult(True, key[0], key[1], number, mccqt=mccqt))
            if header.type == 200:
                coded = etree.fromstring(etree.tostring(hdon))
                coded.find("MCCQT").text = mccqt
        if header.type == 200 and coded is not None:
            result = tdiep.build(
                tdiep.Header(
                    "TCT", header.sender, 202, tdiep.new_message_id("TCT"), header.message_id
                ),
                [coded],
            )
        else:
            result = tdiep.build_check_result(header, results, sender="TCT")
        return tdiep.build_reply(ack, result)
