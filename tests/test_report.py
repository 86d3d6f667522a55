"""The HTML report: figures against the result files, and in a real headless Chromium.

The browser tests need /usr/bin/chromium and fonts-noto-cjk (``make system-deps``); without
them they skip with the reason, except under ALLOCATOR_REQUIRE_ALL=1 (CI), where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyogrio
import pytest
from typer.testing import CliRunner

from allocator.cli import app
from allocator.words import WORDS
from allocator.writers.files import read_table
from tests.conftest import missing, serving
from tests.test_api import Service, bundle, settings_for

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "out" / "test-artifacts"


def needs_browser() -> None:
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (make system-deps installs chromium)"
    elif shutil.which("fc-list") is None or "Noto Sans CJK" not in os.popen("fc-list").read():
        reason = "fonts-noto-cjk is missing (make system-deps installs it)"
    if reason:
        missing(reason)


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny land city solved twice (P-1 on the site; then P-1 locked out)."""
    root = tmp_path_factory.mktemp("report")
    bundle(root)
    scenario = root / "scenarios" / "tiny.yaml"
    out = {}
    for name, extra in (("base", {}), ("no_p1", {"locked_out": ["P-1"]})):
        path = scenario.with_name(f"{name}.yaml")
        path.write_text(json.dumps({"extends": "tiny.yaml", "name": name, **extra}), "utf-8")
        out[name] = root / "out" / name
        result = CliRunner().invoke(app, ["solve", str(path), "--out", str(out[name])])
        assert result.exit_code == 0, result.output
    base = str(scenario.with_name("base.yaml"))
    for args in (["frontier", base, "--resource", "energy", "--steps", "3",
                  "--out", str(out["base"] / "frontier_energy.csv")],
                 ["alternatives", base, "--count", "2", "--within", "1", "--out", str(out["base"])]):  # fmt: skip
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["report", str(out["base"]), "--compare", str(out["no_p1"])])
    assert result.exit_code == 0, result.output
    return out


def figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="([\w]+)" data-value="([^"]*)"', html))


