"""What it would take: one project's exact price, by re-solving (``allocator explain``).

For a rejected project p, with V* the optimum:

- the loss of forcing it in, V* − V*(p locked in), exact up to the two solves' gaps;
- the smallest value increase that brings it in: that loss (at a value higher by the loss,
  the best portfolio with p is worth V*);
- for each resource (and scope) p is short of, the smallest increase δ of its supply — added
  to each year p is short in — with which a portfolio including p is worth at least V*:
  ``min δ  s.t.  the scenario's rows with S + δ,  p in,  value ≥ V*`` (one MIP each,
  started from today's portfolio plus p with δ = its shortfall, limited to
  ``explain.time_limit_s``: a stopped one reports the δ found and the lower bound);
  "none" when no increase of that row alone will do (p also needs another row).

For an approved project: what the portfolio would lose without it (p locked out), and
which projects would take its place. Times and statuses of every re-solve are reported.

Every re-solve starts from the solve's portfolio (without p), so none reports less than it
where that start is feasible. A loss is known only within the two solves' gaps: where that
interval is wider than the 万元 printed, the words give the interval, not one figure; a
re-solve worth more than the solve is a better solution of the same scenario, said so.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator.backends.base import SolveResult, get_backend
from allocator.engine import Options, Run, decode, solve
from allocator.errors import InputError
from allocator.explain.records import draws, marginal_prices, rule_records
from allocator.formulation.program import LinearProgram
from allocator.inputs import Inputs
from allocator.marginals import supply_rows
from allocator.words import label, word
from models.result import SUPPLY_KEYS
from models.tables import Problem


def _own(pid: str) -> tuple[str, ...]:
    """The name prefixes of a project's columns: started, placed, new land."""
    return (f"s[{pid},", f"y[{pid},", f"N[{pid},")


def _solve(run: Run, lp: LinearProgram, pid: str) -> SolveResult:
    """``lp`` solved from the solve's portfolio without ``pid`` (kept where it is feasible
    and nothing better is found, so no re-solve reports less than it)."""
    assert run.result.x is not None
    start = {n: (0.0 if n.startswith(_own(pid)) else v) for n, v in lp.named(run.result.x).items()}
    return get_backend(run.backend).solve(lp, replace(run.settings, start=start))


def _figures(result: SolveResult) -> dict[str, Any]:
    return {"status": result.status.value, "objective_wan_cny": result.objective,
            "bound_wan_cny": result.bound, "time_s": round(result.time_s, 3)}  # fmt: skip


def _min_increase(lp: LinearProgram, rows: np.ndarray, floor: float) -> LinearProgram:
    """``lp`` with a column δ ≥ 0 added to the bound of ``rows``, the objective row
    c·x ≥ floor, and max −δ as the objective."""
    n_rows, n_cols = lp.shape
    delta = sp.csr_matrix((-np.ones(len(rows)), (rows, np.zeros(len(rows), int))), (n_rows, 1))
    floor = floor - 1e-9 * max(1.0, abs(floor))
    program = lp.with_cols(delta, 0.0, 0.0, np.inf, False, ["delta"], "delta")
    return replace(program.with_value_floor(floor), c=np.r_[np.zeros(n_cols), -1.0], offset=0.0)


def _loss_interval(v0: float, b0: float, other: SolveResult) -> list[float]:
    """What V* − V(other) is known to lie in, from both solves' values and bounds."""
    assert other.objective is not None
    found = other.objective
    return [round(max(v0 - (other.bound or found), 0.0), 4), round(b0 - found, 4)]


def _pinned(interval: list[float]) -> bool:
    """Whether both solves pin a loss to the whole 万元 that is printed."""
    return interval[1] - interval[0] < 0.5


def _amount(interval: list[float], found: float, lang: str) -> str:
    """A loss in words, as proven: one figure when it is pinned, else the interval and why."""
    lo, hi = interval
    if _pinned(interval):
        return f"{found:,.0f} 万元"
    return word("text.wi_between", lang, lo=f"{lo:,.0f}", hi=f"{hi:,.0f}", found=f"{found:,.0f}")


