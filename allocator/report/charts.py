"""The report's charts: matplotlib figures as inline SVG, text left as text so that the
browser's CJK fonts draw it, the same bytes for the same figures, axes in 万/亿."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

from allocator.report.fonts import families, quiet_glyphs
from allocator.words import label


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    with quiet_glyphs():
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})  # no clock
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "svg.fonttype": "none",  # text stays text: the browser's fonts draw 中文
        "svg.hashsalt": "allocator",  # the same figure gives the same SVG
        "font.family": list(families()),
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })  # fmt: skip
    return plt


def _big(value: float, lang: str) -> str:
    """An axis figure in words people use: 1.2亿, 3,500万 (en: 120M, 35M), not 1e8."""
    steps = ((1e8, "亿"), (1e4, "万")) if lang == "zh" else ((1e9, "B"), (1e6, "M"), (1e3, "k"))
    for size, unit in steps:
        if abs(value) >= size:
            return f"{value / size:,.4g}{unit}"
    return f"{value:,.4g}"


def _in_words(axis: Any, lang: str) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _pos: _big(v, lang)))


def resource_charts(
    resources: pd.DataFrame, lab: dict[str, str], lang: str
) -> list[dict[str, str]]:
    """Per resource: supply, used and purchased per year (all scopes summed) as bars, and
    the marginal value of each supply row (LP relaxation, 万元 per unit) as lines on the
    right axis, one labelled line per scope."""
    plt = _plt()
    charts = []
    for name, rows in resources.groupby("resource", sort=False):
        per_year = rows.groupby("year")[["supply", "used", "purchased"]].sum()
        fig, ax = plt.subplots(figsize=(4.4, 2.5))
        width = 0.27
        years = list(per_year.index)
        bars = (("supply", "#9ecae1"), ("used", "#3182bd"), ("purchased", "#e6550d"))
        for i, (col, color) in enumerate(bars):
            ax.bar([y + (i - 1) * width for y in years], per_year[col], width, label=lab[col], color=color)  # fmt: skip
        ax.set_xticks(years)
        ax.set_title(f"{rows['resource_label'].iloc[0]} ({rows['unit_label'].iloc[0]})")
        _in_words(ax.yaxis, lang)
        right = ax.twinx()
        greys = plt.get_cmap("Greys")
        scopes = list(rows.groupby("scope_label", sort=True))
        for i, (scope, row) in enumerate(scopes):
            right.plot(row["year"], row["dual_lp_wan_cny_per_unit"], marker=".", linewidth=0.8,
                       color=greys(0.45 + 0.5 * i / max(len(scopes) - 1, 1)),
                       label=f"{lab['marginal']}: {scope}")  # fmt: skip
        right.set_ylim(bottom=0)
        _in_words(right.yaxis, lang)
        handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
        ax.legend(
            handles=handles,
            frameon=False,
            fontsize=7,
            ncol=2,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
        )  # below the axes: the bars stay clear
        charts.append({"resource": str(name), "svg": _svg(fig)})
    return charts


def frontier_chart(frame: pd.DataFrame, resource: str, lab: dict[str, str], lang: str) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 2.6))
    ax.plot(frame["supply"], frame["value_wan_cny"], marker="o", color="#3182bd")
    ax.set_xlabel(f"{label('resource', resource, lang)} {lab['supply']}")
    ax.set_ylabel(lab["value_wan_cny"])
    _in_words(ax.xaxis, lang)
    _in_words(ax.yaxis, lang)
    ax.set_title(lab["frontier"])
    return _svg(fig)


def frequency_chart(frame: pd.DataFrame, lab: dict[str, str]) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 2.6))
    counts = frame["frequency"].round(2).value_counts().sort_index()
    ax.bar([f"{v:.0%}" for v in counts.index], counts.to_numpy(), color="#3182bd")
    ax.set_xlabel(lab["frequency"])
    ax.set_ylabel(lab["count"])
    return _svg(fig)
