"""All page routers: the operator dashboard, the admin pages and the driver portal."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.web import admin, admin_money, driver, lookup, operator

router = APIRouter(include_in_schema=False)
router.include_router(operator.router)
router.include_router(driver.router)
router.include_router(admin.router)
router.include_router(admin_money.router)
router.include_router(lookup.router)
