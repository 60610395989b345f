"""Operator commands for billing: accounts, vehicles, top-ups, tariffs, lots, reconciliation.

Passes, refunds and the review queue are in ``gateway.cli.billing_ops``."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session, sessionmaker

from billing import services
from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import vnd
from billing.domain.model import AutoTopUp, DomainError, Owner, OwnerKind
from billing.domain.tariffs import price_stay
from billing.domain.vat import rate_on
from billing.domain.vn import LOCAL_TZ
from billing.services.offline import offline_exposure
from billing.services.reads import LOCAL
from gateway.cli.common import console, database_uow, money
from gateway.cli.listing import Col, JsonFlag, emit
from gateway.db import make_engine, make_session_factory
from gateway.settings import get_settings

accounts = typer.Typer(
    help="Transport accounts: prepaid balances of drivers and businesses.", no_args_is_help=True
)
vehicles = typer.Typer(
    help="Vehicles (plates) registered on transport accounts.", no_args_is_help=True
)
tariff = typer.Typer(
    help="Tariff files: list versions, show prices, quote a stay.", no_args_is_help=True
)
lots = typer.Typer(help="Lots, their gates, policies and tariffs; demo data.", no_args_is_help=True)


def _local(t: datetime | None) -> str:
    return "" if t is None else t.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------- accounts


@accounts.command("list")
def accounts_list(
    search: str = typer.Option(None, "--search", "-s", help="Part of a name, tax code or plate."),
    limit: int = typer.Option(50, help="At most this many rows."),
    as_json: JsonFlag = False,
) -> None:
    """List transport accounts with balance and plates."""
    rows = services.list_accounts(database_uow(), search=search, limit=limit)
    emit(
        rows,
        [
            Col("id", lambda a: a.id, 0, "right"),
            Col("name", lambda a: a.name, 0, max_width=24),
            Col("status", lambda a: a.status, 1),
            Col("balance", lambda a: money(a.balance_vnd), 0, "right"),
            Col("plates", _plates, 1, max_width=24),
            Col("tax code", lambda a: a.tax_code or "", 2),
            Col("kind", lambda a: a.kind, 3),
        ],
        as_json,
        asdict,
    )


def _plates(account: Any) -> str:
    return ", ".join(v.plate for v in account.vehicles if v.active)


@accounts.command("show")
def accounts_show(
    account_id: int = typer.Argument(..., help="Account id."),
    lines: int = typer.Option(10, help="Statement lines to show."),
) -> None:
    """Show one account: owner, balance, auto top-up, vehicles and the latest statement lines."""
    uow = database_uow()
    a = services.get_account(uow, account_id)
    if a is None:
        raise LookupError(f"no account {account_id}")
    console.print(
        f"[bold]#{a.id} {a.name}[/bold] ({a.kind}, {a.status})  "
        f"MST {a.tax_code or '-'}  {a.address or ''}"
    )
    auto = (
        f"top up {money(a.auto_topup_amount_vnd)} below {money(a.auto_topup_threshold_vnd)}"
        if a.auto_topup_amount_vnd
        else "off"
    )
    console.print(
        f"balance {money(a.balance_vnd)}   auto top-up: {auto}   "
        f"low-balance notice below {money(a.low_balance_notice_vnd)}"
    )
    vt = Table("vehicle", "plate", "class", "colour", "active")
    for v in a.vehicles:
        vt.add_row(str(v.id), v.plate, v.vehicle_class, v.colour, "yes" if v.active else "no")
    console.print(vt)
    st = Table("entry", "time", "kind", "change", "balance", "description")
    for ln in services.account_statement(uow, account_id, limit=lines):
        st.add_row(
            str(ln.entry_id),
            _local(ln.created_at),
            ln.kind,
            money(ln.change_vnd),
            money(ln.balance_vnd),
            ln.description,
        )
    console.print(st)


@accounts.command("create")
def accounts_create(
    name: str = typer.Option(..., help="Person's or company's name."),
    business: bool = typer.Option(
        False, "--business", help="A company (needs --tax-code, --address)."
    ),
    tax_code: str = typer.Option(None, help="MST: 10 digits, or 13 with a branch suffix."),
    address: str = typer.Option(None, help="Address printed on invoices."),
    phone: str = typer.Option(None),
    email: str = typer.Option(None),
) -> None:
    """Open a transport account (balance 0: the driver tops it up through a payment provider)."""
    owner = Owner(OwnerKind.BUSINESS if business else OwnerKind.PERSON, name, tax_code, address)
    acct = services.create_account(database_uow(), owner, phone=phone, email=email)
    console.print(f"account {acct} created")


@accounts.command("status")
def accounts_status(
    account_id: int,
    status: str = typer.Argument(
        ..., help="active | suspended | closed (closing frees its plates)."
    ),
) -> None:
    """Suspend, re-activate or close an account."""
    services.set_account_status(database_uow(), account_id, status)
    console.print(f"account {account_id} is {status}")


@accounts.command("auto-topup")
def accounts_auto_topup(
    account_id: int,
    threshold: int = typer.Option(None, help="Top up when the balance falls below (VND)."),
    amount: int = typer.Option(None, help="Amount of each top-up (VND)."),
    provider: str = typer.Option(
        None, help="Linked bank / e-wallet (default: the operator's auto top-up provider)."
    ),
    off: bool = typer.Option(False, "--off", help="Turn auto top-up off."),
) -> None:
    """Set or clear the account's auto top-up."""
    if off:
        services.set_auto_topup(database_uow(), account_id, None)
        console.print("auto top-up off")
        return
    if threshold is None or amount is None:
        raise DomainError("give --threshold and --amount, or --off")
    services.set_auto_topup(database_uow(), account_id, AutoTopUp(threshold, amount, provider))
    console.print(f"auto top-up {vnd(amount)} below {vnd(threshold)}")


