"""The authority's own signing key, used to countersign invoices it codes (DSCKS/CQT)."""

from __future__ import annotations

from lxml import etree

from simulator.tax_authority.service import Countersign
from simulator.tax_authority.settings import TaxAuthoritySettings


def load_countersigner(settings: TaxAuthoritySettings) -> Countersign:
    """A callable adding DSCKS/CQT to an HDon, with the key from settings or the demo keys.

    Without ``TAXAUTH_PKCS12`` the demo key set under ``data_dir/keys`` is used (made on first
    run by einvoice.keys), so a fresh checkout can code invoices with no set-up.
    """
    from einvoice import keys
    from einvoice.signing import Signer

    if settings.pkcs12 is not None:
        signer = Signer.from_pkcs12(settings.pkcs12, settings.pkcs12_password)
    else:
        demo = keys.ensure_demo_keys(
            settings.data_dir / "keys", seller_tax_code=settings.demo_seller_tax_code
        )
        signer = Signer.from_pkcs12(demo.authority_pkcs12, demo.password)

    def countersign(hdon: etree._Element) -> bytes:
        return signer.countersign_authority(hdon)

    return countersign
