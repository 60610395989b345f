"""``parking users``: create sign-ins, list them, grant operators their lots."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from gateway.auth import users as user_service
from gateway.db import make_engine, make_session_factory
from gateway.settings import get_settings

app = typer.Typer(help="Users who sign in: drivers, operators, admins.", no_args_is_help=True)


def _session_factory() -> sessionmaker[Session]:
    return make_session_factory(make_engine(get_settings().effective_database_url))


@app.command()
def create(
    username: str = typer.Argument(..., help="sign-in name (stored in lower case)"),
    role: str = typer.Option(..., "--role", help="driver, operator or admin"),
    password: str = typer.Option(
        ..., "--password", prompt=True, hide_input=True, confirmation_prompt=True
    ),
    name: str = typer.Option("", "--name", help="display name"),
    account_id: int | None = typer.Option(None, "--account", help="a driver's account id"),
) -> None:
    """Create a user."""
    with _session_factory()() as session:
        try:
            user = user_service.create_user(
                session, username, password, role, display_name=name, account_id=account_id
            )
        except user_service.UserError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        session.commit()
        typer.echo(f"created {user.role} {user.username} (id {user.id})")


@app.command("list")
def list_users() -> None:
    """List users, their roles and grants."""
    with _session_factory()() as session:
        rows = user_service.list_users(session)
    table = Table("id", "username", "name", "role", "account", "lots", "companies", "active")
    for r in rows:
        table.add_row(
            str(r.id),
            r.username,
            r.display_name,
            r.role,
            r.account_id or "",
            ", ".join(r.lots),
            ", ".join(r.companies),
            "yes" if r.active else "no",
        )
    Console().print(table)


@app.command()
def grant(
    username: str = typer.Argument(...),
    lot: str | None = typer.Option(None, "--lot", help="a lot id"),
    company: str | None = typer.Option(None, "--company", help="an operator company id"),
) -> None:
    """Let an operator see and act on one lot, or on every lot of an operator company."""
    with _session_factory()() as session:
        try:
            user_service.grant(session, username, lot_id=lot, company=company)
        except user_service.UserError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        session.commit()
    typer.echo(f"granted {username}: {'lot ' + lot if lot else 'company ' + str(company)}")
