"""Renderers of an eval report (the JSON dict): Markdown, CSV, JUnit XML, HTML."""
from __future__ import annotations
