"""A self-contained HTML page: the cost-quality picture (inline SVG, no scripts) of
the cascade against drafter-only and verifier-only, plus the report's tables."""
from __future__ import annotations

from html import escape
from typing import Any, Mapping, NamedTuple

from cascadectl.reports.formats import common
from cascadectl.reports.formats.common import Table
from cascadectl.reports.formats.decision_svg import decision_section

WIDTH, HEIGHT = 640, 380
LEFT, RIGHT, TOP, BOTTOM = 80, 40, 20, 56
COLOURS = {"cascade": "#1f77b4", "drafter": "#ff7f0e", "verifier": "#2ca02c"}
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:60rem}"
    "table{border-collapse:collapse;margin:0.5rem 0 1.5rem}"
    "th,td{border:1px solid #ccc;padding:0.25rem 0.6rem;text-align:left}"
    "th{background:#f3f3f3}svg text{font-size:12px;fill:#333}"
)


class Point(NamedTuple):
    run: str
    cost: float
    quality: float


def render_html(report: Mapping[str, Any]) -> str:
    title = escape(common.title(report))
    body = [f"<h1>{title}</h1>", f"<p>Report created {escape(str(report.get('created')))}.</p>"]
    body += ["<h2>Cost and quality</h2>", cost_quality_svg(report), _table(common.headline(report))]
    body += decision_section(report)
    for heading, table in _sections(report):
        if table is not None and table.rows:
            body += [f"<h2>{escape(heading)}</h2>", _table(table)]
    head = f'<meta charset="utf-8"><title>{title}</title><style>{STYLE}</style>'
    return f"<!DOCTYPE html>\n<html lang=\"en\"><head>{head}</head><body>\n" + "\n".join(body) + "\n</body></html>\n"


def _sections(report: Mapping[str, Any]) -> list[tuple[str, Table | None]]:
    failures, total, _run = common.failures(report)
    return [
        ("Acceptance and escalation", common.routing(report)),
        ("Cost per tier", common.tiers(report)),
        ("By tag", common.breakdown(report, "tag")),
        ("By complexity", common.breakdown(report, "complexity")),
        (f"Failures (first {len(failures.rows)} of {total})", failures),
    ]


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in table.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def points(report: Mapping[str, Any]) -> list[Point]:
    out: list[Point] = []
    for run in report.get("runs") or ():
        metrics = (report.get("metrics") or {}).get(run) or {}
        cost, quality = (metrics.get("cost") or {}).get("per_query"), metrics.get("quality")
        if isinstance(cost, (int, float)) and isinstance(quality, (int, float)):
            out.append(Point(run, float(cost), float(quality)))
    return out


def cost_quality_svg(report: Mapping[str, Any]) -> str:
    pts = points(report)
    if not pts:
        return "<p>No run has both a known cost and a quality score: nothing to plot.</p>"
    x_max = max(p.cost for p in pts) * 1.15 or 1e-6
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="cost per query against quality">']
    parts += _grid(x_max) + [_point(p, x_max) for p in pts] + _axis_titles()
    return "\n".join(parts + ["</svg>"])


def _x(cost: float, x_max: float) -> float:
    return round(LEFT + cost / x_max * (WIDTH - LEFT - RIGHT), 1)


def _y(quality: float) -> float:
    return round(TOP + (1.0 - quality) * (HEIGHT - TOP - BOTTOM), 1)


def _grid(x_max: float) -> list[str]:
    lines = []
    for step in range(5):
        q, c = step / 4, x_max * step / 4
        y, x = _y(q), _x(c, x_max)
        lines.append(f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" stroke="#e5e5e5"/>')
        lines.append(f'<text x="{LEFT - 8}" y="{y + 4}" text-anchor="end">{q:.2f}</text>')
        lines.append(f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{HEIGHT - BOTTOM}" stroke="#e5e5e5"/>')
        lines.append(f'<text x="{x}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">{escape(common.money(c))}</text>')
    return lines


def _point(point: Point, x_max: float) -> str:
    x, y = _x(point.cost, x_max), _y(point.quality)
    colour = COLOURS.get(point.run, "#7f7f7f")
    text = f"{common.label(point.run)} ({common.num(point.quality)}, {common.money(point.cost)})"
    anchor = "end" if x > WIDTH / 2 else "start"
    dx = -10 if anchor == "end" else 10
    return (
        f'<circle cx="{x}" cy="{y}" r="6" fill="{colour}"><title>{escape(text)}</title></circle>'
        f'<text x="{round(x + dx, 1)}" y="{round(y - 8, 1)}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def _axis_titles() -> list[str]:
    mid_x, mid_y = (LEFT + WIDTH - RIGHT) / 2, (TOP + HEIGHT - BOTTOM) / 2
    return [
        f'<text x="{mid_x}" y="{HEIGHT - 12}" text-anchor="middle">cost per query (USD)</text>',
        f'<text x="16" y="{mid_y}" text-anchor="middle" transform="rotate(-90 16 {mid_y})">quality (mean score)</text>',
    ]
