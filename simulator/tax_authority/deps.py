"""Typed FastAPI dependencies of the mock tax authority (everything lives on app.state)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from simulator.tax_authority.captcha import CaptchaSource
from simulator.tax_authority.service import TaxAuthority
from simulator.tax_authority.settings import TaxAuthoritySettings


def get_service(request: Request) -> TaxAuthority:
    return request.app.state.service


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_settings(request: Request) -> TaxAuthoritySettings:
    return request.app.state.settings


def get_templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


def get_captcha(request: Request) -> CaptchaSource:
    return request.app.state.captcha


ServiceDep = Annotated[TaxAuthority, Depends(get_service)]
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[TaxAuthoritySettings, Depends(get_settings)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
CaptchaDep = Annotated[CaptchaSource, Depends(get_captcha)]
