"""``parking images``: the camera frames kept for operators."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import database_uow
from gateway.settings import get_settings

app = typer.Typer(help="Camera frames kept with passages (personal data).", no_args_is_help=True)


@app.command()
def prune(
    days: Annotated[
        int | None,
        typer.Option(
            "--days", min=1, help="keep this many days (default: PARKING_IMAGE_RETENTION_DAYS)"
        ),
    ] = None,
) -> None:
    """Delete frames older than the retention period, except those of passages under review."""
    from gateway.retention import prune_old_frames

    settings = get_settings()
    keep_days = days or settings.image_retention_days
    if not keep_days:
        typer.echo("PARKING_IMAGE_RETENTION_DAYS is 0: frames are kept for ever; nothing pruned")
        return
    report = prune_old_frames(settings.data_dir, database_uow(), keep_days)
    typer.echo(
        f"removed {report.files_removed} frames ({report.bytes_removed:,} bytes) older than "
        f"{keep_days} days; kept {report.files_kept} of passages under review"
    )
