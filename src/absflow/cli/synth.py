"""`absflow synth …`: synthetic tapes (deterministic per seed) for demos, tests and benchmarks."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from absflow.cli.lazy import service
from absflow.cli.output import console, print_json, user_errors
from absflow.tape.schema import TapeKind

if TYPE_CHECKING:  # the real modules, for the type checker; at run time imported on first use
    from absflow.services import synth as synth_service
else:
    synth_service = service("synth")

app = typer.Typer(help="Synthetic loan tapes with documented distributions (docs/TAPE.md).", no_args_is_help=True)

N = typer.Option(10_000, "--n", help="number of rows (loans; for performance: loans whose months are rows)")
SEED = typer.Option(1, "--seed", help="random seed: the same seed gives the same file")
OUT = typer.Option(..., "--out", help="output file: .csv, .parquet or .xlsx")
HEADERS = typer.Option("en", "--headers", help="en: canonical headers and units; zh: Chinese headers as sent")
CUTOFF = typer.Option(None, "--cutoff", help="cut-off date YYYY-MM-DD [default: 2026-06-30, the synthetic tapes' own]",
                      show_default=False)
PREFIX = typer.Option(None, "--id-prefix", help="prefix of asset ids (keeps ids apart between tapes)")
ENCODING = typer.Option("utf-8", "--encoding", help="CSV text encoding, e.g. utf-8 or gbk")
JSON = typer.Option(False, "--json", help='Print {"kind", "rows", "path", "seconds"}')


def _run(kind: TapeKind, n: int, seed: int, out: Path, headers: str, cutoff: str | None, id_prefix: str | None,
         encoding: str, as_json: bool) -> None:
    try:
        as_of = synth_service.DEFAULT_CUTOFF if cutoff is None else date.fromisoformat(cutoff)
    except ValueError:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {cutoff!r}") from None
    with user_errors(as_json):
        result = synth_service.write_synthetic(kind, n, seed, out, cutoff=as_of, headers=headers,
                                               id_prefix=id_prefix, encoding=encoding)
    if as_json:
        print_json({"kind": result.kind.value, "rows": result.rows, "path": str(result.path),
                    "seconds": round(result.seconds, 3)})
    else:
        console.print(f"wrote {result.rows} {result.kind.value} row(s) to {result.path} "
                      f"(seed {seed}, {headers} headers) in {result.seconds:.2f} s")


@app.command("margin-loans")
def margin_loans(n: int = N, seed: int = SEED, out: Path = OUT, headers: str = HEADERS, cutoff: str | None = CUTOFF,
                 id_prefix: str | None = PREFIX, encoding: str = ENCODING, as_json: bool = JSON) -> None:
    """Margin-financing contracts (融出资金债权); read zh files with examples/mappings/margin_loan_zh.yaml."""
    _run(TapeKind.MARGIN_LOAN, n, seed, out, headers, cutoff, id_prefix, encoding, as_json)


@app.command("consumer-loans")
def consumer_loans(n: int = N, seed: int = SEED, out: Path = OUT, headers: str = HEADERS, cutoff: str | None = CUTOFF,
                   id_prefix: str | None = PREFIX, encoding: str = ENCODING, as_json: bool = JSON) -> None:
    """Consumer loans (消费贷); read zh files with examples/mappings/consumer_loan_zh.yaml."""
    _run(TapeKind.CONSUMER_LOAN, n, seed, out, headers, cutoff, id_prefix, encoding, as_json)


@app.command("performance")
def performance(n: int = N, seed: int = SEED, out: Path = OUT, headers: str = HEADERS, cutoff: str | None = CUTOFF,
                id_prefix: str | None = PREFIX, encoding: str = ENCODING, as_json: bool = JSON) -> None:
    """Monthly performance histories of N consumer loans over 24 vintages (static pool)."""
    _run(TapeKind.LOAN_PERFORMANCE, n, seed, out, headers, cutoff, id_prefix, encoding, as_json)
