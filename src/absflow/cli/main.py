"""The `absflow` command. Each group lives in its own module; commands stay thin."""

from __future__ import annotations

import typer

from absflow.cli import book, cashflow, db, deal, demo, keys, log, serve, user, verify, witness
from absflow.cli import daily as daily_cli
from absflow.cli import pool as pool_cli
from absflow.cli import report as report_cli
from absflow.cli import synth as synth_cli
from absflow.cli import tape as tape_cli

app = typer.Typer(
    name="absflow",
    help="absflow: run exchange ABS plans — registry, pool, cash flows, daily operations, log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(deal.app, name="deal")
app.add_typer(db.app, name="db")
app.add_typer(pool_cli.app, name="pool")
app.add_typer(tape_cli.app, name="tape")
app.add_typer(synth_cli.app, name="synth")
app.add_typer(book.app, name="book")
app.command("demo")(demo.demo)
app.add_typer(user.app, name="user")
app.command("serve")(serve.serve)
app.add_typer(log.app, name="log")
app.add_typer(keys.app, name="keys")
app.command("verify")(verify.verify)
app.add_typer(witness.app, name="witness")
app.add_typer(cashflow.app, name="cashflow")
app.add_typer(daily_cli.app, name="daily")
app.add_typer(daily_cli.revolve_app, name="revolve")
app.command("simulate")(daily_cli.simulate)
app.add_typer(report_cli.app, name="report")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
