"""Parsing XML from outside safely: no DTD, no entities, no network, bounded size and depth.

Invoices never need a DTD; refusing any DOCTYPE removes entity expansion ("billion laughs") and
external entities at once. Whitespace is kept: it is part of what was signed.
"""

from __future__ import annotations

import threading

from lxml import etree

MAX_XML_BYTES = 8 * 1024 * 1024


class XMLRejected(ValueError):
    """The input is not XML we are willing to read; the message says why."""


_local = threading.local()


def _parser() -> etree.XMLParser:
    """One parser per thread (lxml parsers must not be shared between threads)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _new_parser()
    return parser


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
        raise XMLRejected(f"XML too large: {len(xml)} bytes > {max_bytes}")
    if not xml.strip():
        raise XMLRejected("empty document")
    try:
        root = etree.fromstring(bytes(xml), _parser())
    except etree.XMLSyntaxError as exc:
        raise XMLRejected(f"malformed XML: {exc}") from exc
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise XMLRejected("a DOCTYPE/DTD is not allowed")
    for node in root.iter(etree.Entity):
        raise XMLRejected(f"entity reference &{node.name}; is not allowed")
    return tree
