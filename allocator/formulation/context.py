"""What every formulation module works on: the prepared data, the builder, and the tables
that map model columns back to their data (decisions ``s``, purchases, slack).

The decision is written ``s[p,t]`` = 1 when project p has started by year t (for t in its
window), rather than DESIGN.md's x[p,t] = 1 when p starts in year t. The two are the same
program under x[p,t] = s[p,t] − s[p,t−1] (so the LP bound is the same), but in ``s`` every
cumulative row (recurring resources, carried-over quotas, ``requires``) holds one term per
project, and branching on s[p,t] splits a project's years in two instead of moving it by
one: on the sample city HiGHS proves 0.01% in about a tenth of the time (docs/formulation.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.formulation.program import Builder
from allocator.prepare import Prepared


@dataclass
class Context:
    prep: Prepared
    b: Builder = field(default_factory=Builder)
    s: pd.DataFrame = field(default_factory=pd.DataFrame)  # project_id, year, value_wan_cny, col
    buy: pd.DataFrame = field(default_factory=pd.DataFrame)  # supply rows + col (-1: none)
    slack: pd.DataFrame = field(default_factory=pd.DataFrame)  # rule, row, col, penalty
    y: pd.DataFrame = field(default_factory=pd.DataFrame)  # project_id, site_id, col
    site_use: pd.DataFrame = field(default_factory=pd.DataFrame)  # site_id, col
    new_land: dict[int, int] = field(default_factory=dict)  # s column -> N column

    def started_by(self, users: pd.DataFrame) -> pd.DataFrame:
        """For rows of ``users`` (project_id, year, ...): the column that is 1 when the
        project has started by that year (none before its window), with ``coef`` 1."""
        window = self.s.groupby("project_id", sort=False)["year"].agg(["min", "max"])
        joined = users.join(window, on="project_id", how="inner")
        joined = joined[(joined["year"] >= joined["min"]).to_numpy()]
        at = np.minimum(joined["year"], joined["max"])
        key = pd.MultiIndex.from_arrays([joined["project_id"], at])
        col = self.s.set_index(["project_id", "year"])["col"].reindex(key).to_numpy()
        return joined.drop(columns=["min", "max"]).assign(col=col, coef=1.0)

    def started_in(self, users: pd.DataFrame) -> pd.DataFrame:
        """For rows of ``users`` (project_id, year, ...): the terms s[p,t] − s[p,t−1] that
        equal 1 when the project starts in that very year."""
        cols = self.s.set_index(["project_id", "year"])["col"]
        ids = users["project_id"]
        now = cols.reindex(pd.MultiIndex.from_arrays([ids, users["year"]])).to_numpy()
        before = cols.reindex(pd.MultiIndex.from_arrays([ids, users["year"] - 1])).to_numpy()
        plus = users.assign(col=now, coef=1.0)[~np.isnan(now)]
        minus = users.assign(col=before, coef=-1.0)[~np.isnan(now) & ~np.isnan(before)]
        out = pd.concat([plus, minus], ignore_index=True)
        return out.astype({"col": np.int64})

    def terms(self, users: pd.DataFrame, cumulative: bool) -> pd.DataFrame:
        return self.started_by(users) if cumulative else self.started_in(users)

    def resource_terms(self, resource: str, users: pd.DataFrame, cumulative: bool) -> pd.DataFrame:
        """As ``terms``; for the new-land quota, a project that may go on a reuse site
        counts with its "took new land" column N[p,t] instead of s[p,t] (land.py)."""
        terms = self.terms(users, cumulative)
        if self.new_land and self.prep.scenario.resources[resource].new_land:
            col = terms["col"].to_numpy()
            terms = terms.assign(col=[self.new_land.get(c, c) for c in col])
        return terms

    def last(self) -> pd.DataFrame:
        """One row per project: its column for the last year of its window (1 = approved)."""
        return self.s.drop_duplicates("project_id", keep="last")

    def add_slack(self, rule: str, names: list[str], penalty: float | None) -> np.ndarray | None:
        """Slack columns for soft rules (none when the rule is hard)."""
        if penalty is None:
            return None
        cols = self.b.add_cols("slack", [f"slack:{n}" for n in names], cost=-penalty)
        frame = pd.DataFrame({"rule": rule, "row": names, "col": cols, "penalty": penalty})
        self.slack = pd.concat([self.slack, frame], ignore_index=True)
        return cols
