"""Findings on parcels: idle land (order No. 53) and low-efficiency land, as of a date.

Each finding is a row: parcel, rule code, the figure found, its unit, and the requirement it
breaks, in one sense for every rule: the figure must be ``comparator threshold`` and is not
(1158 days, must be < 365; plot ratio 0.27, must be >= 0.3). The date and a note follow: the
note's code (``note.<code>`` in ``allocator/words.csv``) and the further figures behind it as
JSON (``note_figures``), which make its words in either language (``writers.files.labelled``).
A rule whose data is absent gives a ``not_checked`` row, never a silent pass. Each flagged parcel gets one recommended disposal (RULES.md):

- idle two years or more, not the government's doing: 无偿收回 recover without compensation;
- idle one to two years: 征缴闲置费 collect the idle-land fee (20% of the land price);
- idle by the government's doing: 协议收购 buy back by agreement (or 延期动工 extend while
  under two years);
- low efficiency with low tax per mu or class D: 协议收购 buy back; otherwise (buildings
  too thin or output low): 自主改造 the owner upgrades;
- approved but unsupplied (批而未供: no transfer date, approved ``unsupplied_days`` or more
  before): 依法供应 supply it.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from models.land import Land

FINDING_COLUMNS = [
    "parcel_id",
    "rule",
    "figure",
    "unit",
    "comparator",
    "threshold",
    "result",
    "as_of",
    "note",
    "note_figures",
]


def _rows(
    parcels: pd.DataFrame,
    mask: pd.Series,
    rule: str,
    figure: pd.Series,
    unit: str,
    comparator: str,
    threshold: pd.Series | float,
    as_of: dt.date,
    note: pd.Series | str = "",
    result: np.ndarray | str = "finding",
    **figures: pd.Series | float | str,
) -> pd.DataFrame:
    """The rows of one rule where ``mask`` holds; ``note`` is a note code (per row or one for
    all), ``figures`` the values its words name (per row or one for all)."""
    m = mask.to_numpy(bool)
    results = np.broadcast_to(np.asarray(result, dtype=object), (len(parcels),))
    thr = np.broadcast_to(np.asarray(threshold, dtype=float), (len(parcels),))
    notes = np.broadcast_to(np.asarray(note, dtype=object), (len(parcels),))
    table = pd.DataFrame({k: np.broadcast_to(np.asarray(v, dtype=object), (len(parcels),))[m]
                          for k, v in figures.items()})  # fmt: skip
    shown = [json.dumps(r, sort_keys=True) for r in table.to_dict("records")] if figures else ""
    return pd.DataFrame(
        {
            "parcel_id": parcels["parcel_id"].to_numpy()[m],
            "rule": rule,
            "figure": figure.to_numpy(float)[m],
            "unit": unit,
            "comparator": comparator,
            "threshold": thr[m],
            "result": results[m],
            "as_of": as_of.isoformat(),
            "note": notes[m],
            "note_figures": shown,
        }
    )


def idle_findings(
    parcels: pd.DataFrame, settings: Land, as_of: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Idle findings and, per parcel, idle days, fee and recoverability."""
    rules = settings.idle
    now = pd.Timestamp(as_of)
    start = parcels["extended_start_date"].fillna(parcels["agreed_start_date"])
    supplied = parcels["transfer_date"].notna()
    days_since_start = (now - start).dt.days
    halted_days = (now - parcels["halted_since"]).dt.days
    short = (parcels["developed_area_share"] < rules.halted_developed_share_max) | (
        parcels["invested_share"] < rules.halted_invested_share_max
    )
    idle_ns = supplied & (parcels["status"] == "not_started") & (days_since_start >= rules.not_started_days)  # fmt: skip
    idle_h = (parcels["status"] == "halted") & short & (halted_days >= rules.halted_days)
    idle_days = days_since_start.where(idle_ns, halted_days.where(idle_h)).astype(float)
    gov = parcels["government_delay"].fillna(False).astype(bool)
    since_approval = (now - parcels["approved_date"]).dt.days.astype(float)
    unsupplied = ~supplied & (since_approval >= rules.unsupplied_days)
    gov_threshold = np.where(idle_ns, rules.not_started_days, rules.halted_days)
    gov_note = np.where(idle_ns, "gov_not_started", "gov_halted")
    shares = {"developed": parcels["developed_area_share"].round(3),
              "developed_max": rules.halted_developed_share_max,
              "invested": parcels["invested_share"].round(3),
              "invested_max": rules.halted_invested_share_max}  # fmt: skip
    frames = [
        _rows(parcels, idle_ns & ~gov, "IDLE_NOT_STARTED", days_since_start, "days", "<",
              rules.not_started_days, as_of, "not_started_since", date=start.dt.date.astype(str)),
        _rows(parcels, idle_h & ~gov, "IDLE_HALTED", halted_days, "days", "<",
              rules.halted_days, as_of, "halted_short", **shares),
        _rows(parcels, (idle_ns | idle_h) & gov, "IDLE_GOV_CAUSE", idle_days, "days", "<",
              gov_threshold, as_of, gov_note),
        _rows(parcels, unsupplied, "UNSUPPLIED", since_approval, "days", "<",
              rules.unsupplied_days, as_of, "approved_unsupplied",
              date=parcels["approved_date"].dt.date.astype(str)),
        _rows(parcels, ~supplied & parcels["approved_date"].isna(), "UNSUPPLIED", since_approval,
              "days", "<", rules.unsupplied_days, as_of, "no_approved_date",
              result="not_checked"),
    ]  # fmt: skip
    idle = idle_ns | idle_h
    fee = np.where(idle & ~gov, rules.fee_share * parcels["land_price_wan_cny"], 0.0)
    recoverable = idle & ~gov & (idle_days >= rules.recover_after_days)
    per_parcel = pd.DataFrame(
        {
            "idle": idle.to_numpy(),
            "idle_days": idle_days.to_numpy(),
            "government_cause": (idle & gov).to_numpy(),
            "fee_wan_cny": np.round(fee, 4),
            "recoverable": recoverable.to_numpy(),
            "unsupplied": unsupplied.to_numpy(),
        },
        index=parcels.index,
    )
    return pd.concat(frames, ignore_index=True), per_parcel


