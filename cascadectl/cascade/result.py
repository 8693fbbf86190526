"""The result of one query: what COMPLETE carries and what run() returns. The record
itself lives with the other trace records (traces/records.py), so that reports read
it without importing the engine."""
from __future__ import annotations

from cascadectl.traces.records import CascadeResult

__all__ = ["CascadeResult"]
