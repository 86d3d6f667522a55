"""One self-contained HTML report of a result folder (``allocator report RESULT_DIR``).

Everything the page needs is inside it: Leaflet (vendored here, BSD-2-Clause), the map
layers as GeoJSON in EPSG:4490 longitude/latitude, the charts as inline SVG (matplotlib,
text left as text so that the browser's CJK fonts draw it), the tables and a few lines of
script for sorting and filtering. It opens from the file system with no server and no
network. Every figure shown is read from the result files; the headline figures carry
``data-figure``/``data-value`` attributes with the unrounded number, so tests (and people)
can check them against ``summary.json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import jinja2
import pandas as pd

from allocator.compare import compare, load_result, result_lang
from allocator.report.charts import frequency_chart, frontier_chart, resource_charts
from allocator.words import LANGS, WORDS, header, label, word
from allocator.writers.files import read_table, relabelled, write_text_atomic

HERE = Path(__file__).parent
CRS_MAP = "EPSG:4490"

LABELS: dict[str, dict[str, str]] = {
    "title": {"zh": "要素配置结果", "en": "Allocation result"},
    "status": {"zh": "求解状态", "en": "Solve status"},
    "gap": {"zh": "最优性间隙", "en": "Optimality gap"},
    "value": {"zh": "配置总价值(万元)", "en": "Value (万元, wan CNY)"},
    "approved": {"zh": "批准项目", "en": "Approved projects"},
    "rejected": {"zh": "未入选项目", "en": "Rejected projects"},
    "ineligible": {"zh": "不符合条件", "en": "Ineligible projects"},
    "reused_mu": {"zh": "盘活存量用地(亩)", "en": "Reused land (mu)"},
    "new_quota_mu": {"zh": "新增建设用地指标(亩)", "en": "New land quota (mu)"},
    "projects_on_sites": {"zh": "落位再利用地块的项目", "en": "Projects on reuse sites"},
    "purchase_cost": {"zh": "指标购买费用(万元)", "en": "Quota purchases (万元)"},
    "by_district": {"zh": "按区县批准项目", "en": "Approved by district"},
    "by_sector": {"zh": "按行业批准项目", "en": "Approved by sector"},
    "district": {"zh": "区县", "en": "District"},
    "sector": {"zh": "行业", "en": "Sector"},
    "count": {"zh": "项目数", "en": "Projects"},
    "resources": {"zh": "资源要素(逐年)", "en": "Resources per year"},
    "resource": {"zh": "要素", "en": "Resource"},
    "year": {"zh": "年份", "en": "Year"},
    "scope": {"zh": "范围", "en": "Scope"},
    "supply": {"zh": "供给", "en": "Supply"},
    "used": {"zh": "使用", "en": "Used"},
    "purchased": {"zh": "购买", "en": "Purchased"},
    "marginal": {"zh": "边际价值(万元/单位,LP)", "en": "Marginal value (万元/unit, LP)"},
    "map": {
        "zh": "地图:区县、园区、再利用地块与批准项目",
        "en": "Map: districts, parks, reuse sites, approved projects",
    },
    "districts": {"zh": "区县", "en": "Districts"},
    "parks": {"zh": "园区", "en": "Parks"},
    "sites": {"zh": "再利用地块", "en": "Reuse sites"},
    "findings": {"zh": "低效闲置宗地", "en": "Flagged parcels"},
    "projects_layer": {"zh": "批准项目", "en": "Approved projects"},
    "projects": {"zh": "项目清单", "en": "Projects"},
    "filter": {
        "zh": "筛选(编号、名称、区县、理由…)",
        "en": "Filter (id, name, district, reason…)",
    },
    "all": {"zh": "全部", "en": "All"},
    "project_id": {"zh": "项目编号", "en": "Project"},
    "name": {"zh": "名称", "en": "Name"},
    "decision": {"zh": "结果", "en": "Decision"},
    "start_year": {"zh": "开工年份", "en": "Start"},
    "value_wan_cny": {"zh": "价值(万元)", "en": "Value (万元)"},
    "site_id": {"zh": "地块", "en": "Site"},
    "reason": {"zh": "理由", "en": "Reason"},
    "compare": {"zh": "方案对比", "en": "Comparison"},
    "change": {"zh": "变化", "en": "Change"},
    "frontier": {"zh": "价值与供给的前沿", "en": "Value versus supply (frontier)"},
    "frequency": {"zh": "备选方案中的入选频率", "en": "Selection frequency across alternatives"},
    "shown": {"zh": "显示", "en": "shown"},
    "area_mu": {"zh": "面积(亩)", "en": "Area (mu)"},
    "source": {"zh": "来源", "en": "Source"},
    "placed": {"zh": "落位项目", "en": "Projects placed"},
    "lang_note": {
        "zh": "金额单位:万元;土地:亩;能耗:吨标准煤;煤炭:吨。",
        "en": "Money in 万元 (10,000 CNY); land in mu; energy in tce; coal in t.",
    },
}
STATUS_WORDS = {
    "approved": {"zh": "批准", "en": "approved"},
    "rejected": {"zh": "未入选", "en": "rejected"},
    "ineligible": {"zh": "不符合条件", "en": "ineligible"},
}


def _labels(lang: str) -> dict[str, str]:
    return {k: v[lang] for k, v in LABELS.items()}


def _geojson(frame: gpd.GeoDataFrame, columns: list[str]) -> dict[str, Any]:
    """Features in EPSG:4490 (longitude, latitude), coordinates to about 1 m."""
    keep = [c for c in columns if c in frame.columns]
    out = gpd.GeoDataFrame(frame[keep], geometry=frame.geometry, crs=frame.crs).to_crs(CRS_MAP)
    return json.loads(out.to_json(drop_id=True, to_wgs84=False, na="null", show_bbox=False,
                                  ensure_ascii=False))  # fmt: skip


def _round_coords(text: str) -> str:
    return re.sub(r"(-?\d+\.\d{6})\d+", r"\1", text)


def _map_layers(folder: Path, alloc: pd.DataFrame, lang: str) -> dict[str, Any] | None:
    """The map's layers as GeoJSON, each code with its label in ``lang`` (popups, legend,
    district names)."""
    gpkg = folder / "reuse_list.gpkg"
    if not gpkg.exists():
        return None
    sites = relabelled(gpd.read_file(gpkg, layer="sites", engine="pyogrio"), lang)
    findings = relabelled(gpd.read_file(gpkg, layer="flagged_parcels", engine="pyogrio"), lang)
    alloc = relabelled(alloc, lang)
    placed = read_table(folder / "placements.csv", {"site_id": str}) \
        if (folder / "placements.csv").exists() else pd.DataFrame(columns=["site_id", "project_id"])  # fmt: skip
    on_site = placed.groupby("site_id")["project_id"].apply(lambda s: ", ".join(s))
    sites["placed"] = sites["site_id"].map(on_site).fillna("")
    layers: dict[str, Any] = {
        "sites": _geojson(sites, ["site_id", "park", "district_label", "source", "source_label",
                                  "area_mu", "available_year", "placed"]),
        "findings": _geojson(findings, ["parcel_id", "district_label", "park", "area_mu",
                                        "finding_codes", "finding_codes_label",
                                        "disposal_label", "site_id"]),
    }  # fmt: skip
    base = folder / "basemap.gpkg"
    parks = None
    if base.exists():
        districts = relabelled(gpd.read_file(base, layer="districts", engine="pyogrio"), lang)
        parks = relabelled(gpd.read_file(base, layer="parks", engine="pyogrio"), lang)
        layers["districts"] = _geojson(districts, ["district", "district_label"])
        layers["parks"] = _geojson(parks, ["park", "district_label", "zone_level_label"])
    # approved projects: on their site, or (new land) at their park's centre
    approved = alloc[alloc["status"] == "approved"].copy()
    centre = sites.set_index("site_id").geometry.representative_point()
    points = approved["site_id"].map(centre)
    if parks is not None and "park" in approved.columns:
        park_centre = parks.set_index("park").geometry.representative_point()
        points = points.fillna(approved["park"].map(park_centre))
    approved = approved[points.notna()]
    if len(approved):
        crs = sites.crs
        frame = gpd.GeoDataFrame(approved, geometry=list(points[points.notna()]), crs=crs)
        layers["projects"] = _geojson(frame, ["project_id", "name", "district", "sector",
                                              "start_year", "value_wan_cny", "site_id",
                                              "land_source", "explanation"])  # fmt: skip
    return layers


def what_binds(resources: pd.DataFrame, lang: str, each: int = 4) -> list[str]:
    """The supply rows that are full and worth something at the margin, in words (the
    figures are those of resources.csv): per resource its ``each`` most valuable rows, the
    most valuable resource first."""
    full = resources[(resources["slack"] <= 1e-6) & (resources["dual_lp_wan_cny_per_unit"] > 0)]
    full = full.sort_values("dual_lp_wan_cny_per_unit", ascending=False)
    full = full.groupby("resource", sort=False).head(each)
    return [word("text.binds", lang, resource=r.resource_label, year=r.year, scope=r.scope_label,
                 unit=r.unit_label, value=f"{r.dual_lp_wan_cny_per_unit:,.2f}")
            for r in full.itertuples()]  # fmt: skip


def _properties(layers: dict[str, Any] | None) -> set[str]:
    """The property names of the map's features (their popups show them in words)."""
    return {k for layer in (layers or {}).values() for f in layer["features"] for k in f["properties"]}  # fmt: skip


