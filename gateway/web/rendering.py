"""The Jinja2 environment of the pages: bilingual labels, VND and local-time filters."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from gateway.auth.principal import Principal
from gateway.web.assets import asset_url
from gateway.web.formatting import local_date, local_time, percent, stay_length, vnd
from gateway.web.i18n import normalize_lang, reason_labels, translator

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

    ctx = {
        "user": user,
        "lang": lang,
        "t": translator(lang),
        "class_label": class_label,
        "reason_label": reason_label,
        "reasons": reasons,
        **context,
    }
    return templates().TemplateResponse(request, name, ctx, status_code=status_code)
