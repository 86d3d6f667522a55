"""The scenario: one YAML file that says what to allocate, under which rules.

Every field is typed, documented and defaulted; unknown fields are errors. A scenario may
start from another one (``extends: baseline.yaml``) and change only what differs: the two
documents are merged key by key (mappings recursively, everything else replaced) before
validation. Defaults marked *assumed* are not public local figures (see RULES.md).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from models.backends import BACKEND_NAMES
from models.land import Land

DISTRICTS = ("xuecheng", "shizhong", "yicheng", "taierzhuang", "shanting", "tengzhou", "hitech")
EMERGING = (
    "high_end_equipment",
    "high_end_chemicals",
    "new_materials",
    "new_energy",
    "new_medicine",
    "new_it",
)
TRADITIONAL = (
    "coal_power",
    "building_materials",
    "textile",
    "paper",
    "food",
    "agriculture_processing",
)
PROJECT_KINDS = ("new", "expansion", "tech_upgrade", "infrastructure")
MAJOR_LEVELS = ("provincial", "municipal", "none")
ZONE_LEVELS = ("national", "provincial", "other")


NAME_PATTERN = r"^\w[\w.\-]{0,99}$"  # a folder name: no path, no leading dot


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Sector(Strict):
    group: Literal["emerging", "traditional", "other"] = Field(
        "other", description="Six emerging industries, traditional industries, or other."
    )
    industry: str = Field(
        "other",
        description="Industry class used for the plot-ratio floor and the coal substitution "
        "ratio H (food, textiles, petroleum_coking, chemicals, pharmaceuticals, "
        "non_metallic_minerals, metals, power, other).",
    )
    chemical: bool = Field(False, description="Chemical projects may only go to chemical parks.")


def _default_sectors() -> dict[str, Sector]:
    industry = {
        "high_end_equipment": "other",
        "high_end_chemicals": "chemicals",
        "new_materials": "metals",
        "new_energy": "other",
        "new_medicine": "pharmaceuticals",
        "new_it": "other",
        "coal_power": "power",
        "building_materials": "non_metallic_minerals",
        "textile": "textiles",
        "paper": "other",
        "food": "food",
        "agriculture_processing": "food",
    }
    return {
        name: Sector(
            group="emerging" if name in EMERGING else "traditional",
            industry=industry[name],
            chemical=name == "high_end_chemicals",
        )
        for name in EMERGING + TRADITIONAL
    }


class Horizon(Strict):
    start: int = Field(2027, ge=2000, le=2100, description="First planning year t0.")
    end: int = Field(2029, ge=2000, le=2100, description="Last planning year t1 (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> Horizon:
        if self.end < self.start:
            raise PydanticCustomError("horizon_order", "horizon.end ({end}) is before horizon.start ({start})",
                         {"end": self.end, "start": self.start})  # fmt: skip
        if self.end - self.start > 30:
            raise PydanticCustomError("horizon_long", "horizon spans more than 30 years")
        return self

    @property
    def years(self) -> list[int]:
        return list(range(self.start, self.end + 1))


class DataSources(Strict):
    projects: str = Field(
        "../data/sample/projects.csv",
        description="Candidate projects (CSV, Parquet or .xlsx), relative to the scenario file.",
    )
    firms: str | None = Field(
        "../data/sample/firms.csv", description="Firms table for per-mu evaluation and closures."
    )
    supplies: str = Field(
        "../data/sample/supplies.csv", description="Resource supplies per year and scope."
    )
    parks: str | None = Field(
        "../data/sample/parks.csv",
        description="Parks (park, district, zone_level, leading_sectors, chemical_park): a table, "
        "or a polygon layer `file#layer`.",
    )
    parcels: str | None = Field(
        None,
        description="Parcel layer `file#layer` (GeoPackage, GeoParquet, Shapefile, GeoJSON); "
        "none: no land scan, projects take new land quota only.",
    )
    districts: str | None = Field(None, description="District boundaries, `file#layer`.")
    exclusions: list[str] = Field(
        default_factory=list,
        description="Layers where land may not be reused (ecological red line, permanent basic "
        "farmland), each `file#layer`.",
    )
    extra_project_columns: list[str] = Field(
        default_factory=list,
        description="Further project columns to accept (for filters or resources); any other "
        "unknown column is an error.",
    )


class Purchase(Strict):
    price_wan_cny_per_unit: float = Field(
        ..., ge=0, description="Market price, 万元 per unit (supplies rows may override)."
    )
    cap_per_year: float | None = Field(
        None, ge=0, description="Largest purchase per year and scope; none means unlimited."
    )


class Resource(Strict):
    unit: str = Field(..., pattern=r"^[a-z][a-z0-9_]*$", description="Unit, e.g. mu, tce, t.")
    kind: Literal["one_off", "recurring"] = Field(
        ...,
        description="one_off: consumed in the start year (land, money); recurring: consumed "
        "every year from the start year on (energy, coal).",
    )
    scope: Literal["city", "district"] = Field(
        "city", description="Whether supplies are one city pool or one pool per district."
    )
    demand_column: str = Field(..., description="Projects column holding the demand.")
    deduct_column: str | None = Field(
        None, description="Projects column subtracted from the demand (feedstock energy)."
    )
    new_land: bool = Field(
        False,
        description="Demand only for projects that need new land (land_mu > 0 and no "
        "existing parcel): the new construction-land quota.",
    )
    infrastructure_only: bool = Field(
        False, description="Only kind=infrastructure projects may draw it (bonds)."
    )
    substitution_ratio: dict[str, float] = Field(
        default_factory=dict,
        description="Multiplier H per sector industry class (coal replacement); others 1.0.",
    )
    two_high_ratio: float = Field(
        1.0, ge=0, description="Replacement ratio for two-high (两高) projects (*assumed* 1.0)."
    )
    must_buy_intensity_max: float | None = Field(
        None,
        ge=0,
        description="Projects whose demand per 万元 of annual value added exceeds this must buy "
        "their demand on the market (energy: 0.6 tce/万元).",
    )
    purchase: Purchase | None = Field(None, description="Market purchase, if the resource trades.")
    carry_over: bool = Field(False, description="Unused one-off supply carries to the next year.")
    supply_factor: float = Field(
        1.0, ge=0, description="Multiplies every supply row (what-if: 0.9 = cut by 10%)."
    )
    freed_column: str | None = Field(
        None,
        description="Firms column of which freed_share is freed for later years when a firm "
        "closes (recurring resources only).",
    )

    @model_validator(mode="after")
    def _coherent(self) -> Resource:
        if self.carry_over and self.kind != "one_off":
            raise PydanticCustomError(
                "carry_over_kind", "carry_over applies to one_off resources only"
            )
        if self.freed_column and self.kind != "recurring":
            raise PydanticCustomError(
                "freed_column_kind", "freed_column applies to recurring resources only"
            )
        if self.must_buy_intensity_max is not None and self.purchase is None:
            raise PydanticCustomError(
                "must_buy_market", "must_buy_intensity_max needs a purchase market"
            )
        return self


def _default_resources() -> dict[str, Resource]:
    return {
        "land_quota": Resource(
            unit="mu",
            kind="one_off",
            scope="district",
            demand_column="land_mu",
            new_land=True,
            carry_over=True,
        ),
        "energy": Resource(
            unit="tce",
            kind="recurring",
            demand_column="energy_tce_per_year",
            deduct_column="feedstock_energy_tce_per_year",
            must_buy_intensity_max=0.6,
            purchase=Purchase(price_wan_cny_per_unit=0.05, cap_per_year=50000.0),
            freed_column="energy_tce",
        ),
        "coal": Resource(
            unit="t",
            kind="recurring",
            demand_column="coal_t_per_year",
            substitution_ratio={
                "power": 1.1,
                "chemicals": 1.2,
                "non_metallic_minerals": 1.2,
                "metals": 1.2,
                "petroleum_coking": 1.2,
            },
            freed_column="coal_t",
        ),
        "bond": Resource(
            unit="wan_cny",
            kind="one_off",
            demand_column="bond_wan_cny",
            infrastructure_only=True,
        ),
    }


class Eligibility(Strict):
    intensity_floor_wan_cny_per_mu: dict[str, float] = Field(
        default_factory=lambda: {"national": 350.0, "provincial": 280.0, "other": 220.0},
        description="Investment-intensity floor per park zone level (Shandong).",
    )
    intensity_floor_by_sector: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Per-sector overrides of the floor: {sector: {zone_level: floor}}.",
    )
    tax_per_mu_min_wan_cny: float = Field(20.0, ge=0, description="Six-degree tax per mu floor.")
    output_per_mu_min_wan_cny: float = Field(
        400.0, ge=0, description="Standard-land output per mu floor (*assumed*)."
    )
    plot_ratio_floor: dict[str, float] = Field(
        default_factory=lambda: {
            "food": 1.0,
            "textiles": 0.8,
            "petroleum_coking": 0.5,
            "chemicals": 0.6,
            "pharmaceuticals": 0.7,
            "non_metallic_minerals": 0.7,
            "metals": 0.6,
            "other": 0.8,
        },
        description="Plot-ratio floor per industry class (others: the `other` entry).",
    )
    building_coverage_min: float = Field(0.30, ge=0, le=1, description="Coverage floor.")
    office_share_max: float = Field(0.07, ge=0, le=1, description="Office and living land cap.")
    bond_coverage_min: float = Field(1.1, ge=0, description="Bond revenue coverage floor.")
    bond_term_years: int = Field(10, ge=1, le=50, description="Default bond term (*assumed*).")
    bond_rate: float = Field(0.03, ge=0, le=1, description="Default bond rate (*assumed*).")


Criterion = Literal["tech", "chain", "environment", "tax_per_mu", "energy_efficiency", "readiness"]


def _default_bonus() -> dict[Criterion, float]:
    return {
        "tech": 0.10,
        "chain": 0.10,
        "environment": 0.05,
        "tax_per_mu": 0.10,
        "energy_efficiency": 0.10,
        "readiness": 0.10,
    }


class Objective(Strict):
    value_column: str | None = Field(
        None, description="Use this project column as the value (万元, not discounted)."
    )
    discount_rate: float = Field(0.05, ge=0, le=1, description="Discount rate r.")
    evaluation_years: int = Field(10, ge=1, le=60, description="Evaluation period L in years.")
    bonus_weights: dict[Criterion, float] = Field(
        default_factory=_default_bonus,
        description="Policy bonus b_k per criterion (normalised to [0,1]); benefit = value "
        "added × (1 + Σ b_k z_k). *assumed*.",
    )
    class_bonus: float = Field(
        0.05, ge=0, description="Bonus on the benefit of projects of class-A firms (*assumed*)."
    )
    new_land_cost_wan_cny_per_mu: float = Field(
        0.0, ge=0, description="Cost charged per mu of new construction-land quota."
    )


class Filter(Strict):
    """Selects projects: every given field must match (lists mean 'one of')."""

    sector: list[str] | None = Field(None, description="Sectors, e.g. [new_energy].")
    sector_group: list[Literal["emerging", "traditional", "other"]] | None = Field(
        None, description="Sector groups, e.g. [emerging] for the six emerging industries."
    )
    district: list[str] | None = Field(None, description="Districts.")
    kind: list[str] | None = Field(None, description="Project kinds, e.g. [new, expansion].")
    major_level: list[str] | None = Field(None, description="provincial, municipal or none.")
    park: list[str] | None = Field(None, description="Park ids.")
    cluster: list[str] | None = Field(None, description="Values of the `cluster` column.")
    project_id: list[str] | None = Field(None, description="Explicit project ids.")
    min: dict[str, float] = Field(default_factory=dict, description="{column: lower bound}")
    max: dict[str, float] = Field(default_factory=dict, description="{column: upper bound}")


class GroupRule(Strict):
    name: str = Field(..., description="Label used in row names and reports.")
    group: Filter = Field(default_factory=Filter, description="The projects the rule is about.")
    measure: str = Field(..., description="A resource name or a numeric project column.")
    per: Literal["year", "horizon"] = Field(
        "year", description="One row per year, or one for the whole horizon."
    )
    of: Literal["used", "supply"] = Field(
        "used", description="Shares are of the total use or of the supply."
    )
    min_share: float | None = Field(None, ge=0, le=1, description="Group's least share.")
    max_share: float | None = Field(None, ge=0, le=1, description="Group's largest share.")
    min_total: float | None = Field(
        None, ge=0, description="Group's least total, in the measure's unit."
    )
    max_total: float | None = Field(None, ge=0, description="Group's largest total.")
    soft_penalty_wan_cny_per_unit: float | None = Field(
        None, ge=0, description="If set, a shortfall is allowed at this cost per unit."
    )

    @model_validator(mode="after")
    def _something(self) -> GroupRule:
        bounds = (self.min_share, self.max_share, self.min_total, self.max_total)
        if all(b is None for b in bounds):
            raise PydanticCustomError(
                "group_no_bound", "group rule {name} sets no bound", {"name": self.name}
            )
        return self


class CountRule(Strict):
    """At least (at most) so many approved projects matching ``where``."""

    name: str = Field(..., description="Label used in row names and reports.")
    district: str | None = Field(
        None, description="A district, 'each' for every district, or none for the whole city."
    )
    year: int | Literal["each"] | None = Field(
        None, description="A year, 'each' for every year, or none for the whole horizon."
    )
    min_count: int = Field(0, ge=0, description="Least number of projects started.")
    max_count: int | None = Field(None, ge=0, description="Largest number of projects started.")
    where: Filter = Field(default_factory=Filter, description="Which projects count.")
    soft_penalty_wan_cny_per_unit: float | None = Field(
        None, ge=0, description="If set, each missing project costs this much instead."
    )


class Closure(Strict):
    """A firm closed or upgraded (腾笼换鸟): a share of its use is freed for later years."""

    firm_id: str = Field(..., description="Firm of the firms table.")
    year: int = Field(..., description="Closing year; freed supply counts from the next year.")


class Solver(Strict):
    backend: Literal[BACKEND_NAMES] = Field(  # type: ignore[valid-type]
        "highs", description="Solver backend."
    )
    time_limit_s: float = Field(60.0, gt=0, description="Wall-clock limit for the solve.")
    gap_rel: float = Field(1e-4, ge=0, le=1, description="Relative gap at which to stop.")
    threads: int = Field(1, ge=1, le=64, description="Solver threads (fixed for determinism).")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Solver random seed (a 32-bit integer).")
    cpsat_purchase_step: float = Field(
        1.0, gt=0, description="CP-SAT buys in multiples of this many units."
    )


class Explain(Strict):
    """How results are explained: marginal values of the supply rows."""

    mip_marginals: bool = Field(
        False,
        description="Also compute the MIP marginal value (V(S+Δ) − V(S)) / Δ of every supply row "
        "by re-solving (one solve per row, warm-started; costly on large scenarios).",
    )
    marginal_step: float = Field(
        0.01, gt=0, le=1, description="Δ as a share of the supply (1 unit where the supply is 0)."
    )
    time_limit_s: float = Field(
        30.0,
        gt=0,
        description="Time limit of each explanation re-solve (MIP marginal values, the least "
        "supply increase of `allocator explain`); a stopped re-solve reports its interval.",
    )


class Scenario(Strict):
    name: str = Field(
        "scenario",
        json_schema_extra={"pattern": NAME_PATTERN},
        description="Short name, used in outputs and as the default output folder out/<name>: "
        "1 to 100 letters (Chinese too), digits, `_`, `-` or `.`, the first a letter, digit "
        "or `_`.",
    )
    description: str = Field("", description="Free text for people.")
    lang: Literal["zh", "en"] = Field(
        "zh",
        description="Language of the words in the outputs (headers, labels, explanations): "
        "zh (the default) or en; `--lang` overrides it.",
    )
    as_of: dt.date = Field(dt.date(2026, 11, 1), description="Data vintage of the inputs.")
    extends: str | None = Field(None, description="Base scenario file this one changes.")
    data: DataSources = Field(default_factory=DataSources, description="Input files.")
    horizon: Horizon = Field(default_factory=Horizon, description="Planning years.")
    districts: list[str] = Field(
        default_factory=lambda: list(DISTRICTS), description="Districts of the city."
    )
    sectors: dict[str, Sector] = Field(
        default_factory=_default_sectors, description="Sectors (an open list) and their class."
    )
    resources: dict[str, Resource] = Field(
        default_factory=_default_resources,
        description="Every resource allocated (the full list: a scenario that names resources "
        "replaces the default four).",
    )
    eligibility: Eligibility = Field(
        default_factory=Eligibility, description="Thresholds of the project rules."
    )
    objective: Objective = Field(default_factory=Objective, description="What is maximised.")
    locked_in: dict[str, int | None] = Field(
        default_factory=dict, description="{project_id: start year or null for any year}."
    )
    locked_out: list[str] = Field(default_factory=list, description="Projects never approved.")
    group_rules: list[GroupRule] = Field(
        default_factory=list, description="Shares and totals for groups of projects."
    )
    count_rules: list[CountRule] = Field(
        default_factory=list, description="Least and largest numbers of projects."
    )
    closures: list[Closure] = Field(default_factory=list, description="Firms closing.")
    freed_share: float = Field(0.8, ge=0, le=1, description="Share of a closed firm's use freed.")
    land: Land = Field(default_factory=Land, description="Land scan, reuse sites, placement.")
    solver: Solver = Field(default_factory=Solver, description="Backend and its limits.")
    explain: Explain = Field(default_factory=Explain, description="Marginal values, reasons.")

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not re.fullmatch(NAME_PATTERN, value):
            raise PydanticCustomError(
                "scenario_name",
                "must be 1 to 100 letters (Chinese too), digits, `_`, `-` or `.`, the first a "
                "letter, digit or `_`: it names the output folder out/<name>",
            )
        return value

    @field_validator("resources")
    @classmethod
    def _resource_names(cls, value: dict[str, Resource]) -> dict[str, Resource]:
        for name in value:
            if not name.replace("_", "").isalnum() or not name[:1].isalpha():
                raise PydanticCustomError("resource_name", "resource name {name} must be letters, digits, "
                             "underscores", {"name": name})  # fmt: skip
        return value

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        known = set(self.resources)
        for rule in self.group_rules:
            if rule.of == "supply" and rule.measure not in known:
                raise PydanticCustomError(
                    "group_measure",
                    "group rule {name}: of=supply needs a resource measure, got {measure} "
                    "(resources: {resources})",
                    {
                        "name": rule.name,
                        "measure": rule.measure,
                        "resources": ", ".join(sorted(known)),
                    },
                )
        for count in self.count_rules:
            if count.district not in (None, "each") and count.district not in self.districts:
                raise PydanticCustomError("count_district", "count rule {name}: unknown district {district}",
                             {"name": count.name, "district": count.district})  # fmt: skip
        return self


def merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """Merge ``change`` onto ``base``: mappings key by key, anything else replaced."""
    out = dict(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


SOURCE_KEYS = ("projects", "firms", "supplies", "parks", "parcels", "districts")


def source_entries(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, entry) of every input a scenario's ``data`` names: each table and layer entry
    under its key, each exclusion layer as ``exclusions.<i>``."""
    out = [(k, data[k]) for k in SOURCE_KEYS if isinstance(data.get(k), str)]
    out += [(f"exclusions.{i}", v) for i, v in enumerate(data.get("exclusions") or [])
            if isinstance(v, str)]  # fmt: skip
    return out


def map_sources(data: dict[str, Any], fn: Callable[[str], Any]) -> dict[str, Any]:
    """A copy of a scenario's ``data`` with ``fn`` applied to every input it names: each
    table and layer entry, and each exclusion layer."""
    out = dict(data)
    for key in SOURCE_KEYS:
        if isinstance(out.get(key), str):
            out[key] = fn(out[key])
    if isinstance(out.get("exclusions"), list):
        out["exclusions"] = [fn(v) if isinstance(v, str) else v for v in out["exclusions"]]
    return out


def scenario_schema() -> dict[str, Any]:
    """The published JSON Schema of a scenario document."""
    return Scenario.model_json_schema()
