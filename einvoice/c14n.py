"""Canonical XML 1.0 (inclusive and exclusive) of an element's subtree, in its document context.

Why not ``lxml.etree.tostring(el, method="c14n")``: for a sub-element lxml copies it into a fake
root document, and the result is wrong in ways that break real signatures: children that inherit a
default namespace come out with a stray ``xmlns=""``, and the ``xml:*`` attributes that inclusive
C14N 1.0 inherits from ancestors (``xml:lang``, ``xml:space``) are dropped. The rules implemented
here are those of https://www.w3.org/TR/2001/REC-xml-c14n-20010315 for a document subset made of a
whole subtree (minus, optionally, one excluded element: the enveloped signature), and of
https://www.w3.org/TR/xml-exc-c14n/ for the exclusive variant.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from einvoice import xmlsafe

XML_NS = "http://www.w3.org/XML/1998/namespace"

_Comment = etree.Comment
_PI = etree.ProcessingInstruction


def escape_text(s: str) -> str:
    """Character data as C14N writes it (also valid XML text anywhere)."""
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:
        s = s.replace(">", "&gt;")
    if "\r" in s:
        s = s.replace("\r", "&#xD;")
    return s


def escape_attr(s: str) -> str:
    """An attribute value (between double quotes) as C14N writes it."""
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if '"' in s:
        s = s.replace('"', "&quot;")
    if "\t" in s:
        s = s.replace("\t", "&#x9;")
    if "\n" in s:
        s = s.replace("\n", "&#xA;")
    if "\r" in s:
        s = s.replace("\r", "&#xD;")
    return s


def _split(clark: str) -> tuple[str, str]:
    if clark[0] == "{":
        uri, local = clark[1:].split("}", 1)
        return uri, local
    return "", clark


def _attr_prefix(el: etree._Element, uri: str, local: str) -> str:
    if uri == XML_NS:
        return "xml"
    prefixes = [p for p, u in el.nsmap.items() if u == uri and p]
    if len(prefixes) == 1:
        return prefixes[0]
    # Several prefixes bound to one URI: ask libxml2 for the name as written.
    name = str(el.xpath("name(@*[namespace-uri()=$u and local-name()=$l])", u=uri, l=local))
    if ":" not in name:
        raise ValueError(f"no prefix for attribute {{{uri}}}{local}")
    return name.split(":", 1)[0]


def _in_scope(el: etree._Element) -> dict[str, str]:
    """In-scope namespaces as prefix ('' = default) -> URI; an undeclared default maps to ''."""
    return {(p or ""): (u or "") for p, u in el.nsmap.items()}


class _Writer:
    __slots__ = ("exclude", "exclusive", "inclusive_prefixes", "out", "with_comments")

    def __init__(
        self,
        with_comments: bool,
        exclude: etree._Element | None,
        exclusive: bool,
        inclusive_prefixes: frozenset[str],
    ) -> None:
        self.with_comments = with_comments
        self.exclude = exclude
        self.exclusive = exclusive
        self.inclusive_prefixes = inclusive_prefixes
        self.out: list[str] = []

    def node(self, node: etree._Element, rendered: dict[str, str], apex: bool) -> None:
        tag = node.tag
        if tag is _Comment:
            if self.with_comments:
                self.out.append("<!--" + (node.text or "") + "-->")
            return
        if tag is _PI:
            data = node.text
            self.out.append(f"<?{node.target}" + (" " + data if data else "") + "?>")
            return
        if not isinstance(tag, str):  # an unexpanded entity reference: we never parse DTDs
            raise ValueError("entity references are not supported")
        if node is self.exclude:
            return
        self.element(node, tag, rendered, apex)

    def element(self, el: etree._Element, tag: str, rendered: dict[str, str], apex: bool) -> None:
        out = self.out
        local = _split(tag)[1]
        prefix = el.prefix or ""
        qname = f"{prefix}:{local}" if prefix else local
        scope = _in_scope(el)

        attrs: list[tuple[str, str, str, str]] = []  # (uri, local, qname, value)
        used_prefixes = {prefix}
        for key, value in el.attrib.items():
            a_uri, a_local = _split(key)
            if a_uri:
                a_prefix = _attr_prefix(el, a_uri, a_local)
                if a_prefix != "xml":
                    used_prefixes.add(a_prefix)
                attrs.append((a_uri, a_local, f"{a_prefix}:{a_local}", value))
            else:
                attrs.append(("", a_local, a_local, value))
        if apex and not self.exclusive:
            attrs.extend(self._inherited_xml_attrs(el, {a[1] for a in attrs if a[0] == XML_NS}))

        decls: list[tuple[str, str]] = []
        if self.exclusive:
            wanted = used_prefixes | (self.inclusive_prefixes & (set(scope) | {""}))
            child_rendered = dict(rendered)
            for p in wanted:
                if p == "xml":
                    continue
                value = scope.get(p, "")
                if rendered.get(p, "") != value and not (p and not value):
                    decls.append((p, value))
                    child_rendered[p] = value
        else:
            for p, value in scope.items():
                if p == "xml":
                    continue
                if rendered.get(p, "") != value:
                    decls.append((p, value))
            if "" not in scope and rendered.get("", ""):
                decls.append(("", ""))
            child_rendered = scope
        decls.sort()

        out.append("<" + qname)
        for p, value in decls:
            out.append((f' xmlns:{p}="' if p else ' xmlns="') + escape_attr(value) + '"')
        if attrs:
            attrs.sort(key=lambda a: (a[0], a[1]))
            for _a_uri, _a_local, a_qname, value in attrs:
                out.append(f' {a_qname}="' + escape_attr(value) + '"')
        out.append(">")
        if el.text:
            out.append(escape_text(el.text))
        for child in el:
            self.node(child, child_rendered, False)
            if child.tail:
                out.append(escape_text(child.tail))
        out.append(f"</{qname}>")

    @staticmethod
    def _inherited_xml_attrs(
        el: etree._Element, present: set[str]
    ) -> Iterable[tuple[str, str, str, str]]:
        found: dict[str, str] = {}
        parent = el.getparent()
        while parent is not None:
            for key, value in parent.attrib.items():
                a_uri, a_local = _split(key)
                if a_uri == XML_NS and a_local not in present and a_local not in found:
                    found[a_local] = value
            parent = parent.getparent()
        return [(XML_NS, name, f"xml:{name}", value) for name, value in found.items()]


_XML_ATTR = "{" + XML_NS + "}"


def _inherits_xml_attrs(element: etree._Element) -> bool:
    parent = element.getparent()
    while parent is not None:
        for key in parent.attrib:
            if key.startswith(_XML_ATTR):
                return True
        parent = parent.getparent()
    return False


def canonicalize(
    element: etree._Element,
    *,
    with_comments: bool = False,
    exclude: etree._Element | None = None,
    exclusive: bool = False,
    inclusive_prefixes: Iterable[str] = (),
) -> bytes:
    """Canonical form of ``element``'s subtree as a document subset (its namespace context kept).

    ``exclude`` leaves one element (and its subtree, not its tail text) out: the enveloped
    signature transform.

    Fast paths: without any namespace in scope (the invoice data) lxml's own C14N is exact.
    Otherwise serialize the subtree (lxml writes every in-scope namespace declaration on its
    root), parse that copy and let libxml2 canonicalize it as a whole document, which it does
    right. The copy's namespaces are compared with the original's; inherited ``xml:*``
    attributes and exclusions take the pure-Python path, which the tests hold the fast one to.
    """
    if exclude is None and not _inherits_xml_attrs(element):
        if not exclusive:
            # No namespace anywhere in scope (invoice data): lxml's own C14N is exact here, and
            # its output then carries no "xmlns" at all; any namespace shows up in it.
            direct = etree.tostring(element, method="c14n", with_comments=with_comments)
            if b"xmlns" not in direct:
                return direct
        copy = etree.fromstring(etree.tostring(element, with_tail=False), xmlsafe.parser())
        if copy.nsmap == element.nsmap:
            prefixes = list(inclusive_prefixes) if exclusive else None
            return etree.tostring(
                copy.getroottree(),
                method="c14n",
                with_comments=with_comments,
                exclusive=exclusive,
                inclusive_ns_prefixes=prefixes or None,
            )
    return canonicalize_slow(
        element,
        with_comments=with_comments,
        exclude=exclude,
        exclusive=exclusive,
        inclusive_prefixes=inclusive_prefixes,
    )


def canonicalize_slow(
    element: etree._Element,
    *,
    with_comments: bool = False,
    exclude: etree._Element | None = None,
    exclusive: bool = False,
    inclusive_prefixes: Iterable[str] = (),
) -> bytes:
    """:func:`canonicalize` always in Python (the reference the fast path is tested against)."""
    writer = _Writer(with_comments, exclude, exclusive, frozenset(inclusive_prefixes))
    if element is not exclude:
        writer.node(element, {}, True)
    return "".join(writer.out).encode("utf-8")


def canonicalize_document(
    tree: etree._ElementTree,
    *,
    with_comments: bool = False,
    exclude: etree._Element | None = None,
    exclusive: bool = False,
    inclusive_prefixes: Iterable[str] = (),
) -> bytes:
    """Canonical form of a whole document (``URI=""``): the root plus top-level PIs/comments."""
    root = tree.getroot()
    writer = _Writer(with_comments, exclude, exclusive, frozenset(inclusive_prefixes))
    before: list[str] = []
    after: list[str] = []
    for sibling in root.itersiblings(preceding=True):
        writer.out = []
        writer.node(sibling, {}, True)
        if writer.out:
            before.insert(0, "".join(writer.out) + "\n")
    for sibling in root.itersiblings():
        writer.out = []
        writer.node(sibling, {}, True)
        if writer.out:
            after.append("\n" + "".join(writer.out))
    writer.out = []
    if root is not exclude:
        writer.node(root, {}, True)
    return ("".join(before) + "".join(writer.out) + "".join(after)).encode("utf-8")
