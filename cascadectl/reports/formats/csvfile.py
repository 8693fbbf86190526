"""The CSV report: one row per (run, query), the JSON report's `queries` as a sheet."""
from __future__ import annotations

import csv
import io
from typing import Any, Mapping

from cascadectl.reports.rows import ROW_COLUMNS


def render_csv(report: Mapping[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ROW_COLUMNS)
    for query in report.get("queries") or ():
        writer.writerow([_cell(query.get(column)) for column in ROW_COLUMNS])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)  # tags: the evalset schema keeps commas out of a tag
    return str(value)