def _better(pid: str, how: str, v0: float, found: float, gap: float | None, lang: str) -> str:
    """A re-solve found more than the solve (``how``: with or without ``pid``): say so,
    never a negative cost."""
    shown = "" if gap is None else word("text.wi_gap", lang, gap=f"{gap:.4%}")
    return word(f"text.wi_better_{how}", lang, pid=pid, more=f"{found - v0:,.0f}",
                found=f"{found:,.0f}", v0=f"{v0:,.0f}", gap=shown)  # fmt: skip


def _increase_words(i: dict[str, Any], limit: float, lang: str) -> str:
    """One supply increase in words: a figure where proven, an interval with its reason where
    the search stopped, and what a search that found nothing did establish."""
    years = f"{i['years'][0]}" + (f"–{i['years'][-1]}" if len(i["years"]) > 1 else "")
    figures = {
        "what": f"{label('resource', i['resource'], lang)} {label('scope', i['scope'], lang)}",
        "each": word("text.wi_each", lang) if len(i["years"]) > 1 else "",
        "unit": label("unit", i["unit"], lang), "years": years, "limit": f"{limit:g}",
        "lower": f"{i['lower_bound'] or 0.0:,.2f}", "amount": f"{i['smallest_increase'] or 0.0:,.2f}",
    }  # fmt: skip
    if i["smallest_increase"] is not None:
        found = "found" if i["status"] == "optimal" else "found_within"
        return word(f"text.wi_increase_{found}", lang, **figures)
    if i["status"] == "infeasible":
        return word("text.wi_increase_none", lang, **figures)
    if (i["lower_bound"] or 0.0) > 0:
        return word("text.wi_increase_above", lang, **figures)
    return word("text.wi_increase_stopped", lang, **figures)


def _without(run: Run, pid: str, out: dict[str, Any]) -> dict[str, Any]:
    """An approved project: what the portfolio is worth without it, who takes its place."""
    model, base, lp = run.model, run.result, run.model.lp
    assert base.objective is not None
    cols = model.s.loc[model.s["project_id"] == pid, "col"].to_numpy()
    run.options.say(f"re-solving without {pid}")
    hi = lp.col_hi.copy()
    hi[cols] = 0.0
    without = _solve(run, lp.with_bounds(lp.col_lo, hi), pid)
    lang = run.lang
    if without.x is None or without.objective is None:
        out.update(status="approved", text=word("text.wi_needed", lang, pid=pid,
                   status=label("run", without.status.value, lang)))  # fmt: skip
        return out
    base_set, other = set(run.starts.index), set(decode(model, without.x).starts.index)
    v0, b0 = base.objective, base.bound if base.bound is not None else base.objective
    drop = v0 - without.objective
    interval = _loss_interval(v0, b0, without)
    entering = sorted(other - base_set)
    if drop < 0:
        text = _better(pid, "without", v0, without.objective, base.gap, lang)
    else:
        text = word("text.wi_lose", lang, pid=pid, amount=_amount(interval, drop, lang))
    named = word("text.items", lang).join(entering[:10]) + (
        word("text.wi_more", lang, n=len(entering) - 10) if len(entering) > 10 else ""
    )
    text += word("text.wi_take_place", lang, n=len(entering)) + (
        word("text.wi_named", lang, names=named) if named else ""
    )
    out.update(
        status="approved", without=_figures(without),
        loss_without_wan_cny=round(max(drop, 0.0), 4), loss_interval_wan_cny=interval,
        better_solution_wan_cny=round(without.objective, 4) if drop < 0 else None,
        would_enter=entering, would_leave=sorted(base_set - other - {pid}), text=text,
    )  # fmt: skip
    return out


