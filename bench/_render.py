"""results.md: the machine, then one table per group."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

MARKS = {"pass": "✅ pass", "miss": "❌ miss", "": ""}
HEADERS = ("Benchmark", "Ours (median)", "Spread", "Baseline", "Baseline (median)", "Target", "Result", "Notes")


def number(value: Any) -> str:
    """Three significant figures or so; integers kept whole."""
    if value is None:
        return "—"
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def spread(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, (int, float)):
        return f"±{value * 100:.0f}%"
    return str(value)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _with_unit(value: Any, unit: str) -> str:
    text = number(value)
    return f"{text} {unit}" if unit and value is not None else text


def table_line(row: Mapping[str, Any]) -> str:
    unit = str(row.get("unit") or "")
    cells = (
        row.get("name"), _with_unit(row.get("value"), unit), spread(row.get("spread")), row.get("baseline_name") or "",
        _baseline(row, unit), row.get("target") or "", MARKS.get(str(row.get("mark") or ""), ""), row.get("note") or "",
    )
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _baseline(row: Mapping[str, Any], unit: str) -> str:
    text = _with_unit(row.get("baseline_value"), unit) if row.get("baseline_value") is not None else ""
    ratio = row.get("ratio")
    return f"{text} (ratio {number(ratio)})" if ratio is not None and text else text


def group_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    head = "| " + " | ".join(HEADERS) + " |"
    rule = "|" + "|".join("---" for _ in HEADERS) + "|"
    return [head, rule, *(table_line(r) for r in rows)]


def machine_lines(machine: Mapping[str, Any]) -> list[str]:
    packages = ", ".join(f"{k} {v}" for k, v in machine.get("packages", {}).items() if v)
    absent = ", ".join(k for k, v in machine.get("packages", {}).items() if not v)
    return [
        f"- Date: {machine.get('date')} (git {machine.get('git_commit') or 'unknown'})",
        f"- CPU: {machine.get('cpu')}; {machine.get('cores')} cores ({machine.get('usable_cores')} usable); "
        f"{machine.get('memory_gib')} GiB memory",
        f"- OS: {machine.get('os')}; Python: {machine.get('python')}",
        f"- Packages: {packages}" + (f" (not installed: {absent})" if absent else ""),
        f"- Load average at start / end: {machine.get('load_average_start')} / {machine.get('load_average_end')}",
    ]


def groups(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        out.setdefault(str(row.get("group")), []).append(row)
    return out


def markdown(machine: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], command: str) -> str:
    lines = ["# Benchmark results", "", f"Produced by `{command}`.", "", *machine_lines(machine), ""]
    marks = [r.get("mark") for r in rows]
    lines += [f"Targets: {marks.count('pass')} pass, {marks.count('miss')} miss. "
              "Figures are medians over repeated runs; spread is the interquartile range "
              "(or the range, for few runs) relative to the median.", ""]
    for group, members in groups(rows).items():
        lines += [f"## {group}", "", *group_table(members), ""]
    return "\n".join(lines)
