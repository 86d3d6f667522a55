"""Why a valid scenario is infeasible: an elastic re-solve.

Every resource, must-buy, policy-group, count, ``requires`` and ``excludes`` row gets a
slack column; the start structure and the locks (column bounds) stay hard. Minimising the total slack, each weighted
by 1 / max(1, |its bound|) so that rows in different units compare, shows which rows had to
give way and by how much; the locked-in projects drawing on them are named.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from allocator.backends.base import Settings, get_backend
from allocator.formulation.build import Model
from models.result import Diagnosis

ELASTIC = ("resource", "must_buy", "group", "count", "requires", "excludes")


def diagnose(model: Model, settings: Settings, backend: str, units: dict[str, str]) -> Diagnosis:
    lp = model.lp
    rows = np.flatnonzero(np.isin(lp.row_family, ELASTIC))
    lo_rows = rows[np.isfinite(lp.row_lo[rows])]
    hi_rows = rows[np.isfinite(lp.row_hi[rows])]
    n_rows, n_cols = lp.shape
    k = len(lo_rows) + len(hi_rows)
    signs = np.r_[np.ones(len(lo_rows)), -np.ones(len(hi_rows))]
    which = np.r_[lo_rows, hi_rows]
    slack = sp.csr_matrix((signs, (which, np.arange(k))), shape=(n_rows, k))
    bound = np.r_[lp.row_lo[lo_rows], lp.row_hi[hi_rows]]
    elastic = replace(
        lp,
        A=sp.hstack([lp.A, slack]).tocsr(),
        c=np.r_[np.zeros(n_cols), -1.0 / np.maximum(1.0, np.abs(bound))],
        col_lo=np.r_[lp.col_lo, np.zeros(k)],
        col_hi=np.r_[lp.col_hi, np.full(k, np.inf)],
        integer=np.r_[lp.integer, np.zeros(k, bool)],
        col_names=lp.col_names + [f"elastic:{lp.row_names[i]}" for i in which],
        col_family=np.r_[lp.col_family, np.full(k, "elastic", dtype=object)],
        offset=0.0,
    )
    result = get_backend(backend)(elastic, settings)
    if result.x is None:
        return Diagnosis(
            text=f"the elastic re-solve found no solution either ({result.status}): "
            "the locked-in projects cannot all start in their windows"
        )
    amounts = result.x[n_cols:]
    forced = model.lp.col_lo[model.s["col"].to_numpy()] > 0
    locked_ids = set(model.s.loc[forced, "project_id"])
    locked = set(model.s.loc[model.s["project_id"].isin(locked_ids), "col"])
    project_of = dict(zip(model.s["col"], model.s["project_id"], strict=True))
    a = lp.A.tocsr()
    relaxed: list[dict[str, object]] = []
    lines = []
    for i, amount in sorted(zip(which, amounts, strict=True), key=lambda t: lp.row_names[t[0]]):
        if amount <= 1e-6 * max(
            1.0, abs(lp.row_hi[i] if np.isfinite(lp.row_hi[i]) else lp.row_lo[i])
        ):
            continue
        cols = a.indices[a.indptr[i] : a.indptr[i + 1]]
        who = sorted({project_of[j] for j in cols if j in locked})
        name = lp.row_names[i]
        unit = units.get(name.split("[")[0].split(":")[-1], "")
        relaxed.append(
            {
                "row": name,
                "shortfall": round(float(amount), 6),
                "unit": unit,
                "locked_in_projects": who,
            }
        )
        needs = f"; locked-in projects {', '.join(who)} draw on it" if who else ""
        lines.append(f"{name}: short by {amount:,.2f} {unit}{needs}".replace(" ;", ";"))
    all_locked = sorted({p for r in relaxed for p in r["locked_in_projects"]})  # type: ignore[attr-defined]
    text = "infeasible: " + ("; ".join(lines) if lines else "no single row explains it")
    return Diagnosis(relaxed_rows=relaxed, locked_in=all_locked, text=text)
