"""Enveloped XML-DSig signatures for invoices: the seller's (DSCKS/NBan) and the authority's (CQT).

Written on lxml + cryptography with our own C14N (einvoice.c14n) instead of signxml, whose
defaults (C14N 1.1, SignatureProperties only for detached signatures) do not fit the format. The
seller signature references ``#<DLHDon Id>`` (enveloped-signature transform) and an ``Object``
holding ``SignatureProperties/SignatureProperty[@Target]/SigningTime``; the authority's adds the
``MCCQT`` element. Everything except the defaults of :class:`SignatureStyle` exists so that tests
can produce the variants real providers send (RSA-SHA1, SigningTime without namespace, ...).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from lxml import etree

from einvoice.c14n import canonicalize, escape_attr, escape_text
from einvoice.dsig import (
    C14N,
    C14N_COMMENTS,
    CANONICALIZATIONS,
    DIGEST_URI,
    DSIG,
    DSIG_NS,
    ENVELOPED,
    SIGNATURE_METHODS,
    SIGNATURE_URI,
)
from einvoice.keys import load_pkcs12, tax_code_of
from einvoice.model import LOCAL_TZ
from einvoice.xml_build import HdonText, set_mccqt, to_bytes
from einvoice.xmlsafe import parse

SLOTS = ("NBan", "NMua", "CQT", "CCKSKhac")
_HAS_XML_ATTRS = etree.XPath("boolean(ancestor-or-self::*/@xml:*)")


class SigningError(ValueError):
    pass


@dataclass(frozen=True)
class SignatureStyle:
    """How a signature is written. The defaults are the project's own; the rest is for tests."""

    method: str = "rsa-sha256"
    digest: str = "sha256"
    signed_info_c14n: str = C14N
    explicit_c14n_transform: bool = False  # a C14N transform on every reference
    signing_time_ns: str | None = DSIG_NS  # None: SignatureProperties xmlns=""
    enveloped_on_object: bool = False  # the .NET-style transform on the Object reference
    prefix: str | None = None  # "ds" for ds:Signature
    subject_name: bool = True  # an (unsigned, informative) X509SubjectName
    include_chain: bool = False  # the issuer certificates in KeyInfo too


DEFAULT_STYLE = SignatureStyle()


def _digest(data: bytes, name: str) -> str:
    return base64.b64encode(hashlib.new(name, data).digest()).decode("ascii")


def _local(dt: datetime | None) -> str:
    dt = dt or datetime.now(LOCAL_TZ)
    if dt.tzinfo is None:
        raise SigningError("signing time must be timezone-aware")
    return dt.astimezone(LOCAL_TZ).replace(microsecond=0).isoformat()


