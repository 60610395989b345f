"""``parking tax-authority``: run the mock tax authority and register sellers with it."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from simulator.tax_authority.settings import TaxAuthoritySettings

app = typer.Typer(help="The mock tax authority (a separate system with its own database).")


def _settings(db: str | None, data_dir: Path | None) -> TaxAuthoritySettings:
    overrides: dict[str, object] = {}
    if db:
        overrides["database_url"] = db if "://" in db else f"sqlite:///{Path(db).as_posix()}"
    if data_dir:
        overrides["data_dir"] = data_dir
    return TaxAuthoritySettings(**overrides)  # type: ignore[arg-type]


DbOption = typer.Option(None, "--db", help="SQLAlchemy URL or SQLite file (TAXAUTH_DATABASE_URL).")
DataDirOption = typer.Option(None, "--data-dir", help="Directory for the database and keys.")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8100, help="Port (the system's PARKING_TAX_AUTHORITY_URL)."),
    db: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
    seed_demo: bool = typer.Option(False, "--seed-demo", help="Register the demo seller."),
) -> None:
    """Serve the API (POST /api/tdiep) and the tax-office pages."""
    import logging

    import uvicorn

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    from simulator.tax_authority.app import create_app

    settings = _settings(db, data_dir)
    if seed_demo:
        settings = settings.model_copy(update={"seed_demo_seller": True})
    typer.echo(f"mock tax authority on http://{host}:{port} (db {settings.effective_database_url})")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@app.command("register-seller")
def register_seller_cmd(
    tax_code: str = typer.Argument(..., help="Seller MST, e.g. 0101234567."),
    name: str = typer.Argument(..., help="Seller's registered name."),
    code: str = typer.Option(..., "--code", help="5-character cash-register code, e.g. 41849."),
    series: list[str] = typer.Option(
        ["*"], "--series", help='Allowed "template/series" pattern, repeatable, e.g. 1/C??MPK.'
    ),
    db: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
) -> None:
    """Register (or update) a seller allowed to send invoices."""
    from simulator.tax_authority import db as ta_db
    from simulator.tax_authority.registry import RegisteredSeller, RegistrationError
    from simulator.tax_authority.store import register_seller

    settings = _settings(db, data_dir)
    engine = ta_db.make_engine(settings.effective_database_url)
    ta_db.create_schema(engine)
    try:
        seller = RegisteredSeller(
            tax_code=tax_code,
            name=name,
            cash_register_code=code.upper(),
            series_patterns=tuple(series),
        )
        with ta_db.make_session_factory(engine).begin() as session:
            register_seller(session, seller)
    except RegistrationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(f"registered {seller.tax_code} {seller.name} code {seller.cash_register_code}")


@app.command()
def sellers(
    db: str | None = DbOption,
    data_dir: Path | None = DataDirOption,
    as_json: bool = typer.Option(False, "--json", help="One JSON array of objects."),
) -> None:
    """List registered sellers (tab-separated: MST, code, series, name)."""
    from simulator.tax_authority import db as ta_db
    from simulator.tax_authority.store import list_sellers

    settings = _settings(db, data_dir)
    engine = ta_db.make_engine(settings.effective_database_url)
    ta_db.create_schema(engine)
    with ta_db.make_session_factory(engine)() as session:
        found = list_sellers(session)
    if as_json:
        typer.echo(json.dumps([asdict(s) for s in found], ensure_ascii=False))
    else:
        for s in found:
            typer.echo(
                f"{s.tax_code}\t{s.cash_register_code}\t{','.join(s.series_patterns)}\t{s.name}"
            )
    engine.dispose()


@app.command()
def errors() -> None:
    """Print the documented error codes (Markdown table)."""
    from simulator.tax_authority.errors import markdown_table

    typer.echo(markdown_table())
