"""``parking lists``: the lots' plate lists (blacklist, whitelist, VIP) from the command line.

The same data the operator console and the API manage, and the gates act on
(docs/lot-lists.md); ``list --json`` for scripts.
"""

from __future__ import annotations

from dataclasses import asdict

import typer

from billing.domain.vn import LOCAL_TZ
from billing.services import lot_lists
from gateway.cli.common import console, database_uow
from gateway.cli.listing import Col, JsonFlag, emit

app = typer.Typer(
    help="Plate lists of each lot: blacklist (kept closed), whitelist (free), VIP (never held).",
    no_args_is_help=True,
)


@app.command("list")
def lists_list(
    lot: str = typer.Option(None, "--lot", help="Only this lot."),
    kind: str = typer.Option(None, "--kind", help="blacklist | whitelist | vip"),
    as_json: JsonFlag = False,
) -> None:
    """The listed plates, by lot, list and plate."""
    emit(
        lot_lists.entries(database_uow(), lot, kind),
        [
            Col("id", lambda e: e.id, 0, "right"),
            Col("lot", lambda e: e.lot_id, 0, max_width=18),
            Col("list", lambda e: e.kind, 0),
            Col("plate", lambda e: e.plate_text, 0),
            Col("note", lambda e: e.note, 2, max_width=24),
            Col("by", lambda e: e.added_by, 3, max_width=12),
            Col("added", lambda e: e.added_at.astimezone(LOCAL_TZ).strftime("%d/%m/%Y"), 3),
        ],
        as_json,
        asdict,
    )


@app.command("add")
def lists_add(
    plate: str = typer.Argument(..., help="The plate, e.g. 30A-123.45."),
    lot: str = typer.Option(..., "--lot", help="The lot whose list it is."),
    kind: str = typer.Option(..., "--kind", help="blacklist | whitelist | vip"),
    actor: str = typer.Option(..., "--actor", help="Who adds it."),
    note: str = typer.Option("", "--note", help="Why (shown to operators)."),
) -> None:
    """Put a plate on one of a lot's lists; its gates act on it at once."""
    e = lot_lists.add_entry(database_uow(), lot, plate, kind, actor, note)
    console.print(f"entry {e.id}: {e.plate_text} on the {e.kind} of {e.lot_id}")


@app.command("remove")
def lists_remove(entry_id: int = typer.Argument(..., help="The entry's id (lists list).")) -> None:
    """Take a plate off its list."""
    e = lot_lists.remove_entry(database_uow(), entry_id)
    console.print(f"removed {e.plate_text} from the {e.kind} of {e.lot_id}")
