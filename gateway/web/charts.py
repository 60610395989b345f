"""Plotly figures for the dashboard, built server-side and drawn by the locally served plotly.js."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from gateway.api.queries import RevenueRow
from gateway.web.formatting import LOCAL_TZ

CLASS_LABELS = {
    "motorbike": ("Xe máy", "Motorbike"),
    "car_le9": ("Ô tô ≤ 9 chỗ", "Car ≤ 9 seats"),
    "car_gt9_truck": ("Ô tô > 9 chỗ / xe tải", "Bus / truck"),
}


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 14}},
        "margin": {"l": 60, "r": 10, "t": 40, "b": 40},
        "height": 320,
        "legend": {"orientation": "h", "y": -0.2},
        "separators": ",.",  # Vietnamese: decimal comma, thousands dot
        **extra,
    }


def _figure(data: list[Any], layout: dict[str, Any]) -> dict[str, Any]:
    import plotly.graph_objects as go

    return dict(go.Figure(data=data, layout=layout).to_plotly_json())


def revenue_by_day(
    rows: Sequence[RevenueRow], days: Sequence[date], lot_names: dict[str, str], title: str
) -> dict[str, Any]:
    import plotly.graph_objects as go

    per_lot: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        per_lot[r.lot_id][r.day] += r.revenue_vnd
    x = [d.strftime("%d/%m") for d in days]
    bars = [
        go.Bar(
            name=lot_names.get(lot_id, lot_id),
            x=x,
            y=[per_lot[lot_id].get(d, 0) for d in days],
            hovertemplate="%{x}: %{y:,.0f} ₫<extra>%{fullData.name}</extra>",
        )
        for lot_id in sorted(per_lot) or [""]
    ]
    return _figure(bars, _layout(title, barmode="stack", yaxis={"tickformat": ",.0f"}))


def revenue_by(
    rows: Sequence[RevenueRow], key: Callable[[RevenueRow], str], title: str
) -> dict[str, Any]:
    import plotly.graph_objects as go

    totals: dict[str, int] = defaultdict(int)
    for r in rows:
        totals[key(r)] += r.revenue_vnd
    labels = sorted(totals)
    bar = go.Bar(
        x=labels,
        y=[totals[k] for k in labels],
        marker={"color": "#0b6e4f"},
        hovertemplate="%{x}: %{y:,.0f} ₫<extra></extra>",
    )
    return _figure([bar], _layout(title, yaxis={"tickformat": ",.0f"}))


def occupancy_day(
    series: dict[str, list[tuple[datetime, int]]], lot_names: dict[str, str], title: str
) -> dict[str, Any]:
    import plotly.graph_objects as go

    lines = [
        go.Scatter(
            name=lot_names.get(lot_id, lot_id),
            x=[t.astimezone(LOCAL_TZ).strftime("%H:%M") for t, _ in points],
            y=[n for _, n in points],
            mode="lines+markers",
            line={"shape": "hv"},
        )
        for lot_id, points in sorted(series.items())
    ]
    return _figure(lines, _layout(title, yaxis={"rangemode": "tozero"}))


def occupancy_now(
    now: dict[str, int], capacity: dict[str, int], lot_names: dict[str, str], title: str
) -> dict[str, Any]:
    import plotly.graph_objects as go

    lots = sorted(now)
    names = [lot_names.get(lot, lot) for lot in lots]
    used = go.Bar(name="⬛", x=names, y=[now[lot] for lot in lots], marker={"color": "#13324b"})
    free = go.Bar(
        name="□",
        x=names,
        y=[max(capacity.get(lot, 0) - now[lot], 0) for lot in lots],
        marker={"color": "#d8e6f3"},
    )
    return _figure([used, free], _layout(title, barmode="stack", showlegend=False))