@pytest.mark.solver
def test_report_is_self_contained_and_its_figures_are_the_result_files(solved):
    html = (solved["base"] / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\ssrc=|<link[^>]*\shref=|@import|url\((?!#)", html)
    summary = json.loads((solved["base"] / "summary.json").read_text(encoding="utf-8"))
    shown = figures(html)
    assert float(shown["value"]) == summary["objective_wan_cny"]
    assert int(shown["approved"]) == summary["projects"]["approved"] == 1
    assert int(shown["rejected"]) == summary["projects"]["rejected"] == 1
    assert float(shown["reused_mu"]) == summary["land"]["reused_mu"] == 15
    assert float(shown["gap"]) == summary["gap"]
    found = re.search(r'id="map-data" type="application/json">(.*?)</script>', html, re.S)
    assert found is not None
    data = json.loads(found[1])
    sites = pyogrio.read_info(solved["base"] / "reuse_list.gpkg", layer="sites")["features"]
    assert len(data["sites"]["features"]) == sites == 1
    assert [f["properties"]["project_id"] for f in data["projects"]["features"]] == ["P-1"]
    coords = data["sites"]["features"][0]["geometry"]["coordinates"]
    while isinstance(coords[0], list):  # Polygon or MultiPolygon: the first vertex
        coords = coords[0]
    x, y = coords
    assert 116.9 < x < 117.0 and 34.7 < y < 34.8  # EPSG:4490, longitude first
    assert html.count('<tr data-status="') == 2
    assert 'class="change-out"' in html and 'class="change-in"' in html  # P-1 out, P-2 in
    english = CliRunner().invoke(app, ["report", str(solved["base"]), "--lang", "en",
                                       "--out", str(solved["base"] / "en.html")])  # fmt: skip
    assert english.exit_code == 0 and "Approved projects" in (solved["base"] / "en.html").read_text("utf-8")  # fmt: skip
    bad = CliRunner().invoke(app, ["report", str(solved["base"]), "--lang", "fr"])
    assert bad.exit_code == 2 and "'fr'" in bad.output and "zh, en" in bad.output
    assert '<script id="tiles" type="application/json">null</script>' in html  # offline only
    url = "https://tiles.example/{z}/{x}/{y}.png"
    online = CliRunner().invoke(app, ["report", str(solved["base"]), "--tiles", url,
                                      "--out", str(solved["base"] / "tiles.html")])  # fmt: skip
    assert online.exit_code == 0 and json.dumps(url) in (solved["base"] / "tiles.html").read_text("utf-8")  # fmt: skip
    path = CliRunner().invoke(app, ["report", str(solved["base"]), "--tiles", "/etc/tiles"])
    assert path.exit_code == 2 and "--tiles was '/etc/tiles'" in path.output


REPORT_READY = "window.__report && window.__report.mapReady"


def open_page(browser: Any, url: str, headers: dict[str, str] | None = None,
              ready: str = REPORT_READY) -> tuple[Any, list[str], list[str]]:  # fmt: skip
    """A page at ``url`` with every request to another origin blocked, once ``ready`` holds;
    (page, errors, blocked)."""
    context = browser.new_context(viewport={"width": 1300, "height": 900},
                                  extra_http_headers=headers or {})  # fmt: skip
    origin = "/".join(url.split("/")[:3]) if url.startswith("http") else "file:"
    errors: list[str] = []
    blocked: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(origin):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function(ready, timeout=30_000)
    return page, errors, blocked


CJK_DRAWN = """() => {
  // the same text drawn twice: in the page's font, and as a glyph no font has (a box)
  const draw = (text) => {
    const c = document.createElement('canvas'); c.width = 80; c.height = 40;
    const g = c.getContext('2d'); g.font = '28px ' + getComputedStyle(document.body).fontFamily;
    g.fillText(text, 4, 30); return Array.from(g.getImageData(0, 0, 80, 40).data).join(',');
  };
  return {zh: draw('区县'), box: draw('\\u{10FFFD}\\u{10FFFD}')};
}"""


MAP_COLOURS = """() => {
  const out = new Set();
  for (const key of ['findings', 'sites']) {
    const layer = window.__report.layers[key];
    if (layer) layer.eachLayer(l => out.add(l.options.color));
  }
  return Array.from(out);
}"""


def check_page(page: Any, errors: list[str], blocked: list[str], summary: dict[str, Any], name: str) -> None:  # fmt: skip
    assert page.evaluate("document.querySelectorAll('.leaflet-pane canvas, .leaflet-pane svg').length") > 0  # fmt: skip
    assert page.evaluate("window.__report.layers.sites.getLayers().length") == 1
    assert page.evaluate("window.__report.layers.projects.getLayers().length") == 1
    assert page.locator("#projects tbody tr").count() == 2
    shown = {e["key"]: e["value"] for e in page.evaluate(
        "Array.from(document.querySelectorAll('[data-figure]')).map(e => ({key: e.dataset.figure, value: e.dataset.value}))")}  # fmt: skip
    assert float(shown["value"]) == summary["objective_wan_cny"]
    assert int(shown["approved"]) == summary["projects"]["approved"]
    page.fill("#filter", "P-2")
    assert page.inner_text("#shown-count") == "1"
    page.fill("#filter", "")
    page.select_option("#status-filter", "approved")
    assert page.inner_text("#shown-count") == "1"
    if page.evaluate("document.documentElement.lang") == "zh":  # no code where a label exists
        kinds = ("status", "reason", "district", "sector", "kind", "resource", "run", "change",
                 "source", "disposal", "land_source", "scope", "result", "rule", "unit")  # fmt: skip
        codes = {k.split(".", 1)[1] for k in WORDS if k.split(".")[0] in kinds}
        shown = set(re.findall(r"[A-Za-z_]+", page.inner_text("body")))
        assert not shown & (codes - {"t", "mu", "tce"}), shown & codes  # units are words too
    row = page.locator("#projects tbody tr:not([hidden])").first
    row.click()  # the project's explanation, on click
    said = row.locator("td").last.get_attribute("title")
    assert said and said in page.inner_text("#explanation")
    drawn = page.evaluate(CJK_DRAWN)
    assert drawn["zh"] != drawn["box"], "Chinese labels are drawn as boxes: no CJK font"
    # district names on the map; a legend entry for every colour a feature is drawn in
    names = page.evaluate("Array.from(document.querySelectorAll('.district-name')).map(e => e.textContent)")  # fmt: skip
    assert {"薛城区", "Xuecheng"} & set(names), names  # in the page's language
    used = page.evaluate(MAP_COLOURS)
    keyed = page.evaluate("Array.from(document.querySelectorAll('.legend [data-colour]')).map(e => e.dataset.colour)")  # fmt: skip
    assert used and set(used) == set(keyed), (used, keyed)
    assert errors == [] and blocked == [], (errors, blocked)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    needs_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.mark.browser
@pytest.mark.solver
def test_report_from_disk_in_chromium_with_the_network_blocked(solved, browser):
    summary = json.loads((solved["base"] / "summary.json").read_text(encoding="utf-8"))
    page, errors, blocked = open_page(browser, (solved["base"] / "report.html").as_uri())
    check_page(page, errors, blocked, summary, "report-from-disk")
    assert page.locator("#compare tr.change-in").count() == 1


@pytest.mark.browser
@pytest.mark.solver
def test_report_from_the_api_in_chromium(tmp_path, browser):
    root = tmp_path / "bundle"
    bundle(root)
    svc = Service(settings_for(tmp_path, root, run_worker=True))
    with serving(svc.app) as base:
        sid = svc.submit({"base": "tiny"}).json()["id"]
        job = svc.wait(sid)
        assert job["status"] == "done"
        url = f"{base}/v1/scenarios/{sid}/report"
        page, errors, blocked = open_page(browser, url, svc.h("viewer"))
        check_page(page, errors, blocked, job["summary"], "report-from-api")
        english = svc.client.get(f"/v1/scenarios/{sid}/report?lang=en", headers=svc.h("viewer"))
        assert english.status_code == 200 and "Approved projects" in english.text
        assert svc.client.get(f"/v1/scenarios/{sid}/report").status_code == 401


@pytest.mark.browser
def test_api_docs_work_with_no_internet(tmp_path, browser):
    """/docs (Swagger UI) and /redoc draw every operation from the service's own files, with
    every request to another host refused."""
    root = tmp_path / "bundle"
    bundle(root)
    svc = Service(settings_for(tmp_path, root))
    operations = sum(len(v) for v in svc.app.openapi()["paths"].values())
    with serving(svc.app) as base:
        page, errors, blocked = open_page(browser, f"{base}/docs", ready="document.querySelectorAll('.opblock').length > 0")  # fmt: skip
        assert page.locator(".opblock").count() == operations
        assert page.get_by_text("Submit a scenario to be solved").first.is_visible()
        assert errors == [] and blocked == [], (errors, blocked)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
        page, errors, blocked = open_page(browser, f"{base}/redoc", ready="document.querySelectorAll('[data-section-id]').length > 10")  # fmt: skip
        assert page.locator("h2", has_text="Submit a scenario to be solved").is_visible()
        assert errors == [] and blocked == [], (errors, blocked)
        page.screenshot(path=str(ARTIFACTS / "api-redoc.png"))


@pytest.mark.solver
def test_tables_and_plots_match_the_result_files(solved):
    html = (solved["base"] / "report.html").read_text(encoding="utf-8")
    alloc = read_table(solved["base"] / "allocations.csv")
    for row in alloc.itertuples():
        cell = re.search(rf'id="row-{row.project_id}".*?data-value="([^"]*)"', html, re.S)
        assert cell is not None and float(cell[1]) == row.value_wan_cny
    by_district = re.search(r'id="by-district".*?</table>', html, re.S)
    assert by_district is not None
    approved = alloc[alloc["status"] == "approved"].groupby("district_label").size()
    shown = dict(
        re.findall(r"<td>(\w+)</td><td class=\"num\" data-value=\"(\d+)\"", by_district[0])
    )
    assert {k: int(v) for k, v in shown.items()} == approved.to_dict()
    resources = read_table(solved["base"] / "resources.csv")
    table = re.search(r'id="resource-table".*?</table>', html, re.S)
    assert table is not None
    values = [float(v) for v in re.findall(r'data-value="([^"]*)"', table[0])]
    assert values == resources[["supply", "purchased", "used"]].to_numpy().ravel().tolist()
    frontier = read_table(solved["base"] / "frontier_energy.csv")
    assert len(frontier) == 3 and html.count("<figure") == 4  # 2 resources, frontier, frequency
    assert "<figcaption>价值与供给的前沿: 能耗指标</figcaption>" in html
    assert "<figcaption>备选方案中的入选频率</figcaption>" in html
    again = CliRunner().invoke(app, ["report", str(solved["base"]), "--compare", str(solved["no_p1"]),
                                     "--out", str(solved["base"] / "again.html")])  # fmt: skip
    assert (
        again.exit_code == 0 and (solved["base"] / "again.html").read_text("utf-8") == html
    )  # no clock


def check_what_binds(resources: Any) -> None:
    """Every line of "what binds" is a full supply row of resources.csv with its LP dual, and
    every resource with such rows has its four most valuable ones (or all) named (run on the
    sample by tests/test_cli.py)."""
    from allocator.report import what_binds

    lines = what_binds(resources, "en")
    full = resources[(resources["slack"] <= 1e-6) & (resources["dual_lp_wan_cny_per_unit"] > 0)]
    assert lines and len(lines) == sum(min(4, n) for n in full.groupby("resource").size())
    by_row = {(r.resource_label, str(r.year), r.scope_label): r for r in resources.itertuples()}
    named = set()
    for line in lines:
        head, value = re.fullmatch(r"(.+): full; one more .+ is worth ([\d,.]+) 万元 \(LP dual\)", line).groups()  # type: ignore[union-attr]  # fmt: skip
        name, year, scope = re.fullmatch(r"(.+) (\d{4}) (.+)", head).groups()  # type: ignore[union-attr]
        row = by_row[(name, year, scope)]
        named.add(row.resource)
        assert row.slack <= 1e-6 and float(value.replace(",", "")) == pytest.approx(row.dual_lp_wan_cny_per_unit, abs=0.005)  # fmt: skip
    assert named == set(full["resource"])  # each resource with a full, priced row is named


STALE_CACHE = """
import glob, json, sys
from matplotlib import font_manager
path = glob.glob(sys.argv[1] + "/fontlist*.json")[0]
cache = json.load(open(path))
cache["ttflist"] = [f for f in cache["ttflist"] if "CJK" not in f["name"]]
json.dump(cache, open(path, "w"))
"""


@pytest.mark.browser  # needs fonts-noto-cjk
@pytest.mark.solver
def test_a_font_cache_older_than_the_cjk_fonts_gives_no_warning_flood(solved, tmp_path):
    """matplotlib's font cache built before fonts-noto-cjk was installed: the report finds
    the fonts anyway and prints nothing (it printed about 2,400 warnings)."""
    import subprocess
    import sys

    needs_browser()
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl")}
    subprocess.run([sys.executable, "-c", STALE_CACHE, env["MPLCONFIGDIR"]], env=env, check=True)
    cache = next((tmp_path / "mpl").glob("fontlist*.json")).read_text()
    assert "Noto Sans CJK" not in cache  # stale: built as if before the fonts
    cli = Path(sys.executable).with_name("allocator")
    run = subprocess.run([str(cli), "report", str(solved["base"]), "--out", str(tmp_path / "r.html")],
                         env=env, capture_output=True, text=True, check=True)  # fmt: skip
    assert run.stderr == ""
    assert "font-family: 'Noto Sans CJK SC'" in (tmp_path / "r.html").read_text(encoding="utf-8")


@pytest.mark.solver
def test_without_any_cjk_font_one_line_says_so(solved, tmp_path, monkeypatch, caplog):
    import warnings

    from matplotlib import font_manager

    from allocator.report import fonts, write_report

    system = font_manager.findSystemFonts
    monkeypatch.setattr(font_manager, "findSystemFonts",
                        lambda *a, **k: [p for p in system(*a, **k) if "CJK" not in p])  # fmt: skip
    kept = font_manager.fontManager.ttflist
    monkeypatch.setattr(
        font_manager.fontManager, "ttflist", [f for f in kept if "CJK" not in f.name]
    )
    fonts.families.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            write_report(solved["base"], "zh", None, tmp_path / "r.html")
        assert fonts.families() == ("DejaVu Sans",)
    finally:
        fonts.families.cache_clear()
    assert [w for w in caught if "Glyph" in str(w.message)] == []
    said = [r.getMessage() for r in caplog.records if r.name == "allocator.report.fonts"]
    assert len(said) == 1 and "no CJK font found" in said[0]
    assert "font-family: 'DejaVu Sans'" in (tmp_path / "r.html").read_text(encoding="utf-8")
