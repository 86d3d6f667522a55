"""The result of one scenario run, as written to ``summary.json``.

Row-level results are tables (``allocations.csv``, ``resources.csv``, ``eligibility.csv``);
this model holds the run's status and headline figures. Fields named ``*_time_s`` are the
only ones that differ between two runs of the same inputs, seed and thread count.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal["optimal", "feasible", "no_solution", "infeasible", "unbounded", "error"]
PROJECT_STATUSES = ("approved", "rejected", "ineligible")
SUPPLY_KEYS = ["resource", "year", "scope"]  # one supply row, in resources.csv and the model
DECIMALS = 4  # the figures of the result tables are rounded to this many decimals
# The three marginal values of a supply row in resources.csv (万元 per unit of supply).
FIXED_DUAL = "dual_fixed_int_wan_cny_per_unit"
LP_DUAL = "dual_lp_wan_cny_per_unit"
MIP_MARGINAL = "mip_marginal_wan_cny_per_unit"
MIP_COLUMNS = [MIP_MARGINAL, "mip_marginal_lo", "mip_marginal_hi", "marginal_step", "mip_note"]
REASONS = (
    "APPROVED",
    "LOCKED_IN",
    "LOCKED_OUT",
    "REQUIRES_UNMET",
    "EXCLUDED_BY",
    "OUTCOMPETED",  # value below the opportunity cost of its demand
    "LEFT_OUT_BY_FIT",  # value above it, but its demand does not fit beside a better set
    "NOT_OFFERED",
)  # plus INELIGIBLE_<RULE>


class ResourceUse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resource: str
    unit: str
    year: int
    supply: float
    purchased: float
    carried_in: float = Field(0.0, description="Unused one-off supply of earlier years.")
    used: float


class Diagnosis(BaseModel):
    """Why a valid scenario has no feasible allocation (the rows that had to give way)."""

    model_config = ConfigDict(extra="forbid")
    relaxed_rows: list[dict[str, object]] = Field(
        default_factory=list, description="row, shortfall and the locked-in projects in it"
    )
    locked_in: list[str] = Field(default_factory=list)
    text: str = ""


class Summary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scenario: str
    as_of: str
    horizon: list[int]
    lang: Literal["zh", "en"] = Field("zh", description="Language of the words in the files.")
    status: RunStatus
    message: str = ""
    objective_wan_cny: float | None = Field(None, description="Value of the written allocation.")
    solver_objective_wan_cny: float | None = Field(
        None, description="The solver's own objective (at most the above)."
    )
    bound_wan_cny: float | None = None
    gap: float | None = Field(None, description="(bound − objective) / max(|objective|, 1)")
    objective_parts: dict[str, float] = Field(default_factory=dict)
    backend: str
    solver_version: str
    seed: int
    threads: int
    time_limit_s: float
    gap_limit: float
    projects: dict[str, int] = Field(default_factory=dict, description="count per status")
    reasons: dict[str, int] = Field(default_factory=dict, description="count per reason code")
    resource_use: list[ResourceUse] = Field(default_factory=list)
    evaluator: dict[str, object] = Field(default_factory=dict)
    model_size: dict[str, int] = Field(default_factory=dict)
    backend_details: dict[str, object] = Field(default_factory=dict)
    diagnosis: Diagnosis | None = None
    land: dict[str, object] = Field(
        default_factory=dict, description="Land scan and placement figures (with a parcel layer)."
    )
    input_sha256: dict[str, str] = Field(default_factory=dict)
    input_encodings: dict[str, str] = Field(
        default_factory=dict, description="The encoding each CSV table was read in."
    )
    versions: dict[str, str] = Field(default_factory=dict)
    land_scan_time_s: float = Field(0.0, description="0 when the scan came from the cache.")
    build_time_s: float = 0.0
    solve_time_s: float = 0.0
    total_time_s: float = 0.0
