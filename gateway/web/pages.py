"""All page routers: the operator dashboard, the admin pages, the driver portal, sign-up and
password reset, and the public invoice lookup."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.web import (
    admin,
    admin_money,
    driver,
    driver_history,
    driver_invoicing,
    lookup,
    operator,
    signup,
)

router = APIRouter(include_in_schema=False)
router.include_router(operator.router)
router.include_router(driver.router)
router.include_router(driver_history.router)
router.include_router(driver_invoicing.router)
router.include_router(signup.router)
router.include_router(admin.router)
router.include_router(admin_money.router)
router.include_router(lookup.router)
