"""The land scan on tiny hand-drawn layers: areas, findings, grades, clipping, grouping."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import shapely

from allocator.errors import InputError
from allocator.words import label, note
from tests.conftest import project, scanned
from tests.landkit import X0, Y0, H, W, cell, firm, land_scenario, parcel, write_city

SUPPLY = [("land_quota", 2027, "xuecheng", 0), ("energy", 2027, "city", 1e6)]
AS_OF = dt.date(2026, 11, 1)


def days_ago(n: int) -> str:
    return (AS_OF - dt.timedelta(days=n)).isoformat()


def scan(tmp_path, parcels, firms=None, exclusions=None, **changes):
    write_city(tmp_path, parcels, firms, exclusions)
    _, land = scanned(land_scenario(tmp_path, [project()], SUPPLY, **changes))
    return land


def finding(land, pid: str, rule: str):
    rows = land.findings[(land.findings["parcel_id"] == pid) & (land.findings["rule"] == rule)]
    return rows.iloc[0] if len(rows) else None


def test_area_in_mu_from_geometry(tmp_path):
    land = scan(
        tmp_path,
        [parcel("A", cell(0)), parcel("B", shapely.box(X0, Y0 + 1000, X0 + 200, Y0 + 1000 + H))],
    )
    assert land.parcels.set_index("parcel_id")["area_mu"].to_dict() == pytest.approx(
        {"A": 10.0, "B": 20.0}
    )
    assert [w.key for w in land.warnings] == ["B"]  # stated 10 mu, drawn 20
    assert "differs by more than 5%" in land.warnings[0].rule


def test_idle_not_started_thresholds(tmp_path):
    rows = [
        parcel("P364", cell(0), status="not_started", agreed_start_date=days_ago(364), developed_area_share=0),
        parcel("P365", cell(1), status="not_started", agreed_start_date=days_ago(365), developed_area_share=0),
        parcel("P729", cell(2), status="not_started", agreed_start_date=days_ago(729), developed_area_share=0),
        parcel("P730", cell(3), status="not_started", agreed_start_date=days_ago(730), developed_area_share=0),
        parcel("PEXT", cell(4), status="not_started", agreed_start_date=days_ago(800),
               extended_start_date=days_ago(100), developed_area_share=0),
        parcel("PGOV", cell(5), status="not_started", agreed_start_date=days_ago(900),
               government_delay=True, developed_area_share=0),
    ]  # fmt: skip
    rows = [{**r, "transfer_date": "2020-01-01"} for r in rows]
    land = scan(tmp_path, rows)
    p = land.parcels.set_index("parcel_id")
    assert finding(land, "P364", "IDLE_NOT_STARTED") is None
    f = finding(land, "P365", "IDLE_NOT_STARTED")
    # the requirement broken: 365 days since the agreed start, must be under 365
    assert (f["figure"], f["comparator"], f["threshold"], f["unit"]) == (365, "<", 365, "days")
    assert p.at["P365", "fee_wan_cny"] == pytest.approx(40.0)  # 20% of 200 万元
    assert not p.at["P729", "recoverable"] and p.at["P730", "recoverable"]
    assert p.at["P729", "disposal"] == "collect_fee" and p.at["P730", "disposal"] == "recover_free"
    assert label("disposal", p.at["P730", "disposal"], "zh") == "无偿收回"
    assert finding(land, "PEXT", "IDLE_NOT_STARTED") is None  # the extended date counts
    assert finding(land, "PGOV", "IDLE_GOV_CAUSE") is not None
    assert p.at["PGOV", "fee_wan_cny"] == 0 and not p.at["PGOV", "recoverable"]
    assert p.at["PGOV", "disposal"] == "buy_back" and p.at["PGOV", "source"] == "idle_negotiated"


def said(found: pd.Series, lang: str = "en") -> str:
    """The words of a finding's note in ``lang``."""
    return note(found["note"], found["note_figures"], lang)


