"""All page routers: the operator dashboard, the driver portal, sign-up and password reset."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.web import driver, driver_history, operator, signup

router = APIRouter(include_in_schema=False)
router.include_router(operator.router)
router.include_router(driver.router)
router.include_router(driver_history.router)
router.include_router(signup.router)
