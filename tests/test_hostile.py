"""Hostile and unlucky input on the command line (issue 24): output folders that are not
ours, names that are paths, non-finite numbers, cells that Excel would run as formulas."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from allocator.cli import app
from allocator.writers.files import read_table
from tests.conftest import project

ENERGY = [("land_quota", 2027, "xuecheng", 1000), ("energy", 2027, "city", 1000)]


def run(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def with_scenario(path, **changes):
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc.update(changes)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["/tmp/somebody", "../..", "a/b", ".hidden", "x" * 101])
def test_a_scenario_name_that_is_a_path_is_refused(case_file, tmp_path, name, monkeypatch):
    """`name` is the default output folder: a path there deleted or escaped out/ before."""
    monkeypatch.chdir(tmp_path)
    victim = tmp_path / "somebody"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    path = with_scenario(case_file([project()], ENERGY), name=name)
    result = run("solve", path, "--lang", "en")
    assert result.exit_code == 2, result.output
    assert "field `name`" in result.output and "output folder" in result.output
    assert (victim / "keep.txt").read_text() == "mine" and not (tmp_path / "out").exists()


@pytest.mark.solver
def test_an_output_folder_allocator_did_not_write_is_never_replaced(case_file, tmp_path):
    path = case_file([project()], ENERGY)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "report.docx").write_text("a planner's own file")
    result = run("solve", path, "--out", theirs)
    assert result.exit_code == 2
    assert "not a folder allocator wrote" in result.output and str(theirs) in result.output
    assert [p.name for p in theirs.iterdir()] == ["report.docx"]
    ours = tmp_path / "ours"
    for _ in range(2):  # its own result folder is replaced, whole
        assert run("solve", path, "--out", ours).exit_code == 0
    assert (ours / ".allocator").is_file() and (ours / "summary.json").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("solve", path, "--out", empty).exit_code == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"resources": {"energy": {"unit": "tce", "kind": "recurring",
                                   "demand_column": "energy_tce_per_year",
                                   "supply_factor": float("inf")}}},
         "resources.energy.supply_factor"),
        ({"solver": {"seed": 2**70}}, "solver.seed"),
        ({"explain": {"time_limit_s": float("inf")}}, "explain.time_limit_s"),
        ({"eligibility": {"intensity_floor_wan_cny_per_mu": {"national": float("nan")}}},
         "eligibility.intensity_floor_wan_cny_per_mu.national"),
    ],
)  # fmt: skip
def test_non_finite_and_out_of_range_numbers_are_named(case_file, tmp_path, change, field):
    """They passed before: an infinite factor put Infinity into the summary, a NaN floor
    made projects ineligible, a 70-bit seed reached the solver."""
    path = with_scenario(case_file([project()], ENERGY), **change)
    result = run("validate", path, "--lang", "en")
    assert result.exit_code == 2, result.output
    assert f"field `{field}`" in result.output
    assert "finite number" in result.output or "less than or equal to 2147483647" in result.output


@pytest.mark.solver
def test_cells_excel_would_run_are_made_inert(case_file, tmp_path):
    formula = '=HYPERLINK("http://evil.example","click")'
    rows = [project(project_id="P-1", name=formula), project(project_id="P-2", name="+1-2"),
            project(project_id="P-3", name="@SUM(A1)"), project(project_id="P-4", name="-3")]  # fmt: skip
    path = case_file(rows, ENERGY)
    out = tmp_path / "out"
    assert run("solve", path, "--out", out).exit_code == 0
    names = read_table(out / "allocations.csv", str).set_index("project_id")["name"]
    assert names.to_dict() == {
        "P-1": "'" + formula,
        "P-2": "'+1-2",
        "P-3": "'@SUM(A1)",
        "P-4": "'-3",
    }
    assert not any(line.startswith(("=", "+", "@")) or ",=" in line
                   for line in (out / "allocations.csv").read_text(encoding="utf-8-sig").splitlines())  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("what", "layer", "said"),
    [
        ("a table", "projects.csv", "has no geometry: a table where a layer is expected"),
        ("no CRS", None, "no coordinate reference system"),
        ("a bow tie", "bowtie", "invalid geometry"),
        ("outside", "outside", "outside every district"),
    ],
)
def test_validate_refuses_the_layers_solve_refuses(tmp_path, what, layer, said):
    """validate said valid for layers that solve refused (and a CSV as the parcel layer
    crashed solve, exit 1): both now run the same checks and exit 2 with the same words."""
    import shapely

    from tests.landkit import X0, Y0, cell, land_scenario, parcel, write_city

    rows = [parcel("OK", cell(0))]
    if layer == "bowtie":
        bow = shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
        rows.append(parcel("BAD", bow))
    if layer == "outside":
        rows.append(parcel("BAD", shapely.box(600_000, 3_845_000, 600_100, 3_845_100)))
    write_city(tmp_path, rows, crs=None if layer is None else "EPSG:4548")
    changes = {"data": {"parcels": "projects.csv"}} if layer == "projects.csv" else {}
    path = land_scenario(tmp_path, [project()], [("land_quota", 2027, "xuecheng", 0),
                                                 ("energy", 2027, "city", 1e6)], **changes)  # fmt: skip
    checked = run("validate", path, "--lang", "en")
    solved = run("solve", path, "--out", tmp_path / "out", "--lang", "en")
    assert checked.exit_code == solved.exit_code == 2, (checked.output, solved.output)
    assert said in checked.output and said in solved.output
    assert checked.output.strip().splitlines()[-1] == solved.output.strip().splitlines()[-1]
    assert not (tmp_path / "out").exists()
