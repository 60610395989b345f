"""How ``parking ... list`` commands print: a table that fits the terminal, or JSON.

An operator's terminal is often 80 columns (an SSH session, a phone): a table of eleven
columns squeezed into it wraps every cell into a column of letters. Each column here says how
much it matters; the least important ones are left out until the rest fit, and cells too long
for their column end in "…" on one line instead of wrapping. ``--json`` prints every field of
every row, with raw values (integer VND, ISO 8601 times with their offset), for scripts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

JsonFlag = Annotated[
    bool, typer.Option("--json", help="One JSON array of objects (raw values), for scripts.")
]


@dataclass(frozen=True)
class Col:
    """A table column: its header, how a row's cell is shown, and how much it matters."""

    header: str
    cell: Callable[[Any], object]
    priority: int = 1  # 0 = always shown; higher numbers are left out first
    justify: str = "left"
    max_width: int | None = None  # longer text ends in "…"


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def to_json(records: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(records), ensure_ascii=False, default=_json_default)


SEPARATOR = 2  # rich's SIMPLE box: one space each side of a column, no vertical rules


def fitting(columns: Sequence[Col], cells: list[list[str]], width: int) -> list[int]:
    """Indexes of the columns kept so the table fits ``width`` characters."""
    natural = []
    for i, col in enumerate(columns):
        longest = max([len(col.header), *(len(row[i]) for row in cells)])
        natural.append(min(longest, col.max_width or longest))
    kept = list(range(len(columns)))
    while len(kept) > 1 and sum(natural[i] + SEPARATOR for i in kept) > width:
        droppable = [i for i in kept if columns[i].priority > 0]
        if not droppable:
            break
        # Leave out the least important column, the rightmost of those first.
        drop = max(droppable, key=lambda i: (columns[i].priority, i))
        kept.remove(drop)
    return kept


def emit(
    rows: Sequence[Any],
    columns: Sequence[Col],
    as_json: bool,
    record: Callable[[Any], dict[str, Any]],
    *,
    console: Console | None = None,
) -> None:
    """Print ``rows`` as JSON (``record`` of each) or as a table of ``columns``."""
    if as_json:
        typer.echo(to_json([record(r) for r in rows]))
        return
    console = console or Console()
    cells = [[_text(col.cell(r)) for col in columns] for r in rows]
    kept = fitting(columns, cells, console.width)
    table = Table(box=box.SIMPLE, pad_edge=False, show_edge=False)
    for i in kept:
        col = columns[i]
        table.add_column(
            col.header,
            justify=col.justify,  # type: ignore[arg-type]
            no_wrap=True,
            overflow="ellipsis",
            max_width=col.max_width,
        )
    for row in cells:
        table.add_row(*(row[i] for i in kept))
    console.print(table)
    left_out = [columns[i].header for i in range(len(columns)) if i not in kept]
    if left_out:
        console.print(
            f"[dim]{len(rows)} rows; not shown at this width: {', '.join(left_out)} "
            "(--json has all)[/dim]"
        )
    else:
        console.print(f"[dim]{len(rows)} rows[/dim]")
