"""Synthetic daily data for a margin-financing plan (for ``absflow simulate``, tests, benchmarks).

Seeded (numpy ``Generator``), so the same seed gives the same days. Securities follow a
jump diffusion (Merton: daily log-return μ·dt + σ·√dt·Z plus Poisson jumps of normal
size); clients hold securities worth a lognormal multiple of their debt; each day loans
repay in part or in full at random, loans falling due are extended (展期) or repaid,
clients whose maintenance ratio (their securities at the day's close per yuan of debt) falls
below the liquidation line — or who fail a margin call for reasons outside the prices, with a
small daily probability — are force-liquidated (强制平仓) the next day at that day's
collateral value less up to 3 % slippage: with a shortfall (a default) only when the
collateral no longer covers the debt. The servicer offers a fresh backup pool (后备资产) of
candidate contracts every day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from absflow.revolving.daypool import POOL_COLUMNS

REGIONS = ("上海", "北京", "广东", "江苏", "浙江", "山东", "四川", "湖北", "福建", "河南")
INDUSTRIES = ("金融", "制造", "科技", "消费", "医药", "能源", "地产")
BRANCHES = tuple(f"营业部{i:02d}" for i in range(1, 21))


@dataclass
class MarketConfig:
    """Parameters of the synthetic market and servicing (daily rates unless said otherwise)."""

    clients: int = 2_000
    securities: int = 300
    drift_annual: float = 0.04
    volatility_annual: float = 0.30
    jump_intensity_annual: float = 3.0
    jump_mean: float = -0.04
    jump_std: float = 0.08
    full_repay_prob: float = 0.012
    partial_repay_prob: float = 0.03
    extend_prob: float = 0.75
    candidates_per_day: int = 400
    liquidation_line: float = 1.30
    #: Daily probability that a loan's client fails a margin call for reasons outside the prices
    #: (a suspension, a dispute): its loans are liquidated at the collateral's value.
    margin_call_failure_prob: float = 0.0002
    term_days: int = 180
    mean_loan_yuan: float = 300_000.0


@dataclass
class SyntheticMarket:
    """State of the synthetic market between days: prices, holdings, pending liquidations."""

    config: MarketConfig
    seed: int
    rng: np.random.Generator = field(init=False)
    prices: np.ndarray = field(init=False)
    holdings: pl.DataFrame = field(init=False)
    pending_liquidation: set[str] = field(default_factory=set)
    next_contract: int = 1
    quantities: pl.DataFrame | None = None

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        cfg = self.config
        self.prices = np.round(self.rng.uniform(5.0, 60.0, cfg.securities), 2)
        per_client = self.rng.integers(1, 4, cfg.clients)
        client = np.repeat(np.arange(cfg.clients), per_client)
        self.holdings = pl.DataFrame({
            "client_id": [f"K{c:06d}" for c in client],
            "security_code": [f"{600000 + s}" for s in self.rng.integers(0, cfg.securities, client.size)],
            "weight": self.rng.uniform(0.2, 1.0, client.size),
        })

    # --- assets ---------------------------------------------------------------------------
    def loans(self, n: int, day: date) -> pl.DataFrame:
        """``n`` new margin loans as tape rows (canonical margin-loan columns), started before ``day``."""
        cfg, rng = self.config, self.rng
        ids = [f"MF{self.seed:03d}{self.next_contract + i:09d}" for i in range(n)]
        self.next_contract += n
        principal = np.maximum(np.round(rng.lognormal(np.log(cfg.mean_loan_yuan), 0.9, n), 2), 1_000.0)
        age = rng.integers(0, 60, n)
        start = [day - timedelta(days=int(a)) for a in age]
        return pl.DataFrame({
            "contract_id": ids,
            "client_id": [f"K{c:06d}" for c in rng.integers(0, cfg.clients, n)],
            "principal_outstanding_fen": (principal * 100).astype(np.int64),
            "financing_rate": rng.choice([0.0635, 0.0735, 0.0835, 0.0865], n),
            "start_date": start,
            "due_date": [s + timedelta(days=cfg.term_days) for s in start],
            "extension_count": rng.integers(0, 2, n).astype(np.int64),
            "accrued_interest_fen": (principal * 100 * 0.0735 * age / 360).astype(np.int64),
            "maintenance_ratio": np.round(rng.lognormal(np.log(2.6), 0.35, n), 4),
            "status": ["performing"] * n,
            "region": rng.choice(REGIONS, n).tolist(),
            "industry": rng.choice(INDUSTRIES, n).tolist(),
            "branch": rng.choice(BRANCHES, n).tolist(),
        })

    def initial_pool(self, n: int, day: date) -> pl.DataFrame:
        """An initial pool of ``n`` margin loans as pool rows (POOL_COLUMNS), bought on ``day``."""
        loans = self.loans(n, day)
        return loans.select(
            pl.col("contract_id").alias("asset_id"), pl.col("client_id").alias("obligor_id"),
            pl.col("principal_outstanding_fen").alias("balance_fen"), pl.lit(0, dtype=pl.Int64).alias(
                "accrued_interest_fen"),
            pl.col("financing_rate").alias("rate"), "start_date", pl.col("due_date").alias("maturity_date"),
            "extension_count", "maintenance_ratio", "status", "region", "industry", "branch",
            pl.lit(day).alias("cutoff_date"), pl.lit(day).alias("acquired_on"),
        ).select([pl.col(c).cast(t) for c, t in POOL_COLUMNS.items()])

    # --- one day -------------------------------------------------------------------------------
    def step_prices(self) -> None:
        cfg, rng = self.config, self.rng
        dt = 1 / 245
        jumps = rng.poisson(cfg.jump_intensity_annual * dt, self.prices.size)
        log_return = (
            (cfg.drift_annual - 0.5 * cfg.volatility_annual**2) * dt
            + cfg.volatility_annual * np.sqrt(dt) * rng.standard_normal(self.prices.size)
            + jumps * rng.normal(cfg.jump_mean, cfg.jump_std, self.prices.size)
        )
        self.prices = np.maximum(np.round(self.prices * np.exp(log_return), 2), 0.01)

    def day_inputs(self, day: date, pool: pl.DataFrame, next_day: date,
                   repurchases_due: list[tuple[str, int]] | None = None) -> dict[str, pl.DataFrame]:
        """The servicer's files for ``day`` given the pool at the start of the day.

        ``repurchases_due``: (asset id, amount fen) the originator pays today.
        """
        cfg, rng = self.config, self.rng
        self.step_prices()
        n = pool.height
        inputs: dict[str, pl.DataFrame] = {}
        # Collections: full or partial repayments with interest accrued since the last payment.
        draw = rng.random(n)
        full = draw < cfg.full_repay_prob
        partial = (~full) & (draw < cfg.full_repay_prob + cfg.partial_repay_prob)
        due_today = pool.select(pl.col("maturity_date") <= next_day).to_series().to_numpy() if n else np.zeros(0, bool)
        extend = due_today & (rng.random(n) < cfg.extend_prob)
        full |= due_today & ~extend
        liquidating = pool.get_column("asset_id").is_in(sorted(self.pending_liquidation)).to_numpy()
        full &= ~liquidating
        partial &= ~liquidating
        balance = pool.get_column("balance_fen").to_numpy()
        share = np.where(full, 1.0, np.where(partial, rng.uniform(0.05, 0.6, n), 0.0))
        principal = np.minimum(np.floor(balance * share).astype(np.int64), balance)
        days = pool.select((pl.lit(day) - pl.col("cutoff_date")).dt.total_days()).to_series().to_numpy()
        interest = np.floor(balance * pool.get_column("rate").to_numpy() * np.maximum(days, 0) / 360 + 0.5).astype(
            np.int64) + pool.get_column("accrued_interest_fen").to_numpy() if n else np.zeros(0, np.int64)
        paying = principal > 0
        inputs["collections"] = pl.DataFrame({
            "contract_id": pool.get_column("asset_id").filter(pl.Series(paying)),
            "principal_fen": principal[paying],
            "interest_fen": np.where(full, interest, 0)[paying].astype(np.int64),
            "fees_fen": np.zeros(int(paying.sum()), np.int64),
        })
        # Extensions of loans falling due.
        ext_ids = pool.get_column("asset_id").filter(pl.Series(extend & ~liquidating))
        inputs["extensions"] = pl.DataFrame({
            "contract_id": ext_ids,
            "new_due_date": pool.filter(pl.Series(extend & ~liquidating)).get_column("maturity_date")
            + timedelta(days=cfg.term_days),
        })
        # Positions and prices; liquidations of clients under the line (completed the next day).
        prices = pl.DataFrame({"security_code": [f"{600000 + s}" for s in range(self.prices.size)],
                               "close_price": self.prices})
        debt = pool.group_by("obligor_id").agg(pl.col("balance_fen").sum().alias("debt_fen"))
        # Each client holds, per yuan of debt, securities worth 2.6 yuan at the prices of the day it
        # was first seen (units per yuan fixed then); later prices move its maintenance ratio.
        target = self.holdings.join(debt.rename({"obligor_id": "client_id"}), on="client_id", how="inner")
        known = self.quantities if self.quantities is not None else pl.DataFrame(
            schema={"client_id": pl.String, "security_code": pl.String, "units_per_yuan": pl.Float64})
        fresh = target.join(known.select("client_id").unique(), on="client_id", how="anti")
        weight_sum = fresh.group_by("client_id").agg(pl.col("weight").sum().alias("weight_sum"))
        fresh = fresh.join(weight_sum, on="client_id").join(prices, on="security_code").with_columns(
            (2.6 * pl.col("weight") / pl.col("weight_sum") / pl.col("close_price")).alias("units_per_yuan")
        )
        known = pl.concat([known, fresh.select("client_id", "security_code", "units_per_yuan")])
        self.quantities = known
        inputs["positions"] = known.join(target.select("client_id", "debt_fen").unique(), on="client_id").select(
            "client_id", "security_code", (pl.col("units_per_yuan") * pl.col("debt_fen") / 100).ceil().alias("quantity")
        )
        inputs["prices"] = prices
        inputs["candidates"] = self.loans(cfg.candidates_per_day, day)
        # Each client's maintenance ratio at today's close: collateral value per yuan of debt.
        ratios = known.join(prices, on="security_code").group_by("client_id").agg(
            (pl.col("units_per_yuan") * pl.col("close_price")).sum().alias("ratio"))

        def ratio_of(loans: pl.DataFrame, unknown: float) -> pl.Series:
            """Each loan's client ratio, in the loans' order (``unknown`` for a client with none)."""
            return loans.select(pl.col("obligor_id").alias("client_id")).join(
                ratios, on="client_id", how="left", maintain_order="left").get_column("ratio").fill_null(unknown)

        pending = pool.filter(pl.col("asset_id").is_in(sorted(self.pending_liquidation))).sort("asset_id")
        completed = pending.get_column("asset_id").to_list()
        done = set(completed)
        rows = []
        # A forced sale realises the day's collateral value less slippage; the debt is covered in
        # full unless the collateral fell below it (a shortfall, i.e. a default).
        pending_ratio = ratio_of(pending, cfg.liquidation_line).to_list()
        for asset_id, ratio, bal in zip(completed, pending_ratio, pending.get_column("balance_fen").to_list(),
                                        strict=True):
            recovered = int(bal * min(1.0, ratio * rng.uniform(0.97, 1.0)))
            rows.append((asset_id, "completed", recovered, 0, bal - recovered))
        self.pending_liquidation = set()
        # Loans of clients under the liquidation line, and of clients failing a margin call for
        # reasons outside the prices, go into liquidation (status started; completed tomorrow).
        under = ratio_of(pool, np.inf).to_numpy() < cfg.liquidation_line
        called = under | (rng.random(n) < cfg.margin_call_failure_prob)
        for asset_id in pool.get_column("asset_id").filter(pl.Series(called & ~full & ~partial & ~extend)).to_list():
            if asset_id not in done:
                rows.append((asset_id, "started", 0, 0, 0))
                self.pending_liquidation.add(asset_id)
        inputs["repurchase_receipts"] = pl.DataFrame(
            repurchases_due or [], schema={"contract_id": pl.String, "amount_fen": pl.Int64}, orient="row")
        inputs["liquidations"] = pl.DataFrame(
            rows, schema={"contract_id": pl.String, "status": pl.String, "recovered_principal_fen": pl.Int64,
                          "recovered_interest_fen": pl.Int64, "shortfall_fen": pl.Int64}, orient="row",
        )
        return inputs
