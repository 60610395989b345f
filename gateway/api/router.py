"""Assemble the API's routers (each module one resource)."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api import (
    accounts,
    audit,
    auth,
    evidence,
    invoices,
    lots,
    passages,
    reconciliation,
    reports,
    review,
    sessions,
    statement,
    topups,
    users,
)


def build() -> APIRouter:
    router = APIRouter()
    for module in (
        auth,
        users,
        accounts,
        statement,
        topups,
        lots,
        passages,
        evidence,
        sessions,
        review,
        reports,
        invoices,
        reconciliation,
        audit,
    ):
        router.include_router(module.router)
    return router
