"""jsonschema errors turned into short sentences a user can act on."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from cascadectl.config.issues import Finding, JsonPath
from cascadectl.config.schema import resolve

if TYPE_CHECKING:
    from jsonschema import ValidationError

TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "null": "null",
}
_KEY_LIKE = re.compile(r"^(sk-|sk_|gsk_|xai-|AIza|pk-|key-)|^(?=.*[a-z])(?=.*\d)\S{24,}$")


@dataclass(frozen=True)
class Context:
    # Paths whose value came from ${VAR}: never show those values.
    secrets: Mapping[JsonPath, tuple[str, ...]]

    def got(self, path: JsonPath, value: Any) -> str:
        if path and path[-1] == "api_key_env":
            return "a value that is not shown"
        names = self.secrets.get(path)
        if names:
            refs = ", ".join("${" + name + "}" for name in names)
            return f"{kind_of(value)} from {refs} (value not shown)"
        return show(value)

    def hidden(self, path: JsonPath) -> bool:
        return path in self.secrets or bool(path and path[-1] == "api_key_env")

    def hides_inside(self, path: JsonPath) -> bool:
        return any(p[: len(path)] == path for p in self.secrets)


def describe_errors(errors: Iterable[ValidationError], ctx: Context) -> list[Finding]:
    errors = list(errors)
    # A value of the wrong type makes the other checks of the same schema moot.
    moot = {_site(e) for e in errors if e.validator == "type"}
    findings: list[Finding] = []
    for error in errors:
        if error.validator != "type" and _site(error) in moot:
            continue
        findings.extend(_describe(error, ctx))
    return findings


def _site(error: ValidationError) -> tuple[JsonPath, tuple[Any, ...]]:
    return tuple(error.absolute_path), tuple(error.absolute_schema_path)[:-1]


def _describe(error: ValidationError, ctx: Context) -> list[Finding]:
    describer = _DESCRIBERS.get(str(error.validator))
    if describer is not None:
        return describer(error, ctx)
    message = "invalid value" if ctx.hidden(_path(error)) else error.message
    return [Finding(_path(error), message)]


def _path(error: ValidationError) -> JsonPath:
    return tuple(error.absolute_path)


def show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, date):
        return f"{value.isoformat()} (a date)"
    return kind_of(value)


def kind_of(value: Any) -> str:
    for name, test in _TYPE_TESTS.items():
        if test(value):
            return TYPE_NAMES[name]
    return f"a {type(value).__name__}"


_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def suggest(word: str, choices: Sequence[str]) -> str | None:
    lowered = {choice.lower(): choice for choice in choices}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7)
    if close:
        return close[0]
    # An abbreviation ("temp") is as good a clue as a typo, when it is unambiguous.
    starts = [choice for choice in choices if len(word) >= 3 and choice.startswith(word)]
    return starts[0] if len(starts) == 1 else None


def _types(schema_type: Any) -> list[str]:
    return list(schema_type) if isinstance(schema_type, list) else [schema_type]


def _type(error: ValidationError, ctx: Context) -> list[Finding]:
    path, types = _path(error), _types(error.validator_value)
    expected = " or ".join(TYPE_NAMES.get(t, t) for t in types)
    message = f"expected {expected}, got {ctx.got(path, error.instance)}"
    if "string" in types and not ctx.hidden(path) and _TYPE_TESTS["number"](error.instance):
        message += " (put it in quotes to make it a string)"
    elif "string" in types and isinstance(error.instance, bool):
        message += " (YAML reads yes/no/on/off/true/false as booleans; put it in quotes)"
    return [Finding(path, message)]


def _required(error: ValidationError, ctx: Context) -> list[Finding]:
    # jsonschema raises one error per missing key; naming them all each time is
    # simpler than parsing its message, and the loader drops the repeats.
    present = error.instance if isinstance(error.instance, dict) else {}
    missing = [key for key in error.validator_value if key not in present]
    return [Finding(_path(error), f"missing required key {key!r}") for key in missing]


def _additional(error: ValidationError, ctx: Context) -> list[Finding]:
    allowed = list(error.schema.get("properties", {}))
    extras = [key for key in error.instance if key not in allowed]
    return [Finding(_path(error), _unknown(key, allowed), key=key) for key in extras]


def _unknown(key: str, allowed: Sequence[str]) -> str:
    guess = suggest(key, allowed)
    if guess is not None:
        return f"unknown key {key!r} (did you mean {guess!r}?)"
    return f"unknown key {key!r} (expected one of: {', '.join(allowed)})"


def _enum(error: ValidationError, ctx: Context) -> list[Finding]:
    path, options = _path(error), [str(o) for o in error.validator_value]
    message = f"expected one of: {', '.join(options)}; got {ctx.got(path, error.instance)}"
    guess = suggest(error.instance, options) if isinstance(error.instance, str) else None
    if guess is not None and not ctx.hidden(path):
        message += f" (did you mean {guess!r}?)"
    return [Finding(path, message)]


def _const(error: ValidationError, ctx: Context) -> list[Finding]:
    path = _path(error)
    return [Finding(path, f"expected {show(error.validator_value)}, got {ctx.got(path, error.instance)}")]


def _bound(symbol: str) -> Callable[[ValidationError, Context], list[Finding]]:
    def describe(error: ValidationError, ctx: Context) -> list[Finding]:
        path = _path(error)
        kind = "an integer" if error.schema.get("type") == "integer" else "a number"
        got = ctx.got(path, error.instance)
        return [Finding(path, f"expected {kind} {symbol} {error.validator_value!r}, got {got}")]

    return describe


def _min_items(error: ValidationError, ctx: Context) -> list[Finding]:
    n = error.validator_value
    noun = "item" if n == 1 else "items"
    return [Finding(_path(error), f"expected at least {n} {noun}, got {len(error.instance)}")]


def _min_length(error: ValidationError, ctx: Context) -> list[Finding]:
    n = error.validator_value
    message = "expected a non-empty string" if n == 1 else f"expected at least {n} characters"
    return [Finding(_path(error), message)]


def _pattern(error: ValidationError, ctx: Context) -> list[Finding]:
    path = _path(error)
    if path and path[-1] == "api_key_env":
        return [Finding(path, _key_env_message(error.instance))]
    expected = error.schema.get("patternErrorMessage") or f"expected text matching {error.validator_value}"
    return [Finding(path, f"{expected}, got {ctx.got(path, error.instance)}")]


def _key_env_message(value: str) -> str:
    # Never echo it: people paste the key itself here.
    expected = "expected the NAME of an environment variable (like OPENAI_API_KEY), "
    if _KEY_LIKE.search(value):
        return expected + "but this looks like an API key itself (not shown): remove it from the file and rotate it"
    return expected + "in capitals, digits and '_' (the value is not shown)"


def _unique(error: ValidationError, ctx: Context) -> list[Finding]:
    if ctx.hides_inside(_path(error)):
        return [Finding(_path(error), "expected no repeats")]
    items = list(error.instance)
    repeated = next((item for i, item in enumerate(items) if item in items[:i]), None)
    return [Finding(_path(error), f"expected no repeats, got {show(repeated)} more than once")]


def _branches(error: ValidationError, ctx: Context) -> list[Finding]:
    """anyOf/oneOf: report the branch the user evidently meant, not all of them."""
    path, options = _path(error), [resolve(s) for s in error.validator_value]
    fitting = [i for i, option in enumerate(options) if _fits(option, error.instance)]
    if not fitting:
        expected = " or ".join(TYPE_NAMES.get(t, t) for o in options for t in _types(o.get("type")))
        return [Finding(path, f"expected {expected}, got {ctx.got(path, error.instance)}")]
    if not error.context:  # oneOf matched more than one branch
        return [Finding(path, "matches more than one of the allowed forms")]
    best = min(fitting, key=lambda i: _cost(error, i))
    return describe_errors([e for e in error.context if e.relative_schema_path[0] == best], ctx)


def _fits(option: Any, value: Any) -> bool:
    declared = option.get("type") if isinstance(option, dict) else None
    return declared is None or any(_TYPE_TESTS[t](value) for t in _types(declared))


def _cost(error: ValidationError, branch: int) -> tuple[int, int]:
    # Fewest problems on the value itself (wrong keys, missing keys), then fewest overall.
    errors = [e for e in error.context if e.relative_schema_path[0] == branch]
    depth = len(error.absolute_path)
    return sum(1 for e in errors if len(e.absolute_path) == depth), len(errors)


_DESCRIBERS: dict[str, Callable[[ValidationError, Context], list[Finding]]] = {
    "type": _type,
    "required": _required,
    "additionalProperties": _additional,
    "enum": _enum,
    "const": _const,
    "minimum": _bound(">="),
    "maximum": _bound("<="),
    "exclusiveMinimum": _bound(">"),
    "exclusiveMaximum": _bound("<"),
    "minItems": _min_items,
    "minLength": _min_length,
    "pattern": _pattern,
    "uniqueItems": _unique,
    "anyOf": _branches,
    "oneOf": _branches,
}
