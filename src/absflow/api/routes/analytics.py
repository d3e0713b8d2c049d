"""Deal documents and cash-flow analytics without a stored plan, and simulations
(`deal validate`, `deal schema`, `cashflow price/breakeven/repline/grid`, `simulate`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Body, status
from pydantic import BaseModel, ConfigDict, Field

from absflow.api.deps import ActorCtx
from absflow.api.routes.jobs import JobPublic
from absflow.services import opsjobs, projection, transfers

router = APIRouter(tags=["cash flows"])


class DealSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deal: str | None = Field(None, description="Deal document (YAML or JSON text) …")
    plan: str | None = Field(None, description="… or the code of a plan whose current deal document to use")
    scenario: str | None = Field(None, description="Scenario (YAML or JSON text)")


class PriceRequest(DealSource):
    prices: dict[str, float] = Field(default_factory=dict, description="tranche → price per 100")
    yields: dict[str, float] = Field(default_factory=dict, description="tranche → yield as a fraction")
    settlement: date | None = None


class BreakevenRequest(DealSource):
    tranche: str
    over: str = Field("default_multiple", description="default_multiple | cdr | severity")
    high: float | None = None


class ReplineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    balance: float = Field(description="yuan")
    rate: float = Field(description="gross annual rate, fraction")
    term: int = Field(ge=1, le=600, description="remaining months")
    net_rate: float | None = None
    cpr: float | None = None
    psa: float | None = None
    cdr: float | None = None
    sda: float | None = None
    severity: float = 0.0
    lag: int = Field(0, ge=0, le=120)
    kind: str = "level_payment"
    age: int = Field(0, ge=0, le=600)


class GridRequest(BaseModel):
    """Axes as in `absflow cashflow grid`: '0,0.05,0.1' or '0:0.2:0.05'."""

    model_config = ConfigDict(extra="forbid")
    cpr: str = "0"
    psa: str | None = None
    cdr: str = "0"
    sda: str | None = None
    severity: str = "0"
    rate_shift: str = "0"
    lag: int = Field(0, ge=0, le=120)
    deal: str | None = Field(None, description="a deal document (YAML/JSON text): its waterfall per scenario, "
                             "per-tranche metrics; it brings its own pool (pool.source plan or rep_lines) …")
    scenario: str | None = Field(None, description="with a deal: the base scenario the grid varies")
    prices: dict[str, float] = Field(default_factory=dict, description="with a deal: tranche → price per 100")
    yields: dict[str, float] = Field(default_factory=dict, description="with a deal: tranche → yield, fraction")
    plan: str | None = Field(None, description="… or project this plan's imported pool …")
    segment_by: str | None = None
    synthetic: int | None = Field(None, ge=1, le=100_000, description="… or a synthetic pool of this many loans …")
    balance: float | None = Field(None, description="… or one rep line of this balance")
    rate: float = 0.06
    term: int = Field(360, ge=1, le=600)
    discount_rate: float = 0.0


class SimulationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deal: str = Field(description="Deal document (YAML or JSON text) with a revolving section")
    days: int = Field(60, description=f"trading days to run (at most {opsjobs.MAX_SIMULATION_DAYS})")
    seed: int = 1
    loans: int | None = None


@router.post("/deals/validate", summary="Check a deal document: every problem with its path (deal validate)")
def validate_deal(ctx: ActorCtx, text: str = Body(..., media_type="text/plain")) -> dict[str, Any]:
    from absflow.deal import parse_deal_text

    deal = parse_deal_text(text)
    return {"valid": True, "name": deal.name, "tranches": [t.id for t in deal.tranches]}


@router.get("/deals/schema", summary="JSON Schema of the deal document (deal schema)")
def deal_schema(ctx: ActorCtx) -> dict[str, Any]:
    from absflow.deal import deal_json_schema

    schema: dict[str, Any] = deal_json_schema()
    return schema


@router.post("/cashflow/price", summary="Per-tranche yield ↔ price, WAL, durations, convexity (cashflow price)")
def price(ctx: ActorCtx, body: PriceRequest) -> dict[str, Any]:
    text = transfers.deal_text(ctx, text=body.deal, plan_code=body.plan)
    return transfers.price(ctx, text, body.scenario, settlement=body.settlement, prices=body.prices,
                           yields=body.yields)


@router.post("/cashflow/breakeven", summary="Largest default multiple / CDR / severity with no tranche loss "
             "(cashflow breakeven)")
def breakeven(ctx: ActorCtx, body: BreakevenRequest) -> dict[str, Any]:
    text = transfers.deal_text(ctx, text=body.deal, plan_code=body.plan)
    return transfers.breakeven(ctx, text, body.tranche, body.scenario, variable=body.over, high=body.high)


@router.post("/cashflow/repline", summary="Project one representative line month by month (cashflow repline)")
def repline(ctx: ActorCtx, body: ReplineRequest) -> dict[str, Any]:
    return projection.repline_json(projection.repline(ctx, **body.model_dump()))


@router.post("/cashflow/grids", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED,
             summary="Run a scenario grid as a job (cashflow grid); the job's output file is the workbook")
def grid(ctx: ActorCtx, body: GridRequest) -> JobPublic:
    return JobPublic.of(opsjobs.submit_grid(ctx, body.model_dump()))


@router.post("/simulations", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED,
             summary="Create a plan for the deal and drive it through synthetic days, as a job (simulate)")
def simulate(ctx: ActorCtx, body: SimulationCreate) -> JobPublic:
    return JobPublic.of(opsjobs.submit_simulation(ctx, body.deal, days=body.days, seed=body.seed, loans=body.loans))
