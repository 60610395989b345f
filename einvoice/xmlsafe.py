"""Parsing XML from outside safely: no DTD, no entities, no network, bounded size and depth.

The one parser of the package: the verifier, the XSD check, the renderer and the message codec
(:mod:`einvoice.tdiep`, which the mock tax authority uses) all read untrusted XML through
:func:`parse`. Invoices never need a DTD; refusing any DOCTYPE removes entity expansion
("billion laughs") and external entities at once. Whitespace is kept: it is part of what was
signed.
"""

from __future__ import annotations

import threading

from lxml import etree

MAX_XML_BYTES = 8 * 1024 * 1024


class XMLRejected(ValueError):
    """The input is not XML we are willing to read; the message says why.

    ``kind``: ``too_large`` | ``malformed`` | ``dtd_forbidden`` (the message codec maps it to
    the tax authority's technical error codes).
    """

    def __init__(self, message: str, kind: str = "malformed") -> None:
        super().__init__(message)
        self.kind = kind


_local = threading.local()


def parser() -> etree.XMLParser:
    """This thread's safe parser (lxml parsers must not be shared between threads)."""
    found: etree.XMLParser | None = getattr(_local, "parser", None)
    if found is None:
        found = _local.parser = _new_parser()
    return found


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        remove_comments=False,
        remove_pis=False,
        strip_cdata=True,
        collect_ids=False,
    )


def parse(xml: bytes, *, max_bytes: int = MAX_XML_BYTES) -> etree._ElementTree:
    """Parse bytes (a BOM, no declaration or a stylesheet PI are fine); raise XMLRejected."""
    if not isinstance(xml, bytes | bytearray | memoryview):
        raise XMLRejected("XML must be given as bytes")
    if len(xml) > max_bytes:
        raise XMLRejected(f"XML too large: {len(xml)} bytes > {max_bytes}", "too_large")
    data = bytes(xml)
    if not data.strip():
        raise XMLRejected("empty document")
    # Refused before parsing: libxml2 would otherwise report an entity bomb as a syntax error.
    # (A comment or CDATA section quoting these markers is refused too; no invoice needs one.)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise XMLRejected("a DOCTYPE/DTD is not allowed", "dtd_forbidden")
    try:
        root = etree.fromstring(data, parser())
    except etree.XMLSyntaxError as exc:
        raise XMLRejected(f"malformed XML: {exc}") from None
    except ValueError as exc:  # e.g. an encoding declaration lxml refuses
        raise XMLRejected(f"unreadable XML: {exc}") from None
    tree = root.getroottree()
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XMLRejected("a DOCTYPE/DTD is not allowed", "dtd_forbidden")
    for node in root.iter(etree.Entity):
        raise XMLRejected(f"entity reference &{node.name}; is not allowed", "dtd_forbidden")
    return tree
