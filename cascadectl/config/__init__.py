"""Cascade configuration: YAML loading, ${ENV} interpolation, the JSON Schema,
errors with file:line:col, and the typed config objects (model.py).

Names are loaded lazily so that importing `cascadectl.config.model` stays cheap.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from cascadectl._lazy import lazy_getattr

if TYPE_CHECKING:
    from cascadectl.config.issues import ConfigIssue
    from cascadectl.config.loader import (
        CascadeCheck,
        InvalidCascadeError,
        check_cascade_file,
        check_cascade_text,
        load_cascade,
        load_cascade_text,
        validate_cascade_file,
    )
    from cascadectl.config.schema import schema_text

_LAZY = {
    "ConfigIssue": "cascadectl.config.issues",
    "CascadeCheck": "cascadectl.config.loader",
    "InvalidCascadeError": "cascadectl.config.loader",
    "check_cascade_file": "cascadectl.config.loader",
    "check_cascade_text": "cascadectl.config.loader",
    "load_cascade": "cascadectl.config.loader",
    "load_cascade_text": "cascadectl.config.loader",
    "validate_cascade_file": "cascadectl.config.loader",
    "schema_text": "cascadectl.config.schema",
}

__all__ = list(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)