def _building_findings(
    parcels: pd.DataFrame, settings: Land, plot_floor: pd.Series, as_of: dt.date
) -> list[pd.DataFrame]:
    """Completed parcels built too thinly: plot ratio and building coverage."""
    done = pd.Series((parcels["status"] == "completed").to_numpy())
    ratio = parcels["floor_area_m2"] / (parcels["area_mu"] * 10_000 / 15)
    floor = plot_floor.reindex(parcels.index)
    cover = parcels["building_coverage"]  # absent: not checked, never passed
    coverage_min = settings.efficiency.coverage_min
    return [
        _rows(parcels, done & (ratio < floor).to_numpy(), "LOW_PLOT_RATIO", ratio, "ratio", ">=",
              floor, as_of),
        _rows(parcels, done & ~(cover >= coverage_min).to_numpy(), "LOW_COVERAGE", cover, "share",
              ">=", coverage_min, as_of, result=np.where(cover.isna(), "not_checked", "finding")),
    ]  # fmt: skip


def _owner_findings(parcels: pd.DataFrame, firms: pd.DataFrame, grades: pd.DataFrame,
                    settings: Land, on: pd.Series, as_of: dt.date) -> list[pd.DataFrame]:  # fmt: skip
    """Completed parcels of known owners: tax and output per mu against the district
    medians of graded firms, and the owner's class."""
    rules = settings.efficiency
    firm = parcels["firm_id"].where(parcels["firm_id"].isin(firms.index))
    graded = grades["class"] != "T"
    land = firms["land_mu"].where(firms["land_mu"] > 0)
    per_mu = {"tax": firms["tax_wan_cny"] / land, "revenue": firms["revenue_wan_cny"] / land}
    median = {k: v[graded].groupby(firms.loc[graded, "district"]).median() for k, v in per_mu.items()}  # fmt: skip
    district = parcels["district"]
    tax = firm.map(per_mu["tax"])
    tax_floor = np.maximum(rules.tax_per_mu_min_wan_cny,
                           rules.tax_district_median_share * district.map(median["tax"]).fillna(0))  # fmt: skip
    revenue = firm.map(per_mu["revenue"])
    rev_floor = rules.revenue_district_median_share * district.map(median["revenue"]).fillna(0)
    per = "wan_cny_per_mu"
    return [
        _rows(parcels, on & (tax < tax_floor).to_numpy(), "LOW_TAX_PER_MU", tax, per, ">=",
              tax_floor, as_of, "tax_floor", floor=rules.tax_per_mu_min_wan_cny,
              share=rules.tax_district_median_share),
        _rows(parcels, on & (revenue < rev_floor).to_numpy(), "LOW_OUTPUT_PER_MU", revenue, per,
              ">=", rev_floor, as_of, "output_floor", share=rules.revenue_district_median_share),
        _rows(parcels, on & (firm.map(grades["class"]) == "D").to_numpy(), "CLASS_D",
              firm.map(grades["rank_share"]), "rank_share", "<=",
              1 - settings.evaluation.class_shares["D"], as_of, "graded_d"),
    ]  # fmt: skip


