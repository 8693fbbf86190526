"""`--tools module:attr`: a user's tools, named on the command line.

The attribute may be a ToolExecutor, a ToolConfig, a function (it becomes a
ToolConfig from its signature and docstring), or a list of ToolConfigs and
functions. The module is imported from the
current directory first, as `python -m` would.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from cascadectl.errors import UsageError
from cascadectl.tools.config import ToolConfig
from cascadectl.tools.executor import ToolExecutor


def load_tools(spec: str, *, timeout_s: float = 30.0) -> ToolExecutor:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--tools {spec!r}: expected module:attribute, e.g. mytools:executor")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"--tools {spec}: cannot import {module_name!r}: {exc}") from None
    value: Any = module
    for part in attr.split("."):
        if not hasattr(value, part):
            raise UsageError(f"--tools {spec}: module {module_name!r} has no attribute {attr!r}")
        value = getattr(value, part)
    return as_executor(value, spec, timeout_s)


def as_executor(value: Any, spec: str, timeout_s: float = 30.0) -> ToolExecutor:
    if isinstance(value, ToolExecutor):
        return value
    if isinstance(value, ToolConfig):
        return ToolExecutor([value], timeout_s)
    if isinstance(value, (list, tuple)):
        if not value:
            raise UsageError(f"--tools {spec}: expected a ToolExecutor, ToolConfigs or functions, got an empty list")
        return ToolExecutor([v if isinstance(v, ToolConfig) else _from_function(v, spec) for v in value], timeout_s)
    if callable(value):
        return ToolExecutor([_from_function(value, spec)], timeout_s)
    raise UsageError(f"--tools {spec}: expected a ToolExecutor, ToolConfigs or functions, got {type(value).__name__}")


def _from_function(value: Any, spec: str) -> ToolConfig:
    if not callable(value):
        raise UsageError(f"--tools {spec}: {value!r} is neither a ToolConfig nor a function")
    return ToolConfig.from_function(value)
