"""The shipped JSON Schema is valid, documented, strict, and mirrors model.py."""
from __future__ import annotations

import json
from dataclasses import fields
from typing import Any, Iterator

import pytest
from jsonschema import Draft202012Validator

from cascadectl.config import schema_text
from cascadectl.config import model
from cascadectl.config.schema import cascade_schema, resolve
from cascadectl.config.semantic import VALIDATOR_OPTIONS

# Objects whose contents are the user's own (provider options, JSON Schemas).
# tier_thresholds: keys are tier names (checked semantically), each value a strict thresholds map.
FREE_FORM = {"options", "json_schema", "toolParameters", "cache_control", "tier_thresholds"}


def _defs() -> dict[str, Any]:
    return cascade_schema()["$defs"]


def _props(name: str) -> set[str]:
    return set(_defs()[name]["properties"])


def _field_names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def test_schema_is_valid_draft_2020_12_with_an_id() -> None:
    schema = json.loads(schema_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]


def _objects(node: Any, name: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            yield name, node
        for key, child in node.items():
            yield from _objects(child, key)
    elif isinstance(node, list):
        for child in node:
            yield from _objects(child, name)


def test_every_object_forbids_unknown_keys_except_free_form_ones() -> None:
    loose = {name for name, node in _objects(cascade_schema()) if node.get("additionalProperties") is not False}
    # The `if` schemas of the tool shapes only test for a key; `tool` dispatches to strict shapes;
    # a tier's `then` only points its options at the provider's strict shape.
    assert loose - {"if", "then", "tool"} == FREE_FORM


def test_llamacpp_options_in_the_schema_are_the_ones_the_provider_takes() -> None:
    from cascadectl.providers.llamacpp.options import _KNOWN

    assert set(cascade_schema()["$defs"]["llamacppOptions"]["properties"]) == _KNOWN


@pytest.mark.parametrize(
    ("definition", "cls", "extra"),
    [
        ("tier", model.TierConfig, set()),
        ("timeouts", model.Timeouts, set()),
        ("price", model.PriceSpec, set()),
        ("routing", model.RoutingConfig, set()),
        ("rule", model.RoutingRule, set()),
        ("quality", model.QualityConfig, set()),
        ("defaults", model.Defaults, set()),
    ],
)
def test_schema_keys_are_the_model_fields(definition: str, cls: type, extra: set[str]) -> None:
    assert _props(definition) == _field_names(cls) | extra


def test_top_level_keys_are_the_cascade_fields() -> None:
    top = set(cascade_schema()["properties"])
    assert top == (_field_names(model.CascadeConfig) - {"source"}) | {"$schema", "version", "description"}


def test_enums_match_the_model_constants() -> None:
    assert resolve({"$ref": "#/$defs/complexity"})["enum"] == list(model.COMPLEXITIES)
    assert _defs()["quality"]["properties"]["draft_mode"]["enum"] == list(model.DRAFT_MODES)
    assert _defs()["rule"]["properties"]["route"]["enum"] == list(model.ROUTES)
    assert _props("thresholds") == set(model.DEFAULT_THRESHOLDS)


def test_validator_schema_matches_the_option_table() -> None:
    validator = _defs()["validator"]["properties"]
    assert validator["type"]["enum"] == list(VALIDATOR_OPTIONS)
    options = {option for names in VALIDATOR_OPTIONS.values() for option in names}
    assert set(validator) == options | {"type", "weight"}


def test_tier_keys_are_described_for_editors() -> None:
    tier = _defs()["tier"]["properties"]
    undocumented = [key for key, node in tier.items() if "description" not in node and "$ref" not in node]
    assert undocumented == []
    assert all("description" in _defs()[name] for name in ("routing", "quality", "price", "thresholds", "gates"))
