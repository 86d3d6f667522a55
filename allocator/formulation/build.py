"""The table of contents of the model: each step adds one family of columns or rows.

The numbers refer to the formulation in the docstrings of the modules:
starts (1–2), resources (3–6), policy (7–11), objective (12), land (13–16). The decisions are
``s[p,t]`` ("started by year t"), see context.py for why.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from allocator.formulation.context import Context
from allocator.formulation.land import define_placement
from allocator.formulation.objective import define_objective
from allocator.formulation.policy import (
    define_count_rules,
    define_excludes,
    define_group_rules,
    define_locks,
    define_requires,
)
from allocator.formulation.program import LinearProgram
from allocator.formulation.resources import (
    define_must_buy,
    define_purchases,
    define_resource_rows,
)
from allocator.formulation.starts import define_starts
from allocator.prepare import Prepared


@dataclass(frozen=True)
class Model:
    """The compiled program and the tables that map its columns back to the data."""

    lp: LinearProgram
    s: pd.DataFrame  # project_id, year, value_wan_cny, col: "started by year" columns
    buy: pd.DataFrame  # supply rows with the column of their purchase (-1: none)
    slack: pd.DataFrame  # soft rules' slack columns
    y: pd.DataFrame  # project_id, site_id, col: placement on reuse sites
    site_use: pd.DataFrame  # site_id, col: paid sites taken


def build_model(prep: Prepared) -> Model:
    ctx = Context(prep)
    define_starts(ctx)
    define_placement(ctx)
    define_purchases(ctx)
    define_resource_rows(ctx)
    define_must_buy(ctx)
    define_locks(ctx)
    define_requires(ctx)
    define_excludes(ctx)
    define_group_rules(ctx)
    define_count_rules(ctx)
    define_objective(ctx)
    return Model(ctx.b.build(), ctx.s, ctx.buy, ctx.slack, ctx.y, ctx.site_use)
