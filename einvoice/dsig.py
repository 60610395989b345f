"""XML-DSig algorithm identifiers and the hash/signature primitives behind them."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
DSIG = "{" + DSIG_NS + "}"

C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_COMMENTS = C14N + "#WithComments"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_COMMENTS = EXC_C14N + "WithComments"
C14N11 = "http://www.w3.org/2006/12/xml-c14n11"
C14N11_COMMENTS = C14N11 + "#WithComments"
ENVELOPED = DSIG_NS + "enveloped-signature"

SIGNATURE_PROPERTIES_TYPE = DSIG_NS + "SignatureProperties"
OBJECT_TYPE = DSIG_NS + "Object"

# (name used in reports, hash)
DIGESTS: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    DSIG_NS + "sha1": ("sha1", hashes.SHA1),
    "http://www.w3.org/2001/04/xmldsig-more#sha224": ("sha224", hashes.SHA224),
    "http://www.w3.org/2001/04/xmlenc#sha256": ("sha256", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#sha384": ("sha384", hashes.SHA384),
    "http://www.w3.org/2001/04/xmlenc#sha512": ("sha512", hashes.SHA512),
}
DIGEST_URI = {name: uri for uri, (name, _) in DIGESTS.items()}

# (name used in reports, key type "rsa"|"ecdsa", hash)
SIGNATURE_METHODS: dict[str, tuple[str, str, type[hashes.HashAlgorithm]]] = {
    DSIG_NS + "rsa-sha1": ("rsa-sha1", "rsa", hashes.SHA1),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha224": ("rsa-sha224", "rsa", hashes.SHA224),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa-sha256", "rsa", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa-sha384", "rsa", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa-sha512", "rsa", hashes.SHA512),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1": ("ecdsa-sha1", "ecdsa", hashes.SHA1),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ecdsa-sha256", "ecdsa", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": ("ecdsa-sha384", "ecdsa", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": ("ecdsa-sha512", "ecdsa", hashes.SHA512),
}
SIGNATURE_URI = {name: uri for uri, (name, _, _) in SIGNATURE_METHODS.items()}

# canonicalization URI -> (exclusive, with_comments)
# C14N 1.1 is accepted as 1.0: they differ only in inherited xml:id/xml:base, which invoices
# do not carry (signxml's default is 1.1, so some signers may use it).
CANONICALIZATIONS: dict[str, tuple[bool, bool]] = {
    C14N: (False, False),
    C14N_COMMENTS: (False, True),
    C14N11: (False, False),
    C14N11_COMMENTS: (False, True),
    EXC_C14N: (True, False),
    EXC_C14N_COMMENTS: (True, True),
}
