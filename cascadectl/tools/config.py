"""ToolConfig: a tool's schema plus the Python function that runs it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, overload

from cascadectl.errors import ConfigError
from cascadectl.tools.spec import ToolSpec, check_name, check_parameters


@dataclass(frozen=True)
class ToolConfig:
    """Only the schema (name, description, parameters) is ever sent to a model."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    function: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "ToolConfig")
        label = f"ToolConfig {self.name!r}"
        if not isinstance(self.description, str):
            raise ConfigError(f"{label}: description must be a string, got {type(self.description).__name__}")
        object.__setattr__(self, "parameters", check_parameters(self.parameters, label))
        if self.function is not None and not callable(self.function):
            raise ConfigError(f"{label}: function must be callable, got {type(self.function).__name__}")

    def to_spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)

    def to_dict(self) -> dict[str, Any]:
        return self.to_spec().to_dict()

    @classmethod
    def from_function(
        cls, function: Callable[..., Any], *, name: str | None = None, description: str | None = None
    ) -> ToolConfig:
        """Schema from type hints; parameters without a default are required;
        description from the docstring's first paragraph, per-argument text from
        its `Args:` section (or `:param x:` lines)."""
        from cascadectl.tools.signature import function_schema

        summary, parameters = function_schema(function)
        tool_name = name or getattr(function, "__name__", "")
        return cls(tool_name, summary if description is None else description, parameters, function)


@overload
def tool(function: Callable[..., Any], /) -> ToolConfig: ...


@overload
def tool(*, name: str | None = None, description: str | None = None) -> Callable[[Callable[..., Any]], ToolConfig]: ...


def tool(
    function: Callable[..., Any] | None = None, /, *, name: str | None = None, description: str | None = None
) -> ToolConfig | Callable[[Callable[..., Any]], ToolConfig]:
    """`@tool` or `@tool(name=..., description=...)`: the function becomes a ToolConfig."""

    def wrap(fn: Callable[..., Any]) -> ToolConfig:
        return ToolConfig.from_function(fn, name=name, description=description)

    return wrap(function) if function is not None else wrap
