"""Why each project is in or out, in figures a planner can check against the result files.

A project's value is set against the opportunity cost of what it draws on: Σ amount ×
marginal value over the supply rows (recurring resources every year from its start, one-off
resources in its start year; an approved project on a reuse site takes no new land quota).
Each draw is one row of ``resources.csv`` with its marginal value there, and the amount of
``allocations.csv`` (a year's use); the text shows the years ("1,000 tce/yr × 2 yr ×
0.81 万元/tce"). The marginal values are the MIP ones where computed
(``explain.mip_marginals``), else the LP relaxation's, and the text says which. The start
year shown for a rejected project is the one where value minus cost is largest.

A rejected project that broke no rule is OUTCOMPETED when its value is below that cost;
when its value exceeds it, it was LEFT_OUT_BY_FIT: its demand does not fit beside a better
combination, and the text names the full rows that would have to give way;
``allocator explain`` measures exactly what bringing it in would cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from allocator.engine import Run
from models.result import DECIMALS, FIXED_DUAL, LP_DUAL, MIP_MARGINAL, SUPPLY_KEYS

TOL = 1e-7  # slack below this share of the supply is none


def marginal_prices(run: Run) -> tuple[pd.Series, str]:
    """The marginal value per supply row (index resource, year, scope), as resources.csv
    shows it (rounded alike, so that every cost is recomputable from it), and its kind."""
    assert run.marginals is not None
    m = run.marginals.set_index(SUPPLY_KEYS)[[MIP_MARGINAL, LP_DUAL]].round(DECIMALS) + 0.0
    if m[MIP_MARGINAL].notna().all():
        return m[MIP_MARGINAL], "MIP marginal values"
    return m[LP_DUAL].fillna(0.0), "LP-relaxation duals (MIP marginal values not computed)"


def rule_records(fails: pd.DataFrame) -> list[dict[str, Any]]:
    """The failed eligibility checks of a project: rule, figure, unit, comparator, threshold."""
    return [{"rule": f.rule, "figure": float(f.figure), "unit": f.unit,
             "comparator": f.comparator, "threshold": float(f.threshold)}
            for f in fails.itertuples()]  # fmt: skip


def draws(run: Run, prices: pd.Series) -> pd.DataFrame:
    """For every (project, start year) pair: each supply row it draws on, the amount and
    its cost at ``prices``. Columns: project_id, start, resource, year, scope, amount, price,
    cost. An approved project placed on a reuse site draws no new land quota."""
    sc = run.prep.scenario
    pools = run.prep.pools
    new_land = [k for k, r in sc.resources.items() if r.new_land]
    on_site = pools["project_id"].isin(run.placed.index) & pools["resource"].isin(new_land)
    pairs = run.prep.pairs[["project_id", "year"]].rename(columns={"year": "start"})
    joined = pairs.merge(pools[~on_site.to_numpy()], on="project_id")
    recurring = joined["resource"].map({k: r.kind == "recurring" for k, r in sc.resources.items()})
    joined = joined[
        np.where(recurring, joined["year"] >= joined["start"], joined["year"] == joined["start"])
    ]
    demand = run.prep.demand.stack()
    demand.index.names = ["project_id", "resource"]
    amount = demand.reindex(pd.MultiIndex.from_frame(joined[["project_id", "resource"]])).to_numpy()
    price = prices.reindex(pd.MultiIndex.from_frame(joined[SUPPLY_KEYS])).fillna(0.0).to_numpy()
    out = joined.assign(amount=amount, price=price, cost=amount * price)
    return out[out["amount"] > 0].reset_index(drop=True)


def best_starts(run: Run, d: pd.DataFrame) -> pd.DataFrame:
    """Per project (index project_id): the start year where value minus the cost of its
    draws ``d`` is largest, with that value and cost."""
    values = run.prep.pairs.set_index(["project_id", "year"])["value_wan_cny"]
    cost = d.groupby(["project_id", "start"])["cost"].sum().reindex(values.index, fill_value=0.0)
    frame = pd.DataFrame({"value": values, "cost": cost.to_numpy()}, index=values.index)
    frame["net"] = frame["value"] - frame["cost"]
    best = frame.loc[frame.groupby(level="project_id")["net"].idxmax()]
    return best.reset_index(level="year").rename(columns={"year": "start"})


def _line(rows: list[dict[str, Any]], units: dict[str, str]) -> str:
    """'energy 2028–2029 city: 1,000 tce/yr × 2 yr × 0.81 万元/tce = 1,620 万元' per resource
    and scope (the price is the mean over the years where they differ)."""
    parts = []
    for res, scope in sorted({(r["resource"], r["scope"]) for r in rows}):
        g = [r for r in rows if r["resource"] == res and r["scope"] == scope]
        years = sorted({r["year"] for r in g})
        span = f"{years[0]}" + (f"–{years[-1]}" if len(years) > 1 else "")
        unit = units[res]
        cost = float(np.sum([r["cost"] for r in g]))
        price = float(np.mean([r["price"] for r in g]))
        each = f"{g[0]['amount']:,.0f} {unit}" + (
            f"/yr × {len(years)} yr" if len(years) > 1 else ""
        )
        parts.append(f"{res} {span} {scope}: {each} × {price:,.4g} 万元/{unit} = {cost:,.0f} 万元")
    return "; ".join(parts)


def explanations(run: Run, allocations: pd.DataFrame) -> list[dict[str, Any]]:
    """One record per project: status, reason code and words, and the figures behind them."""
    prices, kind = marginal_prices(run)
    units = {k: r.unit for k, r in run.prep.scenario.resources.items()}
    d = draws(run, prices)
    values = run.prep.pairs.set_index(["project_id", "year"])["value_wan_cny"]
    best = best_starts(run, d)["start"]
    checks = run.prep.eligibility.checks
    fails = checks[checks["result"] == "fail"]
    fails_of = {key: g for key, g in fails.groupby("project_id", sort=False)}
    # The draws of each (project, start) pair in their row order, as plain records: the
    # figures as computed for the text, rounded to 6 decimals for the record.
    cols = ["resource", "year", "scope", "amount", "price", "cost"]
    by_pair: dict[tuple[str, int], list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for key, raw, shown in zip(zip(d["project_id"], d["start"].tolist(), strict=True), d[cols].to_dict("records"),
                               d[cols].round(6).to_dict("records"), strict=True):  # fmt: skip
        by_pair.setdefault(key, []).append((raw, shown))
    out = []
    for r in allocations.itertuples():
        pid = r.project_id
        record: dict[str, Any] = {"project_id": pid, "status": r.status, "reason": r.reason}
        if r.status == "ineligible":
            rules = fails_of.get(pid, fails.iloc[:0])
            record["rules"] = rule_records(rules)
            record["text"] = r.reason_detail or r.reason
            out.append(record)
            continue
        if pid not in best.index:  # no start year in the horizon
            record["text"] = _text(r, 0, np.nan, 0.0, [], kind, units)
            out.append(record)
            continue
        start = int(r.start_year) if r.status == "approved" else int(best[pid])
        rows = by_pair.get((pid, start), [])
        value = float(values.get((pid, start), np.nan))
        opportunity = float(np.sum([raw["cost"] for raw, _ in rows]))
        binding = [raw for raw, _ in rows if raw["price"] > 0]
        record.update({
            "start_year": start, "value_wan_cny": round(value, 4),
            "opportunity_cost_wan_cny": round(opportunity, 4), "marginal_kind": kind,
            "binding": sorted({b["resource"] for b in binding}),
            "draws": [{k: (v.item() if hasattr(v, "item") else v) for k, v in shown.items()}
                      for _, shown in rows],
        })  # fmt: skip
        record["text"] = _text(r, start, value, opportunity, binding, kind, units)
        out.append(record)
    return out


def _text(r: Any, start: int, value: float, cost: float, binding: list[dict[str, Any]], kind: str,
          units: dict[str, str]) -> str:  # fmt: skip
    priced = _line(binding, units) or "no binding resource"
    if r.status == "approved":
        drawn = {res: float(np.sum([b["amount"] for b in binding if b["resource"] == res]))
                 for res in sorted({b["resource"] for b in binding})}  # fmt: skip
        per_unit = [f"{value / total:,.4g} 万元 per {units[res]} of {res} ({total:,.0f} {units[res]} drawn)"
                    for res, total in drawn.items()]  # fmt: skip
        lead = "locked in" if r.reason == "LOCKED_IN" else "approved"
        return (f"{lead}: starts {start}, value {value:,.0f} 万元; at {kind}: {priced}"
                + (f"; value per unit of the binding resources: {', '.join(per_unit)}" if per_unit else ""))  # fmt: skip
    if r.reason == "OUTCOMPETED":
        return (f"outcompeted: value {value:,.0f} 万元 (start {start}) is below the opportunity "
                f"cost of its demand, {cost:,.0f} 万元 at {kind}: {priced}")  # fmt: skip
    if r.reason == "LEFT_OUT_BY_FIT":
        full = ", ".join(sorted({f"{b['resource']} {b['year']} {b['scope']}" for b in binding}))
        gives = (f"it needs room in {full}, which the approved projects fill: some would have to give way"
                 if full else "no row it draws on is priced: a rule of the scenario (a group, a count "
                 "or a placement) keeps it out")  # fmt: skip
        return (f"left out by the integer fit: value {value:,.0f} 万元 (start {start}) is not below "
                f"the opportunity cost of its demand, {cost:,.0f} 万元 at {kind} ({priced}), but {gives}; "
                "`allocator explain` measures the exact loss of bringing it in")  # fmt: skip
    words = {
        "LOCKED_OUT": "locked out by the scenario",
        "REQUIRES_UNMET": f"requires {r.reason_detail}, which is not approved",
        "EXCLUDED_BY": f"excluded by {r.reason_detail}, which is approved",
        "NOT_OFFERED": f"not offered: {r.reason_detail}",
    }
    return words.get(r.reason, r.reason)


def note(row: pd.Series) -> str:
    """Words for a planner on what the three figures of one supply row say."""
    parts = []
    fixed, mip = row[FIXED_DUAL], row[MIP_MARGINAL]
    have = row["supply"] + row["freed"] + row["carried_in"] + row["purchased"]
    if row["slack"] > TOL * max(1.0, abs(have)):
        parts.append(f"not binding: {row['slack']:,.2f} left")
    elif have == 0 and row["used"] == 0:
        parts.append("no supply")
    elif row["carried_out"] > TOL * max(1.0, abs(have)):
        parts.append(f"{row['carried_out']:,.2f} unused, carried to the next year")
    elif fixed == 0:
        parts.append(
            "fixed-integer dual 0 is degenerate: the row is full but nothing in it can move"
        )
    if fixed == 0 and mip > 0:
        parts.append("one more unit is worth something only by changing which projects start")
    if pd.isna(mip):
        parts.append("MIP marginal value not computed (explain.mip_marginals: false)")
    if row.get("mip_note"):
        parts.append(str(row["mip_note"]))
    return "; ".join(parts)
