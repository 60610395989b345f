"""Form errors as catalogue codes, kept by field so each is shown next to its input.

A form that fails is drawn again (status 422) with what the person typed and these errors;
``_macros.html``'s ``field`` puts each under its input (``aria-describedby``) and ``form_errors``
sums them up at the top. Never a redirect with text in the URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    code: str  # a gateway.messages code
    params: Mapping[str, object] = field(default_factory=dict)


class FormErrors(dict[str, FieldError]):
    """field name -> its first error."""

    def add(self, name: str, code: str, **params: object) -> None:
        self.setdefault(name, FieldError(code, params))


def parse_vnd(text: str | None) -> int | None:
    """An amount as people type it ("200.000", "200 000 ₫", "200000"), or None if it is not one."""
    if text is None:
        return None
    digits = text.replace(".", "").replace(",", "").replace(" ", "").replace("₫", "").strip()
    if not digits.isdigit() or len(digits) > 12:
        return None
    return int(digits)


def looks_like_email(text: str) -> bool:
    """One @, a dot in the domain, no spaces: the mail server has the final word."""
    local, _, domain = text.partition("@")
    return bool(local) and "." in domain.strip(".") and " " not in text and "@" not in domain
