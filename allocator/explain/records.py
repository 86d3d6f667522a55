"""Why each project is in or out, in figures a planner can check.

A rejected project that broke no rule was *outcompeted*: its value is set against the
opportunity cost of its demand, Σ amount × marginal value over the supply rows it would draw
on (recurring resources every year from its start, one-off resources in its start year). The
marginal values are the MIP ones where computed (``explain.mip_marginals``), else the LP
relaxation's, and the text says which. The start year shown is the one where value minus
cost is largest. A project whose value exceeds that cost and is still out was left out by
the integer fit: its demand does not fit beside a better combination; ``allocator explain``
measures exactly what bringing it in would cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from allocator.engine import Run
from models.result import FIXED_DUAL, LP_DUAL, MIP_MARGINAL, SUPPLY_KEYS

TOL = 1e-7  # slack below this share of the supply is none


def marginal_prices(run: Run) -> tuple[pd.Series, str]:
    """The marginal value per supply row (index resource, year, scope) and its kind."""
    assert run.marginals is not None
    m = run.marginals.set_index(SUPPLY_KEYS)
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
    cost."""
    sc = run.prep.scenario
    pools = run.prep.pools
    pairs = run.prep.pairs[["project_id", "year"]].rename(columns={"year": "start"})
    joined = pairs.merge(pools, on="project_id")
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


def _line(rows: list[dict[str, Any]], units: dict[str, str]) -> str:
    """'energy 2028–2029 city: 1,000 tce × 0.81 万元/tce = 1,620 万元' per resource and scope."""
    parts = []
    for res, scope in sorted({(r["resource"], r["scope"]) for r in rows}):
        g = [r for r in rows if r["resource"] == res and r["scope"] == scope]
        years = sorted({r["year"] for r in g})
        span = f"{years[0]}" + (f"–{years[-1]}" if len(years) > 1 else "")
        unit = units[res]
        amount = float(np.sum([r["amount"] for r in g]))
        cost = float(np.sum([r["cost"] for r in g]))
        price = cost / amount if amount else 0.0
        parts.append(f"{res} {span} {scope}: {g[0]['amount']:,.0f} {unit}"
                     f"{'/yr' if len(g) > 1 else ''} × {price:,.4g} 万元/{unit} = {cost:,.0f} 万元")  # fmt: skip
    return "; ".join(parts)


def explanations(run: Run, allocations: pd.DataFrame) -> list[dict[str, Any]]:
    """One record per project: status, reason code and words, and the figures behind them."""
    prices, kind = marginal_prices(run)
    units = {k: r.unit for k, r in run.prep.scenario.resources.items()}
    d = draws(run, prices)
    values = run.prep.pairs.set_index(["project_id", "year"])["value_wan_cny"]
    cost = d.groupby(["project_id", "start"])["cost"].sum().reindex(values.index, fill_value=0.0)
    net = (values - cost).rename("net").reset_index()
    best = net.loc[net.groupby("project_id")["net"].idxmax()].set_index("project_id")["year"]
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
        per_unit = [
            f"{value / np.sum([b['amount'] for b in binding if b['resource'] == res]):,.4g} 万元 "
            f"per {units[res]} of {res}"
            for res in sorted({b["resource"] for b in binding})
        ]
        lead = "locked in" if r.reason == "LOCKED_IN" else "approved"
        return (f"{lead}: starts {start}, value {value:,.0f} 万元; at {kind}: {priced}"
                + (f"; value per unit of the binding resources: {', '.join(per_unit)}" if per_unit else ""))  # fmt: skip
    if r.reason == "OUTCOMPETED":
        if value < cost:
            return (f"outcompeted: value {value:,.0f} 万元 (start {start}) is below "
                    f"the opportunity cost of its demand, {cost:,.0f} 万元 at {kind}: {priced}")  # fmt: skip
        return (f"outcompeted by the integer fit: value {value:,.0f} 万元 exceeds the opportunity "
                f"cost {cost:,.0f} 万元 at {kind} ({priced}), but its demand does not fit beside "
                "a better combination; `allocator explain` gives the exact loss of bringing it in")  # fmt: skip
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
