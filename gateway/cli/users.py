"""``parking users``: create sign-ins, list them, grant operators their lots."""

from __future__ import annotations

from dataclasses import asdict

import typer
from sqlalchemy.orm import Session, sessionmaker

from gateway.auth import users as user_service
from gateway.cli.listing import Col, JsonFlag, emit
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
def list_users(as_json: JsonFlag = False) -> None:
    """List users, their roles and grants."""
    with _session_factory()() as session:
        rows = user_service.list_users(session)
    emit(
        rows,
        [
            Col("id", lambda u: u.id, 0, "right"),
            Col("username", lambda u: u.username, 0, max_width=20),
            Col("role", lambda u: u.role, 0),
            Col("account", lambda u: u.account_id or "", 1),
            Col("lots", lambda u: ", ".join(u.lots), 1, max_width=24),
            Col("companies", lambda u: ", ".join(u.companies), 2, max_width=20),
            Col("name", lambda u: u.display_name, 3, max_width=24),
            Col("active", lambda u: "yes" if u.active else "no", 4),
        ],
        as_json,
        asdict,
    )


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
