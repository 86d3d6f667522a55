"""Tiny hand-written cities for tests: every column given, every number chosen by hand."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from allocator.inputs import load_inputs
from allocator.prepare import Prepared, prepare
from allocator.sample import PROJECT_TEMPLATE as PROJECT

RESOURCES: dict[str, Any] = {
    "land_quota": {
        "unit": "mu",
        "kind": "one_off",
        "scope": "district",
        "demand_column": "land_mu",
        "new_land": True,
        "carry_over": True,
    },
    "energy": {
        "unit": "tce",
        "kind": "recurring",
        "scope": "city",
        "demand_column": "energy_tce_per_year",
        "deduct_column": "feedstock_energy_tce_per_year",
        "must_buy_intensity_max": 0.6,
        "purchase": {"price_wan_cny_per_unit": 0.05, "cap_per_year": 1000},
    },
}


def missing(reason: str) -> None:
    """A system dependency is missing: skip with the reason, or fail under
    ALLOCATOR_REQUIRE_ALL=1 (CI), where nothing may be skipped."""
    if os.environ.get("ALLOCATOR_REQUIRE_ALL") == "1":
        pytest.fail(f"ALLOCATOR_REQUIRE_ALL=1 but {reason}")
    pytest.skip(reason)


def project(**changes: Any) -> dict[str, Any]:
    return {**PROJECT, **changes}


def write_case(
    folder: Path,
    projects: list[dict[str, Any]],
    supplies: list[tuple[Any, ...]],
    scenario: dict[str, Any] | None = None,
    parks: list[dict[str, Any]] | None = None,
) -> Path:
    """Write a tiny city and its scenario; return the scenario path."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(projects).to_csv(folder / "projects.csv", index=False)
    pd.DataFrame(
        supplies,
        columns=["resource", "year", "scope", "amount", "price_wan_cny_per_unit", "purchase_cap"][
            : len(supplies[0])
        ],
    ).to_csv(folder / "supplies.csv", index=False)
    doc: dict[str, Any] = {
        "name": "tiny",
        "data": {
            "projects": "projects.csv",
            "supplies": "supplies.csv",
            "firms": None,
            "parks": None,
        },
        "horizon": {"start": 2027, "end": 2029},
        "resources": RESOURCES,
        "objective": {"bonus_weights": {}},
        "solver": {"time_limit_s": 30, "gap_rel": 1e-9},
    }
    if parks is not None:
        pd.DataFrame(parks).to_csv(folder / "parks.csv", index=False)
        doc["data"]["parks"] = "parks.csv"
    doc.update(scenario or {})
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def case(tmp_path: Path) -> Callable[..., Path]:
    def make(*args: Any, **kw: Any) -> Path:
        return write_case(tmp_path / "case", *args, **kw)

    return make


def prepared(path: Path) -> Prepared:
    return prepare(load_inputs(path))


@pytest.fixture(scope="session", autouse=True)
def land_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Land scans are cached in a folder of the test session, not the working tree."""
    folder = tmp_path_factory.mktemp("cache")
    os.environ["ALLOCATOR_CACHE"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full sample city, generated once per test session."""
    from allocator.sample import generate

    return generate(tmp_path_factory.mktemp("sample") / "sample")


@pytest.fixture(scope="session")
def sample_scenario(sample_dir: Path) -> Callable[..., Path]:
    """The baseline scenario pointed at the session's sample, with changes."""
    root = Path(__file__).resolve().parents[1]

    def make(folder: Path, **changes: Any) -> Path:
        doc = yaml.safe_load((root / "scenarios" / "baseline.yaml").read_text(encoding="utf-8"))
        text = yaml.safe_dump(doc["data"]).replace("../data/sample", str(sample_dir))
        doc["data"] = yaml.safe_load(text)
        for key, value in changes.items():
            doc[key] = {**doc[key], **value} if isinstance(value, dict) and key in doc else value
        path = folder / "scenario.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        return path

    return make