def _inline_css(text: str) -> str:
    return re.sub(r"url\(images/[^)]*\)", "none", text)  # no image the page cannot reach


def _headline(summary: dict[str, Any], lang: str) -> list[tuple[str, Any, str]]:
    """(label key, the unrounded figure, the figure as shown) of the headline."""
    land = summary.get("land") or {}
    parts = summary.get("objective_parts") or {}
    gap = summary.get("gap")
    value = summary.get("objective_wan_cny")
    purchases = parts.get("purchase_cost_wan_cny")
    projects = summary["projects"]
    headline = [
        ("status", summary["status"], label("run", summary["status"], lang)),
        ("gap", gap, "–" if gap is None else f"{gap:.4%}"),
        ("value", value, "–" if value is None else f"{value:,.0f}"),
        *[(k, projects.get(k, 0), f"{projects.get(k, 0):,}") for k in STATUS_WORDS],
        ("purchase_cost", purchases, "–" if purchases is None else f"{purchases:,.0f}"),
    ]
    if land:
        headline += [
            (k, land.get(k), f"{land.get(k, 0):,.0f}")
            for k in ("projects_on_sites", "reused_mu", "new_quota_mu")
        ]
    return headline


def _extras(folder: Path, lab: dict[str, str], lang: str) -> dict[str, str]:
    """Charts of what-ifs written into the folder: frontiers, selection frequencies."""
    extras: dict[str, str] = {}
    for path in sorted(folder.glob("frontier_*.csv")):
        resource = path.stem.removeprefix("frontier_")
        extras[f"{lab['frontier']}: {label('resource', resource, lang)}"] = frontier_chart(
            read_table(path), resource, lab, lang
        )
    if (folder / "selection_frequency.csv").exists():
        freq = read_table(folder / "selection_frequency.csv")
        extras[lab["frequency"]] = frequency_chart(freq, lab)
    return extras


