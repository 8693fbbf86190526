"""The cascade JSON Schema (package data) and validation against it."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

SCHEMA_RESOURCE = "cascade.schema.json"


@lru_cache(maxsize=1)
def schema_text() -> str:
    """The schema exactly as shipped, for `cascadectl schema` and editors."""
    return resources.files("cascadectl.config").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def cascade_schema() -> dict[str, Any]:
    return json.loads(schema_text())


@lru_cache(maxsize=1)
def _validator() -> Validator:
    # jsonschema costs ~100 ms to import: only load it when a file is checked.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(cascade_schema())


def schema_errors(data: Any) -> Iterator[ValidationError]:
    return _validator().iter_errors(data)


def resolve(subschema: Any) -> Any:
    """Follows local `#/$defs/...` references (the only kind the schema uses)."""
    seen = 0
    while isinstance(subschema, dict) and "$ref" in subschema and seen < 20:
        subschema = _lookup(subschema["$ref"])
        seen += 1
    return subschema


def _lookup(ref: str) -> Any:
    node: Any = cascade_schema()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def schema_problems(schema: Any) -> Iterator[ValidationError]:
    """What is wrong with `schema` as a JSON Schema (for tool parameters)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema)