def _increases(run: Run, pid: str, forced: LinearProgram, start: int,
               short: pd.DataFrame) -> list[dict[str, Any]]:  # fmt: skip
    """For each resource and scope ``pid`` is short of, the least supply increase with which
    a portfolio including it is worth the optimum."""
    prep, model, base = run.prep, run.model, run.result
    assert base.x is not None and base.objective is not None
    supply_index = {key: i for i, key in enumerate(map(tuple, model.buy[SUPPLY_KEYS].to_numpy()))}
    rows_of = supply_rows(prep, model)
    base_start = model.lp.named(base.x)
    own = _own(pid)
    settings = replace(run.settings, time_limit_s=prep.scenario.explain.time_limit_s)
    s_cols = {f"s[{pid},{t}]": float(t >= start)
              for t in model.s.loc[model.s["project_id"] == pid, "year"]}  # fmt: skip
    increases = []
    for (res, scope), g in short.groupby(["resource", "scope"], sort=True):
        years = sorted(int(t) for t in g["year"])
        run.options.say(f"smallest increase of {res} {scope} that brings {pid} in")
        rows = np.concatenate([rows_of[supply_index[(res, t, scope)]] for t in years])
        # Start from today's portfolio plus the project (taking new land where it needs it),
        # with δ its largest shortfall: feasible whenever this resource is all it lacks.
        start_x = {n: v for n, v in base_start.items() if not n.startswith(own)}
        start_x.update(s_cols)
        start_x.update({"N" + n[1:]: v for n, v in s_cols.items() if "N" + n[1:] in base_start})
        start_x["delta"] = float((g["amount"] - g["room"]).max())
        program = _min_increase(forced, rows, base.objective)
        r = get_backend(run.backend).solve(program, replace(settings, start=start_x))
        found = None if r.objective is None else round(-r.objective, 4) + 0.0
        increases.append({
            "resource": res, "scope": scope, "years": years,
            "unit": prep.scenario.resources[res].unit,
            "needs": round(float(g["amount"].max()), 4), "room_left": round(float(g["room"].min()), 4),
            "smallest_increase": found,
            "lower_bound": None if r.bound is None else round(max(-r.bound, 0.0), 4) + 0.0,
            "status": r.status.value, "time_s": round(r.time_s, 3),
        })  # fmt: skip
    return increases


def _short(run: Run, pid: str, start: int, fits: bool) -> pd.DataFrame:
    """The supply rows ``pid`` draws on at its start year (any start year when it does not
    fit at all) with less room left than it needs."""
    prices, _ = marginal_prices(run)
    mine = draws(run, prices)
    mine = mine[mine["project_id"] == pid]
    mine = mine[mine["start"] == start] if fits else mine.drop_duplicates(SUPPLY_KEYS)
    assert run.evaluation is not None
    slack = run.evaluation.resources.set_index(SUPPLY_KEYS)["slack"]
    room = [float(slack.get(k, 0.0)) for k in map(tuple, mine[SUPPLY_KEYS].to_numpy())]
    mine = mine.assign(room=room)
    return mine[mine["room"] < mine["amount"]]