@accounts.command("notice")
def accounts_notice(account_id: int, level: int = typer.Argument(..., help="VND")) -> None:
    """Set the balance below which the driver is warned."""
    services.set_low_balance_notice(database_uow(), account_id, level)
    console.print(f"low-balance notice below {vnd(level)}")


# ---------------------------------------------------------------- vehicles


@vehicles.command("list")
def vehicles_list(
    account: int = typer.Option(None, "--account", "-a", help="Only this account."),
    all_: bool = typer.Option(False, "--all", help="Include removed vehicles."),
    as_json: JsonFlag = False,
) -> None:
    """List registered vehicles."""
    emit(
        services.list_vehicles(database_uow(), account, active_only=not all_),
        [
            Col("id", lambda v: v.id, 0, "right"),
            Col("account", lambda v: v.account_id, 0, "right"),
            Col("plate", lambda v: v.plate, 0),
            Col("class", lambda v: v.vehicle_class, 1),
            Col("active", lambda v: "yes" if v.active else "no", 2),
            Col("colour", lambda v: v.colour, 3),
            Col("key", lambda v: v.plate_key, 4),
        ],
        as_json,
        asdict,
    )


@vehicles.command("add")
def vehicles_add(
    account_id: int = typer.Argument(..., help="Account id."),
    plate: str = typer.Argument(..., help="Plate, e.g. 30A-123.45 or '29-B1 678.90'."),
    vehicle_class: str = typer.Option(
        "car_le9", "--class", help="motorbike | car_le9 | car_gt9_truck"
    ),
    colour: str = typer.Option("white", help="white | yellow | blue | red"),
) -> None:
    """Register a plate on an account (a plate belongs to one active account at most)."""
    vid = services.add_vehicle(database_uow(), account_id, plate, vehicle_class, colour)
    console.print(f"vehicle {vid} added")


@vehicles.command("remove")
def vehicles_remove(vehicle_id: int) -> None:
    """Take a vehicle off its account (history is kept)."""
    services.remove_vehicle(database_uow(), vehicle_id)
    console.print(f"vehicle {vehicle_id} removed")