def build(
    folder: Path, lang: str | None = None, other: Path | None = None, tiles: str | None = None
) -> str:
    """The report of result folder ``folder`` as one HTML document, in ``lang`` (default:
    the result's language); ``tiles``, an online tile layer URL template
    (``https://…/{z}/{x}/{y}.png``), is added under the offline layers when given (the page
    then loads tiles from that server)."""
    lang = lang or result_lang(folder)
    if lang not in LANGS:
        raise ValueError(f"--lang was {lang!r} but is expected to be one of {', '.join(LANGS)}")
    lab = _labels(lang)
    has_solution = (folder / "allocations.csv").exists()
    if has_solution:
        files = load_result(folder)
        summary, alloc, resources = files["summary"], files["allocations"], files["resources"]
    else:  # infeasible or no solution: the summary (and its diagnosis) only
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        alloc = resources = pd.DataFrame()
    if has_solution:  # labels in the report's language, whatever the files' language
        alloc, resources = relabelled(alloc, lang), relabelled(resources, lang)
        alloc["start_year"] = alloc["start_year"].astype("Int64")  # 2027, not 2027.0
    approved = alloc[alloc["status"] == "approved"] if has_solution else alloc
    headline = _headline(summary, lang)
    by = {}
    for col in ("district", "sector"):
        if has_solution:
            counts = approved.groupby(f"{col}_label").size().sort_values(ascending=False)
            by[col] = [(str(k), int(v)) for k, v in counts.items()]
    extras = _extras(folder, lab, lang)
    diff = None
    if other is not None:
        diff = compare(folder, other)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE), autoescape=True, undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )  # fmt: skip
    layers = _map_layers(folder, alloc, lang) if has_solution else None
    map_json = _round_coords(json.dumps(layers, ensure_ascii=False)).replace("</", "<\\/")
    table_cols = ["project_id", "name", "district_label", "sector_label", "status", "start_year",
                  "value_wan_cny", "site_id", "reason", "reason_label", "explanation"]  # fmt: skip
    rows = alloc.reindex(columns=table_cols).astype(object).where(alloc.notna(), "").to_dict("records") if has_solution else []  # fmt: skip
    return env.get_template("report.html.j2").render(
        lang=lang,
        lab=lab,
        status_label=label("run", summary["status"], lang),
        change_words={
            k.removeprefix("change."): v[lang] for k, v in WORDS.items() if k.startswith("change.")
        },
        binds=what_binds(resources, lang) if has_solution else [],
        binds_title=word("report.binds", lang),
        no_binds=word("report.no_binds", lang),
        explain_hint=word("report.explain_hint", lang),
        page_words={**{k: header(k, lang) for k in _properties(layers)}, **lab},
        status_words={k: v[lang] for k, v in STATUS_WORDS.items()},
        summary=summary,
        headline=headline,
        by=by,
        charts=resource_charts(resources, lab, lang) if has_solution else [],
        resources=resources.to_dict("records") if has_solution else [],
        extras=extras,
        rows=rows,
        diff=diff,
        map_json=map_json,
        has_map=layers is not None,
        tiles=tiles,
        leaflet_js=(HERE / "leaflet.js").read_text(encoding="utf-8"),
        leaflet_css=_inline_css((HERE / "leaflet.css").read_text(encoding="utf-8")),
        report_js=(HERE / "report.js").read_text(encoding="utf-8"),
        report_css=(HERE / "report.css").read_text(encoding="utf-8"),
    )


def write_report(
    folder: Path,
    lang: str | None = None,
    other: Path | None = None,
    out: Path | None = None,
    tiles: str | None = None,
) -> Path:
    """Write ``report.html`` into the result folder (or ``out``); return its path."""
    target = out or folder / "report.html"
    write_text_atomic(target, build(folder, lang, other, tiles))
    return target