def _bringing_in(run: Run, pid: str, out: dict[str, Any]) -> dict[str, Any]:
    """A rejected project: the loss of forcing it in, and the supply increases that would
    bring it in at no loss."""
    prep, model, base, lp = run.prep, run.model, run.result, run.model.lp
    assert base.objective is not None
    cols = model.s.loc[model.s["project_id"] == pid, "col"].to_numpy()
    run.options.say(f"re-solving with {pid} locked in")
    lo, hi = lp.col_lo.copy(), lp.col_hi.copy()
    hi[cols] = 1.0  # a lock-out is lifted: the question is what bringing it in costs
    lo[cols[-1]] = 1.0  # started by the last year of its window
    forced = lp.with_bounds(lo, hi)
    within = _solve(run, forced, pid)
    fits = within.x is not None and within.objective is not None
    v0, b0 = base.objective, base.bound if base.bound is not None else base.objective
    loss: float | None = None
    alloc = run.allocation
    start = int(model.s.loc[model.s["col"] == cols[0], "year"].iloc[0])
    interval: list[float] | None = None
    if within.x is not None and within.objective is not None:
        alloc = decode(model, within.x)
        start = int(alloc.starts[pid])
        loss = max(v0 - within.objective, 0.0)
        interval = _loss_interval(v0, b0, within)
    assert alloc is not None
    base_set, other = set(run.starts.index), set(alloc.starts.index)
    increases = _increases(run, pid, forced, start, _short(run, pid, start, fits))
    value = float(prep.pairs.set_index(["project_id", "year"])["value_wan_cny"][(pid, start)])
    lang = run.lang
    lines = [_increase_words(i, prep.scenario.explain.time_limit_s, lang) for i in increases]
    if loss is not None and interval is not None and within.objective is not None:
        if within.objective > v0:
            head = _better(pid, "with", v0, within.objective, base.gap, lang)
        else:
            rise = (f"{loss:,.0f} 万元" if _pinned(interval)
                    else word("text.wi_sure", lang, hi=f"{interval[1]:,.0f}"))  # fmt: skip
            head = word("text.wi_bringing", lang, pid=pid, start=start,
                        amount=_amount(interval, loss, lang), value=f"{value:,.0f}", rise=rise)  # fmt: skip
    else:
        head = word("text.wi_no_fit", lang, pid=pid, status=label("run", within.status.value, lang))
    supply = "text.wi_or_supply" if loss is not None else "text.wi_with_supply"
    out.update(
        status="rejected", start_year=start if fits else None, value_wan_cny=round(value, 4),
        with_project=_figures(within), loss_wan_cny=None if loss is None else round(loss, 4),
        loss_interval_wan_cny=interval,
        better_solution_wan_cny=round(within.objective, 4)
        if within.objective is not None and within.objective > v0 else None,
        smallest_value_increase_wan_cny=None if loss is None else round(loss, 4),
        marginal_kind=word(f"text.{marginal_prices(run)[1]}", lang), supply_increases=increases,
        displaced=sorted(base_set - other) if fits else [],
        also_entering=sorted(other - base_set - {pid}) if fits else [],
        text=head + (word(supply, lang, lines=word("text.wi_or", lang).join(lines)) if lines else ""),
    )  # fmt: skip
    return out


def _links(run: Run, pid: str) -> tuple[dict[str, Any], str]:
    """The projects ``pid`` requires and excludes, whether each is approved, in words."""
    pr = run.prep.inputs.projects
    approved = set(run.starts.index)
    links = {"requires": list(pr.at[pid, "requires"]), "excludes": list(pr.at[pid, "excludes"])}
    links["excluded_by"] = sorted(q for q, ex in pr["excludes"].items() if pid in ex)
    lang, parts = run.lang, word("text.parts", run.lang)
    words = [word(f"text.wi_{key}", lang, q=q, state=label("status", "approved" if q in approved
                                                             else "rejected", lang))
             for key in ("requires", "excludes", "excluded_by") for q in links[key]]  # fmt: skip
    return links, (parts.join(words) + parts) if words else ""


def what_it_would_take(inputs: Inputs, pid: str, options: Options = Options()) -> dict[str, Any]:
    """Why ``pid`` is in or out and what would change it (the module docstring)."""
    if pid not in inputs.projects.index:
        raise InputError([Problem.of("request", "is not in {table}", field="project", value=pid,
                                     table=inputs.label("projects"))])  # fmt: skip
    run = solve(inputs, options)
    prep = run.prep
    out: dict[str, Any] = {"scenario": prep.scenario.name, "project_id": pid,
                           "base": _figures(run.result)}  # fmt: skip
    reason = prep.eligibility.reason[pid]
    if reason:
        checks = prep.eligibility.checks
        fails = checks[(checks["project_id"] == pid) & (checks["result"] == "fail")]
        out.update(status="ineligible", reason=reason,
                   rules=rule_records(fails),
                   text=word("text.wi_ineligible", run.lang, pid=pid,
                             reason=label("reason", reason, run.lang)))  # fmt: skip
        return out
    run.solution()  # no solution: nothing to compare with (the error says why)
    links, words = _links(run, pid)
    out.update(links)
    found = _without(run, pid, out) if pid in run.starts.index else _bringing_in(run, pid, out)
    found["text"] = f"{pid} {words}{found['text']}" if words else found["text"]
    return found