@accounts.command("credit")
def accounts_credit(
    account_id: int = typer.Argument(..., help="Account id."),
    amount: int = typer.Argument(..., help="Amount in VND (integer)."),
    reason: str = typer.Option(..., "--reason", help="Why (kept with the credit)."),
    actor: str = typer.Option(..., "--actor", help="Who gives it (kept with the credit)."),
    request_id: str = typer.Option(
        ..., "--request-id", help="Your id of this credit: a retry credits once."
    ),
) -> None:
    """An operator's credit (goodwill, a correction): not a top-up, which only a payment
    provider's signed webhook makes. Kept as journal kind 'credit' with who and why."""
    r = services.manual_credit(
        database_uow(), account_id, amount, key=request_id, actor=actor, reason=reason
    )
    note = "" if r.created else " (this request credited before: nothing added)"
    console.print(f"balance {vnd(r.balance_vnd)}{note}")


# ---------------------------------------------------------------- tariffs


@tariff.command("list")
def tariff_list(as_json: JsonFlag = False) -> None:
    """Every tariff version with its validity."""
    cat = database_uow().tariffs
    versions = [t for tid in cat.ids() for t in cat.versions(tid)]
    emit(
        versions,
        [
            Col("tariff", lambda t: t.id, 0),
            Col("version", lambda t: t.version, 0),
            Col("valid from", lambda t: t.valid_from, 1),
            Col("valid until", lambda t: t.valid_until or "-", 1),
            Col("name", lambda t: t.name, 2, max_width=30),
            Col("classes", lambda t: ", ".join(t.classes), 3, max_width=30),
        ],
        as_json,
        lambda t: {
            "tariff": t.id,
            "version": t.version,
            "name": t.name,
            "valid_from": t.valid_from,
            "valid_until": t.valid_until,
            "vat_percent": t.vat_rate(datetime.now(LOCAL).date()).percent,
            "classes": list(t.classes),
        },
    )


@tariff.command("show")
def tariff_show(
    tariff_id: str, on: str = typer.Option(None, help="Date (YYYY-MM-DD); default today.")
) -> None:
    """The prices of the tariff version in force on a date."""
    at = (
        datetime.combine(date.fromisoformat(on), datetime.min.time(), LOCAL)
        if on
        else datetime.now(LOCAL)
    )
    t = database_uow().tariffs.in_force(tariff_id, at)
    vat = rate_on(at.date())
    console.print(
        f"[bold]{t.name}[/bold] {t.id}@{t.version}, VAT {vat.percent}% included on "
        f"{at.date():%d/%m/%Y} ({vat.source}), holiday surcharge {t.holiday_surcharge_percent}%"
    )
    for cls, ct in t.classes.items():
        parts = [f"grace {ct.grace_minutes} min"]
        if ct.per_turn:
            parts.append(
                f"per turn day {vnd(ct.per_turn.day_vnd)} / night "
                f"{vnd(ct.per_turn.night_vnd)} (day {ct.per_turn.day_starts:%H:%M}-"
                f"{ct.per_turn.night_starts:%H:%M})"
            )
        for b in ct.blocks:
            parts.append(
                f"{vnd(b.price_vnd)} per {b.minutes} min"
                + (f" x{b.count}" if b.count else " after")
            )
        if ct.daily_cap_vnd:
            parts.append(f"cap {vnd(ct.daily_cap_vnd)}/24 h")
        for kind, price in ct.passes.items():
            parts.append(f"{kind} pass {vnd(price)}/month")
        console.print(f"  {cls}: " + "; ".join(parts))


@tariff.command("quote")
def tariff_quote(
    tariff_id: str,
    vehicle_class: str = typer.Argument(..., help="motorbike | car_le9 | car_gt9_truck"),
    entry: str = typer.Option(None, help="Entry time, ISO 8601 (local time if no offset)."),
    minutes: int = typer.Option(60, help="Length of the stay."),
) -> None:
    """Price a stay and explain it block by block."""
    tz = LOCAL_TZ
    start = datetime.fromisoformat(entry) if entry else datetime.now(tz)
    if start.tzinfo is None:
        start = start.replace(tzinfo=tz)
    t = database_uow().tariffs.in_force(tariff_id, start)
    fare = price_stay(t, vehicle_class, start, start + timedelta(minutes=minutes))
    table = Table("line", "qty", "unit", "amount")
    for ln in fare.lines:
        table.add_row(ln.label, str(ln.quantity), vnd(ln.unit_vnd), vnd(ln.amount_vnd))
    console.print(table)
    console.print(
        f"total [bold]{vnd(fare.amount_vnd)}[/bold] (VAT {fare.vat_percent}%: "
        f"{vnd(fare.vat_vnd)}), {t.id}@{t.version}"
    )


# ---------------------------------------------------------------- lots


@lots.command("list")
def lots_list(as_json: JsonFlag = False) -> None:
    """Lots with tariff, capacity and current occupancy."""
    uow = database_uow()
    occ = {o.lot_id: o.occupied for o in services.occupancy(uow)}
    emit(
        services.list_lots(uow),
        [
            Col("lot", lambda lot: lot.id, 0),
            Col("parked", lambda lot: occ.get(lot.id, 0), 0, "right"),
            Col("capacity", lambda lot: lot.capacity, 1, "right"),
            Col("tariff", lambda lot: lot.tariff_id, 1),
            Col("name", lambda lot: lot.name, 2, max_width=32),
        ],
        as_json,
        lambda lot: {**asdict(lot), "parked": occ.get(lot.id, 0)},
    )


@lots.command("show")
def lots_show(lot_id: str) -> None:
    """A lot's gates (with last online/offline report) and its policy."""
    uow = database_uow()
    lot = next((x for x in services.list_lots(uow) if x.id == lot_id), None)
    if lot is None:
        raise LookupError(f"no lot {lot_id}")
    console.print(f"[bold]{lot.name}[/bold] ({lot.id}) tariff {lot.tariff_id}, {lot.address}")
    table = Table("gate", "direction", "name", "status", "since")
    for g in services.list_gates(uow, lot_id):
        table.add_row(g.id, g.direction, g.name, g.status, _local(g.status_at))
    console.print(table)
    console.print_json(json.dumps(lot.policy))


@lots.command("policy")
def lots_policy(
    lot_id: str,
    settings: list[str] = typer.Argument(
        ..., help="field=value pairs, e.g. low_balance=overdraft overdraft_limit_vnd=50000"
    ),
) -> None:
    """Change a lot's policy for unreadable/unknown plates, duplicates, low balance, ..."""
    changes: dict[str, Any] = {}
    for item in settings:
        key, sep, raw = item.partition("=")
        if not sep:
            raise DomainError(f"expected field=value, got {item!r}")
        try:
            changes[key] = json.loads(raw)
        except json.JSONDecodeError:
            changes[key] = raw
    policy = services.set_lot_policy(database_uow(), lot_id, **changes)
    console.print_json(json.dumps(policy.to_dict()))


@lots.command("set-tariff")
def lots_set_tariff(lot_id: str, tariff_id: str) -> None:
    """Point a lot at another tariff (versions are chosen by date automatically)."""
    services.set_lot_tariff(database_uow(), lot_id, tariff_id)
    console.print(f"{lot_id} now uses {tariff_id}")


@lots.command("seed-demo")
def lots_seed_demo() -> None:
    """Create the demo operator, a central Hanoi lot, an airport lot and a few accounts."""
    demo = services.seed_demo(database_uow())
    console.print(f"lots {', '.join(demo.lots)}; accounts {demo.accounts}")


# ---------------------------------------------------------------- reconcile


def invoice_lookup(engine: Engine, sessions: sessionmaker[Session]) -> tuple[Any, str]:
    """einvoice's per-event invoice lookup, when einvoice is installed and its tables exist.

    Billing never imports einvoice: the composition (here, as in the API) hands the lookup in.
    Returns (lookup or None, why not).
    """
    try:
        from einvoice.db import invoices
        from einvoice.queries import event_lookup
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("einvoice"):
            raise
        return None, "einvoice is not installed"
    if not inspect(engine).has_table(invoices.name):
        return None, "the invoice tables do not exist (parking db upgrade)"
    return event_lookup(sessions), ""


def payment_records(engine: Engine, sessions: sessionmaker[Session]) -> tuple[Any, str]:
    """The gateway's verified webhook deliveries, when its tables exist (as invoice_lookup)."""
    from gateway.orm import WebhookDelivery
    from gateway.payments.records import DeliveryRecords

    if not inspect(engine).has_table(WebhookDelivery.__tablename__):
        return None, "the gateway's tables do not exist (parking db upgrade)"
    return DeliveryRecords(sessions), ""


def reconcile(
    day: str = typer.Option(..., "--date", help="Local day to check, YYYY-MM-DD."),
    lot: str = typer.Option(None, "--lot", help="Only this lot."),
) -> None:
    """Tie passages, sessions, fares, ledger, top-ups and invoices of one day; list every
    mismatch (a top-up no verified provider webhook reported is one).

    Exit code 1 when anything disagrees or the trial balance is not zero.
    """
    engine = make_engine(get_settings().effective_database_url)
    sessions = make_session_factory(engine)
    try:
        lookup, why_not = invoice_lookup(engine, sessions)
        records, why_unchecked = payment_records(engine, sessions)
        r = services.reconcile(
            UnitOfWork(sessions),
            date.fromisoformat(day),
            lot,
            invoices=lookup,
            payments=records,
        )
        offline = offline_exposure(UnitOfWork(sessions), date.fromisoformat(day), lot)
    finally:
        engine.dispose()
    columns = ["lot", "entries", "exits", "closed", "charged", "fares", "ledger", "VAT"]
    columns += ["refunds", "passes", "review"] + (["invoices", "invoiced"] if lookup else [])
    table = Table(*columns)
    for x in r.lots:
        row = [
            x.lot_id,
            str(x.entries),
            str(x.exits),
            str(x.closed_sessions),
            str(x.charged_sessions),
            vnd(x.fares_vnd),
            vnd(x.ledger_fares_vnd),
            vnd(x.vat_vnd),
            vnd(x.refunds_vnd),
            f"{x.passes_sold} ({vnd(x.passes_vnd)})" if x.passes_sold else "0",
            str(x.review_pending),
        ]
        if lookup:
            row += [str(x.invoices or 0), vnd(x.invoiced_vnd or 0)]
        table.add_row(*row)
    console.print(table)
    console.print(f"trial balance: {vnd(r.trial_balance_vnd)}")
    console.print(
        f"top-ups: {r.topups} ({vnd(r.topups_vnd)}); operator credits: {r.credits} "
        f"({vnd(r.credits_vnd)})"
    )
    if lookup is None:
        console.print(f"[yellow]invoices not checked:[/yellow] {why_not}")
    if records is None:
        console.print(f"[yellow]top-ups not checked against payments:[/yellow] {why_unchecked}")
    if offline:
        # Passages a lot's edge decided while the center was down; billing honoured them.
        console.print("offline decisions (the edge decided while the center was down):")
        exposure = Table("lot", "decided", "opened", "fares", "exposure", "to review")
        for o in offline:
            exposure.add_row(
                o.lot_id,
                str(o.decisions),
                str(o.opened),
                vnd(o.fares_vnd),
                vnd(o.exposure_vnd),
                str(o.to_review),
            )
        console.print(exposure)
    for m in r.mismatches:
        console.print(f"[red]{m.kind}[/red] {m.lot_id or '-'} {m.ref}: {m.detail}")
    if not r.ok:
        raise typer.Exit(1)
    console.print("[green]all consistent[/green]")
