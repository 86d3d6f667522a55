"""Why a valid scenario is infeasible: the smallest relaxation that restores feasibility.

Every resource, must-buy, policy-group, count, ``requires`` and ``excludes`` row is a
constraint group that may give way through a slack column; the start structure and the locks
(column bounds) stay hard. Two stages, both exact:

1. fewest groups: a binary z_k per row, slack_k ≤ M_k z_k (M_k: the most the row could be
   broken by, from the column bounds), minimise Σ z_k;
2. least weighted slack among those rows only, each weighted by 1 / max(1, |its bound|) so
   that rows in different units compare.

The result names each relaxed row, by how much, and the locked-in projects drawing on it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from allocator.backends.base import Settings, SolveResult, get_backend
from allocator.formulation.build import Model
from allocator.formulation.program import LinearProgram
from allocator.words import label, lookup, word
from models.result import Diagnosis

ELASTIC = ("resource", "must_buy", "group", "count", "requires", "excludes")


def words(row: str, lang: str) -> str:
    """A row in words: ``bond[year=2027,scope=city]`` -> ``专项债券 2027 全市统筹`` (zh),
    ``special bonds 2027 city`` (en); ``count:one_in_shizhong[…]`` -> ``数量规则
    one_in_shizhong …``."""
    family, _, keys = row.partition("[")
    kind, _, name = family.partition(":")
    head = lookup("resource", kind, lang) or lookup("row", kind, lang) or kind
    values = [
        label("scope", kv.split("=", 1)[-1], lang) for kv in keys.rstrip("]").split(",") if kv
    ]
    return " ".join([head, *([name] if name else []), *values])


BIG_M = 1e9  # where a row's worst breach is unbounded


def _elastic(lp: LinearProgram) -> tuple[LinearProgram, np.ndarray, np.ndarray]:
    """The program with a slack column per elastic row bound; the rows and the big-M of each."""
    rows = np.flatnonzero(np.isin(lp.row_family, ELASTIC))
    lo_rows = rows[np.isfinite(lp.row_lo[rows])]
    hi_rows = rows[np.isfinite(lp.row_hi[rows])]
    n_rows, n_cols = lp.shape
    k = len(lo_rows) + len(hi_rows)
    signs = np.r_[np.ones(len(lo_rows)), -np.ones(len(hi_rows))]
    which = np.r_[lo_rows, hi_rows]
    slack = sp.csr_matrix((signs, (which, np.arange(k))), shape=(n_rows, k))
    bound = np.r_[lp.row_lo[lo_rows], lp.row_hi[hi_rows]]
    # The worst breach of a row over the column box: max activity − hi, or lo − min activity.
    a = lp.A.tocsr()
    with np.errstate(invalid="ignore"):
        top = a.maximum(0) @ lp.col_hi + a.minimum(0) @ lp.col_lo
        low = a.maximum(0) @ lp.col_lo + a.minimum(0) @ lp.col_hi
    worst = np.r_[lp.row_lo[lo_rows] - low[lo_rows], top[hi_rows] - lp.row_hi[hi_rows]]
    big_m = np.where(np.isfinite(worst), np.maximum(worst, 0.0), BIG_M)
    elastic = replace(
        lp.with_cols(slack, 0.0, 0.0, big_m, False,
                     [f"elastic:{lp.row_names[i]}" for i in which], "elastic"),
        c=np.r_[np.zeros(n_cols), -1.0 / np.maximum(1.0, np.abs(bound))],
        offset=0.0,
    )  # fmt: skip
    return elastic, which, big_m


def _fewest(
    elastic: LinearProgram, big_m: np.ndarray, settings: Settings, backend: str
) -> SolveResult:
    """Stage 1: a binary per slack column (slack ≤ M z), minimise the number switched on."""
    n_rows, n_cols = elastic.shape
    k = len(big_m)
    slacks = elastic.col_names[n_cols - k :]
    z = elastic.with_cols(sp.csr_matrix((n_rows, k)), -1.0, 0.0, 1.0, True,
                          [f"relax:{n}" for n in slacks], "relax")  # fmt: skip
    link = sp.hstack([sp.csr_matrix((k, n_cols - k)), sp.identity(k), -sp.diags(big_m)])
    program = replace(
        z.with_rows(link, -np.inf, 0.0, [f"link:{n}" for n in slacks], "link"),
        c=np.r_[np.zeros(n_cols), -np.ones(k)],
    )
    return get_backend(backend).solve(program, settings)


def diagnose(
    model: Model, settings: Settings, backend: str, units: dict[str, str], lang: str
) -> Diagnosis:
    """The smallest relaxation (module docstring), its text in ``lang``."""
    lp = model.lp
    n_cols = lp.shape[1]
    elastic, which, big_m = _elastic(lp)
    fewest = _fewest(elastic, big_m, settings, backend)
    if fewest.x is None:
        return Diagnosis(
            text=word("text.diag_none", lang, status=label("run", fewest.status.value, lang))
        )
    chosen = fewest.x[n_cols + len(which) :] > 0.5
    hi = np.r_[lp.col_hi, np.where(chosen, elastic.col_hi[n_cols:], 0.0)]
    result = get_backend(backend).solve(replace(elastic, col_hi=hi), settings)
    if result.x is None:  # cannot happen: stage 1's solution is feasible here
        result = replace(fewest, x=fewest.x[: elastic.shape[1]])
    assert result.x is not None
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
        needs = word("text.diag_needs", lang, projects=word("text.items", lang).join(who)) if who else ""  # fmt: skip
        lines.append(word("text.diag_row", lang, row=words(name, lang), amount=f"{amount:,.2f}",
                          unit=label("unit", unit, lang), needs=needs))  # fmt: skip
    all_locked = sorted({p for r in relaxed for p in r["locked_in_projects"]})  # type: ignore[attr-defined]
    proven = "" if fewest.status.value == "optimal" else word("text.diag_unproven", lang)
    text = word("text.diag", lang, n=len(lines), proven=proven,
                rows=word("text.parts", lang).join(lines))  # fmt: skip
    return Diagnosis(relaxed_rows=relaxed, locked_in=all_locked, text=text)
