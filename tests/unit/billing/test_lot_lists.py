"""Per-lot lists at the gate: blacklist keeps closed, whitelist opens free, VIP is never held."""

from __future__ import annotations

import pytest

from billing.adapters.uow import UnitOfWork
from billing.domain.lists import VIP_OVERDRAFT_VND, ListKind, list_kind, listed_policy
from billing.domain.model import DomainError
from billing.domain.policy import LotPolicy, Outcome
from billing.services import charge, get_account, get_session, review_queue, set_lot_policy
from billing.services.lot_lists import add_entry, remove_entry
from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT, DemoData

from .conftest import Lane


def balance(uow: UnitOfWork, demo: DemoData, who: str) -> int:
    acct = get_account(uow, demo.accounts[who])
    assert acct is not None
    return acct.balance_vnd


def test_the_rules_are_data_and_refuse_unknown_lists() -> None:
    assert list_kind(" VIP ") is ListKind.VIP
    with pytest.raises(DomainError) as err:
        list_kind("greylist")
    assert err.value.code == "list_kind_invalid"
    strict = LotPolicy(low_balance=Outcome.DENY)
    vip = listed_policy(ListKind.VIP, strict)
    assert vip.low_balance is Outcome.OVERDRAFT and vip.overdraft_limit_vnd == VIP_OVERDRAFT_VND
    assert listed_policy(ListKind.WHITELIST, strict).unknown_plate_entry is Outcome.ALLOW
    assert listed_policy(ListKind.BLACKLIST, strict) == strict == listed_policy(None, strict)


def test_entries_are_one_per_plate_and_lot_and_need_a_valid_plate(
    uow: UnitOfWork, demo: DemoData
) -> None:
    e = add_entry(uow, CENTRAL_LOT, "30a12345", "blacklist", "op.lan", "stolen car report")
    assert (e.plate_text, e.kind, e.added_by) == ("30A-123.45", "blacklist", "op.lan")
    with pytest.raises(DomainError) as err:
        add_entry(uow, CENTRAL_LOT, "30A-123.45", "vip", "op.lan")
    assert err.value.code == "list_entry_exists"
    add_entry(uow, AIRPORT_LOT, "30A-123.45", "vip", "op.lan")  # another lot: its own lists
    with pytest.raises(DomainError) as err:
        add_entry(uow, CENTRAL_LOT, "not a plate", "vip", "op.lan")
    assert err.value.code == "plate_invalid"
    with pytest.raises(DomainError) as err:
        add_entry(uow, "no-such-lot", "30A-999.99", "vip", "op.lan")
    assert err.value.code == "not_found"
    assert remove_entry(uow, e.id).plate_text == "30A-123.45"
    with pytest.raises(DomainError):
        remove_entry(uow, e.id)


def test_a_blacklisted_car_is_kept_out_and_held_inside(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    entry = lane.enter("30A-123.45")  # in before it was listed
    e = add_entry(uow, CENTRAL_LOT, "30A-123.45", "blacklist", "op.lan")
    out = lane.leave("30A-123.45", 60)
    assert (out.open, out.reason, out.review) == (False, "listed_plate", True)
    assert out.session_id == entry.session_id and "chờ nhân viên" in out.display
    held = get_session(uow, entry.session_id or -1)
    assert held is not None and held.status == "open"
    assert [p.id for p in review_queue(uow)] == [out.passage_id]
    again = lane.enter("30A-123.45", 120)  # a listed car at the entry turns back
    assert (again.open, again.reason, again.review) == (False, "listed_plate", False)
    before = balance(uow, demo, "an")
    charge(uow, out.passage_id, actor="op.lan")  # staff let it out and bill the stay
    assert balance(uow, demo, "an") < before and review_queue(uow) == []
    remove_entry(uow, e.id)
    assert lane.enter("30A-123.45", 180).open  # off the list: as anyone


def test_a_whitelisted_plate_opens_free_even_unregistered(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    add_entry(uow, CENTRAL_LOT, "80A-001.01", "whitelist", "op.lan", "police")
    add_entry(uow, CENTRAL_LOT, "30A-123.45", "whitelist", "op.lan", "staff")
    unknown_in = lane.enter("80A-001.01")
    assert unknown_in.open and unknown_in.session_id is not None
    unknown_out = lane.leave("80A-001.01", 240)
    assert (unknown_out.open, unknown_out.reason, unknown_out.fare_vnd) == (True, "exit_free", 0)
    assert not unknown_out.review
    stay = get_session(uow, unknown_in.session_id or -1)
    assert stay is not None and (stay.status, stay.payment, stay.fare_vnd) == ("closed", "free", 0)
    before = balance(uow, demo, "an")
    lane.enter("30A-123.45", 300)
    out = lane.leave("30A-123.45", 600)
    assert (out.open, out.reason, out.fare_vnd) == (True, "exit_free", 0)
    assert balance(uow, demo, "an") == before  # no charge
    assert lane.leave("80A-001.01", 700).open  # no entry recorded: still free, still open


def test_a_vip_pays_but_is_never_held_for_a_low_balance(
    uow: UnitOfWork, demo: DemoData, lane: Lane
) -> None:
    set_lot_policy(uow, CENTRAL_LOT, low_balance="deny")
    lane.enter("30G-999.99")  # account "cuong": 10,000 VND
    held = lane.leave("30G-999.99", 50)
    assert (held.open, held.reason) == (False, "low_balance")
    add_entry(uow, CENTRAL_LOT, "30G-999.99", "vip", "op.lan")
    out = lane.leave("30G-999.99", 50.5)  # the same car, now a VIP: out, into overdraft
    assert (out.open, out.reason, out.fare_vnd) == (True, "exit_overdraft", 25_000)
    assert balance(uow, demo, "cuong") == 10_000 - 25_000
    assert review_queue(uow) == []  # its exit ended the held case
    guest = lane.enter("51K-111.11")  # unregistered VIP guest: let in
    assert not guest.open  # not listed yet: the lot's policy (deny unknown plates)
    add_entry(uow, CENTRAL_LOT, "51K-111.11", "vip", "op.lan")
    assert lane.enter("51K-111.11", 1).open
