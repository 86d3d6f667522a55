"""The README's commands do what it says: every ``sh`` line that needs no server runs as
written on the sample city, and every option of the command synopsis exists."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from allocator.writers.files import read_table

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("allocator"))
NEEDS_SERVER = ("curl ", "allocator serve", "allocator keys")  # run in tests/test_api.py


def blocks(language: str) -> list[list[str]]:
    """The README's fenced blocks in ``language``, each as its logical lines (comments and
    continuations joined)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)
    out = []
    for block in found:
        joined = block.replace("\\\n", " ")
        lines = [line.split("  #")[0].strip() for line in joined.splitlines()]
        out.append([line for line in lines if line])
    return out


def test_every_option_of_the_synopsis_exists():
    (synopsis,) = [b for b in blocks("text") if b and b[0].startswith("allocator ")]
    for line in synopsis:
        if not line.startswith("allocator "):
            continue  # a continuation of the line above
        words = line.split()
        command = [w for w in words[1:3] if re.fullmatch(r"[a-z-]+", w)]
        if command[1:] and command[1] not in ("scan", "create"):
            command = command[:1]
        shown = subprocess.run([CLI, *command, "--help"], capture_output=True, text=True,
                               env={**os.environ, "COLUMNS": "200"}, check=True).stdout  # fmt: skip
        for option in re.findall(r"--[a-z][a-z-]*", line):
            assert option in shown, (
                f"README: `{line}` names {option}, `{' '.join(command)}` has none"
            )


@pytest.mark.slow
@pytest.mark.solver
def test_each_readme_command_runs_as_written_on_the_sample(sample_dir, tmp_path):
    """In a copy of the layout a new user has after ``make demo``: scenarios/, the sample in
    data/sample and out/baseline."""
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sample").symlink_to(sample_dir)
    demo = [line for b in blocks("sh") for line in b if line.startswith("make demo")]
    assert demo, "the README's set-up names make demo"
    subprocess.run([CLI, "solve", "scenarios/baseline.yaml", "--out", "out/baseline"],
                   cwd=tmp_path, check=True, capture_output=True)  # what make demo solves  # fmt: skip
    commands = [line for b in blocks("sh") for line in b
                if line.startswith("allocator ") and not line.startswith(NEEDS_SERVER)]  # fmt: skip
    assert len(commands) >= 6
    for line in commands:
        run = subprocess.run([CLI, *shlex.split(line)[1:]], cwd=tmp_path, capture_output=True,
                             text=True)  # fmt: skip
        assert run.returncode == 0, (
            f"README: `{line}` exited {run.returncode}: {run.stderr[-2000:]}"
        )
    # the example named energy_cut_10 cuts the energy supply by 10% (not what closures free)
    use = {name: read_table(tmp_path / "out" / name / "resources.csv")
           for name in ("baseline", "energy_cut_10")}  # fmt: skip
    energy = {k: v[v["resource"] == "energy"] for k, v in use.items()}
    supply = {k: (v["supply"] - v["freed"]).sum() for k, v in energy.items()}  # freed: closures
    assert supply["energy_cut_10"] == pytest.approx(0.9 * supply["baseline"], rel=1e-6)
    for made in ("out/compare_baseline_energy_cut_10/compare.json", "out/baseline/explain_P-0173.json",
                 "out/baseline-land/reuse_list.gpkg", "out/energy_cut_10/report.html"):  # fmt: skip
        assert (tmp_path / made).exists(), f"README's commands should have written {made}"