def test_government_cause_states_the_threshold_of_its_rule(tmp_path):
    halted = {"status": "halted", "transfer_date": "2018-01-01", "agreed_start_date": "2018-06-01",
              "developed_area_share": 0.1, "invested_share": 0.1, "government_delay": True}  # fmt: skip
    rows = [
        parcel("GH", cell(0), **halted, halted_since=days_ago(500)),
        parcel("GN", cell(1), status="not_started", transfer_date="2020-01-01",
               agreed_start_date=days_ago(900), developed_area_share=0, government_delay=True),
    ]  # fmt: skip
    land = scan(tmp_path, rows, land={"idle": {"halted_days": 400, "not_started_days": 300}})
    gh, gn = finding(land, "GH", "IDLE_GOV_CAUSE"), finding(land, "GN", "IDLE_GOV_CAUSE")
    assert (gh["figure"], gh["comparator"], gh["threshold"]) == (500, "<", 400)
    assert said(gh).startswith("halted;") and said(gh, "zh").startswith("停工；")
    assert (gn["figure"], gn["comparator"], gn["threshold"]) == (900, "<", 300)
    assert said(gn).startswith("not started;") and said(gn, "zh").startswith("未动工；")


def test_unsupplied_from_its_approval(tmp_path):
    unsupplied = {"status": "not_started", "transfer_date": None, "agreed_start_date": None,
                  "developed_area_share": 0, "firm_id": None}  # fmt: skip
    rows = [
        parcel("U729", cell(0), **unsupplied, approved_date=days_ago(729)),
        parcel("U730", cell(1), **unsupplied, approved_date=days_ago(730)),
        parcel("UNONE", cell(2), **unsupplied, approved_date=None),
    ]
    land = scan(tmp_path, rows)
    p = land.parcels.set_index("parcel_id")
    assert finding(land, "U729", "UNSUPPLIED") is None and p.at["U729", "disposal"] == ""
    f = finding(land, "U730", "UNSUPPLIED")
    assert (f["figure"], f["unit"], f["comparator"], f["threshold"], f["result"]) == (
        730,
        "days",
        "<",
        730,
        "finding",
    )
    assert days_ago(730) in said(f) and days_ago(730) in said(f, "zh")
    assert p.at["U730", "disposal"] == "supply" and p.at["U730", "source"] == "unsupplied"
    none = finding(land, "UNONE", "UNSUPPLIED")  # no approval date: not checked, not passed
    assert none["result"] == "not_checked" and "no approved_date" in said(none)
    assert p.at["UNONE", "disposal"] == ""
    later = scan(tmp_path, rows, land={"idle": {"unsupplied_days": 729}})
    assert finding(later, "U729", "UNSUPPLIED")["result"] == "finding"


def test_idle_halted_needs_little_done_and_a_year(tmp_path):
    base = {"status": "halted", "transfer_date": "2018-01-01", "agreed_start_date": "2018-06-01"}
    rows = [
        parcel("H1", cell(0), **base, halted_since=days_ago(365), developed_area_share=0.33, invested_share=0.9),
        parcel("H2", cell(1), **base, halted_since=days_ago(365), developed_area_share=0.34, invested_share=0.25),
        parcel("H3", cell(2), **base, halted_since=days_ago(365), developed_area_share=0.9, invested_share=0.24),
        parcel("H4", cell(3), **base, halted_since=days_ago(364), developed_area_share=0.1, invested_share=0.1),
    ]  # fmt: skip
    land = scan(tmp_path, rows)
    assert finding(land, "H1", "IDLE_HALTED") is not None
    assert finding(land, "H2", "IDLE_HALTED") is None
    assert finding(land, "H3", "IDLE_HALTED") is not None
    assert finding(land, "H4", "IDLE_HALTED") is None
    h1 = finding(land, "H1", "IDLE_HALTED")
    assert "developed 0.330 (< 0.333)" in said(h1)
    assert "已开发面积占比 0.330（< 0.333）" in said(h1, "zh")


