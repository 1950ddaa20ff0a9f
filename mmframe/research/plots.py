"""Plots and HTML pages for reports: `mmframe backtest --report`, `mmframe sweep` and `mmframe
report --html` (live journals) all draw through this module, with plotly.

A page is one self-contained HTML file: plotly.js is embedded once (no network needed to open it),
then each figure as a ``<div>``. Builders take plain numbers (floats are fine here: plots are the
end of the exact pipeline, after money has been summed in integers).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import plotly.graph_objects as go

_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "height": 360,
    "font": {"family": "system-ui, sans-serif", "size": 12},
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}"
    "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
    "table{border-collapse:collapse;font-size:13px;margin:8px 0;max-width:100%}"
    "th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right;white-space:nowrap}"
    "th:first-child,td:first-child{text-align:left}thead th{background:#f4f4f4}"
    ".note{color:#666;font-size:13px}.scroll{overflow-x:auto}"
)


@dataclass(frozen=True, slots=True)
class Html:
    """A block of trusted HTML for `page` (headings, tables and notes built with this module)."""

    text: str


Block: TypeAlias = "go.Figure | Html"
"""What a page is made of: a plotly figure or a block of HTML."""


def histogram(values: Sequence[float], *, title: str, x_label: str, bins: int = 40) -> go.Figure:
    """The distribution of ``values`` (e.g. net PnL across runs)."""
    figure = go.Figure(go.Histogram(x=list(values), nbinsx=bins, marker_color="#3b6ea8"))
    figure.update_layout(title=title, xaxis_title=x_label, yaxis_title="runs", bargap=0.05, **_LAYOUT)
    return figure


def lines(
    series: Mapping[str, Sequence[tuple[float, float]]], *, title: str, x_label: str, y_label: str,
    step: bool = False,
) -> go.Figure:
    """One line per named series of ``(x, y)`` points; ``step`` draws them as steps (positions)."""
    figure = go.Figure()
    for name, points in series.items():
        figure.add_trace(go.Scatter(
            x=[p[0] for p in points], y=[p[1] for p in points], mode="lines", name=name,
            line={"shape": "hv" if step else "linear", "width": 1.5},
        ))
    figure.update_layout(title=title, xaxis_title=x_label, yaxis_title=y_label, **_LAYOUT)
    return figure


def bars(
    labels: Sequence[str], values: Sequence[float | None], *, title: str, y_label: str,
    errors: Sequence[tuple[float, float] | None] | None = None,
) -> go.Figure:
    """Bars, optionally with asymmetric error bars given as ``(low, high)`` bounds per bar (a
    confidence interval); a None value is drawn as an empty slot."""
    ys = [None if v is None else float(v) for v in values]
    error_y = None
    if errors is not None:
        plus = [None if e is None or y is None else e[1] - y for e, y in zip(errors, ys, strict=True)]
        minus = [None if e is None or y is None else y - e[0] for e, y in zip(errors, ys, strict=True)]
        error_y = {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus}
    colours = ["#3b6ea8" if (y or 0) >= 0 else "#b3443b" for y in ys]
    figure = go.Figure(go.Bar(x=list(labels), y=ys, error_y=error_y, marker_color=colours))
    figure.update_layout(title=title, yaxis_title=y_label, **_LAYOUT)
    return figure


def grouped_bars(
    labels: Sequence[str], groups: Mapping[str, Sequence[float | None]], *, title: str, y_label: str
) -> go.Figure:
    """Side-by-side bars: one bar per named group at each label."""
    figure = go.Figure([go.Bar(name=name, x=list(labels), y=list(values)) for name, values in groups.items()])
    figure.update_layout(title=title, yaxis_title=y_label, barmode="group", **_LAYOUT)
    return figure


def heatmap(
    x_values: Sequence[str], y_values: Sequence[str], z: Sequence[Sequence[float | None]], *,
    title: str, x_label: str, y_label: str, z_label: str,
) -> go.Figure:
    """A heat map of ``z[y][x]`` (e.g. a sweep's objective over two parameters), values written in
    the cells."""
    text = [["" if v is None else f"{v:.4g}" for v in row] for row in z]
    figure = go.Figure(go.Heatmap(
        x=list(x_values), y=list(y_values), z=[list(row) for row in z], text=text, texttemplate="%{text}",
        colorscale="RdBu", zmid=0, colorbar={"title": {"text": z_label}},
    ))
    figure.update_layout(title=title, xaxis_title=x_label, yaxis_title=y_label,
                         xaxis={"type": "category"}, yaxis={"type": "category"}, **_LAYOUT)
    return figure


def heading(text: str, level: int = 2) -> Html:
    """An ``<h2>`` (or other level) heading."""
    return Html(f"<h{level}>{html.escape(text)}</h{level}>")


def note(text: str) -> Html:
    """A short explanatory paragraph."""
    return Html(f'<p class="note">{html.escape(text)}</p>')


def table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Html:
    """An HTML table; cells are escaped, None shows as a dash."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('-' if c is None else str(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return Html(f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')


def page(title: str, blocks: Iterable[Block]) -> str:
    """A complete, self-contained HTML document: plotly.js embedded once, then the blocks in order."""
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>", f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    embedded = False
    for block in blocks:
        if isinstance(block, Html):
            parts.append(block.text)
            continue
        parts.append(block.to_html(full_html=False, include_plotlyjs=not embedded,
                                   config={"displaylogo": False, "responsive": True}))
        embedded = True
    parts.append("</body></html>")
    return "\n".join(parts)
