"""Traces to reports and gates. Reads traces only: never the engine or a provider.

scan (the report's pass over traces), rows (per-query and per-tier rows), metrics and
comparison (the figures), report (build and write), formats (JSON, Markdown, CSV,
JUnit, HTML), gates (a report against a baseline)."""