def test_low_efficiency_rules(tmp_path):
    firms = [
        firm(f"F{i}", tax_wan_cny=300 + 10 * i, revenue_wan_cny=5000 + 100 * i) for i in range(10)
    ]
    firms += [firm("LOWTAX", tax_wan_cny=149), firm("EDGE", tax_wan_cny=150)]
    rows = [parcel(f"Q{i}", cell(i), firm_id=f"F{i}") for i in range(10)]
    rows += [parcel("LT", cell(0, 1), firm_id="LOWTAX"), parcel("ED", cell(1, 1), firm_id="EDGE"),
             parcel("PR", cell(2, 1), firm_id="F1", floor_area_m2=0.79 * 10 * 666.6667),
             parcel("PR2", cell(3, 1), firm_id="F1", floor_area_m2=0.8 * 10 * 666.6667 + 1),
             parcel("CV", cell(4, 1), firm_id="F1", building_coverage=0.29),
             parcel("CV2", cell(5, 1), firm_id="F1", building_coverage=None)]  # fmt: skip
    land = scan(tmp_path, rows, firms)
    f = finding(land, "LT", "LOW_TAX_PER_MU")
    assert f["figure"] == pytest.approx(14.9) and f["threshold"] == pytest.approx(15.0)
    assert finding(land, "ED", "LOW_TAX_PER_MU") is None
    assert finding(land, "PR", "LOW_PLOT_RATIO")["threshold"] == 0.8  # industry "other"
    assert finding(land, "PR2", "LOW_PLOT_RATIO") is None
    assert finding(land, "CV", "LOW_COVERAGE")["figure"] == 0.29
    assert finding(land, "CV2", "LOW_COVERAGE")["result"] == "not_checked"
    p = land.parcels.set_index("parcel_id")
    assert p.at["LT", "disposal"] == "buy_back" and p.at["LT", "source"] == "low_efficiency"
    assert p.at["PR", "disposal"] == "owner_upgrade" and p.at["PR", "source"] == ""


def test_district_median_raises_the_tax_floor(tmp_path):
    firms = [firm(f"F{i}", tax_wan_cny=1000) for i in range(9)] + [firm("LOW", tax_wan_cny=290)]
    rows = [parcel(f"Q{i}", cell(i), firm_id=f"F{i}") for i in range(9)]
    rows.append(parcel("L", cell(9), firm_id="LOW"))
    land = scan(tmp_path, rows, firms)
    f = finding(land, "L", "LOW_TAX_PER_MU")  # 29 per mu < 30% of the median 100
    assert f["figure"] == pytest.approx(29) and f["threshold"] == pytest.approx(30)


def test_per_mu_grades_by_rank(tmp_path):
    firms = [firm(f"F{i:02d}", tax_wan_cny=100 + 10 * i) for i in range(20)]
    firms.append(firm("SMALL", land_mu=2.0))
    land = scan(tmp_path, [parcel("A", cell(0))], firms)
    classes = land.grades["class"]
    assert classes["SMALL"] == "T" and land.grades.at["SMALL", "not_graded_because"] == "small_land"
    assert label("not_graded", "small_land", "zh") == "用地面积小于评价起点"
    assert classes[[f"F{i:02d}" for i in range(19, 14, -1)]].tolist() == ["A"] * 5  # top 25%
    assert classes["F00"] == "D"  # bottom 5% of 20
    assert (classes == "B").sum() == 9 and (classes == "C").sum() == 5


def test_sites_clip_group_and_cost(tmp_path):
    idle = {"status": "not_started", "transfer_date": "2020-01-01",
            "agreed_start_date": days_ago(800), "developed_area_share": 0.0}  # fmt: skip
    rows = [
        parcel("I1", cell(0), **idle),
        parcel("I2", cell(1), **idle),  # touching
        parcel("I3", cell(5), **idle),  # alone
        parcel("I4", cell(8), **idle),  # half under an exclusion
        parcel("I5", cell(10), **idle),
    ]  # 95% under an exclusion: a sliver
    strip = shapely.box(X0 + 8 * W, Y0 + H / 2, X0 + 9 * W, Y0 + 2 * H)
    sliver = shapely.box(X0 + 10 * W, Y0 + 0.05 * H, X0 + 11 * W, Y0 + 2 * H)
    land = scan(tmp_path, rows, exclusions=[strip, sliver])
    sites = land.sites.set_index("parcel_ids")
    assert sites.at["I1;I2", "area_mu"] == pytest.approx(20.0)
    assert sites.at["I3", "area_mu"] == pytest.approx(10.0)
    assert sites.at["I4", "area_mu"] == pytest.approx(5.0)
    assert "I5" not in sites.index  # 0.5 mu left: under the 3-mu minimum
    assert (sites["source"] == "idle_recoverable").all()
    assert (sites["acquisition_cost_wan_cny"] == 0).all() and (
        sites["available_year"] == 2027
    ).all()
    assert (
        sites.at["I1;I2", "zone_level"] == "provincial" and not sites.at["I1;I2", "chemical_park"]
    )
    assert land.excluded["excluded_mu"].sum() == pytest.approx(5.0 + 9.5)
    p = land.parcels.set_index("parcel_id")
    assert p.at["I1", "site_id"] == p.at["I2", "site_id"] != p.at["I3", "site_id"]
    earned = land.earned_quota.set_index("district")["amount_mu"]
    assert earned["xuecheng"] == pytest.approx(0.5 * 50)  # linkage 0.5 × 5 parcels × 10 mu


