"""Which reuse sites a project may be placed on.

A pair (project, site) is suitable when all of these hold:
- the site is in the project's district (unless ``placement.cross_district``);
- the site's park leads the project's sector (unless ``placement.any_sector``, or the park
  names no leading sectors);
- a chemical project goes to a chemical park only;
- the project's investment intensity reaches the floor of the site's zone level;
- the project's land fits the site's area;
- the site is available by the project's last possible start year;
- the site lies within ``placement.max_distance_km`` of the project (when both are set).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyproj import Transformer

from allocator.eligibility import intensity_floor
from models.scenario import Scenario

PAIR_COLUMNS = ["project_id", "site_id", "distance_km"]


def project_xy(projects: pd.DataFrame, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Projected coordinates of the projects' lon/lat (NaN where not given)."""
    tf = Transformer.from_crs("EPSG:4490", crs, always_xy=True)
    x, y = tf.transform(projects["lon"].to_numpy(float), projects["lat"].to_numpy(float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def candidate_pairs(
    projects: pd.DataFrame,
    land_mu: pd.Series,
    last_year: pd.Series,
    sites: pd.DataFrame,
    sc: Scenario,
) -> pd.DataFrame:
    """Every suitable (project, site) pair of the given projects."""
    if projects.empty or sites.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    rules = sc.land.placement
    x, y = project_xy(projects, sc.land.crs)
    left = pd.DataFrame({
        "project_id": projects.index, "district": projects["district"].to_numpy(),
        "sector": projects["sector"].to_numpy(), "land": land_mu.reindex(projects.index).to_numpy(),
        "intensity": np.where(projects["kind"] == "infrastructure", np.inf,  # not industrial
                              projects["investment_wan_cny"] / projects["land_mu"]),
        "last_year": last_year.reindex(projects.index).to_numpy(), "px": x, "py": y,
    })  # fmt: skip
    right = sites[["site_id", "district", "zone_level", "leading_sectors", "chemical_park", "area_mu",
                   "available_year", "x", "y"]]  # fmt: skip
    on = {"how": "cross"} if rules.cross_district else {"on": "district"}
    pairs = left.merge(right, suffixes=("", "_site"), **on)
    led = {(s, sector) for s, names in zip(right["site_id"], right["leading_sectors"], strict=True)
           for sector in names.split(";")}  # fmt: skip
    leads = pd.Series([not names or (s, sector) in led for s, sector, names in
                       zip(pairs["site_id"], pairs["sector"], pairs["leading_sectors"], strict=True)],
                      index=pairs.index, dtype=bool)  # fmt: skip
    chemical = (
        pairs["sector"]
        .map({k: s.chemical for k, s in sc.sectors.items()})
        .fillna(False)
        .astype(bool)
    )
    floor = intensity_floor(pairs["zone_level"], pairs["sector"], sc.eligibility)
    distance = np.hypot(pairs["px"] - pairs["x"], pairs["py"] - pairs["y"]) / 1000.0
    ok = (
        (leads | rules.any_sector)
        & (~chemical | pairs["chemical_park"].astype(bool))
        & (pairs["intensity"] >= floor)
        & (pairs["land"] <= pairs["area_mu"])
        & (pairs["available_year"] <= pairs["last_year"])
    )
    if rules.max_distance_km is not None:
        ok &= ~(distance > rules.max_distance_km)  # NaN (no location) is not checked
    out = pairs.assign(distance_km=distance.round(3))[ok.to_numpy()]
    return out[PAIR_COLUMNS].reset_index(drop=True)