def efficiency_findings(
    parcels: pd.DataFrame,
    firms: pd.DataFrame | None,
    grades: pd.DataFrame | None,
    settings: Land,
    plot_floor: pd.Series,
    as_of: dt.date,
) -> pd.DataFrame:
    """Low-efficiency findings on completed parcels (the owner's figures per mu)."""
    frames = _building_findings(parcels, settings, plot_floor, as_of)
    done = pd.Series((parcels["status"] == "completed").to_numpy())
    owned = (
        parcels["firm_id"].isin(firms.index)
        if firms is not None
        else parcels["firm_id"].isna() & False
    )
    unknown = done & ~owned.to_numpy()
    nothing = pd.Series(np.nan, index=parcels.index)
    for code in ("LOW_TAX_PER_MU", "LOW_OUTPUT_PER_MU", "CLASS_D"):
        frames.append(_rows(parcels, unknown, code, nothing, "", "", np.nan, as_of,
                            "owner_unknown", result="not_checked"))  # fmt: skip
    if firms is not None and grades is not None:
        frames += _owner_findings(parcels, firms, grades, settings, done & owned.to_numpy(), as_of)
    return pd.concat(frames, ignore_index=True)


def disposal(
    idle: pd.DataFrame, findings: pd.DataFrame, index: pd.Index, parcel_ids: pd.Series
) -> pd.DataFrame:
    """Recommended disposal and reuse source per parcel (empty where nothing is found)."""
    found = findings[findings["result"] == "finding"]
    rules: dict[str, dict[str, None]] = {}  # per parcel, its rules in order, once each
    for pid, rule in zip(found["parcel_id"], found["rule"], strict=True):
        rules.setdefault(pid, {})[rule] = None
    joined = [";".join(rules.get(pid, ())) for pid in parcel_ids]
    code = pd.Series(joined, index=parcel_ids.index, dtype="str")
    low_take = code.str.contains("LOW_TAX_PER_MU|CLASS_D", regex=True)
    low_any = code.str.contains("LOW_", regex=False) | low_take
    gov = idle["government_cause"]
    choice = np.select(
        [
            idle["recoverable"],
            idle["idle"] & ~gov,
            gov & (idle["idle_days"] >= 730),
            gov,
            idle["unsupplied"],
            low_take,
            low_any,
        ],
        [
            "recover_free",
            "collect_fee",
            "buy_back",
            "extend",
            "supply",
            "buy_back",
            "owner_upgrade",
        ],
        "",
    )
    source = np.select(
        [
            idle["recoverable"],
            gov & (idle["idle_days"] >= 730),
            idle["unsupplied"],
            low_take & ~idle["idle"],
        ],
        ["idle_recoverable", "idle_negotiated", "unsupplied", "low_efficiency"],
        "",
    )
    return pd.DataFrame(
        {
            "finding_codes": code.to_numpy(),
            "disposal": choice,
            "source": source,
        },
        index=index,
    )