def test_bought_back_site_costs_the_land_price(tmp_path):
    firms = [firm(f"F{i}", tax_wan_cny=1000) for i in range(19)] + [firm("D", tax_wan_cny=10)]
    rows = [parcel(f"Q{i}", cell(i, 2), firm_id=f"F{i}") for i in range(19)]
    rows.append(parcel("LOW", cell(0), firm_id="D", land_price_wan_cny=300))
    land = scan(tmp_path, rows, firms)
    site = land.sites.set_index("parcel_ids").loc["LOW"]
    assert site["source"] == "low_efficiency"
    assert site["acquisition_cost_wan_cny"] == pytest.approx(300)
    assert site["available_year"] == 2028  # two years to buy back


BAD = [
    ("empty", {"geometry": shapely.Polygon()}, "geometry", "empty or missing geometry"),
    ("bowtie", {"geometry": shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])},
     "geometry", "invalid geometry"),
    ("two parts", {"geometry": shapely.MultiPolygon([cell(20), cell(22)])}, "geometry", "multi-part"),
    ("outside", {"geometry": shapely.box(600_000, 3_845_000, 600_100, 3_845_100)}, "geometry",
     "outside every district"),
    ("wrong district", {"district": "shizhong"}, "district", "lies in district xuecheng"),
    ("future", {"transfer_date": "2027-01-01", "agreed_start_date": "2027-06-01"}, "transfer_date",
     "after as_of 2026-11-01"),
    ("before transfer", {"agreed_start_date": "2014-01-01"}, "agreed_start_date", "before the transfer date"),
    ("bad date", {"halted_since": "2020-13-45"}, "halted_since", "must be a date"),
    ("bad status", {"status": "sleeping"}, "status", "must be one of"),
    ("approved later", {"approved_date": "2026-12-01", "transfer_date": None, "agreed_start_date": None,
                        "status": "not_started"}, "approved_date", "after as_of 2026-11-01"),
    ("approved after transfer", {"approved_date": "2015-02-01"}, "transfer_date",
     "before the approved date"),
    ("unknown park", {"park": "PK-Z"}, "park", "must be one of: PK-A, PK-B"),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("what", "change", "field", "rule"), BAD, ids=[b[0] for b in BAD])
def test_bad_parcels_are_named(tmp_path, what, change, field, rule):
    good = parcel("OK", cell(0))
    bad = parcel("BAD", cell(3))
    bad.update(change)
    write_city(tmp_path, [good, bad])
    path = land_scenario(tmp_path, [project()], SUPPLY)
    with pytest.raises(InputError) as info:
        scanned(path)
    (problem,) = info.value.problems
    assert problem.key == "BAD" and problem.field == field and problem.row == 3
    assert rule in problem.rule and problem.file == "city.gpkg#parcels"
    # with on_invalid: skip, the scan goes on for the valid parcels
    path = land_scenario(tmp_path, [project()], SUPPLY, land={"on_invalid": "skip"})
    _, land = scanned(path)
    assert land.parcels["parcel_id"].tolist() == ["OK"]
    assert [w.key for w in land.warnings] == ["BAD"]


def test_duplicate_geometry(tmp_path):
    write_city(tmp_path, [parcel("A", cell(0)), parcel("B", cell(0))])
    with pytest.raises(InputError) as info:
        scanned(land_scenario(tmp_path, [project()], SUPPLY))
    assert [str(p) for p in info.value.problems] == [
        "city.gpkg#parcels row 3 (B): field `geometry` same geometry as A"]  # fmt: skip


