"""What a killed server leaves behind, removed at start-up: half-written uploads
(``datasets/.upload-*``), temporary result folders, reports and GeoJSON files
(``results/.*``, ``reports/.*``, ``geojson/.*``). Only leftovers older than ``age_s`` go,
so a server starting beside another one on the same data folder never removes the
other's work in progress."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

PATTERNS = ("datasets/.upload-*", "results/.*", "reports/.*", "geojson/.*")


def clean_leftovers(data_dir: Path, age_s: float = 3600.0) -> list[Path]:
    """Remove the leftovers older than ``age_s`` seconds; the paths removed."""
    cutoff = time.time() - age_s
    removed = []
    for pattern in PATTERNS:
        for path in sorted(data_dir.glob(pattern)):
            if path.lstat().st_mtime > cutoff:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed
