"""``parking db``: schema migrations."""

from __future__ import annotations

import typer

from gateway import migrate
from gateway.settings import get_settings

app = typer.Typer(help="Create and migrate the database schema.", no_args_is_help=True)


@app.command()
def upgrade(
    revision: str = typer.Argument("heads", help="Target revision (default: all heads)."),
) -> None:
    """Apply migrations up to REVISION on the configured database."""
    url = get_settings().effective_database_url
    migrate.upgrade(url, revision)
    typer.echo(f"database at {url.split('@')[-1]} upgraded to {revision}")


@app.command()
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base.")) -> None:
    """Revert migrations down to REVISION."""
    url = get_settings().effective_database_url
    migrate.downgrade(url, revision)
    typer.echo(f"database downgraded to {revision}")


@app.command()
def current() -> None:
    """Show the revision the database is at."""
    migrate.current(get_settings().effective_database_url)