def test_missing_crs_suggests_the_zone_prefixed_one(tmp_path):
    shifted = shapely.affinity.translate(cell(0), xoff=39_000_000)  # zone 39 prefix
    write_city(tmp_path, [parcel("A", shifted)], crs=None)
    path = land_scenario(tmp_path, [project()], SUPPLY)
    with pytest.raises(InputError) as info:
        scanned(path)
    (problem,) = info.value.problems
    assert "no coordinate reference system" in problem.rule and "EPSG:4527" in problem.rule
    _, land = scanned(
        land_scenario(tmp_path, [project()], SUPPLY, land={"assume_crs": "EPSG:4527"})
    )
    assert land.parcels["area_mu"].iloc[0] == pytest.approx(10.0, rel=1e-3)
    assert land.parcels.crs.to_epsg() == 4548


def test_wrong_crs_is_caught(tmp_path):
    write_city(tmp_path, [parcel("A", cell(0))], crs="EPSG:4490")  # metres declared as degrees
    with pytest.raises(InputError) as info:
        scanned(land_scenario(tmp_path, [project()], SUPPLY))
    assert "do not fit the declared CRS" in info.value.problems[0].rule


def test_missing_layer_and_unreadable_file(tmp_path):
    write_city(tmp_path, [parcel("A", cell(0))])
    path = land_scenario(tmp_path, [project()], SUPPLY, data={"parcels": "city.gpkg#plots"})
    with pytest.raises(InputError) as info:
        scanned(path)
    assert "no layer `plots` in city.gpkg" in info.value.problems[0].rule
    (tmp_path / "broken.gpkg").write_text("not a geopackage")
    path = land_scenario(tmp_path, [project()], SUPPLY, data={"parcels": "broken.gpkg"})
    with pytest.raises(InputError) as info:
        scanned(path)
    assert info.value.problems[0].file == "broken.gpkg"


def test_scan_is_cached_by_input_hash(tmp_path):
    write_city(tmp_path, [parcel("A", cell(0))])
    path = land_scenario(tmp_path, [project()], SUPPLY)
    assert not scanned(path)[1].cached
    assert scanned(path)[1].cached
    write_city(tmp_path, [parcel("A", cell(1))])  # the layer changed: scan again
    assert not scanned(path)[1].cached
    pd.testing.assert_index_equal(scanned(path)[1].parcels.index, pd.RangeIndex(1))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["geojson", "parquet", "shp.zip"])
def test_other_layer_formats_give_the_same_scan(tmp_path, fmt):
    import geopandas as gpd

    rows = [parcel("A", cell(0)), parcel("B", cell(1), status="not_started", developed_area_share=0,
                                              agreed_start_date=days_ago(800))]  # fmt: skip
    write_city(tmp_path, rows)
    reference = scanned(land_scenario(tmp_path, [project()], SUPPLY))[1].findings
    layer = gpd.read_file(tmp_path / "city.gpkg", layer="parcels")
    if fmt == "parquet":
        layer.to_parquet(tmp_path / "parcels.parquet")
        name = "parcels.parquet"
    elif fmt == "geojson":
        layer.to_crs("EPSG:4490").to_file(tmp_path / "parcels.geojson", driver="GeoJSON")
        name = "parcels.geojson"
    else:
        layer.to_file(tmp_path / "parcels.shp", driver="ESRI Shapefile")
        import zipfile

        with zipfile.ZipFile(tmp_path / "parcels.zip", "w") as z:
            for part in tmp_path.glob("parcels.*"):
                if part.suffix != ".zip":
                    z.write(part, part.name)
        name = "parcels.zip"
    path = land_scenario(tmp_path, [project()], SUPPLY, data={"parcels": name})
    found = scanned(path)[1].findings
    pd.testing.assert_frame_equal(found, reference, check_exact=False, rtol=1e-6)


def test_output_per_mu_and_coverage_at_their_thresholds(tmp_path):
    firms = [firm(f"F{i}", revenue_wan_cny=10_000) for i in range(9)]
    firms += [firm("LOWREV", revenue_wan_cny=2_999), firm("EDGEREV", revenue_wan_cny=3_000)]
    rows = [parcel(f"Q{i}", cell(i), firm_id=f"F{i}") for i in range(9)]
    rows += [parcel("LR", cell(0, 1), firm_id="LOWREV"), parcel("ER", cell(1, 1), firm_id="EDGEREV"),
             parcel("C30", cell(2, 1), firm_id="F1", building_coverage=0.30)]  # fmt: skip
    land = scan(tmp_path, rows, firms)
    f = finding(land, "LR", "LOW_OUTPUT_PER_MU")  # 299.9 per mu < 30% of the median 1,000
    assert f["figure"] == pytest.approx(299.9) and f["threshold"] == pytest.approx(300)
    assert finding(land, "ER", "LOW_OUTPUT_PER_MU") is None
    assert finding(land, "C30", "LOW_COVERAGE") is None
    assert land.parcels.set_index("parcel_id").at["LR", "disposal"] == "owner_upgrade"


