"""Billing's use cases. Each takes a unit of work; the gateway and the API call only these."""

from billing.adapters.autopay import TopUpProvider
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import GateDecision, PassageInput
from billing.services.accounts import (
    add_gate,
    add_vehicle,
    create_account,
    create_lot,
    create_operator,
    record_gate_status,
    remove_vehicle,
    set_account_status,
    set_auto_topup,
    set_lot_policy,
    set_lot_tariff,
    set_low_balance_notice,
)
from billing.services.autotopup import AutoTopUpResult, AutoTopUpWorker, process_auto_topups
from billing.services.credits import CreditResult, manual_credit
from billing.services.intents import (
    CreditedTopUp,
    IntentView,
    credit_topup,
    get_topup_intent,
    list_topup_intents,
    open_topup_intent,
)
from billing.services.passes import PassView, buy_monthly_pass, list_passes
from billing.services.reads import (
    account_for_plate,
    account_statement,
    get_account,
    get_passage,
    get_session,
    list_accounts,
    list_gates,
    list_lots,
    list_passages,
    list_sessions,
    list_vehicles,
    occupancy,
    pending_review_images,
    revenue,
    review_actions,
    review_queue,
)
from billing.services.reconcile import InvoiceTotals, Reconciliation, reconcile
from billing.services.review import charge, correct_plate, waive
from billing.services.seed import DemoData, seed_demo
from billing.services.settle import UnknownGate, settle_passage
from billing.services.topups import refund, top_up

__all__ = [
    "AutoTopUpResult",
    "AutoTopUpWorker",
    "CreditResult",
    "CreditedTopUp",
    "DemoData",
    "GateDecision",
    "IntentView",
    "InvoiceTotals",
    "PassView",
    "PassageInput",
    "Reconciliation",
    "TopUpProvider",
    "UnitOfWork",
    "UnknownGate",
    "account_for_plate",
    "account_statement",
    "add_gate",
    "add_vehicle",
    "buy_monthly_pass",
    "charge",
    "correct_plate",
    "create_account",
    "create_lot",
    "create_operator",
    "credit_topup",
    "get_account",
    "get_passage",
    "get_session",
    "get_topup_intent",
    "list_accounts",
    "list_gates",
    "list_lots",
    "list_passages",
    "list_passes",
    "list_sessions",
    "list_topup_intents",
    "list_vehicles",
    "manual_credit",
    "occupancy",
    "open_topup_intent",
    "pending_review_images",
    "process_auto_topups",
    "reconcile",
    "record_gate_status",
    "refund",
    "remove_vehicle",
    "revenue",
    "review_actions",
    "review_queue",
    "seed_demo",
    "set_account_status",
    "set_auto_topup",
    "set_lot_policy",
    "set_lot_tariff",
    "set_low_balance_notice",
    "settle_passage",
    "top_up",
    "waive",
]
