"""All page routers: the operator dashboard and the driver portal."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.web import driver, operator

router = APIRouter(include_in_schema=False)
router.include_router(operator.router)
router.include_router(driver.router)
