"""XML-DSig references: finding what an ``Id`` names and digesting it as the signer did.

The enveloped-signature transform follows .NET's SignedXml: it removes the signature only when
the signature lies inside the referenced subtree, so the reference some providers put on their
own Object (inside the signature) digests the Object, where a strict W3C processor (xmlsec1)
digests nothing. Ids are plain ``Id`` attributes (``ID``/``id`` as a fallback), looked up in the
invoice the signature belongs to first: batches repeat Ids from one invoice to the next.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

from lxml import etree

from einvoice.c14n import canonicalize, canonicalize_document
from einvoice.dsig import CANONICALIZATIONS, DIGESTS, DSIG, ENVELOPED

WITH_ID = etree.XPath("descendant-or-self::*[@Id]")
ROLES = {"NBan": "seller", "CQT": "authority"}
BY_OTHER_ID = etree.XPath("descendant-or-self::*[@ID=$v or @id=$v]")


class Invalid(Exception):
    """Why a signature fails; ``unsupported`` when it uses something this verifier lacks."""

    def __init__(self, reason: str, unsupported: bool = False) -> None:
        super().__init__(reason)
        self.unsupported = unsupported


def b64(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Invalid(f"{what} is not base64") from exc


def child(el: etree._Element, name: str, required: bool = True) -> etree._Element | None:
    tag = DSIG + name
    for child in el:
        if child.tag == tag:
            return child
    if required:
        raise Invalid(f"{name} is missing")
    return None


def is_named(tag: object, name: str) -> bool:
    """Local-name match: the invoice vocabulary is used with or without a namespace."""
    return isinstance(tag, str) and (tag == name or tag.endswith("}" + name))


def kid(el: etree._Element | None, path: str) -> etree._Element | None:
    for part in path.split("/"):
        if el is None:
            return None
        el = next((c for c in el if is_named(c.tag, part)), None)
    return el


def kid_text(el: etree._Element | None, path: str) -> str:
    found = kid(el, path)
    return (found.text or "").strip() if found is not None else ""


class IdContext:
    """Id lookup, scoped to the invoice a signature belongs to (batches repeat Ids)."""

    def __init__(self, tree: etree._ElementTree) -> None:
        self.tree = tree
        self._keys: dict[int, str | None] = {}
        self._ids: dict[int, dict[str, list[etree._Element]]] = {}

    def invoice_key(self, hdon: etree._Element | None) -> str | None:
        if hdon is None:
            return None
        key = id(hdon)
        if key not in self._keys:
            self._keys[key] = invoice_key(hdon)
        return self._keys[key]

    def _find(self, scope: etree._Element, ident: str) -> list[etree._Element]:
        index = self._ids.get(id(scope))
        if index is None:
            index = self._ids[id(scope)] = {}
            for el in WITH_ID(scope):
                index.setdefault(el.get("Id"), []).append(el)
        found = index.get(ident)
        return found if found else BY_OTHER_ID(scope, v=ident)

    def by_id(self, scope: etree._Element, ident: str, sig: etree._Element) -> etree._Element:
        found = self._find(scope, ident)
        root = self.tree.getroot()
        if not found and scope is not root:
            found = self._find(root, ident)
        if not found:
            raise Invalid(f"reference #{ident} points to no element")
        if len(found) > 1:
            # Seller and authority signatures may both name their Object "SigningTime": a
            # signature's reference to an element inside itself is unambiguous. Anything else
            # (a second DLHDon, say) is refused: that is how signature wrapping starts.
            own = [el for el in found if is_inside(el, sig)]
            if len(own) != 1:
                raise Invalid(f"Id {ident!r} appears {len(found)} times")
            return own[0]
        return found[0]


def is_inside(node: etree._Element, ancestor: etree._Element) -> bool:
    while node is not None:
        if node is ancestor:
            return True
        node = node.getparent()
    return False


def hdon_of(sig: etree._Element) -> etree._Element | None:
    node = sig.getparent()
    while node is not None:
        if is_named(node.tag, "HDon"):
            return node
        node = node.getparent()
    return None


def role_of(sig: etree._Element) -> str:
    """seller / authority from the DSCKS slot holding the signature (at any depth below it)."""
    node, parent = sig, sig.getparent()
    while parent is not None:
        if is_named(parent.tag, "DSCKS"):
            return ROLES.get(etree.QName(node).localname, "unknown")
        node, parent = parent, parent.getparent()
    return "unknown"


def invoice_key(hdon: etree._Element | None) -> str | None:
    head = kid(hdon, "DLHDon/TTChung")
    if head is None:
        return None
    number = kid_text(head, "SHDon")
    return f"{kid_text(head, 'KHMSHDon')}{kid_text(head, 'KHHDon')}-{number.zfill(8)}"


def digest_reference(
    ref: etree._Element, sig: etree._Element, scope: etree._Element, ctx: IdContext
) -> tuple[etree._Element | None, str]:
    """Check one Reference; return its target element (None for the whole document)."""
    uri = ref.get("URI")
    if uri is None:
        raise Invalid("a Reference without URI (detached content) is not supported", True)
    target, with_comments_allowed = _reference_target(uri, sig, scope, ctx)
    transforms = ref.find(DSIG + "Transforms")
    exclude, (exclusive, comments) = _transforms(transforms, sig, target)
    comments = comments and with_comments_allowed
    prefixes = _inclusive_prefixes(transforms) if exclusive else []
    if target is None:
        data = canonicalize_document(
            ctx.tree,
            with_comments=comments,
            exclude=exclude,
            exclusive=exclusive,
            inclusive_prefixes=prefixes,
        )
    else:
        data = canonicalize(
            target,
            with_comments=comments,
            exclude=exclude,
            exclusive=exclusive,
            inclusive_prefixes=prefixes,
        )
    digest = _check_digest(ref, data)
    if digest is None:
        label = uri or "the document"
        if target is not None and target.tag is not None:
            label = f"{etree.QName(target).localname} ({uri})"
        raise Invalid(f"digest mismatch for {label}: the signed content was changed")
    return target, digest


_XPOINTER_ID = re.compile(r"#xpointer\(id\(['\"]([^'\"]+)['\"]\)\)")


def _reference_target(
    uri: str, sig: etree._Element, scope: etree._Element, ctx: IdContext
) -> tuple[etree._Element | None, bool]:
    """The element a Reference URI names (None: the document) and whether comments may count.

    Only the XPointer forms keep comments; a bare ``#id`` or "" drops them (XML-DSig).
    """
    if uri == "":
        return None, False
    if uri == "#xpointer(/)":
        return None, True
    if uri.startswith("#xpointer(id("):
        match = _XPOINTER_ID.fullmatch(uri)
        if not match:
            raise Invalid(f"unsupported reference {uri!r}", True)
        return ctx.by_id(scope, match.group(1), sig), True
    if uri.startswith("#"):
        return ctx.by_id(scope, uri[1:], sig), False
    raise Invalid(f"external reference {uri!r} is not allowed")


def _transforms(
    transforms: etree._Element | None, sig: etree._Element, target: etree._Element | None
) -> tuple[etree._Element | None, tuple[bool, bool]]:
    """The signature to leave out (enveloped) and the (exclusive, comments) canonicalization."""
    exclude: etree._Element | None = None
    c14n_method: tuple[bool, bool] = (False, False)
    if transforms is None:
        return exclude, c14n_method
    for transform in transforms.iterfind(DSIG + "Transform"):
        algorithm = transform.get("Algorithm", "")
        if algorithm == ENVELOPED:
            # .NET: only a Signature inside the referenced subtree is removed.
            if target is None or is_inside(sig, target):
                exclude = sig
        elif algorithm in CANONICALIZATIONS:
            c14n_method = CANONICALIZATIONS[algorithm]
        else:
            raise Invalid(f"unsupported transform {algorithm}", True)
    return exclude, c14n_method


def _inclusive_prefixes(transforms: etree._Element | None) -> list[str]:
    """The PrefixList of exclusive canonicalization's InclusiveNamespaces."""
    prefixes: list[str] = []
    if transforms is not None:
        for inc in transforms.iter("{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces"):
            prefixes.extend((inc.get("PrefixList") or "").split())
    return prefixes


def _check_digest(ref: etree._Element, data: bytes) -> str | None:
    """The digest algorithm's name when the Reference's DigestValue matches ``data``, else None."""
    method = child(ref, "DigestMethod")
    assert method is not None
    algorithm = method.get("Algorithm", "")
    if algorithm not in DIGESTS:
        raise Invalid(f"unsupported digest {algorithm}", True)
    actual = hashlib.new(DIGESTS[algorithm][0], data).digest()
    expected = b64(child(ref, "DigestValue").text, "DigestValue")  # type: ignore[union-attr]
    return DIGESTS[algorithm][0] if hmac.compare_digest(actual, expected) else None
