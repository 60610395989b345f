"""Our C14N against libxml2's whole-document C14N, and the sub-element cases lxml gets wrong."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from einvoice.c14n import canonicalize, canonicalize_document, canonicalize_slow

DOCS = [
    b"<a/>",
    b'<?xml-stylesheet href="x.xsl"?>\n<!--lead--><r b="2" a="1">t<!--c--><?p d?></r><!--end-->',
    b'<r xmlns:z="urn:z" xmlns:y="urn:a" z:c="&quot;\t&#9;&#10;&#13;" y:d="q" a="&lt;&amp;>">'
    b"  a &amp; &lt; &gt; &#13; <e/>\n\xc3\xa1 Vi\xe1\xbb\x87t</r>",
    b'<r xmlns="urn:x"><m xmlns=""><n/></m><k xmlns="urn:y"/></r>',
    b'<p:r xmlns:p="urn:p" xmlns:q="urn:q"><q:s p:at="1"/><t xmlns:p="urn:p2"/></p:r>',
    b'<r xml:lang="vi"><![CDATA[<x> & y]]></r>',
    b'<HDon xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><DLHDon Id="d">\n  <a>1</a>\n'
    b'</DLHDon><DSCKS><NBan><Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>'
    b"<X/></SignedInfo></Signature></NBan></DSCKS></HDon>",
]


@pytest.mark.parametrize("doc", DOCS)
@pytest.mark.parametrize("comments", [False, True])
@pytest.mark.parametrize("exclusive", [False, True])
def test_whole_document_matches_libxml2(doc: bytes, comments: bool, exclusive: bool) -> None:
    tree = etree.ElementTree(etree.fromstring(doc))
    expected = etree.tostring(tree, method="c14n", with_comments=comments, exclusive=exclusive)
    assert canonicalize_document(tree, with_comments=comments, exclusive=exclusive) == expected


def test_subtree_keeps_ancestor_namespaces_and_no_stray_undeclaration() -> None:
    root = etree.fromstring(DOCS[-1])
    sig = root.find(".//{http://www.w3.org/2000/09/xmldsig#}Signature")
    # lxml's own sub-element C14N writes <X xmlns=""> here, which breaks signatures.
    assert canonicalize(sig) == (
        b'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#" '
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><SignedInfo><X></X></SignedInfo>'
        b"</Signature>"
    )
    assert canonicalize(root.find("DLHDon")) == (
        b'<DLHDon xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" Id="d">\n  <a>1</a>\n'
        b"</DLHDon>"
    )


def test_subtree_undeclares_default_namespace_only_below_a_declaring_parent() -> None:
    root = etree.fromstring(b'<r xmlns="urn:x"><m xmlns=""><n/></m></r>')
    assert canonicalize(root[0]) == b"<m><n></n></m>"
    assert canonicalize(root) == b'<r xmlns="urn:x"><m xmlns=""><n></n></m></r>'


def test_inclusive_subtree_inherits_xml_attributes() -> None:
    root = etree.fromstring(b'<r xml:lang="vi"><m xml:space="preserve"><n/></m></r>')
    assert canonicalize(root[0][0]) == b'<n xml:lang="vi" xml:space="preserve"></n>'
    assert canonicalize(root[0][0], exclusive=True) == b"<n></n>"


def test_exclusive_renders_only_used_namespaces() -> None:
    root = etree.fromstring(b'<r xmlns:a="urn:a" xmlns:b="urn:b"><a:x><y b:c="1"/></a:x></r>')
    assert canonicalize(root[0], exclusive=True) == (
        b'<a:x xmlns:a="urn:a"><y xmlns:b="urn:b" b:c="1"></y></a:x>'
    )
    assert canonicalize(root[0], exclusive=True, inclusive_prefixes=["b"]) == (
        b'<a:x xmlns:a="urn:a" xmlns:b="urn:b"><y b:c="1"></y></a:x>'
    )


def test_exclude_keeps_the_following_text() -> None:
    root = etree.fromstring(b"<r>a<s>x</s>b<t/></r>")
    assert canonicalize(root, exclude=root[0]) == b"<r>ab<t></t></r>"


def test_comments_only_when_asked() -> None:
    root = etree.fromstring(b"<r><!-- c -->x</r>")
    assert canonicalize(root) == b"<r>x</r>"
    assert canonicalize(root, with_comments=True) == b"<r><!-- c -->x</r>"


# -- property: the fast paths agree with the reference implementation on random documents ----

_NAMESPACES = ["", "urn:a", "urn:b", "http://www.w3.org/2000/09/xmldsig#"]
_PREFIXES = [None, "a", "b", "ds"]
_TEXT = st.text(alphabet="ab &<>\"'\t\r\nđỗ", max_size=6)


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    counter = iter(range(1000))

    def element(depth: int, declared: tuple[str, ...] = ()) -> str:
        n = next(counter)
        prefix = draw(st.sampled_from(_PREFIXES))
        uri = draw(st.sampled_from(_NAMESPACES))
        decl = ""
        if prefix is None:
            name = f"e{n}"
            if draw(st.booleans()):
                decl = f' xmlns="{uri}"'
        else:
            name = f"{prefix}:e{n}"
            decl = f' xmlns:{prefix}="{uri or "urn:empty"}"'
            declared = (*declared, prefix)
        attrs = ""
        if bool(declared) and draw(st.booleans()):  # an attribute in a namespace declared above
            attrs += f' {draw(st.sampled_from(declared))}:at="v"'
        for i in range(draw(st.integers(0, 2))):
            value = draw(_TEXT).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
            attrs += f' x{i}="{value}"'
        if draw(st.booleans()):
            attrs += ' xml:lang="vi"'
        body = ""
        for _ in range(draw(st.integers(0, 3 if depth < 3 else 0))):
            kind = draw(st.sampled_from(["el", "el", "text", "comment", "pi"]))
            if kind == "el":
                body += element(depth + 1, declared)
            elif kind == "text":
                body += draw(_TEXT).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            elif kind == "comment":
                body += "<!-- c -->"
            else:
                body += "<?pi data?>"
        return f"<{name}{decl}{attrs}>{body}</{name}>"

    return element(0).encode("utf-8")


@settings(max_examples=150, deadline=None)
@given(doc=_documents(), comments=st.booleans(), exclusive=st.booleans())
def test_fast_paths_match_the_reference(doc: bytes, comments: bool, exclusive: bool) -> None:
    root = etree.fromstring(doc)
    tree = root.getroottree()
    expected_doc = etree.tostring(tree, method="c14n", with_comments=comments, exclusive=exclusive)
    assert canonicalize_document(tree, with_comments=comments, exclusive=exclusive) == expected_doc
    for el in root.iter(etree.Element):
        assert canonicalize(el, with_comments=comments, exclusive=exclusive) == canonicalize_slow(
            el, with_comments=comments, exclusive=exclusive
        )