def test_class_d_parcels_and_projects(tmp_path):
    firms = [firm(f"F{i:02d}", tax_wan_cny=200 + 10 * i) for i in range(20)]
    rows = [parcel(f"Q{i:02d}", cell(i % 10, i // 10), firm_id=f"F{i:02d}") for i in range(20)]
    write_city(tmp_path, rows, firms)
    upgrade = project(project_id="UP-D", kind="tech_upgrade", land_mu=0, firm_id="F00",
                      existing_parcel_id="Q00")  # fmt: skip
    fine = project(project_id="UP-A", kind="tech_upgrade", land_mu=0, firm_id="F19",
                   existing_parcel_id="Q19")  # fmt: skip
    inputs, land = scanned(land_scenario(tmp_path, [upgrade, fine], SUPPLY))
    assert finding(land, "Q00", "CLASS_D")["figure"] == 1.0  # last of 20
    assert finding(land, "Q01", "CLASS_D") is None
    from allocator.prepare import prepare

    prep = prepare(inputs, land)
    assert prep.eligibility.reason["UP-D"] == "INELIGIBLE_FIRM_CLASS_D"
    assert prep.eligibility.reason["UP-A"] == ""
    assert prep.benefit["UP-A"] == pytest.approx(8000 * 1.05)  # class A bonus 5%


def test_findings_layer_carries_the_figures_firm_and_land_user(tmp_path):
    """A bureau acts on the findings layer alone: rule, figure, unit, requirement, firm and
    land user on every feature, the same as findings.csv."""
    from allocator.writers.reuse import reuse_layers

    firms = [firm(f"F{i}", tax_wan_cny=300 + 10 * i) for i in range(10)]
    firms.append(firm("LOWTAX", name="低税企业", tax_wan_cny=149))
    rows = [parcel(f"Q{i}", cell(i), firm_id=f"F{i}") for i in range(10)]
    rows.append(parcel("LT", cell(0, 1), firm_id="LOWTAX", floor_area_m2=1000.0))
    land = scan(tmp_path, rows, firms)
    layer = reuse_layers(land, "2026-11-01", "zh")["findings"].set_index(["parcel_id", "rule"])
    assert set(layer.index) == {
        ("LT", "LOW_TAX_PER_MU"),
        ("LT", "LOW_PLOT_RATIO"),
        ("LT", "CLASS_D"),
    }
    tax = layer.loc[("LT", "LOW_TAX_PER_MU")]
    assert (tax["firm_id"], tax["land_user"], tax["unit"], tax["comparator"]) == (
        "LOWTAX",
        "低税企业",
        "wan_cny_per_mu",
        ">=",
    )
    assert tax["figure"] == pytest.approx(14.9) and tax["threshold"] == pytest.approx(15.0)
    assert tax["disposal"] == "buy_back" and tax["area_mu"] == pytest.approx(10.0)
    assert layer.loc[("LT", "LOW_PLOT_RATIO"), "geometry"].equals(cell(0, 1))


def test_every_finding_of_the_sample_breaks_its_stated_requirement(sample_scenario, tmp_path):
    """One sense for every rule: the figure must be ``comparator threshold`` and is not."""
    import operator

    scenario = sample_scenario(tmp_path)
    found = scanned(scenario)[1].findings
    found = found[found["result"] == "finding"]
    holds = {"<": operator.lt, "<=": operator.le, ">=": operator.ge}
    broken = [not holds[c](f, t) for f, t, c in
              zip(found["figure"], found["threshold"], found["comparator"], strict=True)]  # fmt: skip
    assert all(broken) and len(found) > 5000
    assert set(found["rule"]) >= {"IDLE_NOT_STARTED", "IDLE_HALTED", "IDLE_GOV_CAUSE",
                                  "UNSUPPLIED", "LOW_TAX_PER_MU", "LOW_PLOT_RATIO", "CLASS_D"}  # fmt: skip
    assert found[["figure", "threshold"]].notna().all().all() and (found["unit"] != "").all()
