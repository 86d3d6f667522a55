"""Tiny hand-written cities for tests: every column given, every number chosen by hand."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import uvicorn
import yaml

from allocator.engine import Options, Run, land_scan, solve
from allocator.inputs import Inputs, Tables, check_inputs, validated
from allocator.land.scan import LandScan
from allocator.prepare import Prepared, prepare
from allocator.sample import PROJECT_TEMPLATE as PROJECT
from allocator.sources import read_inputs

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


SUPPLY_COLUMNS = ["resource", "year", "scope", "amount", "price_wan_cny_per_unit", "purchase_cap"]


def _document(scenario: dict[str, Any] | None, parks: bool, firms: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "tiny",
        "data": {
            "projects": "projects.csv",
            "supplies": "supplies.csv",
            "firms": "firms.csv" if firms else None,
            "parks": "parks.csv" if parks else None,
        },
        "horizon": {"start": 2027, "end": 2029},
        "resources": RESOURCES,
        "objective": {"bonus_weights": {}},
        "solver": {"time_limit_s": 30, "gap_rel": 1e-9},
    }
    doc.update(scenario or {})
    return doc


def _supplies(supplies: list[tuple[Any, ...]]) -> pd.DataFrame:
    return pd.DataFrame(supplies, columns=SUPPLY_COLUMNS[: len(supplies[0])])


def tiny(
    projects: list[dict[str, Any]],
    supplies: list[tuple[Any, ...]],
    scenario: dict[str, Any] | None = None,
    parks: list[dict[str, Any]] | None = None,
    firms: list[dict[str, Any]] | None = None,
) -> Inputs:
    """A tiny city built in memory (no files): the checked inputs of its scenario."""
    labels = {"scenario": "scenario.yaml", "projects": "projects.csv",
              "supplies": "supplies.csv", "parks": "parks.csv", "firms": "firms.csv"}  # fmt: skip
    tables = Tables(projects=pd.DataFrame(projects), supplies=_supplies(supplies),
                    parks=pd.DataFrame(parks) if parks is not None else None,
                    firms=pd.DataFrame(firms) if firms is not None else None, labels=labels)  # fmt: skip
    doc = _document(scenario, parks is not None, firms is not None)
    return check_inputs(validated(doc, "scenario.yaml"), tables)


def write_case(
    folder: Path,
    projects: list[dict[str, Any]],
    supplies: list[tuple[Any, ...]],
    scenario: dict[str, Any] | None = None,
    parks: list[dict[str, Any]] | None = None,
    firms: list[dict[str, Any]] | None = None,
) -> Path:
    """Write a tiny city and its scenario as files; return the scenario path."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(projects).to_csv(folder / "projects.csv", index=False)
    _supplies(supplies).to_csv(folder / "supplies.csv", index=False)
    for name, rows in (("parks", parks), ("firms", firms)):
        if rows is not None:
            pd.DataFrame(rows).to_csv(folder / f"{name}.csv", index=False)
    path = folder / "scenario.yaml"
    doc = _document(scenario, parks is not None, firms is not None)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def case() -> Callable[..., Inputs]:
    """A tiny city in memory (see ``tiny``)."""
    return tiny


@pytest.fixture
def case_file(tmp_path: Path) -> Callable[..., Path]:
    """A tiny city as files (for the command line and the readers)."""

    def make(*args: Any, **kw: Any) -> Path:
        return write_case(tmp_path / "case", *args, **kw)

    return make


def prepared(inputs: Inputs | Path) -> Prepared:
    """The prepared tables of inputs in memory (or of a scenario file), without land."""
    return prepare(read_inputs(inputs) if isinstance(inputs, Path) else inputs)


def solved(inputs: Inputs | Path, **options: Any) -> Run:
    """A run of inputs in memory (or of a scenario file), land scans cached per session."""
    if isinstance(inputs, Path):
        inputs = read_inputs(inputs)
    return solve(inputs, Options(cache=Path(os.environ["ALLOCATOR_CACHE"]), **options))


def scanned(path: Path) -> tuple[Inputs, LandScan]:
    """A scenario file's inputs and its land scan (cached per session)."""
    inputs = read_inputs(path)
    return inputs, land_scan(inputs, Options(cache=Path(os.environ["ALLOCATOR_CACHE"])))


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


TIERS = ("solver", "browser", "database", "slow")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test in none of the other tiers is ``fast`` (``make test-fast`` runs those)."""
    for item in items:
        if not any(item.get_closest_marker(tier) for tier in TIERS):
            item.add_marker(pytest.mark.fast)


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served on a free loopback port; its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
