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
from allocator.words import label, word
from models.result import DECIMALS, FIXED_DUAL, LP_DUAL, MIP_MARGINAL, SUPPLY_KEYS

TOL = 1e-7  # slack below this share of the supply is none


def marginal_prices(run: Run) -> tuple[pd.Series, str]:
    """The marginal value per supply row (index resource, year, scope), as resources.csv
    shows it (rounded alike, so that every cost is recomputable from it), and its kind:
    ``mip`` or ``lp`` (``text.mip``, ``text.lp`` in ``allocator.words``)."""
    assert run.marginals is not None
    m = run.marginals.set_index(SUPPLY_KEYS)[[MIP_MARGINAL, LP_DUAL]].round(DECIMALS) + 0.0
    if m[MIP_MARGINAL].notna().all():
        return m[MIP_MARGINAL], "mip"
    return m[LP_DUAL].fillna(0.0), "lp"


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


def _line(rows: list[dict[str, Any]], units: dict[str, str], lang: str) -> str:
    """'energy quota 2028–2029 city: 1,000 tce/yr × 2 yr × 0.81 万元/tce = 1,620 万元' per
    resource and scope (the price is the mean over the years where they differ)."""
    parts = []
    for res, scope in sorted({(r["resource"], r["scope"]) for r in rows}):
        g = [r for r in rows if r["resource"] == res and r["scope"] == scope]
        years = sorted({r["year"] for r in g})
        span = f"{years[0]}" + (f"–{years[-1]}" if len(years) > 1 else "")
        unit = label("unit", units[res], lang)
        amount = f"{g[0]['amount']:,.0f}"
        each = (word("text.per_year", lang, amount=amount, unit=unit, years=len(years))
                if len(years) > 1 else f"{amount} {unit}")  # fmt: skip
        parts.append(word("text.draw", lang, resource=label("resource", res, lang), years=span,
                          scope=label("scope", scope, lang), each=each, unit=unit,
                          price=f"{float(np.mean([r['price'] for r in g])):,.4g}",
                          cost=f"{float(np.sum([r['cost'] for r in g])):,.0f}"))  # fmt: skip
    return word("text.parts", lang).join(parts)


def explanations(run: Run, allocations: pd.DataFrame) -> list[dict[str, Any]]:
    """One record per project: status, reason code and words (in the run's language), and
    the figures behind them."""
    prices, code = marginal_prices(run)
    lang = run.lang
    kind = word(f"text.{code}", lang)
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
            record["text"] = _text(r, 0, np.nan, 0.0, [], kind, units, lang)
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
        record["text"] = _text(r, start, value, opportunity, binding, kind, units, lang)
        out.append(record)
    return out


def _text(r: Any, start: int, value: float, cost: float, binding: list[dict[str, Any]], kind: str,
          units: dict[str, str], lang: str) -> str:  # fmt: skip
    priced = _line(binding, units, lang) or word("text.no_binding", lang)
    figures = {"start": start, "value": f"{value:,.0f}", "cost": f"{cost:,.0f}", "kind": kind,
               "priced": priced}  # fmt: skip
    if r.status == "approved":
        drawn = {res: float(np.sum([b["amount"] for b in binding if b["resource"] == res]))
                 for res in sorted({b["resource"] for b in binding})}  # fmt: skip
        per_unit = [word("text.per_unit", lang, per=f"{value / total:,.4g}",
                         unit=label("unit", units[res], lang), resource=label("resource", res, lang),
                         total=f"{total:,.0f}")
                    for res, total in drawn.items()]  # fmt: skip
        lead = word(
            "text.locked_in" if r.reason == "LOCKED_IN" else "text.approved", lang, **figures
        )
        items = word("text.items", lang).join(per_unit)
        return lead + (word("text.per_unit_list", lang, items=items) if per_unit else "")
    if r.reason == "OUTCOMPETED":
        return word("text.outcompeted", lang, **figures)
    if r.reason == "LEFT_OUT_BY_FIT":
        full = sorted({(b["resource"], b["year"], b["scope"]) for b in binding})
        rows = word("text.items", lang).join(
            f"{label('resource', res, lang)} {year} {label('scope', scope, lang)}"
            for res, year, scope in full
        )
        gives = word("text.gives_way", lang, rows=rows) if full else word("text.kept_out", lang)
        return word("text.left_out", lang, gives=gives, **figures)
    if r.reason == "LOCKED_OUT":
        return word("text.locked_out", lang)
    if r.reason == "REQUIRES_UNMET":
        return word("text.requires", lang, projects=r.reason_detail)
    if r.reason == "EXCLUDED_BY":
        return word("text.excluded_by", lang, projects=r.reason_detail)
    if r.reason == "NOT_OFFERED":
        return word("text.not_offered", lang, detail=r.reason_detail)
    return str(r.reason)


def note(row: pd.Series, lang: str) -> str:
    """Words for a planner on what the three figures of one supply row say."""
    parts = []
    fixed, mip = row[FIXED_DUAL], row[MIP_MARGINAL]
    have = row["supply"] + row["freed"] + row["carried_in"] + row["purchased"]
    if row["slack"] > TOL * max(1.0, abs(have)):
        parts.append(word("text.not_binding", lang, slack=f"{row['slack']:,.2f}"))
    elif have == 0 and row["used"] == 0:
        parts.append(word("text.no_supply", lang))
    elif row["carried_out"] > TOL * max(1.0, abs(have)):
        parts.append(word("text.carried", lang, amount=f"{row['carried_out']:,.2f}"))
    elif fixed == 0:
        parts.append(word("text.degenerate", lang))
    if fixed == 0 and mip > 0:
        parts.append(word("text.only_by_change", lang))
    if pd.isna(mip):
        parts.append(word("text.mip_not_computed", lang))
    if row.get("mip_note"):
        parts.append(str(row["mip_note"]))
    return word("text.parts", lang).join(parts)