class Signer:
    """A private key and its certificate, signing invoices."""

    def __init__(
        self,
        key: PrivateKeyTypes,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate] = (),
        style: SignatureStyle = DEFAULT_STYLE,
    ) -> None:
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise SigningError("only RSA and EC keys can sign invoices")
        self.key = key
        self.certificate = certificate
        self.chain = tuple(chain)
        self.style = style
        self._cert_b64 = base64.b64encode(
            certificate.public_bytes(serialization.Encoding.DER)
        ).decode()
        self._chain_b64 = tuple(
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
            for c in self.chain
        )
        self._subject = certificate.subject.rfc4514_string()
        self._tax_code = tax_code_of(certificate)
        self._key_info_cache: str | None = None

    @classmethod
    def from_pkcs12(
        cls, path: Path | str, password: str | bytes | None, style: SignatureStyle = DEFAULT_STYLE
    ) -> Signer:
        key, cert, chain = load_pkcs12(path, password)
        return cls(key, cert, chain, style)

    def with_style(self, style: SignatureStyle) -> Signer:
        return Signer(self.key, self.certificate, self.chain, style)

    @property
    def tax_code(self) -> str | None:
        """The MST in this certificate's subject."""
        return self._tax_code

    # -- public API -------------------------------------------------------------------------

    def sign_seller(
        self, hdon: etree._Element | bytes | HdonText, signing_time: datetime | None = None
    ) -> bytes:
        """Sign as the seller in DSCKS/NBan; an element is signed in place. Returns the file.

        An :class:`~einvoice.xml_build.HdonText` (how the issuing worker builds invoices) is
        signed as text: its DLHDon is already canonical, so nothing is parsed or canonicalized.
        """
        if isinstance(hdon, HdonText):
            if self.style.signed_info_c14n in _TEXT_C14N:
                return self._sign_text(hdon, signing_time)
            hdon = hdon.document()
        element = _as_hdon(hdon)
        self._sign(element, "NBan", signing_time, with_mccqt=False)
        return to_bytes(element)

    def countersign_authority(
        self,
        hdon: etree._Element | bytes,
        signing_time: datetime | None = None,
        mccqt: str | None = None,
    ) -> bytes:
        """Countersign as the tax authority in DSCKS/CQT (DLHDon, SigningTime and MCCQT).

        ``mccqt`` sets the code first (authority-coded mode); otherwise the invoice must have one.
        """
        element = _as_hdon(hdon)
        if mccqt is not None:
            set_mccqt(element, mccqt)
        if element.find("MCCQT") is None:
            raise SigningError("the invoice has no MCCQT to countersign")
        self._sign(element, "CQT", signing_time, with_mccqt=True)
        return to_bytes(element)

    # -- internals ---------------------------------------------------------------------------

    def _check_algorithm(self) -> None:
        style = self.style
        if style.method not in SIGNATURE_URI or style.digest not in DIGEST_URI:
            raise SigningError(f"unknown algorithm {style.method}/{style.digest}")
        kind = SIGNATURE_METHODS[SIGNATURE_URI[style.method]][1]
        if (kind == "rsa") != isinstance(self.key, rsa.RSAPrivateKey):
            raise SigningError(f"{style.method} does not fit a {type(self.key).__name__}")

    def _sign_text(self, hdon: HdonText, signing_time: datetime | None) -> bytes:
        """The seller's signature on an invoice written as canonical text (the issuing path)."""
        self._check_algorithm()
        signature = self._signature_text(
            (hdon.data_id, hdon.data.encode("utf-8")),
            None,
            f"NBan-{hdon.data_id}",
            f"SigningTime-NBan-{hdon.data_id}",
            _local(signing_time),
        )
        return hdon.document(signature)

    def _sign(
        self, hdon: etree._Element, slot_name: str, signing_time: datetime | None, with_mccqt: bool
    ) -> etree._Element:
        self._check_algorithm()
        data = hdon.find("DLHDon")
        if data is None:
            raise SigningError("HDon has no DLHDon")
        data_id = data.get("Id")
        if not data_id:
            raise SigningError("DLHDon has no Id")
        slot = _slot(hdon, slot_name)
        if slot.find(DSIG + "Signature") is not None:
            raise SigningError(f"DSCKS/{slot_name} is already signed")
        sig_id = f"{slot_name}-{data_id}"
        obj_id = f"SigningTime-{slot_name}-{data_id}"
        mccqt: etree._Element | None = None
        if with_mccqt:
            mccqt = hdon.find("MCCQT")
            assert mccqt is not None
            if not mccqt.get("Id"):
                mccqt.set("Id", f"MCCQT-{data_id}")
        when = _local(signing_time)
        if not slot.nsmap and not _HAS_XML_ATTRS(slot):
            return self._sign_plain(slot, data, mccqt, sig_id, obj_id, when)
        return self._sign_generic(slot, data, mccqt, sig_id, obj_id, when)

    def _sign_plain(
        self,
        slot: etree._Element,
        data: etree._Element,
        mccqt: etree._Element | None,
        sig_id: str,
        obj_id: str,
        when: str,
    ) -> etree._Element:
        """The usual case, fast: no namespace in scope where the signature goes.

        The canonical forms of Object and SignedInfo are then known exactly and written as text
        (the slow, general path canonicalizes a built tree; tests check both agree and xmlsec1
        accepts the result). The Signature is parsed once from that text and put in place.
        """
        if self.style.signed_info_c14n not in _TEXT_C14N:
            return self._sign_generic(slot, data, mccqt, sig_id, obj_id, when)
        signature = self._signature_text(
            (data.get("Id", ""), canonicalize(data)),
            None if mccqt is None else (mccqt.get("Id", ""), canonicalize(mccqt)),
            sig_id,
            obj_id,
            when,
        )
        sig = etree.fromstring(signature.encode("utf-8"))
        slot.append(sig)
        return sig

    def _signature_text(
        self,
        data: tuple[str, bytes],
        mccqt: tuple[str, bytes] | None,
        sig_id: str,
        obj_id: str,
        when: str,
    ) -> str:
        """The Signature element as text, for a place with no namespace in scope.

        ``data`` and ``mccqt`` are (Id, canonical form) of what the references cover. The
        canonical forms of the Object and of SignedInfo are then known exactly: the Object's
        is written here, SignedInfo's is signed as written.
        """
        style = self.style
        t = _template(style)
        props = (
            f'{t.props_open}<{t.pq_prop} Target="#{escape_attr(sig_id)}">'
            f"{t.time_open}{when}{t.time_close}{t.props_close}"
        )
        obj_attrs = f' Id="{escape_attr(obj_id)}"'
        obj_c14n = f"{t.obj_open}{t.decl}{obj_attrs}>{props}{t.obj_close}"

        targets: list[tuple[str, bytes, bool, bool]] = [
            (data[0], data[1], True, False),
            (obj_id, obj_c14n.encode("utf-8"), style.enveloped_on_object, True),
        ]
        if mccqt is not None:
            targets.append((mccqt[0], mccqt[1], False, False))
        refs = "".join(
            t.reference(escape_attr(ident), _digest(content, style.digest), enveloped, is_object)
            for ident, content, enveloped, is_object in targets
        )
        info_body = t.info_head + refs
        value = self._raw_sign(f"{t.info_open}{t.decl}>{info_body}{t.info_close}".encode())
        return (
            f'{t.sig_open}{t.decl} Id="{escape_attr(sig_id)}">'
            f"{t.info_open}>{t.stored(info_body)}{t.info_close}"
            f"{t.value_open}{base64.b64encode(value).decode('ascii')}{t.value_close}"
            f"{self._key_info_text(t)}"
            f"{t.obj_open}{obj_attrs}>{props}{t.obj_close}{t.sig_close}"
        )

    def _key_info_text(self, t: _Template) -> str:
        """KeyInfo with the certificate (and chain): the same for every signature."""
        key_info = self._key_info_cache
        if key_info is None:
            q = t.q
            style = self.style
            certs = [self._cert_b64, *(self._chain_b64 if style.include_chain else ())]
            x509_data = "".join(
                f"<{q('X509Certificate')}>{c}</{q('X509Certificate')}>" for c in certs
            )
            if style.subject_name:
                x509_data = (
                    f"<{q('X509SubjectName')}>{escape_text(self._subject)}"
                    f"</{q('X509SubjectName')}>" + x509_data
                )
            key_info = self._key_info_cache = (
                f"<{q('KeyInfo')}><{q('X509Data')}>{x509_data}</{q('X509Data')}></{q('KeyInfo')}>"
            )
        return key_info

    def _sign_generic(
        self,
        slot: etree._Element,
        data: etree._Element,
        mccqt: etree._Element | None,
        sig_id: str,
        obj_id: str,
        when: str,
    ) -> etree._Element:
        """Any namespace context: build the tree, then canonicalize what was built."""
        style = self.style
        ns = DSIG
        sig = etree.SubElement(slot, ns + "Signature", nsmap={style.prefix: DSIG_NS})
        sig.set("Id", sig_id)
        info = etree.SubElement(sig, ns + "SignedInfo")
        etree.SubElement(info, ns + "CanonicalizationMethod").set(
            "Algorithm", style.signed_info_c14n
        )
        etree.SubElement(info, ns + "SignatureMethod").set("Algorithm", SIGNATURE_URI[style.method])
        value = etree.SubElement(sig, ns + "SignatureValue")
        key_info = etree.SubElement(sig, ns + "KeyInfo")
        x509_data = etree.SubElement(key_info, ns + "X509Data")
        if style.subject_name:
            etree.SubElement(x509_data, ns + "X509SubjectName").text = self._subject
        etree.SubElement(x509_data, ns + "X509Certificate").text = self._cert_b64
        if style.include_chain:
            for der in self._chain_b64:
                etree.SubElement(x509_data, ns + "X509Certificate").text = der
        obj = etree.SubElement(sig, ns + "Object")
        obj.set("Id", obj_id)
        props_ns = "" if style.signing_time_ns is None else "{" + style.signing_time_ns + "}"
        # Outside xmldsig, declare the namespace as the default one (xmlns="" when none): lxml
        # would otherwise write no xmlns="" at all (and a reader would put SignatureProperties
        # in the inherited xmldsig namespace) or invent an ns0: prefix.
        props = etree.SubElement(
            obj,
            props_ns + "SignatureProperties",
            nsmap=None if style.signing_time_ns == DSIG_NS else {None: style.signing_time_ns or ""},
        )
        prop = etree.SubElement(props, props_ns + "SignatureProperty")
        prop.set("Target", "#" + sig_id)
        etree.SubElement(prop, props_ns + "SigningTime").text = when

        targets: list[tuple[etree._Element, bool]] = [
            (data, True),
            (obj, style.enveloped_on_object),
        ]
        if mccqt is not None:
            targets.append((mccqt, False))
        for target, enveloped in targets:
            self._reference(info, target, enveloped)

        exclusive, comments = CANONICALIZATIONS[style.signed_info_c14n]
        signed = canonicalize(info, with_comments=comments, exclusive=exclusive)
        value.text = base64.b64encode(self._raw_sign(signed)).decode("ascii")
        return sig

    def _reference(self, info: etree._Element, target: etree._Element, enveloped: bool) -> None:
        ns = DSIG
        style = self.style
        ref = etree.SubElement(info, ns + "Reference")
        ref.set("URI", "#" + target.get("Id", ""))
        if target.tag == DSIG + "Object":
            ref.set("Type", DSIG_NS + "Object")
        if enveloped or style.explicit_c14n_transform:
            transforms = etree.SubElement(ref, ns + "Transforms")
            if enveloped:
                etree.SubElement(transforms, ns + "Transform").set("Algorithm", ENVELOPED)
            if style.explicit_c14n_transform:
                etree.SubElement(transforms, ns + "Transform").set("Algorithm", C14N)
        etree.SubElement(ref, ns + "DigestMethod").set("Algorithm", DIGEST_URI[style.digest])
        etree.SubElement(ref, ns + "DigestValue").text = _digest(canonicalize(target), style.digest)

    def _raw_sign(self, data: bytes) -> bytes:
        algorithm = SIGNATURE_METHODS[SIGNATURE_URI[self.style.method]][2]()
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(data, padding.PKCS1v15(), algorithm)
        assert isinstance(self.key, ec.EllipticCurvePrivateKey)
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(algorithm)))
        size = (self.key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")


_TEXT_C14N = (C14N, C14N_COMMENTS)  # SignedInfo canonicalizations the text path can write


class _Template:
    """The fixed parts of a Signature written as text in one style, made once per style."""

    def __init__(self, style: SignatureStyle) -> None:
        p = style.prefix
        q = self.q = _qualifier(p)
        self.decl = f' xmlns:{p}="{DSIG_NS}"' if p else f' xmlns="{DSIG_NS}"'
        pq = q
        props_decl = ""
        if style.signing_time_ns != DSIG_NS:
            uri = style.signing_time_ns or ""
            props_decl = "" if (not uri and p) else f' xmlns="{escape_attr(uri)}"'
            pq = _qualifier(None)
        self.props_open = f"<{pq('SignatureProperties')}{props_decl}>"
        self.pq_prop = pq("SignatureProperty")
        self.time_open, self.time_close = f"<{pq('SigningTime')}>", f"</{pq('SigningTime')}>"
        self.props_close = f"</{pq('SignatureProperty')}></{pq('SignatureProperties')}>"
        self.obj_open, self.obj_close = f"<{q('Object')}", f"</{q('Object')}>"
        self.info_open, self.info_close = f"<{q('SignedInfo')}", f"</{q('SignedInfo')}>"
        self.sig_open, self.sig_close = f"<{q('Signature')}", f"</{q('Signature')}>"
        self.value_open = f"<{q('SignatureValue')}>"
        self.value_close = f"</{q('SignatureValue')}>"
        self.info_head = (
            f'<{q("CanonicalizationMethod")} Algorithm="{style.signed_info_c14n}">'
            f"</{q('CanonicalizationMethod')}>"
            f'<{q("SignatureMethod")} Algorithm="{SIGNATURE_URI.get(style.method, "")}">'
            f"</{q('SignatureMethod')}>"
        )
        c14n = f'<{q("Transform")} Algorithm="{C14N}"></{q("Transform")}>'
        enveloped = f'<{q("Transform")} Algorithm="{ENVELOPED}"></{q("Transform")}>'
        explicit = style.explicit_c14n_transform
        self.transforms = {
            True: f"<{q('Transforms')}>{enveloped}{c14n if explicit else ''}</{q('Transforms')}>",
            False: f"<{q('Transforms')}>{c14n}</{q('Transforms')}>" if explicit else "",
        }
        self.ref_open = f"<{q('Reference')}"
        self.digest_open = (
            f'<{q("DigestMethod")} Algorithm="{DIGEST_URI.get(style.digest, "")}">'
            f"</{q('DigestMethod')}><{q('DigestValue')}>"
        )
        self.ref_close = f"</{q('DigestValue')}></{q('Reference')}>"
        self.object_type = f' Type="{DSIG_NS}Object"'
        # Their canonical form is <X ...></X>; they are stored as <X .../>, as lxml writes them
        # (the same document, and the same bytes as the tree path).
        self._empty = tuple(
            f'"></{q(name)}>'
            for name in ("CanonicalizationMethod", "SignatureMethod", "Transform", "DigestMethod")
        )

    def stored(self, info_body: str) -> str:
        """SignedInfo's content as stored: its empty elements closed short."""
        for end in self._empty:
            info_body = info_body.replace(end, '"/>')
        return info_body

    def reference(self, ident: str, digest: str, enveloped: bool, is_object: bool) -> str:
        """One Reference; ``ident`` is already escaped for an attribute."""
        type_attr = self.object_type if is_object else ""
        return (
            f'{self.ref_open}{type_attr} URI="#{ident}">{self.transforms[enveloped]}'
            f"{self.digest_open}{digest}{self.ref_close}"
        )


@lru_cache(maxsize=32)
def _template(style: SignatureStyle) -> _Template:
    return _Template(style)


@lru_cache(maxsize=8)
def _qualifier(prefix: str | None) -> Callable[[str], str]:
    def q(local: str) -> str:
        return f"{prefix}:{local}" if prefix else local

    return q


def _as_hdon(hdon: etree._Element | bytes) -> etree._Element:
    if isinstance(hdon, bytes | bytearray):
        hdon = parse(bytes(hdon)).getroot()
    if hdon.tag != "HDon":
        raise SigningError(f"expected an HDon element, got {hdon.tag!r}")
    return hdon


def _slot(hdon: etree._Element, name: str) -> etree._Element:
    dscks = hdon.find("DSCKS")
    if dscks is None:
        dscks = etree.SubElement(hdon, "DSCKS")
    slot = dscks.find(name)
    if slot is not None:
        return slot
    slot = etree.Element(name)
    order = SLOTS.index(name)
    for existing in dscks:
        if existing.tag in SLOTS and SLOTS.index(existing.tag) > order:
            existing.addprevious(slot)
            return slot
    dscks.append(slot)
    return slot
