"""The Jinja2 environment of the pages: bilingual labels and messages, VND and local-time filters.

Every page gets ``t`` (labels), ``m`` (catalogue messages), the menu for its user, and the
flash banner, which a URL can only choose from the catalogue (``?msg=`` / ``?err=`` codes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from gateway import messages
from gateway.auth.principal import Principal
from gateway.web.assets import asset_url
from gateway.web.formatting import local_date, local_time, percent, stay_length, vnd
from gateway.web.i18n import normalize_lang, reason_labels, translator
from gateway.web.navigation import nav_items

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    tpl = Jinja2Templates(directory=str(TEMPLATES_DIR))
    tpl.env.filters["vnd"] = vnd
    tpl.env.filters["local_time"] = local_time
    tpl.env.filters["local_date"] = local_date
    tpl.env.filters["percent"] = percent
    tpl.env.filters["stay_length"] = stay_length
    tpl.env.globals["vendor_url"] = asset_url
    return tpl


def lang_of(request: Request) -> str:
    return normalize_lang(request.cookies.get("lang"))


@dataclass(frozen=True)
class Flash:
    tone: Literal["ok", "error"]
    code: str


def flash_from(request: Request) -> Flash | None:
    """The banner a redirect asked for: a catalogue code, or nothing (never the URL's text)."""
    err = messages.from_url(request.query_params.get("err"))
    if err:
        return Flash("error", err)
    msg = messages.from_url(request.query_params.get("msg"))
    return Flash("ok", msg) if msg else None


def render(
    request: Request,
    name: str,
    user: Principal | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    from gateway.web.charts import CLASS_LABELS

    lang = lang_of(request)
    index = 0 if lang == "vi" else 1

    def class_label(name: str) -> str:
        return CLASS_LABELS.get(name, (name, name))[index]

    reasons = reason_labels(lang)

    def reason_label(code: str | None) -> str:
        return reasons.get(code or "", code or "")

    def m(code: str, /, **params: Any) -> str:
        return messages.text(code, lang, **params)

    labels = translator(lang)

    def provider_name(provider: str) -> str:
        """A payment provider's name for people; its id when it has none in the labels."""
        key = f"provider_{provider}"
        label = labels(key)
        return provider if label == key else label

    ctx = {
        "user": user,
        "lang": lang,
        "t": translator(lang),
        "m": m,
        "provider_name": provider_name,
        "class_label": class_label,
        "reason_label": reason_label,
        "reasons": reasons,
        "flash": flash_from(request),
        "nav_items": nav_items(user, context.pop("nav_counts", None)),
        **context,
    }
    return templates().TemplateResponse(request, name, ctx, status_code=status_code)
