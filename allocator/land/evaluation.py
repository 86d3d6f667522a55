"""亩均效益评价: the per-mu evaluation of firms, graded A/B/C/D (or T, not graded).

Each indicator's value is divided by its benchmark (the mean or median over the graded
firms of the same size group), capped at ``ratio_cap``, and weighted; the score is the sum.
Firms below the size threshold (not 规上) are scored on tax per mu only. Within each size
group, firms are ranked by score: A the top 25%, B the next 45%, C the next 25%, D the
bottom 5% (shares in the scenario). Utilities, firms on less than 3 mu and firms still
building are not graded: class T.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.land import Evaluation

INDICATORS = {
    "tax_per_mu": ("tax_wan_cny", "land_mu"),
    "value_added_per_mu": ("value_added_wan_cny", "land_mu"),
    "value_added_per_tce": ("value_added_wan_cny", "energy_tce"),
    "value_added_per_pollutant": ("value_added_wan_cny", "pollutant_equivalent_t"),
    "labour_productivity": ("value_added_wan_cny", "employees"),
    "rd_share": ("rd_wan_cny", "revenue_wan_cny"),
}


def indicators(firms: pd.DataFrame) -> pd.DataFrame:
    """The six indicators per firm (NaN where the denominator is 0)."""
    out = {}
    for name, (num, den) in INDICATORS.items():
        d = firms[den].astype(float)
        out[name] = firms[num].astype(float) / d.where(d > 0)
    return pd.DataFrame(out, index=firms.index)


def grade(firms: pd.DataFrame, settings: Evaluation, building: set[str]) -> pd.DataFrame:
    """Indicators, score, rank and class per firm (index firm_id).

    ``building``: firms whose land is still under construction (class T)."""
    ind = indicators(firms)
    not_graded = (
        firms["sector"].isin(settings.utility_sectors).to_numpy()
        | (firms["land_mu"] < settings.min_land_mu).to_numpy()
        | firms.index.isin(sorted(building))
    )
    why = np.select(
        [
            firms["sector"].isin(settings.utility_sectors),
            firms["land_mu"] < settings.min_land_mu,
            firms.index.isin(sorted(building)),
        ],
        ["utility", "small_land", "building"],  # codes: words in allocator/words.csv
        "",
    )
    score = pd.Series(np.nan, index=firms.index)
    klass = pd.Series("T", index=firms.index, dtype=object)
    rank_share = pd.Series(np.nan, index=firms.index)
    above = firms["above_scale"].astype(bool)
    for big in (True, False):
        group = (above == big).to_numpy() & ~not_graded
        if not group.any():
            continue
        weights = settings.weights if big else {"tax_per_mu": 100.0}
        part = pd.Series(0.0, index=firms.index[group])
        for name, weight in weights.items():
            values = ind.loc[group, name]
            bench = values.mean() if settings.benchmark == "mean" else values.median()
            ratio = (values / bench).clip(upper=settings.ratio_cap) if bench > 0 else values * 0
            part += weight * ratio.fillna(0.0)
        # Rank: best first; ties broken by firm id so that grades are reproducible.
        order = part.reset_index().sort_values([0, "firm_id"], ascending=[False, True])
        share = pd.Series((np.arange(len(order)) + 1) / len(order), index=order["firm_id"])
        score[part.index] = part
        rank_share[share.index] = share
        cuts = np.cumsum([settings.class_shares[k] for k in "ABCD"])
        klass[share.index] = np.array(list("ABCD"))[np.searchsorted(cuts, share.to_numpy() - 1e-12)]
    out = ind.copy()
    out["score"] = score
    out["rank_share"] = rank_share
    out["class"] = klass
    out["not_graded_because"] = why
    return out
