"""Scenario settings of the land scan: idle and low-efficiency rules, the per-mu evaluation
of firms, reuse sites and the placement of projects on them. Numbers from RULES.md;
*assumed* where the local figure is not public."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

SiteSource = Literal["idle_recoverable", "idle_negotiated", "low_efficiency", "unsupplied"]
SOURCES: tuple[SiteSource, ...] = (
    "idle_recoverable",
    "idle_negotiated",
    "low_efficiency",
    "unsupplied",
)
Indicator = Literal[
    "tax_per_mu",
    "value_added_per_mu",
    "value_added_per_tce",
    "value_added_per_pollutant",
    "labour_productivity",
    "rd_share",
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class IdleRules(Strict):
    """闲置土地处置办法 (order No. 53 of 2012)."""

    not_started_days: int = Field(365, ge=0, description="IDLE_NOT_STARTED after this many days.")
    halted_days: int = Field(365, ge=0, description="IDLE_HALTED: halted at least this long.")
    halted_developed_share_max: float = Field(
        1 / 3, ge=0, le=1, description="IDLE_HALTED: developed area under this share of the due."
    )
    halted_invested_share_max: float = Field(
        0.25, ge=0, le=1, description="IDLE_HALTED: or investment under this share."
    )
    fee_share: float = Field(0.20, ge=0, le=1, description="Idle-land fee, share of land price.")
    recover_after_days: int = Field(
        730, ge=0, description="Idle this long: recoverable without compensation."
    )
    unsupplied_days: int = Field(
        730,
        ge=0,
        description="UNSUPPLIED (批而未供): approved this many days or more before as_of and not "
        "supplied (*assumed*: two years, after which an approval lapses).",
    )


class EfficiencyRules(Strict):
    """低效用地: a parcel is low-efficiency when it fails one of these (*assumed* figures)."""

    tax_per_mu_min_wan_cny: float = Field(15.0, ge=0, description="LOW_TAX_PER_MU floor.")
    tax_district_median_share: float = Field(
        0.30, ge=0, le=1, description="LOW_TAX_PER_MU: or under this share of the district median."
    )
    revenue_district_median_share: float = Field(
        0.30, ge=0, le=1, description="LOW_OUTPUT_PER_MU: under this share of the district median."
    )
    coverage_min: float = Field(0.30, ge=0, le=1, description="LOW_COVERAGE floor.")


def _default_weights() -> dict[Indicator, float]:
    return {
        "tax_per_mu": 30.0,
        "value_added_per_mu": 20.0,
        "value_added_per_tce": 20.0,
        "value_added_per_pollutant": 10.0,
        "labour_productivity": 10.0,
        "rd_share": 10.0,
    }


class Evaluation(Strict):
    """亩均效益评价: score = Σ weight × min(value / benchmark, cap), graded by rank."""

    weights: dict[Indicator, float] = Field(
        default_factory=_default_weights, description="Indicator weights (a county template)."
    )
    benchmark: Literal["mean", "median"] = Field(
        "mean", description="Benchmark of each indicator over the graded firms."
    )
    ratio_cap: float = Field(
        2.0, gt=0, description="A ratio to the benchmark counts at most this much (*assumed*)."
    )
    class_shares: dict[str, float] = Field(
        default_factory=lambda: {"A": 0.25, "B": 0.45, "C": 0.25, "D": 0.05},
        description="Shares of the graded firms by rank: A top 25%, B 26–70%, C 71–95%, D 5%.",
    )
    min_land_mu: float = Field(3.0, ge=0, description="Firms on less land are not graded (T).")
    utility_sectors: list[str] = Field(
        default_factory=lambda: ["utility"], description="Sectors not graded (T)."
    )

    @field_validator("class_shares")
    @classmethod
    def _four_classes(cls, value: dict[str, float]) -> dict[str, float]:
        if sorted(value) != ["A", "B", "C", "D"] or abs(sum(value.values()) - 1) > 1e-9:
            raise PydanticCustomError("class_shares", "class_shares must give A, B, C and D, summing to 1; got "
                         "{value}", {"value": str(value)})  # fmt: skip
        return value


class Sites(Strict):
    min_area_mu: float = Field(
        3.0, ge=0, description="Slivers under this area after clipping are dropped (*assumed*)."
    )
    adjacency_m: float = Field(
        1.0, ge=0, description="Parcels closer than this (metres) count as adjacent."
    )
    sources: list[SiteSource] = Field(
        default_factory=lambda: list(SOURCES),
        description="Which findings offer land for reuse.",
    )
    disposal_years: dict[SiteSource, int] = Field(
        default_factory=lambda: dict(zip(SOURCES, (1, 1, 2, 0), strict=True)),
        description="Years from as_of until the land is available (*assumed*).",
    )
    buyback_price_factor: float = Field(
        1.0, ge=0, description="Acquisition cost = land price × this, where not recovered free."
    )
    linkage_ratio: float = Field(
        0.5, ge=0, description="New land quota earned per mu of idle or unsupplied land disposed."
    )


class Placement(Strict):
    any_sector: bool = Field(
        False, description="Allow a project on a site whose park does not lead its sector."
    )
    max_distance_km: float | None = Field(
        None, gt=0, description="Largest distance from a project's location to a site."
    )
    cross_district: bool = Field(False, description="Allow placing in another district (飞地).")


class Land(Strict):
    crs: str = Field("EPSG:4548", description="Projected CRS for areas and distances.")
    assume_crs: str | None = Field(
        None, description="CRS of layers that declare none (e.g. EPSG:4527); else an error."
    )
    on_invalid: Literal["stop", "skip"] = Field(
        "stop", description="Bad parcels: stop with every problem, or skip them and go on."
    )
    partitions: int | None = Field(
        None,
        ge=0,
        description="Spatial partitions of the scan's row-wise steps (dask-geopandas); 0 or 1: "
        "none; empty: 8 above 200,000 parcels on 4 or more cores, else none. Results are the "
        "same either way.",
    )
    stated_area_tolerance: float = Field(
        0.05, ge=0, description="Warn where geometry area differs from stated_area_mu by more."
    )
    idle: IdleRules = Field(default_factory=IdleRules, description="Idle-land rules.")
    efficiency: EfficiencyRules = Field(
        default_factory=EfficiencyRules, description="Low-efficiency rules."
    )
    evaluation: Evaluation = Field(default_factory=Evaluation, description="Per-mu evaluation.")
    sites: Sites = Field(default_factory=Sites, description="Reuse sites.")
    placement: Placement = Field(default_factory=Placement, description="Placement on sites.")
