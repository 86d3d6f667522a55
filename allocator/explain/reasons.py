"""Why each project is where it is: one reason code per project (``models.result.REASONS``,
or ``INELIGIBLE_<RULE>``) and the figures or projects behind it, in the order of the
projects table. A rejected project that broke no rule is OUTCOMPETED when its value is below
the opportunity cost of its demand, else LEFT_OUT_BY_FIT (``records``)."""

from __future__ import annotations

import pandas as pd

from allocator.engine import Run
from allocator.explain.records import best_starts, draws, marginal_prices
from allocator.words import label, word


def reasons(run: Run) -> tuple[pd.Series, pd.Series]:
    """Reason code and detail per project."""
    sc = run.prep.scenario
    pr = run.prep.inputs.projects
    el = run.prep.eligibility
    starts = run.starts
    code = pd.Series("", index=pr.index, dtype=object)
    detail = pd.Series("", index=pr.index, dtype=object)
    best = best_starts(run, draws(run, marginal_prices(run)[0]))
    fails = el.checks[el.checks["result"] == "fail"].drop_duplicates("project_id")
    lang = run.lang
    for r in fails.itertuples():
        detail[r.project_id] = word("text.rule_broken", lang, rule=label("rule", r.rule, lang),
                                    figure=f"{r.figure:.4g}", unit=label("unit", r.unit, lang),
                                    comparator=r.comparator, threshold=f"{r.threshold:.4g}")  # fmt: skip
    for pid in pr.index:
        if el.reason[pid]:
            code[pid] = el.reason[pid]
            if el.reason[pid] == "NOT_OFFERED":
                window = f"{pr.at[pid, 'earliest_year']:.0f}–{pr.at[pid, 'latest_year']:.0f}"
                horizon = f"{sc.horizon.start}–{sc.horizon.end}"
                detail[pid] = word("text.window", lang, window=window, horizon=horizon)
        elif pid in starts.index:
            code[pid] = "LOCKED_IN" if pid in sc.locked_in else "APPROVED"
        elif pid in sc.locked_out:
            code[pid] = "LOCKED_OUT"
        elif missing := [q for q in pr.at[pid, "requires"] if q not in starts.index]:
            code[pid], detail[pid] = "REQUIRES_UNMET", ";".join(missing)
        elif rivals := [q for q in pr.at[pid, "excludes"] if q in starts.index]:
            code[pid], detail[pid] = "EXCLUDED_BY", ";".join(rivals)
        elif best.at[pid, "value"] < best.at[pid, "cost"]:
            code[pid] = "OUTCOMPETED"
        else:
            code[pid] = "LEFT_OUT_BY_FIT"
    return code, detail
