"""Schema validation of invoice XML against the project's own XSD (einvoice/schema/hdon.xsd).

Accepts a bare ``HDon`` or a ``TDiep`` message wrapping one or more (``TDiep/DLieu/HDon``); each
invoice is checked on its own. A few rules XSD 1.0 cannot say are checked here too.
"""

from __future__ import annotations

import copy
import threading
from functools import lru_cache
from importlib.resources import files

from lxml import etree

from einvoice.xmlsafe import XMLRejected, parse

SCHEMA_VERSION = "1"


_local = threading.local()


@lru_cache(maxsize=1)
def _source() -> bytes:
    return files("einvoice").joinpath("schema/hdon.xsd").read_bytes()


def schema() -> etree.XMLSchema:
    """The compiled schema, one per thread: its error_log belongs to the last validation."""
    compiled = getattr(_local, "schema", None)
    if compiled is None:
        compiled = _local.schema = etree.XMLSchema(etree.fromstring(_source()))
    return compiled


def invoices_in(root: etree._Element) -> list[etree._Element]:
    """The HDon elements of a document: the root itself, or those a TDiep carries."""
    if root.tag == "HDon":
        return [root]
    if root.tag == "TDiep":
        return list(root.iterfind("DLieu/HDon"))
    return []


def _rules(hdon: etree._Element, where: str) -> list[str]:
    errors: list[str] = []
    buyer = hdon.find("DLHDon/NDHDon/NMua")
    if buyer is not None:
        business = all(buyer.findtext(t) for t in ("Ten", "MST", "DChi"))
        person = bool(buyer.findtext("HVTNMHang"))
        if not (business or person):
            errors.append(
                f"{where}NMua: a business buyer needs Ten, MST and DChi; a person HVTNMHang"
            )
    return errors


def validate_element(hdon: etree._Element, where: str = "") -> list[str]:
    """Errors of one HDon element (validated as a document of its own)."""
    standalone = hdon if hdon.getparent() is None else copy.deepcopy(hdon)
    xsd = schema()
    errors: list[str] = []
    if not xsd.validate(standalone):
        errors.extend(f"{where}line {e.line}: {e.message}" for e in xsd.error_log)
    return errors + _rules(hdon, where)


def validate(xml: bytes) -> list[str]:
    """Every schema error of an invoice file; empty when it is valid."""
    try:
        root = parse(xml).getroot()
    except XMLRejected as exc:
        return [str(exc)]
    hdons = invoices_in(root)
    if not hdons:
        return [f"root element is {root.tag!r}: expected HDon or TDiep/DLieu/HDon"]
    errors: list[str] = []
    for index, hdon in enumerate(hdons):
        where = f"HDon[{index + 1}] " if len(hdons) > 1 else ""
        errors.extend(validate_element(hdon, where))
    return errors
